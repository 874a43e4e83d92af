/* Compiled with -O3 -march=native -fno-math-errno (bench/meson.build): what a
 * straightforward loop gets from the compiler on this machine. Compiled a second time
 * with -mno-avx512f and BASELINE_ISA=_avx2: the same loops as -march=native builds them
 * on a CPU without AVX-512, the yardstick for the AVX2 backend. */
#include <math.h>
#include <omp.h>

#include "baselines.h"

#ifndef BASELINE_ISA
#define BASELINE_ISA
#endif
#define BASELINE_CAT(a, b, c) a##b##c
#define BASELINE_XCAT(a, b, c) BASELINE_CAT(a, b, c)
#define BASELINE_FN(name) BASELINE_XCAT(baseline_, name, BASELINE_ISA)

void BASELINE_FN(roofline)(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, int threads)
{
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        p[i] += g[i];
        m[i] += g[i];
        v[i] += g[i];
    }
}

void BASELINE_FN(copy)(size_t n, float *restrict dst, const float *restrict src, int threads)
{
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

void BASELINE_FN(plain_adam_fixed)(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float alpha, float beta1, float beta2,
        float eps, int threads)
{
    const float omb1 = 1.0f - beta1, omb2 = 1.0f - beta2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float mi = beta1 * m[i] + omb1 * g[i];
        float vi = beta2 * v[i] + omb2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] -= alpha * mi / (__builtin_sqrtf(vi) + eps);
    }
}

/* Adam's step size with both bias corrections folded in, computed every call as
 * Kingma and Ba's algorithm (and every framework) does: lr * sqrt(1 - beta2^t) /
 * (1 - beta1^t). */
void BASELINE_FN(plain_adam)(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float lr, float beta1, float beta2,
        float eps, long step, int threads)
{
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    float alpha = (float)(lr * sqrt(bc2) / bc1);
    BASELINE_FN(plain_adam_fixed)(n, p, g, m, v, alpha, beta1, beta2, eps, threads);
}
