/* gzip_runs.c - a fast gzip writer for label maps (see gzip_runs.h): literals and distance-1
 * matches, one dynamic Huffman block per BLOCK_IN input bytes. */
#include "gzip_runs.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"

#define BLOCK_IN (1 << 18)  /* input bytes per deflate block */
#define OUT_CAP (1 << 18)   /* compressed bytes buffered before the sink */
#define NLIT 286            /* literal/length symbols: 0-255, end of block 256, 257-285 */
#define NCL 19              /* code length symbols */
#define MATCH_FLAG 0x80000000u

/* RFC 1951 3.2.5: the length symbols' base lengths and extra bits. */
static const uint16_t LEN_BASE[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
/* the order in which the code length code's lengths are sent (3.2.7) */
static const uint8_t CL_ORDER[NCL] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef struct gz_writer {
    uint64_t bits;          /* pending bits, LSB first */
    int nbits;
    unsigned char *out;     /* OUT_CAP + 8 */
    size_t fill;
    pf_gz_sink sink;
    void *arg;
    pf_error *err;
    int failed;
    uint32_t *tok;          /* a block's tokens: a literal byte, or MATCH_FLAG | length */
    size_t ntok;
    uint32_t freq[NLIT];    /* the block's symbol counts, kept by tokenize */
    uint8_t len_sym[259];   /* match length 3..258 -> its symbol - 257 */
} gz_writer;

static void out_flush(gz_writer *w)
{
    if (!w->failed && w->fill && w->sink(w->arg, w->out, w->fill, w->err))
        w->failed = 1;
    w->fill = 0;
}

/* Appends the n (<= 32) low bits of v. */
static inline void put_bits(gz_writer *w, uint32_t v, int n)
{
    w->bits |= (uint64_t)v << w->nbits;
    w->nbits += n;
    if (w->nbits >= 32) {
        const uint32_t b = (uint32_t)w->bits;
        w->out[w->fill] = (unsigned char)b;
        w->out[w->fill + 1] = (unsigned char)(b >> 8);
        w->out[w->fill + 2] = (unsigned char)(b >> 16);
        w->out[w->fill + 3] = (unsigned char)(b >> 24);
        w->fill += 4;
        w->bits >>= 32;
        w->nbits -= 32;
        if (w->fill >= OUT_CAP)
            out_flush(w);
    }
}

/* The pending bits out, the last byte padded with zeros. */
static void align_byte(gz_writer *w)
{
    while (w->nbits > 0) {
        w->out[w->fill++] = (unsigned char)w->bits;
        w->bits >>= 8;
        w->nbits = w->nbits > 8 ? w->nbits - 8 : 0;
    }
    w->bits = 0;
}

/* Huffman code lengths (at most `limit` bits) for the n symbols' frequencies; a symbol of
 * frequency 0 gets length 0. At least two symbols get a code (deflate's trees must be
 * complete), so a lone symbol is paired with another. When the optimal code is too deep the
 * frequencies are halved (keeping them non-zero) and the code is built again. */
static void code_lengths(const uint32_t *freq_in, int n, int limit, uint8_t *len)
{
    uint32_t freq[NLIT], weight[2 * NLIT];
    int sym[NLIT], parent[2 * NLIT], depth[2 * NLIT], m = 0;
    memcpy(freq, freq_in, (size_t)n * sizeof *freq);
    for (int s = 0; s < n; s++)
        m += freq[s] != 0;
    for (int s = 0; m < 2 && s < n; s++)
        if (!freq[s]) {
            freq[s] = 1;
            m++;
        }
    for (;;) {
        int k = 0, leaf = 0, inner, next, maxd = 0;
        for (int s = 0; s < n; s++)
            if (freq[s])
                sym[k++] = s;
        /* leaves in ascending frequency (insertion sort: n <= 286) */
        for (int a = 1; a < m; a++) {
            const int s = sym[a];
            int b = a;
            for (; b > 0 && freq[sym[b - 1]] > freq[s]; b--)
                sym[b] = sym[b - 1];
            sym[b] = s;
        }
        for (int a = 0; a < m; a++)
            weight[a] = freq[sym[a]];
        /* two queues: the sorted leaves, and the inner nodes in the order they are made
         * (their weights never decrease) */
        inner = m;
        next = m;
        for (int t = 0; t < m - 1; t++) {
            int pick[2];
            for (int q = 0; q < 2; q++) {
                if (leaf < m && (inner >= next || weight[leaf] <= weight[inner]))
                    pick[q] = leaf++;
                else
                    pick[q] = inner++;
            }
            weight[next] = weight[pick[0]] + weight[pick[1]];
            parent[pick[0]] = parent[pick[1]] = next;
            next++;
        }
        depth[next - 1] = 0;
        for (int v = next - 2; v >= 0; v--) {
            depth[v] = depth[parent[v]] + 1;
            if (v < m && depth[v] > maxd)
                maxd = depth[v];
        }
        if (maxd <= limit) {
            memset(len, 0, (size_t)n);
            for (int a = 0; a < m; a++)
                len[sym[a]] = (uint8_t)depth[a];
            return;
        }
        for (int s = 0; s < n; s++)
            if (freq[s])
                freq[s] = (freq[s] >> 1) | 1;
    }
}

/* Canonical codes (3.2.2) from the lengths, bit-reversed for LSB-first output. */
static void canonical_codes(const uint8_t *len, int n, uint16_t *code)
{
    int count[16] = {0}, next[16];
    count[0] = 0;
    for (int s = 0; s < n; s++)
        if (len[s])
            count[len[s]]++;
    next[0] = 0;
    for (int b = 1, c = 0; b < 16; b++) {
        c = (c + count[b - 1]) << 1;
        next[b] = c;
    }
    for (int s = 0; s < n; s++) {
        uint32_t c, r = 0;
        if (!len[s])
            continue;
        c = (uint32_t)next[len[s]]++;
        for (int b = 0; b < len[s]; b++)
            r |= ((c >> b) & 1u) << (len[s] - 1 - b);
        code[s] = (uint16_t)r;
    }
}

/* The block's tokens as one dynamic Huffman block; `final` sets BFINAL. */
static void emit_block(gz_writer *w, int final)
{
    uint32_t *freq = w->freq, clfreq[NCL] = {0};
    uint8_t len[NLIT + 2], cllen[NCL], clsym[NLIT + 2], clext[NLIT + 2];
    uint16_t code[NLIT], clcode[NCL];
    int nlit = 257, nl, ncl = 0, hclen = NCL;
    freq[256] = 1;
    code_lengths(freq, NLIT, 15, len);
    canonical_codes(len, NLIT, code);
    for (int s = 0; s < NLIT; s++)
        if (len[s])
            nlit = s + 1 > nlit ? s + 1 : nlit;
    /* two distance codes of one bit each (a complete tree); only distance 1 (code 0) is used */
    len[nlit] = len[nlit + 1] = 1;
    nl = nlit + 2;
    /* the lengths run-length coded with the code length alphabet (3.2.7) */
    for (int i = 0; i < nl;) {
        const int l = len[i];
        int run = 1;
        while (i + run < nl && len[i + run] == l)
            run++;
        i += run;
        if (l == 0) {
            while (run >= 11) {
                const int r = run > 138 ? 138 : run;
                clsym[ncl] = 18;
                clext[ncl++] = (uint8_t)(r - 11);
                run -= r;
            }
            if (run >= 3) {
                clsym[ncl] = 17;
                clext[ncl++] = (uint8_t)(run - 3);
                run = 0;
            }
        } else {
            clsym[ncl] = (uint8_t)l;
            clext[ncl++] = 0;
            run--;
            while (run >= 3) {
                const int r = run > 6 ? 6 : run;
                clsym[ncl] = 16;
                clext[ncl++] = (uint8_t)(r - 3);
                run -= r;
            }
        }
        while (run-- > 0) {
            clsym[ncl] = (uint8_t)l;
            clext[ncl++] = 0;
        }
    }
    for (int k = 0; k < ncl; k++)
        clfreq[clsym[k]]++;
    code_lengths(clfreq, NCL, 7, cllen);
    canonical_codes(cllen, NCL, clcode);
    while (hclen > 4 && cllen[CL_ORDER[hclen - 1]] == 0)
        hclen--;
    put_bits(w, (uint32_t)(final ? 1 : 0) | 2u << 1, 3);   /* BFINAL, BTYPE 10 */
    put_bits(w, (uint32_t)(nlit - 257), 5);
    put_bits(w, 1, 5);                                     /* HDIST: 2 codes */
    put_bits(w, (uint32_t)(hclen - 4), 4);
    for (int k = 0; k < hclen; k++)
        put_bits(w, cllen[CL_ORDER[k]], 3);
    for (int k = 0; k < ncl; k++) {
        const int s = clsym[k];
        put_bits(w, clcode[s], cllen[s]);
        if (s == 16)
            put_bits(w, clext[k], 2);
        else if (s == 17)
            put_bits(w, clext[k], 3);
        else if (s == 18)
            put_bits(w, clext[k], 7);
    }
    for (size_t t = 0; t < w->ntok; t++) {
        const uint32_t k = w->tok[t];
        if (k & MATCH_FLAG) {
            const uint32_t l = k & 0x1ff;
            const int ls = w->len_sym[l];
            put_bits(w, code[257 + ls], len[257 + ls]);
            if (LEN_EXTRA[ls])
                put_bits(w, l - LEN_BASE[ls], LEN_EXTRA[ls]);
            put_bits(w, 0, 1);                             /* distance code 0: distance 1 */
        } else {
            put_bits(w, code[k], len[k]);
        }
    }
    put_bits(w, code[256], len[256]);
    w->ntok = 0;
    memset(w->freq, 0, sizeof w->freq);
}

/* Length of the run of p[0] starting at p (at most n), a word at a time. */
static size_t run_length(const unsigned char *p, size_t n)
{
    const uint64_t pat = 0x0101010101010101ull * p[0];
    size_t r = 1;
    while (r + 8 <= n) {
        uint64_t v;
        memcpy(&v, p + r, 8);
        v ^= pat;
        if (v)
            return r + (size_t)(__builtin_ctzll(v) >> 3);
        r += 8;
    }
    while (r < n && p[r] == p[0])
        r++;
    return r;
}

/* Tokens of n bytes at p (a run never reaches back before p). Most runs of a noisy label map
 * are short: their literals are stored without a loop (the token array has two spare
 * entries), so the only data-dependent branch is whether a match is needed. */
static void tokenize(gz_writer *w, const unsigned char *p, size_t n)
{
    uint32_t *tok = w->tok + w->ntok, *freq = w->freq;
    size_t i = 0;
    while (i < n) {
        const uint32_t v = p[i];
        const size_t run = run_length(p + i, n - i);
        size_t rest = run - 1;
        *tok++ = v;
        freq[v]++;
        if (rest >= 3) {
            for (; rest >= 258 + 3 || rest == 258; rest -= 258) {
                *tok++ = MATCH_FLAG | 258u;
                freq[257 + 28]++;
            }
            if (rest >= 3) { /* 3..260: one match, at most 2 literals left */
                const size_t l = rest > 258 ? 258 : rest;
                *tok++ = MATCH_FLAG | (uint32_t)l;
                freq[257 + w->len_sym[l]]++;
                rest -= l;
            }
        }
        tok[0] = tok[1] = v; /* rest (0..2) literals */
        tok += rest;
        freq[v] += (uint32_t)rest;
        i += run;
    }
    w->ntok = (size_t)(tok - w->tok);
}

int pf_gzip_runs(const void *const *seg, const size_t *len, int n, pf_gz_sink sink, void *arg,
                 pf_error *err)
{
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    gz_writer w = {.sink = sink, .arg = arg, .err = err};
    uint32_t crc = 0, total = 0;
    int last = -1;
    w.out = malloc(OUT_CAP + 16);
    w.tok = malloc((BLOCK_IN + 2) * sizeof *w.tok);
    if (!w.out || !w.tok) {
        free(w.out);
        free(w.tok);
        return pf_fail(err, ENOMEM, "gzip: out of memory");
    }
    for (int s = 0; s < 29; s++)
        for (int l = LEN_BASE[s]; l < (s < 28 ? LEN_BASE[s + 1] : 259); l++)
            w.len_sym[l] = (uint8_t)s;
    for (int i = 0; i < n; i++)
        if (len[i])
            last = i;
    memcpy(w.out, head, sizeof head);
    w.fill = sizeof head;
    for (int i = 0; i < n; i++) {
        const unsigned char *p = seg[i];
        for (size_t off = 0; off < len[i] && !w.failed; off += BLOCK_IN) {
            const size_t k = len[i] - off < BLOCK_IN ? len[i] - off : BLOCK_IN;
            tokenize(&w, p + off, k);
            emit_block(&w, i == last && off + k == len[i]);
        }
        crc = pf_crc32(crc, p, len[i]);
        total += (uint32_t)len[i];
    }
    if (last < 0) { /* nothing at all: one empty final block */
        w.ntok = 0;
        emit_block(&w, 1);
    }
    align_byte(&w);
    for (int b = 0; b < 4; b++)
        w.out[w.fill++] = (unsigned char)(crc >> (8 * b));
    for (int b = 0; b < 4; b++)
        w.out[w.fill++] = (unsigned char)(total >> (8 * b));
    out_flush(&w);
    free(w.out);
    free(w.tok);
    return w.failed ? -1 : 0;
}
