/* AVX2 kernels, 8 floats a vector. Compiled alone with -mavx2 (and without -mfma):
 * each vector operation is the same IEEE operation as the scalar contract's, lane by
 * lane, so results are bitwise those of lib/kernels/scalar.c. Tails use the scalar
 * element function. */
#include <immintrin.h>

#include "element.h"

#define INLINE static inline __attribute__((always_inline))

typedef struct vscalars {
    __m256 alpha, rbc2, b1, b2, omb1, omb2, eps, wd, decay, sign;
} vscalars;

INLINE vscalars broadcast(const lazyadam_scalars *s)
{
    vscalars c = {
        _mm256_set1_ps(s->alpha), _mm256_set1_ps(s->rbc2), _mm256_set1_ps(s->beta1),
        _mm256_set1_ps(s->beta2), _mm256_set1_ps(s->omb1), _mm256_set1_ps(s->omb2),
        _mm256_set1_ps(s->eps), _mm256_set1_ps(s->wd), _mm256_set1_ps(s->decay),
        _mm256_set1_ps(-0.0f),
    };
    return c;
}

/* The contract on 8 lanes held in registers. The flags are compile-time constants
 * in each caller below, so every variant is a straight line of vector operations. */
INLINE void update8(__m256 *p, __m256 g, __m256 *m, __m256 *v, __m256 *vmax,
        const vscalars *c, int maximize, int l2, int adamw, int ams, int plain)
{
    __m256 pi = *p;
    if (maximize)
        g = _mm256_xor_ps(g, c->sign);
    if (l2)
        g = _mm256_add_ps(g, _mm256_mul_ps(c->wd, pi));
    if (adamw)
        pi = _mm256_mul_ps(pi, c->decay);
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(c->b1, *m), _mm256_mul_ps(c->omb1, g));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(c->b2, *v),
            _mm256_mul_ps(c->omb2, _mm256_mul_ps(g, g)));
    __m256 si = vi;
    if (ams) {
        /* maxps(a, b) is (a > b) ? a : b, the contract's comparison, NaN included. */
        *vmax = _mm256_max_ps(vi, *vmax);
        si = *vmax;
    }
    __m256 root = _mm256_sqrt_ps(si);
    __m256 denom = plain ? _mm256_add_ps(_mm256_div_ps(root, c->rbc2), c->eps)
                         : _mm256_add_ps(root, c->eps);
    *p = _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(c->alpha, mi), denom));
    *m = mi;
    *v = vi;
}

INLINE void adam_loop(const vscalars *c, size_t n, float *restrict p,
        const float *restrict g, float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, int maximize, int l2, int adamw, int ams, int plain)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 p0 = _mm256_loadu_ps(p + i), p1 = _mm256_loadu_ps(p + i + 8);
        __m256 m0 = _mm256_loadu_ps(m + i), m1 = _mm256_loadu_ps(m + i + 8);
        __m256 v0 = _mm256_loadu_ps(v + i), v1 = _mm256_loadu_ps(v + i + 8);
        __m256 x0 = _mm256_setzero_ps(), x1 = x0;
        if (ams) {
            x0 = _mm256_loadu_ps(vmax + i);
            x1 = _mm256_loadu_ps(vmax + i + 8);
        }
        update8(&p0, _mm256_loadu_ps(g + i), &m0, &v0, &x0, c, maximize, l2, adamw, ams, plain);
        update8(&p1, _mm256_loadu_ps(g + i + 8), &m1, &v1, &x1, c, maximize, l2, adamw, ams, plain);
        _mm256_storeu_ps(p + i, p0); _mm256_storeu_ps(p + i + 8, p1);
        _mm256_storeu_ps(m + i, m0); _mm256_storeu_ps(m + i + 8, m1);
        _mm256_storeu_ps(v + i, v0); _mm256_storeu_ps(v + i + 8, v1);
        if (ams) {
            _mm256_storeu_ps(vmax + i, x0);
            _mm256_storeu_ps(vmax + i + 8, x1);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 p0 = _mm256_loadu_ps(p + i), m0 = _mm256_loadu_ps(m + i);
        __m256 v0 = _mm256_loadu_ps(v + i);
        __m256 x0 = ams ? _mm256_loadu_ps(vmax + i) : _mm256_setzero_ps();
        update8(&p0, _mm256_loadu_ps(g + i), &m0, &v0, &x0, c, maximize, l2, adamw, ams, plain);
        _mm256_storeu_ps(p + i, p0);
        _mm256_storeu_ps(m + i, m0);
        _mm256_storeu_ps(v + i, v0);
        if (ams)
            _mm256_storeu_ps(vmax + i, x0);
    }
    for (; i < n; i++)
        lazyadam_element(p + i, g[i], m + i, v + i, ams ? vmax + i : NULL, s);
}

