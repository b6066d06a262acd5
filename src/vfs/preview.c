/* preview.c - rendering preview tiles and encoding them as PNG with libpng (see preview.h). */
#include "preview.h"

#include <errno.h>
#include <png.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GAP 2          /* pixels between tiles */
#define MIN_TILE 160   /* small patches are scaled up by an integer factor to about this */

/* Label colours (RGB), cycled: distinct, readable on grey. */
static const unsigned char palette[12][3] = {
    {230, 25, 75}, {60, 180, 75}, {255, 225, 25}, {0, 130, 200}, {245, 130, 48},
    {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {250, 190, 212},
    {0, 128, 128}, {170, 110, 40},
};

static int scale_of(int h, int w)
{
    int m = h > w ? h : w, s = MIN_TILE / (m > 0 ? m : 1);
    return s < 1 ? 1 : s > 8 ? 8 : s;
}

static void dims(int rows, int channels, int height, int width, int *iw, int *ih)
{
    int s = scale_of(height, width);
    *iw = channels * width * s + (channels + 1) * GAP;
    *ih = rows * height * s + (rows + 1) * GAP;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* 1st and 99th percentile (nearest rank) of the tile's pixels inside the case. */
static void window_of(const float *v, const unsigned char *pad, size_t n, float *tmp, float *lo,
                      float *hi)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!pad[i])
            tmp[k++] = v[i];
    if (k == 0) {
        *lo = 0.0f;
        *hi = 1.0f;
        return;
    }
    qsort(tmp, k, sizeof *tmp, cmp_float);
    *lo = tmp[(k - 1) / 100];
    *hi = tmp[(k - 1) * 99 / 100];
    if (!(*hi > *lo))
        *hi = *lo + 1.0f;
}

static void render(const pf_preview_input *in, unsigned char *rgb, int iw, float *tmp)
{
    const int H = in->height, W = in->width, s = scale_of(H, W);
    const size_t plane = (size_t)H * (size_t)W;
    for (int r = 0; r < in->rows; r++) {
        const int16_t *seg = in->seg + (size_t)r * plane;
        const unsigned char *pad = in->pad + (size_t)r * plane;
        for (int c = 0; c < in->channels; c++) {
            const float *img = in->image + ((size_t)r * (size_t)in->channels + (size_t)c) * plane;
            float lo, hi;
            int x0 = GAP + c * (W * s + GAP), y0 = GAP + r * (H * s + GAP);
            window_of(img, pad, plane, tmp, &lo, &hi);
            for (int y = 0; y < H * s; y++)
                for (int x = 0; x < W * s; x++) {
                    int py = y / s, px = x / s;
                    size_t i = (size_t)py * (size_t)W + (size_t)px;
                    unsigned char *o = rgb + ((size_t)(y0 + y) * (size_t)iw + (size_t)(x0 + x)) * 3;
                    int16_t l = seg[i];
                    if (pad[i]) { /* hatched: outside the case */
                        int stripe = ((x + y) / 4) % 2;
                        o[0] = stripe ? 40 : 18;
                        o[1] = stripe ? 40 : 18;
                        o[2] = stripe ? 90 : 36;
                        continue;
                    }
                    {
                        float t = (img[i] - lo) / (hi - lo);
                        int g = (int)(t < 0.0f ? 0.0f : t > 1.0f ? 255.0f : t * 255.0f);
                        o[0] = o[1] = o[2] = (unsigned char)g;
                    }
                    if (l > 0) {
                        const unsigned char *col = palette[(l - 1) % 12];
                        /* outline where a 4-neighbour (in patch pixels) has another label */
                        int edge = (px > 0 && seg[i - 1] != l) || (px < W - 1 && seg[i + 1] != l) ||
                                   (py > 0 && seg[i - (size_t)W] != l) ||
                                   (py < H - 1 && seg[i + (size_t)W] != l);
                        for (int k = 0; k < 3; k++)
                            o[k] = edge ? col[k] : (unsigned char)((o[k] * 3 + col[k] * 2) / 5);
                    }
                }
        }
    }
}

