/* The loops over the rows a sparse gradient names, written once for every chunk backend:
 * the groups kernel's (lazy_step, exact LazyAdam) and the sparse kernel's (adam_sparse_step,
 * which also updates the rows between them), with the row prefetches they share.
 *
 * Rows named by a sparse gradient sit at random places in a table far larger than the
 * cache, so each one's update waits on memory latency, not bandwidth. Asking for the rows
 * ahead keeps several misses in flight. The distance is a span of bytes a buffer, so it
 * holds as many misses whatever the row size: 2 KB is 8 rows at dim 64 (the best of 4, 8,
 * 16, 32 there), 32 at dim 16, 2 at dim 256 (lazyadam-bench lazy_step: README). The
 * group's first value row is asked for too: with rows in ascending order the value rows
 * come in random order, and at a million indices on 1M x 64 that took a step from 74-85 ms
 * to 63-65 ms. A hint only: it changes no result.
 *
 * The loop runs inside each backend's kernel, not around a call a row: lazy_step on
 * 1M x 64 with 10,000 indices, 2 threads, the two builds alternated in one process, took
 * 987-995 us against 1,381-1,411 with avx2 and 481-803 against 508-878 with avx512
 * (results/PERFORMANCE_LOG.md). */
#ifndef LAZYADAM_GROUPS_H
#define LAZYADAM_GROUPS_H

#include "kernels.h"

#define LAZYADAM_PREFETCH_BYTES 2048
#define LAZYADAM_PREFETCH_MIN_ROWS 2
#define LAZYADAM_PREFETCH_MAX_ROWS 32

#define LAZYADAM_ALWAYS_INLINE static inline __attribute__((always_inline))

/* The 64-byte lines a row of dim floats spans from its start. */
LAZYADAM_ALWAYS_INLINE size_t lazyadam_row_lines(size_t dim)
{
    return (dim * sizeof(float) + 63) / 64;
}

/* Asks for `lines` 64-byte lines from x. Where `lines` is a constant the loop unrolls
 * into that many prefetches; a loop left in, one per buffer and row, cost a fifth of the
 * step (below). */
LAZYADAM_ALWAYS_INLINE void lazyadam_prefetch_lines(const float *x, size_t lines)
{
    const char *c = (const char *)x;
    for (size_t b = 0; b < lines; b++)
        __builtin_prefetch(c + 64 * b, 1, 3);
}

/* One row's update, as a backend writes it: ctx is the backend's broadcast scalars,
 * vmax is NULL without AMSGRAD. Passed as a constant to the loop below, it is inlined. */
typedef void (*lazyadam_row_body)(const void *ctx, size_t dim, float *p, float *m, float *v,
        float *vmax, const float *values, const size_t *src, size_t nsrc);

/* How many rows ahead the loops below ask for: LAZYADAM_PREFETCH_BYTES a buffer. */
LAZYADAM_ALWAYS_INLINE size_t lazyadam_rows_ahead(size_t dim)
{
    size_t ahead = LAZYADAM_PREFETCH_BYTES / (dim * sizeof(float));
    return ahead < LAZYADAM_PREFETCH_MIN_ROWS ? LAZYADAM_PREFETCH_MIN_ROWS
         : ahead > LAZYADAM_PREFETCH_MAX_ROWS ? LAZYADAM_PREFETCH_MAX_ROWS : ahead;
}

LAZYADAM_ALWAYS_INLINE void lazyadam_groups_lines(const lazyadam_groups *g, size_t lo,
        size_t hi, size_t dim, float *p, float *m, float *v, float *vmax,
        const float *values, size_t lines, lazyadam_row_body row, const void *ctx)
{
    size_t ahead = lazyadam_rows_ahead(dim);
    for (size_t i = lo; i < hi; i++) {
        if (i + ahead < hi) {
            size_t off = (size_t)g->row[i + ahead] * dim;
            lazyadam_prefetch_lines(p + off, lines);
            lazyadam_prefetch_lines(m + off, lines);
            lazyadam_prefetch_lines(v + off, lines);
            if (vmax)
                lazyadam_prefetch_lines(vmax + off, lines);
            lazyadam_prefetch_lines(values + g->src[g->start[i + ahead]] * dim, lines);
        }
        size_t off = (size_t)g->row[i] * dim;
        row(ctx, dim, p + off, m + off, v + off, vmax ? vmax + off : NULL, values,
                g->src + g->start[i], g->start[i + 1] - g->start[i]);
    }
}

