/* The groups and sparse kernels of a vector backend, written once. lib/kernels/vec_kernel.h
 * includes this after its vscalars, broadcast(), adam_loop() and rows_loop(), with
 * LAZYADAM_GROUPS_KERNEL and LAZYADAM_SPARSE_KERNEL naming the functions: the shared row
 * loops (groups.h) run around rows_loop and adam_loop, with the scalars broadcast once a
 * call. No include guard: each ISA file instantiates it once. */
#if !defined(LAZYADAM_GROUPS_KERNEL) || !defined(LAZYADAM_SPARSE_KERNEL)
#error "define LAZYADAM_GROUPS_KERNEL and LAZYADAM_SPARSE_KERNEL before including groups_kernel.h"
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

/* Rows no index names get a zero gradient: adam_loop over a block of zeros, a block at a
 * time, does to them bitwise what the replay kernel does with nsteps = 1. */
#define GAP_BLOCK 1024
static const float gap_zeros[GAP_BLOCK] __attribute__((aligned(64)));

LAZYADAM_ALWAYS_INLINE void gap_plain(const void *ctx, size_t n, float *p, float *m, float *v,
        float *vmax)
{
    const row_ctx *r = ctx;
    (void)vmax;
    for (size_t o = 0; o < n; o += GAP_BLOCK) {
        size_t k = n - o < GAP_BLOCK ? n - o : GAP_BLOCK;
        adam_loop(&r->c, k, p + o, gap_zeros, m + o, v + o, NULL, r->s, 0, 0, 0, 0, 0);
    }
}

LAZYADAM_ALWAYS_INLINE void gap_any(const void *ctx, size_t n, float *p, float *m, float *v,
        float *vmax)
{
    const row_ctx *r = ctx;
    const lazyadam_scalars *s = r->s;
    for (size_t o = 0; o < n; o += GAP_BLOCK) {
        size_t k = n - o < GAP_BLOCK ? n - o : GAP_BLOCK;
        adam_loop(&r->c, k, p + o, gap_zeros, m + o, v + o, vmax ? vmax + o : NULL, s,
                s->maximize, s->l2, s->adamw, s->amsgrad, s->eps_plain);
    }
}

void LAZYADAM_SPARSE_KERNEL(const lazyadam_groups *g, size_t i, size_t r0, size_t r1,
        size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s)
{
    const row_ctx r = { broadcast(s), s };
    if (lazyadam_plain_config(s))
        lazyadam_sparse_run(g, i, r0, r1, dim, p, m, v, NULL, values, row_plain, gap_plain, &r);
    else
        lazyadam_sparse_run(g, i, r0, r1, dim, p, m, v, vmax, values, row_any, gap_any, &r);
}
