/* AVX2 kernels, 8 floats a vector: lib/kernels/vec_kernel.h on 256-bit vectors.
 * Compiled alone with -mavx2 (no -mfma), so no wide instruction can run before CPU
 * detection. */
#include <immintrin.h>

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
#define VEC_NAME(kind) lazyadam_##kind##_ukernel__avx2
#include "vec_kernel.h"

const lazyadam_kernels lazyadam_kernels__avx2 = {
    .adam = lazyadam_adam_ukernel__avx2,
    .rows = lazyadam_rows_ukernel__avx2,
    .groups = lazyadam_groups_ukernel__avx2,
    .sparse = lazyadam_sparse_ukernel__avx2,
    .replay = lazyadam_replay_ukernel__avx2,
};