/* Groups [lo, hi), with the prefetches unrolled for rows of 1, 2, 4, 8 and 16 lines
 * (dim 16 to 256). Written out, the prefetches took the rows of 1M x 64 with 10,000
 * indices from 422 to 341 us, and from 604 to 449 us at a slower moment, in a throwaway
 * program alternating the two forms (30 rounds, 2 threads). */
LAZYADAM_ALWAYS_INLINE void lazyadam_groups_run(const lazyadam_groups *g, size_t lo,
        size_t hi, size_t dim, float *p, float *m, float *v, float *vmax,
        const float *values, lazyadam_row_body row, const void *ctx)
{
    size_t lines = lazyadam_row_lines(dim);
    switch (lines) {
    case 1: lazyadam_groups_lines(g, lo, hi, dim, p, m, v, vmax, values, 1, row, ctx); break;
    case 2: lazyadam_groups_lines(g, lo, hi, dim, p, m, v, vmax, values, 2, row, ctx); break;
    case 4: lazyadam_groups_lines(g, lo, hi, dim, p, m, v, vmax, values, 4, row, ctx); break;
    case 8: lazyadam_groups_lines(g, lo, hi, dim, p, m, v, vmax, values, 8, row, ctx); break;
    case 16: lazyadam_groups_lines(g, lo, hi, dim, p, m, v, vmax, values, 16, row, ctx); break;
    default: lazyadam_groups_lines(g, lo, hi, dim, p, m, v, vmax, values, lines, row, ctx); break;
    }
}

/* n elements updated with a zero gradient, as a backend writes it (the densified step's
 * rows that no index names). Passed as a constant to the loop below, it is inlined. */
typedef void (*lazyadam_gap_body)(const void *ctx, size_t n, float *p, float *m, float *v,
        float *vmax);

/* The densified step over the rows [r0, r1) (lazyadam_sparse_fn), group i first. The
 * table's rows are reached in order, which the hardware prefetchers follow; the named
 * rows' value rows are not, so they are asked for ahead, as in the groups loop. */
LAZYADAM_ALWAYS_INLINE void lazyadam_sparse_lines(const lazyadam_groups *g, size_t i,
        size_t r0, size_t r1, size_t dim, float *p, float *m, float *v, float *vmax,
        const float *values, size_t lines, lazyadam_row_body row, lazyadam_gap_body gap,
        const void *ctx)
{
    size_t ahead = lazyadam_rows_ahead(dim);
    for (size_t r = r0; r < r1; i++) {
        size_t next = i < g->count && (size_t)g->row[i] < r1 ? (size_t)g->row[i] : r1;
        if (next > r) {
            size_t off = r * dim;
            gap(ctx, (next - r) * dim, p + off, m + off, v + off, vmax ? vmax + off : NULL);
        }
        if (next < r1) {
            if (i + ahead < g->count)
                lazyadam_prefetch_lines(values + g->src[g->start[i + ahead]] * dim, lines);
            size_t off = next * dim;
            row(ctx, dim, p + off, m + off, v + off, vmax ? vmax + off : NULL, values,
                    g->src + g->start[i], g->start[i + 1] - g->start[i]);
        }
        r = next + 1;
    }
}

LAZYADAM_ALWAYS_INLINE void lazyadam_sparse_run(const lazyadam_groups *g, size_t i, size_t r0,
        size_t r1, size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        lazyadam_row_body row, lazyadam_gap_body gap, const void *ctx)
{
    size_t lines = lazyadam_row_lines(dim);
    switch (lines) {
    case 1: lazyadam_sparse_lines(g, i, r0, r1, dim, p, m, v, vmax, values, 1, row, gap, ctx); break;
    case 2: lazyadam_sparse_lines(g, i, r0, r1, dim, p, m, v, vmax, values, 2, row, gap, ctx); break;
    case 4: lazyadam_sparse_lines(g, i, r0, r1, dim, p, m, v, vmax, values, 4, row, gap, ctx); break;
    case 8: lazyadam_sparse_lines(g, i, r0, r1, dim, p, m, v, vmax, values, 8, row, gap, ctx); break;
    case 16: lazyadam_sparse_lines(g, i, r0, r1, dim, p, m, v, vmax, values, 16, row, gap, ctx); break;
    default: lazyadam_sparse_lines(g, i, r0, r1, dim, p, m, v, vmax, values, lines, row, gap, ctx); break;
    }
}

#endif