static void adam_plain(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, const lazyadam_scalars *s)
{
    const vscalars c = broadcast(s);
    adam_loop(&c, n, p, g, m, v, NULL, s, 0, 0, 0, 0, 0);
}

static void adam_any(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s)
{
    const vscalars c = broadcast(s);
    adam_loop(&c, n, p, g, m, v, vmax, s, s->maximize, s->l2, s->adamw, s->amsgrad,
            s->eps_plain);
}

void lazyadam_adam_ukernel__avx2(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s)
{
    if (lazyadam_plain_config(s))
        adam_plain(n, p, g, m, v, s);
    else
        adam_any(n, p, g, m, v, vmax, s);
}

/* The gradient of 8 lanes of a table row: the sum of its value rows in input order. */
INLINE __m256 sum8(const float *restrict values, const size_t *restrict src, size_t nsrc,
        size_t dim, size_t j)
{
    __m256 g = _mm256_loadu_ps(values + src[0] * dim + j);
    for (size_t k = 1; k < nsrc; k++)
        g = _mm256_add_ps(g, _mm256_loadu_ps(values + src[k] * dim + j));
    return g;
}

INLINE void rows_loop(const vscalars *c, size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s, int maximize,
        int l2, int adamw, int ams, int plain)
{
    if (nsrc == 1) {   /* the common case: the row's value row is its gradient */
        adam_loop(c, dim, p, values + src[0] * dim, m, v, vmax, s, maximize, l2, adamw, ams,
                plain);
        return;
    }
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        __m256 p0 = _mm256_loadu_ps(p + j), m0 = _mm256_loadu_ps(m + j);
        __m256 v0 = _mm256_loadu_ps(v + j);
        __m256 x0 = ams ? _mm256_loadu_ps(vmax + j) : _mm256_setzero_ps();
        update8(&p0, sum8(values, src, nsrc, dim, j), &m0, &v0, &x0, c,
                maximize, l2, adamw, ams, plain);
        _mm256_storeu_ps(p + j, p0);
        _mm256_storeu_ps(m + j, m0);
        _mm256_storeu_ps(v + j, v0);
        if (ams)
            _mm256_storeu_ps(vmax + j, x0);
    }
    for (; j < dim; j++) {
        float g = values[src[0] * dim + j];
        for (size_t k = 1; k < nsrc; k++)
            g = g + values[src[k] * dim + j];
        lazyadam_element(p + j, g, m + j, v + j, ams ? vmax + j : NULL, s);
    }
}

void lazyadam_rows_ukernel__avx2(size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s)
{
    const vscalars c = broadcast(s);
    if (lazyadam_plain_config(s))
        rows_loop(&c, dim, p, m, v, NULL, values, src, nsrc, s, 0, 0, 0, 0, 0);
    else
        rows_loop(&c, dim, p, m, v, vmax, values, src, nsrc, s,
                s->maximize, s->l2, s->adamw, s->amsgrad, s->eps_plain);
}

#define LAZYADAM_GROUPS_KERNEL lazyadam_groups_ukernel__avx2
#define LAZYADAM_SPARSE_KERNEL lazyadam_sparse_ukernel__avx2
#include "groups_kernel.h"

/* Zero-gradient steps: 8 lanes stay in registers across all nsteps; each step's
 * scalars are broadcast from steps[k]. */
void lazyadam_replay_ukernel__avx2(size_t n, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const lazyadam_scalars *steps,
        size_t nsteps)
{
    const lazyadam_scalars *s = steps;
    const int ams = s->amsgrad;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 p0 = _mm256_loadu_ps(p + i), m0 = _mm256_loadu_ps(m + i);
        __m256 v0 = _mm256_loadu_ps(v + i);
        __m256 x0 = ams ? _mm256_loadu_ps(vmax + i) : _mm256_setzero_ps();
        for (size_t k = 0; k < nsteps; k++) {
            const vscalars c = broadcast(&steps[k]);
            update8(&p0, _mm256_setzero_ps(), &m0, &v0, &x0, &c, s->maximize, s->l2,
                    s->adamw, ams, s->eps_plain);
        }
        _mm256_storeu_ps(p + i, p0);
        _mm256_storeu_ps(m + i, m0);
        _mm256_storeu_ps(v + i, v0);
        if (ams)
            _mm256_storeu_ps(vmax + i, x0);
    }
    for (; i < n; i++)
        for (size_t k = 0; k < nsteps; k++)
            lazyadam_element(p + i, 0.0f, m + i, v + i, ams ? vmax + i : NULL, &steps[k]);
}

const lazyadam_kernels lazyadam_kernels__avx2 = {
    .adam = lazyadam_adam_ukernel__avx2,
    .rows = lazyadam_rows_ukernel__avx2,
    .groups = lazyadam_groups_ukernel__avx2,
    .sparse = lazyadam_sparse_ukernel__avx2,
    .replay = lazyadam_replay_ukernel__avx2,
};
