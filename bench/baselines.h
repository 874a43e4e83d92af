/* The yardsticks every lazyadam figure is measured against, in the same process:
 * the roofline loop with Adam's exact memory traffic, a stream copy, and a plain
 * auto-vectorised Adam loop. */
#ifndef LAZYADAM_BASELINES_H
#define LAZYADAM_BASELINES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* p += g; m += g; v += g: 4 loads and 3 stores per element, like Adam. */
void baseline_roofline(size_t n, float *p, const float *g, float *m, float *v, int threads);
/* The same traffic at the count rows row[0..count) (ascending, distinct) of the tables
 * p, m, v of dim floats a row, row i's gradient at g + src[i] * dim: a sparse step's. */
void baseline_rows_roofline(size_t count, const int64_t *row, const size_t *src, size_t dim,
        float *p, const float *g, float *m, float *v, int threads);
/* dst = src. */
void baseline_copy(size_t n, float *dst, const float *src, int threads);
/* Adam (EPS_HAT, no options) as a compiler writes it from plain C with
 * -O3 -march=native -fno-math-errno, bias corrections computed per call from the step. */
void baseline_plain_adam(size_t n, float *p, const float *g, float *m, float *v, float lr,
        float beta1, float beta2, float eps, long step, int threads);
/* The same loop handed a fixed step size `alpha`: Adam without its per-call scalar work
 * (no bias correction), kept to show what that work costs. */
void baseline_plain_adam_fixed(size_t n, float *p, const float *g, float *m, float *v,
        float alpha, float beta1, float beta2, float eps, int threads);

/* The same five compiled without AVX-512 (-march=native -mno-avx512f): what the plain
 * loops are on an AVX2-only CPU such as Zen 3, and so the AVX2 backend's yardstick. */
void baseline_roofline_avx2(size_t n, float *p, const float *g, float *m, float *v, int threads);
void baseline_rows_roofline_avx2(size_t count, const int64_t *row, const size_t *src,
        size_t dim, float *p, const float *g, float *m, float *v, int threads);
void baseline_copy_avx2(size_t n, float *dst, const float *src, int threads);
void baseline_plain_adam_avx2(size_t n, float *p, const float *g, float *m, float *v, float lr,
        float beta1, float beta2, float eps, long step, int threads);
void baseline_plain_adam_fixed_avx2(size_t n, float *p, const float *g, float *m, float *v,
        float alpha, float beta1, float beta2, float eps, int threads);

#ifdef __cplusplus
}
#endif
#endif
