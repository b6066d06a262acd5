/* textbuf.c - a growable byte buffer for text made in memory (see textbuf.h). */
#include "textbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define TEXTBUF_FIRST 4096

void pf_textbuf_add(pf_textbuf *b, const void *data, size_t n)
{
    size_t need;
    if (b->failed)
        return;
    if (n >= SIZE_MAX - b->len) {
        b->failed = 1;
        return;
    }
    need = b->len + n + 1;
    if (need > b->cap) {
        /* doubling from 4 KiB; capped at what is needed when doubling would overflow */
        size_t cap = b->cap ? b->cap : TEXTBUF_FIRST;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (pf_resize(&b->s, cap, 1, NULL)) {
            b->failed = 1;
            return;
        }
        b->cap = cap;
    }
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = 0;
}

void pf_textbuf_str(pf_textbuf *b, const char *s)
{
    pf_textbuf_add(b, s, strlen(s));
}

void pf_textbuf_free(pf_textbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
