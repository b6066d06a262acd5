/* error.h - errors as values inside the core library.
 *
 * Every fallible core function takes a pf_error* and returns 0 on success or -1 on failure,
 * having written a message that names the file and the problem. The message is turned into an
 * errno only at the FUSE boundary and into "patchfs: message" + an exit code only in the CLI,
 * so the core never prints and never exits. */
#ifndef PATCHFS_ERROR_H
#define PATCHFS_ERROR_H

#include <stddef.h>

typedef struct pf_error {
    int errnum;        /* closest errno, for the FUSE layer (EIO when nothing fits better) */
    char msg[1024];
} pf_error;

/* Record an error and return -1, so callers can write `return pf_fail(err, EIO, ...)`.
 * err may be NULL (the message is then dropped). */
int pf_fail(pf_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("case hippocampus_001: ..."). */
int pf_wrap(pf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation helpers that report through pf_error instead of aborting. */
void *pf_calloc(size_t n, size_t size, pf_error *err);
char *pf_strdup(const char *s, pf_error *err);

/* Resizes the array *p to n elements of size bytes; on failure *p is left as it was (still
 * owned by the caller) and -1 returned with ENOMEM. The one way arrays grow in patchfs. */
int pf_resize(void *p, size_t n, size_t size, pf_error *err);

#endif
