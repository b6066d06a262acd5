/* pyjson.c - Python's float repr, json.dumps strings and numpy's means (see pyjson.h). */
#include "pyjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pf_py_float_repr(double x, char *buf, size_t cap)
{
    char e[40], digits[24];
    int prec, nd = 0, exp10, decpt;
    if (isnan(x)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, cap, x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (x == 0) {
        snprintf(buf, cap, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    /* the shortest correctly rounded digits that read back as x */
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    for (const char *p = e; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    exp10 = atoi(strchr(e, 'e') + 1);
    decpt = exp10 + 1; /* x = 0.digits * 10^decpt */
    {
        char *o = buf;
        const char *end = buf + cap - 1;
#define PUT(c) do { if (o < end) *o++ = (c); } while (0)
        if (x < 0)
            PUT('-');
        if (decpt <= -4 || decpt > 16) { /* Python's repr switches to exponent form */
            PUT(digits[0]);
            if (nd > 1) {
                PUT('.');
                for (int i = 1; i < nd; i++)
                    PUT(digits[i]);
            }
            o += snprintf(o, (size_t)(end - o) + 1, "e%c%02d", exp10 < 0 ? '-' : '+',
                          abs(exp10));
            if (o > end)
                o = (char *)end;
        } else if (decpt <= 0) {
            PUT('0');
            PUT('.');
            for (int i = 0; i < -decpt; i++)
                PUT('0');
            for (int i = 0; i < nd; i++)
                PUT(digits[i]);
        } else {
            for (int i = 0; i < decpt; i++)
                PUT(i < nd ? digits[i] : '0');
            PUT('.');
            if (nd > decpt)
                for (int i = decpt; i < nd; i++)
                    PUT(digits[i]);
            else
                PUT('0');
        }
#undef PUT
        *o = '\0';
    }
}

/* The next code point of UTF-8 text (invalid bytes taken as themselves). */
static unsigned next_code_point(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0], n = 0;
    if (c >= 0xf0 && c < 0xf8)
        n = 3, c &= 0x07;
    else if (c >= 0xe0)
        n = 2, c &= 0x0f;
    else if (c >= 0xc0)
        n = 1, c &= 0x1f;
    for (unsigned i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *p = s + 1;
            return s[0];
        }
        c = c << 6 | (s[i] & 0x3fu);
    }
    *p = s + 1 + n;
    return c;
}

void pf_py_json_string(pf_textbuf *t, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char u[16];
    pf_textbuf_str(t, "\"");
    while (*p) {
        unsigned c = next_code_point(&p);
        switch (c) {
        case '"': pf_textbuf_str(t, "\\\""); break;
        case '\\': pf_textbuf_str(t, "\\\\"); break;
        case '\n': pf_textbuf_str(t, "\\n"); break;
        case '\r': pf_textbuf_str(t, "\\r"); break;
        case '\t': pf_textbuf_str(t, "\\t"); break;
        case '\b': pf_textbuf_str(t, "\\b"); break;
        case '\f': pf_textbuf_str(t, "\\f"); break;
        default:
            if (c < 0x20 || (c >= 0x7f && c < 0x10000)) {
                snprintf(u, sizeof u, "\\u%04x", c);
                pf_textbuf_str(t, u);
            } else if (c >= 0x10000) { /* a surrogate pair */
                c -= 0x10000;
                snprintf(u, sizeof u, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
                pf_textbuf_str(t, u);
            } else {
                char ch = (char)c;
                pf_textbuf_add(t, &ch, 1);
            }
        }
    }
    pf_textbuf_str(t, "\"");
}

/* numpy's pairwise_sum (loops_utils.h): 8 accumulators up to 128 values, halves beyond */
static double pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double r = 0.0;
        for (size_t i = 0; i < n; i++)
            r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8], res;
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

double pf_numpy_sum(const double *a, size_t n)
{
    return 0.0 + pairwise(a, n); /* add.reduce starts from its identity */
}

double pf_numpy_nanmean(const double *a, size_t n)
{
    double *v = malloc((n ? n : 1) * sizeof *v), m;
    size_t cnt = 0;
    if (!v)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        v[i] = isnan(a[i]) ? 0.0 : a[i]; /* numpy replaces NaN by 0 and counts the rest */
        cnt += !isnan(a[i]);
    }
    m = cnt ? pf_numpy_sum(v, n) / (double)cnt : NAN;
    free(v);
    return m;
}
