/* AVX2 kernels, 8 floats a vector: lib/kernels/vec_kernel.h on 256-bit vectors.
 * Compiled alone with -mavx2 (no -mfma), so no wide instruction can run before CPU
 * detection. */
#include <immintrin.h>
#include <stdint.h>

#define VEC __m256
#define VEC_LANES 8
#define VEC_LOAD(a) _mm256_loadu_ps(a)
#define VEC_STORE(a, x) _mm256_storeu_ps((a), (x))
#define VEC_SET1(f) _mm256_set1_ps(f)
#define VEC_ZERO() _mm256_setzero_ps()
#define VEC_ADD(a, b) _mm256_add_ps((a), (b))
#define VEC_SUB(a, b) _mm256_sub_ps((a), (b))
#define VEC_MUL(a, b) _mm256_mul_ps((a), (b))
#define VEC_DIV(a, b) _mm256_div_ps((a), (b))
#define VEC_SQRT(a) _mm256_sqrt_ps(a)
#define VEC_MAX(a, b) _mm256_max_ps((a), (b))
#define VEC_SIGN_MASK() _mm256_set1_ps(-0.0f)
#define VEC_XOR(a, b) _mm256_xor_ps((a), (b))
/* 0 < |x| < lim: |x| + (2^31 - 1) wraps the nonzero magnitudes to INT32_MIN on, signed,
 * and leaves zero at INT32_MAX, so the tiny lanes are those below INT32_MIN + lim - 1.
 * Two vectors at once take the smaller of each lane's two first. */
#define VEC_TINY(x, lim) avx2_tiny2((x), (x), (lim))
#define VEC_TINY2(x, y, lim) avx2_tiny2((x), (y), (lim))
static inline __m256i avx2_wrap(__m256 x)
{
    return _mm256_add_epi32(_mm256_and_si256(_mm256_castps_si256(x),
            _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7fffffff));
}
static inline unsigned avx2_tiny2(__m256 x, __m256 y, int lim)
{
    __m256i t = _mm256_set1_epi32((int)((unsigned)INT32_MIN + (unsigned)lim - 1u));
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(t,
            _mm256_min_epi32(avx2_wrap(x), avx2_wrap(y)))));
}
/* All ones in the lanes with |x| >= lim: the magnitude's bits above lim - 1, signed (both
 * below 2^31). VEC_ABOVE takes its bits, VEC_FROM keeps x there (+0 in the others). */
#define AVX2_ABOVE(x, lim) _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_and_si256( \
        _mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32((int)(lim) - 1)))
#define VEC_ABOVE(x, lim) ((unsigned)_mm256_movemask_ps(AVX2_ABOVE((x), (lim))))
#define VEC_FROM(x, lim) _mm256_and_ps((x), AVX2_ABOVE((x), (lim)))
#define VEC_SIGNS(x) ((unsigned)_mm256_movemask_ps(x))
#define VEC_LT(a, b) ((unsigned)_mm256_movemask_ps(_mm256_cmp_ps((a), (b), _CMP_LT_OQ)))
#define VEC_AND(a, b) _mm256_and_ps((a), (b))
#define VEC_OR(a, b) _mm256_or_ps((a), (b))
/* The zero lanes (z) keep m's sign bit only where g's is set: m & ~(z & ~g). */
#define VEC_ZERO_SIGNS(m, g) avx2_zero_signs((m), (g))
static inline __m256 avx2_zero_signs(__m256 m, __m256 g)
{
    __m256i mi = _mm256_castps_si256(m);
    __m256i z = _mm256_cmpeq_epi32(_mm256_and_si256(mi, _mm256_set1_epi32(0x7fffffff)),
            _mm256_setzero_si256());
    return _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_andnot_si256(
            _mm256_castps_si256(g), z), mi));
}
#define SN_F2D(x) ((sn_d)_mm256_cvtps_pd((__m128)(x)))
#define SN_I2D(x) ((sn_d)_mm256_cvtepi32_pd((__m128i)(x)))
#define SN_I2L(x) ((sn_l)_mm256_cvtepi32_epi64((__m128i)(x)))
#define SN_SQRT(x) ((sn_d)_mm256_sqrt_pd((__m256d)(x)))
#define SN_ANY(x) (!_mm_testz_si128((__m128i)(x), (__m128i)(x)))
#define SN_LO(x) ((sn_f)_mm256_castps256_ps128(x))
#define SN_HI(x) ((sn_f)_mm256_extractf128_ps((x), 1))
#define SN_JOIN(lo, hi) _mm256_insertf128_ps(_mm256_castps128_ps256((__m128)(lo)), \
        (__m128)(hi), 1)
#define VEC_NAME(kind) lazyadam_##kind##_ukernel__avx2
#include "vec_kernel.h"

const lazyadam_kernels lazyadam_kernels__avx2 = {
    .adam = lazyadam_adam_ukernel__avx2,
    .rows = lazyadam_rows_ukernel__avx2,
    .groups = lazyadam_groups_ukernel__avx2,
    .sparse = lazyadam_sparse_ukernel__avx2,
    .replay = lazyadam_replay_ukernel__avx2,
};
