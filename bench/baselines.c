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

/* LazyAdam's traffic: the rows a sparse gradient names, in ascending order, each updated
 * as the roofline loop updates an element (p += g; m += g; v += g over its dim floats, g
 * the row's gradient row g + src[i] * dim), split evenly between the threads. The
 * grouping is done beforehand. Random rows defeat the hardware prefetchers, so each
 * row's lines are asked for 2 KB a buffer ahead, as any loop over random rows must (and
 * as lib/kernels/groups.h does); without that each row would wait out its own miss. */
void BASELINE_FN(rows_roofline)(size_t count, const int64_t *restrict row,
        const size_t *restrict src, size_t dim, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, int threads)
{
    size_t ahead = 2048 / (dim * sizeof(float));
    ahead = ahead < 2 ? 2 : ahead > 32 ? 32 : ahead;
    #pragma omp parallel num_threads(threads)
    {
        size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        size_t lo = count * t / nt, hi = count * (t + 1) / nt;
        for (size_t i = lo; i < hi; i++) {
            if (i + ahead < hi) {
                size_t o = (size_t)row[i + ahead] * dim;
                const float *ga = g + src[i + ahead] * dim;
                for (size_t j = 0; j < dim; j += 16) {
                    __builtin_prefetch(p + o + j, 1, 3);
                    __builtin_prefetch(m + o + j, 1, 3);
                    __builtin_prefetch(v + o + j, 1, 3);
                    __builtin_prefetch(ga + j, 0, 3);
                }
            }
            size_t o = (size_t)row[i] * dim;
            const float *gr = g + src[i] * dim;
            for (size_t j = 0; j < dim; j++) {
                p[o + j] += gr[j];
                m[o + j] += gr[j];
                v[o + j] += gr[j];
            }
        }
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
