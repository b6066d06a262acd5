/* plans_json_print.c - JSON text as Python's json module writes it: floats as repr() (the
 * shortest text that reads back to the same double), strings with ensure_ascii, and
 * json.dump(indent=4) or the compact separators. jansson's own printer differs (%.17g floats,
 * other spacing), and nnU-Net's files must be reproduced byte for byte. */
#include "plans_json_i.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Python's float repr ---- */

/* Shortest digits that read back to x: the nearest p-digit decimal for growing p. At a power
 * of two the gap below x is half the gap above, so the nearest p-digit decimal can miss while
 * its upper or lower neighbour hits; Python's repr takes that neighbour, so try both. */
static int shortest_digits(double x, char *digits, int *decpt)
{
    char tmp[64];
    for (int p = 1; p <= 17; p++) {
        char *e;
        unsigned long long m = 0;
        int exp10, nd = 0;
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        e = strchr(tmp, 'e');
        exp10 = atoi(e + 1);
        for (char *c = tmp; c < e; c++)
            if (*c >= '0' && *c <= '9')
                m = m * 10 + (unsigned long long)(*c - '0');
        if (strtod(tmp, NULL) != x) {
            int hit = 0;
            for (int k = 0; k < 2 && !hit; k++) {
                unsigned long long mm = k == 0 ? m + 1 : m - 1;
                char cand[64];
                snprintf(cand, sizeof cand, "%llue%d", mm, exp10 - (p - 1));
                if (mm > 0 && strtod(cand, NULL) == x) {
                    m = mm;
                    hit = 1;
                }
            }
            if (!hit)
                continue;
        }
        /* m holds p (or p+1 after a carry) digits with value m * 10^(exp10 - p + 1) */
        snprintf(tmp, sizeof tmp, "%llu", m);
        nd = (int)strlen(tmp);
        *decpt = exp10 - (p - 1) + nd;
        while (nd > 1 && tmp[nd - 1] == '0')
            nd--;
        memcpy(digits, tmp, (size_t)nd);
        digits[nd] = 0;
        return nd;
    }
    return -1; /* not reached: 17 digits always read back */
}

int pf_json_format_double(double x, char *buf, size_t cap)
{
    char digits[32], out[64], *o = out;
    int nd, decpt;
    if (isnan(x))
        o += sprintf(o, "NaN");
    else if (isinf(x))
        o += sprintf(o, "%sInfinity", x < 0 ? "-" : "");
    else if (x == 0)
        o += sprintf(o, "%s0.0", signbit(x) ? "-" : "");
    else {
        if (x < 0)
            *o++ = '-';
        nd = shortest_digits(fabs(x), digits, &decpt);
        if (nd < 0)
            return -1;
        /* value = 0.DIGITS * 10^decpt; float_repr_style 'short' writes it positionally for
         * 1e-4 <= |x| < 1e16 and with an exponent of at least two digits otherwise */
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) {
                o += sprintf(o, "0.");
                for (int i = 0; i < -decpt; i++)
                    *o++ = '0';
                o += sprintf(o, "%s", digits);
            } else if (decpt < nd) {
                memcpy(o, digits, (size_t)decpt);
                o += decpt;
                o += sprintf(o, ".%s", digits + decpt);
            } else {
                o += sprintf(o, "%s", digits);
                for (int i = nd; i < decpt; i++)
                    *o++ = '0';
                o += sprintf(o, ".0");
            }
        } else {
            int e = decpt - 1;
            *o++ = digits[0];
            if (nd > 1)
                o += sprintf(o, ".%s", digits + 1);
            o += sprintf(o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        }
    }
    *o = 0;
    if ((size_t)(o - out) >= cap)
        return -1;
    memcpy(buf, out, (size_t)(o - out) + 1);
    return (int)(o - out);
}

/* ---- printing a jansson tree as Python's json.dump ---- */

static void add_indent(pf_textbuf *b, int depth)
{
    pf_textbuf_add(b, "\n", 1);
    for (int i = 0; i < depth; i++)
        pf_textbuf_add(b, "    ", 4);
}

/* json.dumps' ensure_ascii: \" \\ \b \f \n \r \t, everything else outside ' '..'~' as \uXXXX
 * (lower-case hex, surrogate pairs above U+FFFF). jansson strings are valid UTF-8. */
static void add_pystring(pf_textbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    char esc[16];
    pf_textbuf_add(b, "\"", 1);
    while (p < end) {
        unsigned cp = *p;
        int len = 1;
        if (cp >= 0xF0) {
            cp = ((cp & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
                 (p[3] & 0x3Fu);
            len = 4;
        } else if (cp >= 0xE0) {
            cp = ((cp & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
            len = 3;
        } else if (cp >= 0xC0) {
            cp = ((cp & 0x1Fu) << 6) | (p[1] & 0x3Fu);
            len = 2;
        }
        p += len;
        switch (cp) {
        case '"': pf_textbuf_str(b, "\\\""); continue;
        case '\\': pf_textbuf_str(b, "\\\\"); continue;
        case '\b': pf_textbuf_str(b, "\\b"); continue;
        case '\f': pf_textbuf_str(b, "\\f"); continue;
        case '\n': pf_textbuf_str(b, "\\n"); continue;
        case '\r': pf_textbuf_str(b, "\\r"); continue;
        case '\t': pf_textbuf_str(b, "\\t"); continue;
        default: break;
        }
        if (cp >= 0x20 && cp <= 0x7E) {
            char ch = (char)cp;
            pf_textbuf_add(b, &ch, 1);
        } else if (cp > 0xFFFF) {
            cp -= 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            pf_textbuf_str(b, esc);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
            pf_textbuf_str(b, esc);
        }
    }
    pf_textbuf_add(b, "\"", 1);
}

/* indent 4 as json.dump(indent=4); compact as json.dumps(separators=(",", ":")) */
void pf_pj_print(pf_textbuf *b, const json_t *v, int depth, int compact)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        if (json_object_size(v) == 0) {
            pf_textbuf_str(b, "{}");
            break;
        }
        pf_textbuf_add(b, "{", 1);
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                pf_textbuf_add(b, ",", 1);
            first = 0;
            if (!compact)
                add_indent(b, depth + 1);
            add_pystring(b, key, strlen(key));
            pf_textbuf_str(b, compact ? ":" : ": ");
            pf_pj_print(b, val, depth + 1, compact);
        }
        if (!compact)
            add_indent(b, depth);
        pf_textbuf_add(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        if (json_array_size(v) == 0) {
            pf_textbuf_str(b, "[]");
            break;
        }
        pf_textbuf_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                pf_textbuf_add(b, ",", 1);
            if (!compact)
                add_indent(b, depth + 1);
            pf_pj_print(b, json_array_get(v, i), depth + 1, compact);
        }
        if (!compact)
            add_indent(b, depth);
        pf_textbuf_add(b, "]", 1);
        break;
    case JSON_STRING:
        add_pystring(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        pf_textbuf_str(b, num);
        break;
    case JSON_REAL:
        pf_json_format_double(json_real_value(v), num, sizeof num);
        pf_textbuf_str(b, num);
        break;
    case JSON_TRUE:
        pf_textbuf_str(b, "true");
        break;
    case JSON_FALSE:
        pf_textbuf_str(b, "false");
        break;
    case JSON_NULL:
        pf_textbuf_str(b, "null");
        break;
    }
}
