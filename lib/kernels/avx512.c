/* AVX-512F kernels, 16 floats a vector: lib/kernels/vec_kernel.h on 512-bit vectors.
 * Compiled alone with -mavx512f, so no wide instruction can run before CPU detection.
 * Only AVX-512F operations SIMDe 0.7.4 provides (no masked loads: tails use the scalar
 * element function), so the emulated test build runs this very source. */
#ifdef LAZYADAM_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#else
#include <immintrin.h>
#endif

#define VEC __m512
#define VEC_LANES 16
#define VEC_LOAD(a) _mm512_loadu_ps(a)
#define VEC_STORE(a, x) _mm512_storeu_ps((a), (x))
#define VEC_SET1(f) _mm512_set1_ps(f)
#define VEC_ZERO() _mm512_setzero_ps()
#define VEC_ADD(a, b) _mm512_add_ps((a), (b))
#define VEC_SUB(a, b) _mm512_sub_ps((a), (b))
#define VEC_MUL(a, b) _mm512_mul_ps((a), (b))
#define VEC_DIV(a, b) _mm512_div_ps((a), (b))
#define VEC_SQRT(a) _mm512_sqrt_ps(a)
#define VEC_MAX(a, b) _mm512_max_ps((a), (b))
/* AVX-512F has no xor_ps: the sign bit is flipped through the integer xor. */
#define VEC_SIGN_MASK() _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u))
#define VEC_XOR(a, b) _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), \
        _mm512_castps_si512(b)))
/* 0 < |x| < lim: |x| - 1 <= lim - 2 unsigned, which zero's -1 never is. Two vectors at
 * once take the smaller of each lane's two first. */
#define AVX512_MAG(x) _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff))
#define AVX512_MAG1(x) _mm512_sub_epi32(AVX512_MAG(x), _mm512_set1_epi32(1))
#define VEC_TINY(x, lim) ((unsigned)_mm512_cmple_epu32_mask(AVX512_MAG1(x), \
        _mm512_set1_epi32((lim) - 2)))
#define VEC_TINY2(x, y, lim) ((unsigned)_mm512_cmple_epu32_mask(_mm512_min_epu32( \
        AVX512_MAG1(x), AVX512_MAG1(y)), _mm512_set1_epi32((lim) - 2)))
/* The lanes with |x| >= lim: the magnitude's bits above lim - 1, signed (both below 2^31).
 * VEC_ABOVE takes the mask's bits, VEC_FROM keeps x there (+0 in the others). */
#define AVX512_ABOVE(x, lim) _mm512_cmpgt_epi32_mask(AVX512_MAG(x), \
        _mm512_set1_epi32((int)(lim) - 1))
#define VEC_ABOVE(x, lim) ((unsigned)AVX512_ABOVE((x), (lim)))
#define VEC_FROM(x, lim) _mm512_maskz_mov_ps(AVX512_ABOVE((x), (lim)), (x))
#define VEC_SIGNS(x) ((unsigned)_mm512_cmpgt_epi32_mask(_mm512_setzero_si512(), \
        _mm512_castps_si512(x)))
#define VEC_LT(a, b) ((unsigned)_mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ))
#define VEC_AND(a, b) _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), \
        _mm512_castps_si512(b)))
#define VEC_OR(a, b) _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), \
        _mm512_castps_si512(b)))
/* The zero lanes of m and-ed with g, the others m as it is. */
#define VEC_ZERO_SIGNS(m, g) _mm512_castsi512_ps(_mm512_mask_and_epi32(_mm512_castps_si512(m), \
        _mm512_cmpeq_epi32_mask(AVX512_MAG(m), _mm512_setzero_si512()), \
        _mm512_castps_si512(m), _mm512_castps_si512(g)))
#ifndef LAZYADAM_SIMDE   /* subnormal.h's vectors are GCC's, not SIMDe's */
#define SN_F2D(x) ((sn_d)_mm512_cvtps_pd((__m256)(x)))
#define SN_I2D(x) ((sn_d)_mm512_cvtepi32_pd((__m256i)(x)))
#define SN_I2L(x) ((sn_l)_mm512_cvtepi32_epi64((__m256i)(x)))
#define SN_SQRT(x) ((sn_d)_mm512_sqrt_pd((__m512d)(x)))
#define SN_ANY(x) (!_mm256_testz_si256((__m256i)(x), (__m256i)(x)))
#define SN_LO(x) ((sn_f)_mm512_castps512_ps256(x))
#define SN_HI(x) ((sn_f)_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))
#define SN_JOIN(lo, hi) _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd( \
        _mm512_castps256_ps512((__m256)(lo))), _mm256_castps_pd((__m256)(hi)), 1))
#endif
#define VEC_NAME(kind) lazyadam_##kind##_ukernel__avx512
#include "vec_kernel.h"

/* Arrays that stream from DRAM go through the AVX2 kernel: on machine B (AMD) 512-bit
 * loads and stores stream 5-13% slower there than 256-bit ones, the compiled roofline
 * loop included (README "Known limits"), while in cache the 512-bit kernel is 1.3-1.4
 * times as fast. On Intel the two trade places (machine D: in cache the 512-bit kernel
 * ran at 0.92 of the AVX2 one's speed, from DRAM they tie). lib/dense.c decides by the
 * bytes a call touches and the vendor. */
const lazyadam_kernels lazyadam_kernels__avx512 = {
    .adam = lazyadam_adam_ukernel__avx512,
#ifdef LAZYADAM_HAVE_AVX2
    .adam_stream = lazyadam_adam_ukernel__avx2,
#endif
    .rows = lazyadam_rows_ukernel__avx512,
    .groups = lazyadam_groups_ukernel__avx512,
    .sparse = lazyadam_sparse_ukernel__avx512,
    .replay = lazyadam_replay_ukernel__avx512,
};
