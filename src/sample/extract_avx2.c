/* extract_avx2.c - the eight-lane (AVX2) row kernels of the plain crop (extract_i.h).
 *
 * The normalisation is extract.c's four-lane loop on 256-bit registers: MAXPS(lo, v) is
 * `v < lo ? lo : v` and MINPS(hi, t) is `t > hi ? hi : t` lane by lane (a NaN stays NaN in
 * both), then IEEE subtraction and division; no reciprocal, no fused operation (the build has
 * -ffp-contract=off and target "avx2" does not enable FMA), so each lane's bits are the scalar
 * expression's. Compiled for any x86 target; called only when the CPU has AVX2. */
#include "extract_i.h"

#ifdef PF_HAVE_AVX2

PF_AVX2 size_t pf_norm_row_avx2(const float *src, const int8_t *seg8, const int16_t *seg16,
                                const pf_norm *nm, float *dst, size_t n)
{
    const __m256 lo = _mm256_set1_ps(nm->lo), hi = _mm256_set1_ps(nm->hi),
                 shift = _mm256_set1_ps(nm->shift), scale = _mm256_set1_ps(nm->scale);
    size_t i = 0;
    if (nm->masked) {
        const __m256i minus1 = _mm256_set1_epi32(-1);
        for (; i + 8 <= n; i += 8) {
            const __m256 v = _mm256_loadu_ps(src + i);
            const __m256 t =
                _mm256_div_ps(_mm256_sub_ps(_mm256_min_ps(hi, _mm256_max_ps(lo, v)), shift), scale);
            const __m256i s32 =
                seg8 ? _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(seg8 + i)))
                     : _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(seg16 + i)));
            const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(s32, minus1)); /* >= 0 */
            _mm256_storeu_ps(dst + i, _mm256_blendv_ps(v, t, keep));
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            const __m256 t = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_loadu_ps(src + i)));
            _mm256_storeu_ps(dst + i, _mm256_div_ps(_mm256_sub_ps(t, shift), scale));
        }
    }
    return i;
}

PF_AVX2 size_t pf_widen_labels_avx2(const int8_t *src, int16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + i))));
    return i;
}

#endif
