/* error.c - building error messages for pf_error (see error.h). */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pf_fail(pf_error *err, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->errnum = errnum ? errnum : EIO;
    }
    return -1;
}

int pf_wrap(pf_error *err, const char *fmt, ...)
{
    if (err) {
        char prefix[512], old[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        snprintf(err->msg, sizeof err->msg, "%.400s: %.600s", prefix, old);
    }
    return -1;
}

void *pf_calloc(size_t n, size_t size, pf_error *err)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        pf_fail(err, ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

int pf_resize(void *p, size_t n, size_t size, pf_error *err)
{
    void **slot = p, *q;
    if (size && n > SIZE_MAX / size)
        return pf_fail(err, ENOMEM, "out of memory: %zu x %zu bytes", n, size);
    q = realloc(*slot, n * size > 0 ? n * size : 1);
    if (!q)
        return pf_fail(err, ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    *slot = q;
    return 0;
}

char *pf_strdup(const char *s, pf_error *err)
{
    char *p = strdup(s);
    if (!p)
        pf_fail(err, ENOMEM, "out of memory");
    return p;
}
