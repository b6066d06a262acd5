/* textbuf.h - a growable byte buffer for text made piece by piece in memory (a JSON file, a
 * compact JSON value). It stays NUL-terminated once anything was added. A failed allocation is
 * remembered: later additions do nothing, so a writer adds freely and checks `failed` once at
 * the end. */
#ifndef PATCHFS_TEXTBUF_H
#define PATCHFS_TEXTBUF_H

#include <stddef.h>

typedef struct pf_textbuf {
    char *s;            /* malloc'd, NUL-terminated; NULL until the first addition */
    size_t len, cap;    /* bytes of text (the NUL not counted), bytes allocated */
    int failed;         /* an allocation failed: s holds only a prefix of the text */
} pf_textbuf;

/* Appends n bytes (any bytes, NUL included). */
void pf_textbuf_add(pf_textbuf *b, const void *data, size_t n);
/* Appends a NUL-terminated string. */
void pf_textbuf_str(pf_textbuf *b, const char *s);
/* Releases the text and zeroes the buffer. */
void pf_textbuf_free(pf_textbuf *b);

#endif
