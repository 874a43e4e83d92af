/* The kernel table every backend fills, and the per-call scalars its kernels read.
 * A kernel does arithmetic only: no validation, no allocation, no OpenMP. */
#ifndef LAZYADAM_KERNELS_H
#define LAZYADAM_KERNELS_H

#include <stddef.h>
#include <string.h>
#include <stdint.h>

#include "lazyadam.h"

/* Everything the element update needs, computed once per call (lib/scalars.c)
 * exactly as the numerical contract says. */
typedef struct lazyadam_scalars {
    float alpha;   /* EPS_HAT: lr*sqrt(bc2)/bc1; EPS_PLAIN: lr/bc1 (computed in double) */
    float rbc2;    /* EPS_PLAIN: sqrt(bc2) */
    float beta1, beta2, omb1, omb2, eps;
    float wd;      /* L2 coefficient, applied to g only when l2 != 0 */
    float decay;   /* AdamW: 1 - lr*weight_decay (computed in double) */
    int l2, adamw, amsgrad, maximize, eps_plain;
    /* The bits of the float below which (zeros aside) a lane of m sends its vector to the
     * vector kernels' cold path (lib/kernels/subnormal.h): 2^-126 at least, and as far up
     * as beta1 * m or alpha * beta1 * m is not normal, which costs the float operations an
     * assist too, at most 2^-100 (lazyadam_make_scalars). */
    uint32_t cold_below;
} lazyadam_scalars;

/* A run of n elements laid end to end in every buffer (x, vmax, only under AMSGRAD). */
typedef struct lazyadam_span {
    size_t n;
    float *p;
    const float *g;
    float *m, *v, *x;
} lazyadam_span;

/* Dense update of n elements. vmax is read and written only when s->amsgrad. next: the
 * run the caller hands the same kernel right after this one (adam_step_multi's next
 * piece), whose first lines a vector kernel asks for as it finishes its own; read for
 * its addresses only, never dereferenced for data. NULL where there is none. */
typedef void (*lazyadam_adam_fn)(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, const lazyadam_span *next);

/* Update of one table row of dim elements whose gradient is the sum, in the order
 * given, of the value rows src[0], src[1], ... src[nsrc-1] (each dim floats long,
 * starting at values + src[k]*dim). nsrc >= 1. */
typedef void (*lazyadam_rows_fn)(size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s);

/* A sparse gradient's indices grouped by row, input order kept in a group (lib/dedup.c). */
typedef struct lazyadam_groups {
    size_t count;      /* distinct rows */
    int64_t *row;      /* [count] the distinct rows (ascending when asked for sorted) */
    size_t *start;     /* [count + 1] group g's positions are src[start[g] .. start[g+1]) */
    size_t *src;       /* [nnz] positions into indices/values, ascending within a group */
    void *mem;         /* the one allocation behind the arrays */
} lazyadam_groups;

/* The rows of groups [lo, hi) of g, each updated as lazyadam_rows_fn does: group i's row
 * is the dim floats at g->row[i] * dim in p, m, v (and vmax, which is NULL without
 * AMSGRAD). The loop over the rows is the backend's own (lib/kernels/groups.h), so its
 * scalars are broadcast once a call and the rows ahead are asked for in the same function
 * that updates them. */
typedef void (*lazyadam_groups_fn)(const lazyadam_groups *g, size_t lo, size_t hi,
        size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s);

/* Rows [r0, r1) of an Adam step on the densified gradient (lazyadam_adam_sparse_step):
 * the rows of groups i, i+1, ... that fall below r1 get their summed gradient, as
 * lazyadam_rows_fn does, and every other row a zero gradient (+0.0f). g->row is ascending
 * and i is the first group whose row is r0 or more. Like the groups kernel, the loop is
 * the backend's own (lib/kernels/groups.h). */
typedef void (*lazyadam_sparse_fn)(const lazyadam_groups *g, size_t i, size_t r0, size_t r1,
        size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s);

/* nsteps successive updates of n elements with an all-zero gradient (+0.0f), the
 * k-th with the scalars steps[k]: what a densified sparse gradient does to the rows
 * it does not name (nsteps == 1), and the catch-up of exact LazyAdam. nsteps >= 1. */