typedef struct membuf {
    char *data;
    size_t len, cap;
    int failed;
} membuf;

static void write_fn(png_structp png, png_bytep data, png_size_t len)
{
    membuf *m = png_get_io_ptr(png);
    if (m->failed)
        return;
    if (m->len + len > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 65536);
        char *p;
        while (cap < m->len + len)
            cap *= 2;
        p = realloc(m->data, cap);
        if (!p) {
            m->failed = 1;
            return;
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, len);
    m->len += len;
}

static void flush_fn(png_structp png)
{
    (void)png;
}

/* Encodes an RGB image: no compression, no filters, so the size depends on (iw, ih) only. */
static int encode(const unsigned char *rgb, int iw, int ih, char **out, size_t *len,
                  pf_error *err)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return pf_fail(err, ENOMEM, "cannot start a PNG encoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.data);
        return pf_fail(err, EIO, "PNG encoding failed");
    }
    png_set_write_fn(png, &m, write_fn, flush_fn);
    png_set_compression_level(png, 0);
    png_set_filter(png, 0, PNG_FILTER_NONE);
    png_set_IHDR(png, info, (png_uint_32)iw, (png_uint_32)ih, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < ih; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)iw * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (m.failed) {
        free(m.data);
        return pf_fail(err, ENOMEM, "out of memory encoding a PNG");
    }
    *out = m.data;
    *len = m.len;
    return 0;
}

int pf_preview_png(const pf_preview_input *in, char **png, size_t *len, pf_error *err)
{
    int iw, ih, rc;
    unsigned char *rgb;
    float *tmp;
    dims(in->rows, in->channels, in->height, in->width, &iw, &ih);
    rgb = calloc((size_t)iw * (size_t)ih, 3);
    tmp = malloc((size_t)in->height * (size_t)in->width * sizeof *tmp + 1);
    if (!rgb || !tmp) {
        free(rgb);
        free(tmp);
        return pf_fail(err, ENOMEM, "out of memory rendering a preview");
    }
    memset(rgb, 64, (size_t)iw * (size_t)ih * 3); /* gaps: dark grey */
    render(in, rgb, iw, tmp);
    rc = encode(rgb, iw, ih, png, len, err);
    free(rgb);
    free(tmp);
    return rc;
}

/* Sizes by dimensions, computed once each by encoding a blank image (cheap: no rendering). */
static pthread_mutex_t size_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int iw, ih; uint64_t size; } size_memo[16];
static int size_memo_n;

int pf_preview_png_size(int rows, int channels, int height, int width, uint64_t *size,
                        pf_error *err)
{
    int iw, ih;
    unsigned char *rgb;
    char *png;
    size_t len;
    dims(rows, channels, height, width, &iw, &ih);
    pthread_mutex_lock(&size_lock);
    for (int i = 0; i < size_memo_n; i++)
        if (size_memo[i].iw == iw && size_memo[i].ih == ih) {
            *size = size_memo[i].size;
            pthread_mutex_unlock(&size_lock);
            return 0;
        }
    pthread_mutex_unlock(&size_lock);
    rgb = calloc((size_t)iw * (size_t)ih, 3);
    if (!rgb)
        return pf_fail(err, ENOMEM, "out of memory");
    if (encode(rgb, iw, ih, &png, &len, err)) {
        free(rgb);
        return -1;
    }
    free(rgb);
    free(png);
    pthread_mutex_lock(&size_lock);
    if (size_memo_n < 16) {
        size_memo[size_memo_n].iw = iw;
        size_memo[size_memo_n].ih = ih;
        size_memo[size_memo_n].size = len;
        size_memo_n++;
    }
    pthread_mutex_unlock(&size_lock);
    *size = len;
    return 0;
}
