/* npy.c - .npy header writer (see npy.h). */
#include "npy.h"

#include <stdio.h>
#include <string.h>

size_t pf_dtype_size(pf_dtype t)
{
    return t == PF_DT_F4 ? 4 : 2;
}

static const char *descr(pf_dtype t)
{
    return t == PF_DT_F4 ? "<f4" : t == PF_DT_F2 ? "<f2" : "<i2";
}

size_t pf_npy_header(char *buf, size_t cap, pf_dtype t, int ndim, const int64_t *shape)
{
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr(t));
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %lld" : "%lld",
                      (long long)shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, ndim == 1 ? ",), }" : "), }");
    /* Exactly numpy's layout (numpy >= 1.24, format.py _write_array_header/_wrap_header), so
     * np.save of the same array gives the same bytes: 21 - len(str(shape[0])) spare spaces for
     * growing the first axis, then 1..64 spaces and '\n' so that 10 + header_len is a multiple
     * of 64 (a full 64 when it already was). */
    char first[32];
    size_t growth = 0, hlen, padlen, total, header_len;
    if (ndim > 0) {
        size_t digits = (size_t)snprintf(first, sizeof first, "%lld", (long long)shape[0]);
        growth = digits < 21 ? 21 - digits : 0;
    }
    hlen = (size_t)n + growth + 1;
    padlen = 64 - (10 + hlen) % 64;
    total = 10 + hlen + padlen;
    header_len = total - 10;
    if (total > cap || header_len > 65535)
        return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(header_len & 0xff);
    buf[9] = (char)(header_len >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

uint64_t pf_npy_file_size(pf_dtype t, int ndim, const int64_t *shape)
{
    char buf[1024];
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (uint64_t)shape[i];
    return pf_npy_header(buf, sizeof buf, t, ndim, shape) + count * pf_dtype_size(t);
}
