/* npy_read.c - a minimal reader of .npy files (NumPy format 1.0, 2.0, 3.0) such as the
 * batches a patchfs mount serves. Plain C99 + stdio, no library.
 *
 *   cc -O2 -Wall -Wextra -o npy_read npy_read.c
 *   ./npy_read /mnt/p/train/epoch_0/step_0/data.npy /mnt/p/train/epoch_0/step_0/seg.npy
 *
 * For each file it prints one line:
 *
 *   PATH shape=(2,1,32,48,32) dtype=<f4 count=98304 crc32=6b0e39d1 sum=... min=... max=...
 *
 * crc32 is the CRC-32 (zlib's) of the array bytes after the header, i.e. numpy's
 * zlib.crc32(np.load(PATH).tobytes()) for a C-order array; sum adds the values in file order in
 * double precision. The data is streamed in 64 KiB blocks: memory use is constant. Exit status
 * is 0 when every file was read completely. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIMS 32

struct npy {
    char order;        /* '<' little, '>' big, '|' not applicable */
    char kind;         /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int size;          /* bytes per value: 1, 2, 4 or 8 */
    int fortran;       /* 1 if Fortran order (the values are then in column-major order) */
    int ndim;
    uint64_t shape[MAX_DIMS];
    uint64_t count;    /* number of values */
};

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* the value after "'key':" in the header dict, or NULL */
static const char *dict_value(const char *header, const char *key)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(header, quoted);
    if (!p)
        return NULL;
    p = strchr(p + strlen(quoted), ':');
    if (!p)
        return NULL;
    for (p++; *p == ' '; p++)
        ;
    return p;
}

/* parse the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 4), } */
static int parse_header(const char *h, struct npy *a, const char *path)
{
    const char *d = dict_value(h, "descr"), *f = dict_value(h, "fortran_order"),
               *s = dict_value(h, "shape");
    if (!d || !f || !s || *d != '\'' || *s != '(') {
        fprintf(stderr, "%s: not a .npy header I can read: %s\n", path, h);
        return -1;
    }
    a->order = d[1];
    a->kind = d[2];
    a->size = atoi(d + 3);
    if (!strchr("<>|=", a->order) || !strchr("fiub", a->kind) ||
        !(a->size == 1 || a->size == 2 || a->size == 4 || a->size == 8) ||
        (a->kind == 'f' && a->size < 4) || (a->kind == 'b' && a->size != 1)) {
        fprintf(stderr, "%s: unsupported dtype %.8s\n", path, d);
        return -1;
    }
    if (a->order == '=') {
        const uint16_t one = 1;
        a->order = *(const unsigned char *)&one ? '<' : '>';
    }
    a->fortran = strncmp(f, "True", 4) == 0;
    a->ndim = 0;
    a->count = 1;
    for (s++; *s != ')';) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (end == s || errno || a->ndim == MAX_DIMS) {
            fprintf(stderr, "%s: bad shape in header: %s\n", path, h);
            return -1;
        }
        a->shape[a->ndim++] = n;
        a->count *= n;
        for (s = end; *s == ',' || *s == ' '; s++)
            ;
    }
    return 0;
}

/* value i of a block of raw bytes as a double, swapping bytes if the file's order is not ours */
static double value_at(const unsigned char *p, const struct npy *a, int swap)
{
    unsigned char b[8];
    for (int k = 0; k < a->size; k++)
        b[k] = swap ? p[a->size - 1 - k] : p[k];
    switch (a->kind) {
    case 'f':
        if (a->size == 4) { float v; memcpy(&v, b, 4); return v; }
        else { double v; memcpy(&v, b, 8); return v; }
    case 'i':
        switch (a->size) {
        case 1: { int8_t v; memcpy(&v, b, 1); return v; }
        case 2: { int16_t v; memcpy(&v, b, 2); return v; }
        case 4: { int32_t v; memcpy(&v, b, 4); return v; }
        default: { int64_t v; memcpy(&v, b, 8); return (double)v; }
        }
    default: /* 'u', 'b' */
        switch (a->size) {
        case 1: return b[0];
        case 2: { uint16_t v; memcpy(&v, b, 2); return v; }
        case 4: { uint32_t v; memcpy(&v, b, 4); return v; }
        default: { uint64_t v; memcpy(&v, b, 8); return (double)v; }
        }
    }
}

static int read_npy(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char *header = NULL;
    unsigned char pre[12];
    /* magic "\x93NUMPY", version major, minor, then the header length: 2 bytes (1.0) or 4 */
    if (fread(pre, 1, 8, fp) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] < 1 || pre[6] > 3) {
        fprintf(stderr, "%s: not a .npy file\n", path);
        goto out;
    }
    int wide = pre[6] >= 2;
    if (fread(pre + 8, 1, wide ? 4 : 2, fp) != (size_t)(wide ? 4 : 2)) {
        fprintf(stderr, "%s: truncated header\n", path);
        goto out;
    }
    uint32_t hlen = pre[8] | (uint32_t)pre[9] << 8;
    if (wide)
        hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    if (hlen > (1u << 20) || !(header = malloc(hlen + 1)) || fread(header, 1, hlen, fp) != hlen) {
        fprintf(stderr, "%s: truncated or oversized header\n", path);
        goto out;
    }
    header[hlen] = '\0';
    struct npy a;
    if (parse_header(header, &a, path) != 0)
        goto out;

    const uint16_t one = 1;
    char host = *(const unsigned char *)&one ? '<' : '>';
    int swap = a.order != '|' && a.order != host;
    static unsigned char block[1 << 16]; /* a multiple of every value size */
    uint64_t left = a.count * (uint64_t)a.size;
    uint32_t crc = 0;
    double sum = 0, lo = 0, hi = 0;
    int first = 1;
    while (left > 0) {
        size_t want = left < sizeof block ? (size_t)left : sizeof block;
        size_t got = fread(block, 1, want, fp);
        if (got != want) {
            fprintf(stderr, "%s: %s after the header: %" PRIu64 " bytes of data missing\n", path,
                    ferror(fp) ? strerror(errno) : "end of file", left - got);
            goto out;
        }
        crc = crc_update(crc, block, got);
        for (size_t off = 0; off < got; off += (size_t)a.size) {
            double v = value_at(block + off, &a, swap);
            sum += v;
            if (first || v < lo)
                lo = v;
            if (first || v > hi)
                hi = v;
            first = 0;
        }
        left -= got;
    }
    if (fgetc(fp) != EOF) {
        fprintf(stderr, "%s: extra bytes after the data\n", path);
        goto out;
    }

    printf("%s shape=(", path);
    for (int i = 0; i < a.ndim; i++)
        printf("%s%" PRIu64, i ? "," : "", a.shape[i]);
    printf("%s) dtype=%c%c%d%s count=%" PRIu64 " crc32=%08" PRIx32 " sum=%.17g min=%.17g max=%.17g\n",
           a.ndim == 1 ? "," : "", a.order, a.kind, a.size, a.fortran ? " fortran_order" : "",
           a.count, crc, sum, lo, hi);
    rc = 0;
out:
    free(header);
    fclose(fp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.npy...\n", argv[0]);
        return 2;
    }
    crc_init();
    int status = 0;
    for (int i = 1; i < argc; i++)
        if (read_npy(argv[i]) != 0)
            status = 1;
    return status;
}
