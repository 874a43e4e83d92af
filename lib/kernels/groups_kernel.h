/* The groups kernel of a vector backend, written once. lib/kernels/avx2.c and avx512.c
 * include this after their vscalars, broadcast() and rows_loop(), with
 * LAZYADAM_GROUPS_KERNEL naming the function: the shared row loop (groups.h) runs around
 * rows_loop, with the scalars broadcast once a call. No include guard: each ISA file
 * instantiates it once. */
#ifndef LAZYADAM_GROUPS_KERNEL
#error "define LAZYADAM_GROUPS_KERNEL before including groups_kernel.h"
#endif

#include "groups.h"

typedef struct row_ctx {
    vscalars c;
    const lazyadam_scalars *s;
} row_ctx;

LAZYADAM_ALWAYS_INLINE void row_plain(const void *ctx, size_t dim, float *p, float *m,
        float *v, float *vmax, const float *values, const size_t *src, size_t nsrc)
{
    const row_ctx *r = ctx;
    (void)vmax;
    rows_loop(&r->c, dim, p, m, v, NULL, values, src, nsrc, r->s, 0, 0, 0, 0, 0);
}

LAZYADAM_ALWAYS_INLINE void row_any(const void *ctx, size_t dim, float *p, float *m,
        float *v, float *vmax, const float *values, const size_t *src, size_t nsrc)
{
    const row_ctx *r = ctx;
    const lazyadam_scalars *s = r->s;
    rows_loop(&r->c, dim, p, m, v, vmax, values, src, nsrc, s,
            s->maximize, s->l2, s->adamw, s->amsgrad, s->eps_plain);
}

void LAZYADAM_GROUPS_KERNEL(const lazyadam_groups *g, size_t lo, size_t hi, size_t dim,
        float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s)
{
    const row_ctx r = { broadcast(s), s };
    if (lazyadam_plain_config(s))
        lazyadam_groups_run(g, lo, hi, dim, p, m, v, NULL, values, row_plain, &r);
    else
        lazyadam_groups_run(g, lo, hi, dim, p, m, v, vmax, values, row_any, &r);
}
