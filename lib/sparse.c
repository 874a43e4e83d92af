/* Row-sparse entry points: lazyadam_lazy_step (LazyAdam) and
 * lazyadam_adam_sparse_step (Adam on the densified gradient). */
#include <omp.h>

#include "internal.h"

static void update_group(const lazyadam_kernels *k, const lazyadam_groups *g, size_t i,
        size_t dim, float *param, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s)
{
    size_t off = (size_t)g->row[i] * dim;
    k->rows(dim, param + off, m + off, v + off, s->amsgrad ? vmax + off : NULL, values,
            g->src + g->start[i], g->start[i + 1] - g->start[i], s);
}

/* Rows named by a sparse gradient sit at random places in a table far larger than
 * the cache, so each one's update waits on memory latency, not bandwidth. Asking for
 * the rows a few groups ahead keeps several misses in flight (lazyadam-bench
 * lazy_step: measured in README). A hint only: it changes no result. */
#define PREFETCH_AHEAD 8

static void prefetch_row(const float *x, size_t dim)
{
    const char *c = (const char *)x;
    for (size_t b = 0; b < dim * sizeof(float); b += 64)
        __builtin_prefetch(c + b, 1, 3);
}

/* Groups [lo, hi) of a LazyAdam step. */
static void lazy_groups(const lazyadam_kernels *k, const lazyadam_groups *g, size_t lo,
        size_t hi, size_t dim, float *param, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s)
{
    for (size_t i = lo; i < hi; i++) {
        if (i + PREFETCH_AHEAD < hi) {
            size_t off = (size_t)g->row[i + PREFETCH_AHEAD] * dim;
            prefetch_row(param + off, dim);
            prefetch_row(m + off, dim);
            prefetch_row(v + off, dim);
            if (s->amsgrad)
                prefetch_row(vmax + off, dim);
        }
        update_group(k, g, i, dim, param, m, v, vmax, values, s);
    }
}

lazyadam_status lazyadam_lazy_step(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        size_t nnz, const int64_t *indices, const float *values)
{
    const lazyadam_kernels *k = NULL;
    lazyadam_status st = lazyadam_check_sparse(cfg, step, rows, dim, param, m, v, vmax,
            NULL, nnz, indices, values, &k);
    if (st != LAZYADAM_OK || nnz == 0)
        return st;

    lazyadam_groups g;
    if ((st = lazyadam_group_indices(nnz, indices, rows, 0, &g)) != LAZYADAM_OK)
        return st;
    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    size_t count = g.count;
    int T = lazyadam_threads_for(cfg, count * dim);
    if (T == 1) {
        lazy_groups(k, &g, 0, count, dim, param, m, v, vmax, values, &s);
    } else {
        #pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            size_t lo = count * (size_t)t / (size_t)nt, hi = count * (size_t)(t + 1) / (size_t)nt;
            lazy_groups(k, &g, lo, hi, dim, param, m, v, vmax, values, &s);
        }
    }
    lazyadam_groups_free(&g);
    return LAZYADAM_OK;
}

/* The rows [r0, r1) of an Adam step on the densified gradient: named rows get their
 * summed gradient, runs of unnamed rows a zero gradient. g->row is ascending. */
static void sparse_adam_rows(const lazyadam_kernels *k, const lazyadam_groups *g,
        size_t r0, size_t r1, size_t dim, float *param, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s)
{
    size_t lo = 0, hi = g->count;   /* first group with row >= r0 */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)g->row[mid] < r0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t r = r0;
    for (size_t i = lo; r < r1; i++) {
        size_t next = (i < g->count && (size_t)g->row[i] < r1) ? (size_t)g->row[i] : r1;
        if (next > r) {
            size_t off = r * dim;
            k->replay((next - r) * dim, param + off, m + off, v + off,
                    s->amsgrad ? vmax + off : NULL, s, 1);
        }
        if (next < r1)
            update_group(k, g, i, dim, param, m, v, vmax, values, s);
        r = next + 1;
    }
}

lazyadam_status lazyadam_adam_sparse_step(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        size_t nnz, const int64_t *indices, const float *values)
{
    const lazyadam_kernels *k = NULL;
    lazyadam_status st = lazyadam_check_sparse(cfg, step, rows, dim, param, m, v, vmax,
            NULL, nnz, indices, values, &k);
    if (st != LAZYADAM_OK || rows == 0)
        return st;

    lazyadam_groups g;
    if ((st = lazyadam_group_indices(nnz, indices, rows, 1, &g)) != LAZYADAM_OK)
        return st;
    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    int T = lazyadam_threads_for(cfg, rows * dim);
    if (T == 1) {
        sparse_adam_rows(k, &g, 0, rows, dim, param, m, v, vmax, values, &s);
    } else {
        #pragma omp parallel num_threads(T)
        {
            size_t r0, r1;
            lazyadam_split(rows, 0, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            sparse_adam_rows(k, &g, r0, r1, dim, param, m, v, vmax, values, &s);
        }
    }
    lazyadam_groups_free(&g);
    return LAZYADAM_OK;
}
