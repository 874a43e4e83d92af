/* Portable scalar kernels: the numerical contract written once, element by element.
 * Compiled with -ffp-contract=off -fno-math-errno, so sqrtf is the IEEE square
 * root instruction and no multiply-add is ever fused. */
#include "element.h"
#include "groups.h"

void lazyadam_adam_ukernel__scalar(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, const lazyadam_span *next)
{
    (void)next;   /* the scalar loop asks for no lines ahead */
    for (size_t i = 0; i < n; i++)
        lazyadam_element(p + i, g[i], m + i, v + i, s->amsgrad ? vmax + i : NULL, s);
}

void lazyadam_rows_ukernel__scalar(size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s)
{
    for (size_t j = 0; j < dim; j++) {
        float g = values[src[0] * dim + j];
        for (size_t k = 1; k < nsrc; k++)
            g = g + values[src[k] * dim + j];
        lazyadam_element(p + j, g, m + j, v + j, s->amsgrad ? vmax + j : NULL, s);
    }
}

LAZYADAM_ALWAYS_INLINE void row(const void *ctx, size_t dim, float *p, float *m, float *v,
        float *vmax, const float *values, const size_t *src, size_t nsrc)
{
    lazyadam_rows_ukernel__scalar(dim, p, m, v, vmax, values, src, nsrc, ctx);
}

void lazyadam_groups_ukernel__scalar(const lazyadam_groups *g, size_t lo, size_t hi,
        size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s)
{
    lazyadam_groups_run(g, lo, hi, dim, p, m, v, vmax, values, row, s);
}

/* The rows between named ones: one zero-gradient step, the replay kernel's nsteps = 1. */
LAZYADAM_ALWAYS_INLINE void gap(const void *ctx, size_t n, float *p, float *m, float *v,
        float *vmax)
{
    lazyadam_replay_ukernel__scalar(n, p, m, v, vmax, ctx, 1);
}

void lazyadam_sparse_ukernel__scalar(const lazyadam_groups *g, size_t i, size_t r0,
        size_t r1, size_t dim, float *p, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s)
{
    lazyadam_sparse_run(g, i, r0, r1, dim, p, m, v, vmax, values, row, gap, s);
}

void lazyadam_replay_ukernel__scalar(size_t n, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const lazyadam_scalars *steps,
        size_t nsteps)
{
    /* Element-major: one element's state stays in registers across all steps. */
    for (size_t i = 0; i < n; i++) {
        float pi = p[i], mi = m[i], vi = v[i], vm = steps[0].amsgrad ? vmax[i] : 0.0f;
        for (size_t k = 0; k < nsteps; k++)
            lazyadam_element(&pi, 0.0f, &mi, &vi, &vm, &steps[k]);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        if (steps[0].amsgrad)
            vmax[i] = vm;
    }
}

const lazyadam_kernels lazyadam_kernels__scalar = {
    .adam = lazyadam_adam_ukernel__scalar,
    .rows = lazyadam_rows_ukernel__scalar,
    .groups = lazyadam_groups_ukernel__scalar,
    .sparse = lazyadam_sparse_ukernel__scalar,
    .replay = lazyadam_replay_ukernel__scalar,
};