typedef void (*lazyadam_replay_fn)(size_t n, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const lazyadam_scalars *steps,
        size_t nsteps);

/* A backend that works on whole arrays and threads itself (oneDNN): begin prepares
 * everything that can fail (primitives, scratch) before anything is written; run updates
 * n contiguous elements (vmax only with AMSGRAD) and cannot fail; end releases. It runs
 * an array in blocks, each at a cost that hardly depends on its size: fit(n), for n up
 * to block, is the fewest elements from n on that it runs as one block (lib/dense.c
 * stages short pieces into blocks that size). */
typedef struct lazyadam_array_ops {
    lazyadam_status (*begin)(const lazyadam_scalars *s, int threads, void **ctx);
    void (*run)(void *ctx, size_t n, float *p, const float *g, float *m, float *v, float *vmax);
    void (*end)(void *ctx);
    size_t block;
    size_t (*fit)(size_t n);
} lazyadam_array_ops;

/* n elements rounded up to what an array backend runs in whole blocks, one run each:
 * whole blocks, then one of ops->fit for the rest. Scratch of that length, zeros after
 * the n, costs the fewest runs. */
static inline size_t lazyadam_array_span(const lazyadam_array_ops *ops, size_t n)
{
    size_t rest = n % ops->block;
    return rest == 0 ? n : n - rest + ops->fit(rest);
}

/* Runs the first n elements of arrays that each have room for lazyadam_array_span(ops, n)
 * (vmax NULL without AMSGRAD): zeros after the n, then one run of the span. */
static inline void lazyadam_array_run_padded(const lazyadam_array_ops *ops, void *ctx,
        size_t n, float *p, float *g, float *m, float *v, float *vmax)
{
    const size_t span = lazyadam_array_span(ops, n);
    float *const a[5] = { p, g, m, v, vmax };
    for (int k = 0; k < 5; k++)
        if (a[k])
            memset(a[k] + n, 0, (span - n) * sizeof(float));
    ops->run(ctx, span, p, g, m, v, vmax);
}

/* Chunk backends fill adam, rows, groups and sparse and leave array NULL; an array backend
 * fills array (the entry points then gather and scatter rows around it). Every backend
 * fills replay. */
typedef struct lazyadam_kernels {
    lazyadam_adam_fn adam;
    /* The other dense update: for calls whose arrays stream from DRAM, or on Intel for
     * those whose arrays do not (lib/dense.c); NULL: adam for every call. */
    lazyadam_adam_fn adam_stream;
    lazyadam_rows_fn rows;
    lazyadam_groups_fn groups;
    lazyadam_sparse_fn sparse;
    lazyadam_replay_fn replay;
    const lazyadam_array_ops *array;
} lazyadam_kernels;

/* Scalar kernels: the portable baseline every other backend may borrow from. */
void lazyadam_adam_ukernel__scalar(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, const lazyadam_span *next);
void lazyadam_rows_ukernel__scalar(size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s);
void lazyadam_groups_ukernel__scalar(const lazyadam_groups *g, size_t lo, size_t hi,
        size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s);
void lazyadam_sparse_ukernel__scalar(const lazyadam_groups *g, size_t i, size_t r0,
        size_t r1, size_t dim, float *p, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s);
void lazyadam_replay_ukernel__scalar(size_t n, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const lazyadam_scalars *steps,
        size_t nsteps);

/* The AVX2 dense kernel, which the avx512 backend borrows for streaming calls. */
void lazyadam_adam_ukernel__avx2(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, const lazyadam_span *next);

/* Vectors the vector kernels' exact path for subnormal moments (subnormal.h) has
 * finished on this thread, added once a run of them; lazyadam_testing_subnormal_vectors
 * reads it, so a test can tell the path is taken where it should be and only there. */
extern __thread uint64_t lazyadam_subnormal_vectors;

extern const lazyadam_kernels lazyadam_kernels__scalar;
extern const lazyadam_kernels lazyadam_kernels__avx2;
extern const lazyadam_kernels lazyadam_kernels__avx512;
extern const lazyadam_kernels lazyadam_kernels__onednn;

#endif
