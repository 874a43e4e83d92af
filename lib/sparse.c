/* Row-sparse entry points: lazyadam_lazy_step (LazyAdam) and
 * lazyadam_adam_sparse_step (Adam on the densified gradient), and the update of the
 * rows a sparse gradient names, shared with exact LazyAdam (lib/exact.c). */
#include <omp.h>
#include <string.h>

#include "internal.h"

/* Columns [j0, j1) of the summed gradient of group i (input order: the first value row
 * as it is, then each next one added), written to out[0..j1 - j0). */
static void sum_group_cols(const lazyadam_groups *g, size_t i, size_t dim,
        const float *values, size_t j0, size_t j1, float *out)
{
    const size_t *src = g->src + g->start[i];
    size_t nsrc = g->start[i + 1] - g->start[i];
    memcpy(out, values + src[0] * dim + j0, (j1 - j0) * sizeof(float));
    for (size_t k = 1; k < nsrc; k++) {
        const float *x = values + src[k] * dim + j0;
        for (size_t j = 0; j < j1 - j0; j++)
            out[j] = out[j] + x[j];
    }
}

/* The whole row of it, written to out[0..dim). */
static void sum_group(const lazyadam_groups *g, size_t i, size_t dim, const float *values,
        float *out)
{
    sum_group_cols(g, i, dim, values, 0, dim, out);
}

int lazyadam_sparse_threads(const lazyadam_config *cfg, int kind, size_t nnz, size_t rows,
        size_t dim, size_t replay)
{
    size_t named = nnz * dim, work = replay > SIZE_MAX - named ? SIZE_MAX : named + replay;
    int requested = lazyadam_threads_requested(cfg);
    return lazyadam_balance_sparse_begin(kind, named, rows * dim,
            lazyadam_threads_rule(requested, work), requested);
}

lazyadam_status lazyadam_named_prepare(const lazyadam_kernels *k, const lazyadam_config *cfg,
        const lazyadam_scalars *s, const lazyadam_groups *g, size_t dim, int threads,
        lazyadam_named *nu)
{
    memset(nu, 0, sizeof *nu);
    nu->threads = threads;
    if (!k->array || g->count == 0)
        return LAZYADAM_OK;
    /* An array backend sees the named rows gathered into contiguous scratch: p, g, m, v
     * (and vmax), each count x dim, then zeros up to the backend's next block
     * (lazyadam_array_span): one run for each block, none for a tail of small ones. */
    size_t n = g->count * dim, arrays = s->amsgrad ? 5 : 4;
    if (!lazyadam_size_ok(n, arrays, sizeof(float))
            || n > SIZE_MAX - k->array->block
            || !lazyadam_size_ok(lazyadam_array_span(k->array, n), arrays, sizeof(float)))
        return LAZYADAM_E_NOMEM;
    nu->span = lazyadam_array_span(k->array, n);
    nu->scratch = lazyadam_alloc(nu->span * arrays * sizeof(float));
    if (!nu->scratch)
        return LAZYADAM_E_NOMEM;
    lazyadam_status st = k->array->begin(s, lazyadam_threads_requested(cfg), &nu->ctx);
    if (st != LAZYADAM_OK) {
        lazyadam_free(nu->scratch);
        nu->scratch = NULL;
    }
    return st;
}

/* The named rows and the array scratch they are gathered into, one row a group. */
typedef struct named_rows {
    const lazyadam_groups *g;
    size_t dim;
    float *table[4], *gathered[4];   /* param, m, v, vmax: the table's and the scratch's */
    float *grad;                     /* the scratch's summed gradients */
    const float *values;
    int arrays;                      /* 3, or 4 with vmax */
} named_rows;

/* Groups [lo, hi) into the scratch (their gradients summed), or (back) out of it. */
static void named_copy(const named_rows *r, size_t lo, size_t hi, int back)
{
    const size_t dim = r->dim, bytes = dim * sizeof(float);
    for (size_t i = lo; i < hi; i++) {
        size_t at = (size_t)r->g->row[i] * dim;
        if (!back)
            sum_group(r->g, i, dim, r->values, r->grad + i * dim);
        for (int a = 0; a < r->arrays; a++)
            if (back)
                memcpy(r->table[a] + at, r->gathered[a] + i * dim, bytes);
            else
                memcpy(r->gathered[a] + i * dim, r->table[a] + at, bytes);
    }
}

/* named_copy of every group, split between the call's threads. */
static void named_copy_all(const named_rows *r, int threads, int back)
{
    size_t count = r->g->count;
    if (threads <= 1) {
        named_copy(r, 0, count, back);
        return;
    }
    #pragma omp parallel num_threads(threads)
    {
        size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        named_copy(r, count * t / nt, count * (t + 1) / nt, back);
    }
}

void lazyadam_named_apply(const lazyadam_named *nu, const lazyadam_kernels *k,
        const lazyadam_groups *g, size_t dim, float *param, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s)
{
    size_t count = g->count;
    if (count == 0)
        return;
    if (!k->array) {
        int T = nu->threads;
        float *vm = s->amsgrad ? vmax : NULL;
        if (T == 1) {
            k->groups(g, 0, count, dim, param, m, v, vm, values, s);
            return;
        }
        #pragma omp parallel num_threads(T)
        {
            size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
            k->groups(g, count * t / nt, count * (t + 1) / nt, dim, param, m, v, vm, values, s);
        }
        return;
    }
    const size_t span = nu->span;
    float *sp = nu->scratch, *sg = sp + span, *sm = sg + span, *sv = sm + span, *sx = sv + span;
    const named_rows r = { g, dim, { param, m, v, vmax }, { sp, sm, sv, sx }, sg, values,
                           s->amsgrad ? 4 : 3 };
    named_copy_all(&r, nu->threads, 0);
    lazyadam_array_run_padded(k->array, nu->ctx, count * dim, sp, sg, sm, sv,
            s->amsgrad ? sx : NULL);
    named_copy_all(&r, nu->threads, 1);
}

void lazyadam_named_release(lazyadam_named *nu, const lazyadam_kernels *k)
{
    if (nu->ctx)
        k->array->end(nu->ctx);
    lazyadam_free(nu->scratch);
    memset(nu, 0, sizeof *nu);
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

    int T = lazyadam_sparse_threads(cfg, LAZYADAM_SPARSE_LAZY, nnz, rows, dim, 0);
    lazyadam_groups g;
    if ((st = lazyadam_group_indices(nnz, indices, rows, 0, T, &g)) != LAZYADAM_OK)
        return st;
    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    lazyadam_named nu;
    if ((st = lazyadam_named_prepare(k, cfg, &s, &g, dim, T, &nu)) == LAZYADAM_OK) {
        lazyadam_named_apply(&nu, k, &g, dim, param, m, v, vmax, values, &s);
        lazyadam_named_release(&nu, k);
        lazyadam_balance_end();
    }
    lazyadam_groups_free(&g);
    return st;
}

/* The first group whose row is r0 or more (g->row is ascending). */
static size_t first_group_at(const lazyadam_groups *g, size_t r0)
{
    size_t lo = 0, hi = g->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)g->row[mid] < r0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The rows [r0, r1) of an Adam step on the densified gradient, on the backend's sparse
 * kernel: named rows get their summed gradient, the rows between them a zero gradient. */
static void sparse_adam_rows(const lazyadam_kernels *k, const lazyadam_groups *g,
        size_t r0, size_t r1, size_t dim, float *param, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s)
{
    k->sparse(g, first_group_at(g, r0), r0, r1, dim, param, m, v, s->amsgrad ? vmax : NULL,
            values, s);
}

/* An array backend takes the table in blocks of its own (ops->block elements, rows cut
 * where they fall), each with its densified gradient built in scratch: one run of the
 * backend each. A last block shorter than that is staged with zeros up to the backend's
 * next block (lazyadam_array_span), so that it too is one run, not one for each of the
 * smaller blocks its elements would go through (on machine G a 10,000 x 16 table, 160,000
 * elements, took 19 runs, 0.9 ms on two threads). */
static lazyadam_status sparse_adam_array(const lazyadam_kernels *k, const lazyadam_config *cfg,
        const lazyadam_groups *g, size_t rows, size_t dim, float *param, float *m, float *v,
        float *vmax, const float *values, const lazyadam_scalars *s)
{
    const lazyadam_array_ops *ops = k->array;
    const size_t total = rows * dim, block = ops->block, tail = total % block;
    const size_t span = tail ? lazyadam_array_span(ops, tail) : 0, kinds = s->amsgrad ? 4 : 3;
    /* the gradient of a block (of the staged tail alone in a table under a block), then
     * the staged tail's p, m, v (and vmax), span each */
    const size_t glen = total < block ? span : block;
    float *grad = lazyadam_alloc((glen + kinds * span) * sizeof(float));
    if (!grad)
        return LAZYADAM_E_NOMEM;
    void *ctx;
    lazyadam_status st = ops->begin(s, lazyadam_threads_requested(cfg), &ctx);
    if (st != LAZYADAM_OK) {
        lazyadam_free(grad);
        return st;
    }
    float *stage = grad + glen;
    float *table[4] = { param, m, v, vmax };
    size_t i = 0;   /* the first group that ends past the block's start */
    for (size_t e0 = 0; e0 < total; e0 += block) {
        const size_t e1 = total - e0 > block ? e0 + block : total, len = e1 - e0;
        memset(grad, 0, len * sizeof(float));
        size_t j = i;
        for (; j < g->count && (size_t)g->row[j] * dim < e1; j++) {
            size_t r = (size_t)g->row[j] * dim, a = r > e0 ? r : e0;
            size_t b = r + dim < e1 ? r + dim : e1;
            sum_group_cols(g, j, dim, values, a - r, b - r, grad + (a - e0));
        }
        i = j > i && (size_t)g->row[j - 1] * dim + dim > e1 ? j - 1 : j;
        if (len == block) {
            ops->run(ctx, block, param + e0, grad, m + e0, v + e0,
                    s->amsgrad ? vmax + e0 : NULL);
            continue;
        }
        for (size_t a = 0; a < kinds; a++)
            memcpy(stage + a * span, table[a] + e0, len * sizeof(float));
        lazyadam_array_run_padded(ops, ctx, len, stage, grad, stage + span, stage + 2 * span,
                s->amsgrad ? stage + 3 * span : NULL);
        for (size_t a = 0; a < kinds; a++)
            memcpy(table[a] + e0, stage + a * span, len * sizeof(float));
    }
    ops->end(ctx);
    lazyadam_free(grad);
    return LAZYADAM_OK;
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

    /* The team is chosen first so that a large grouping sorts on it (lib/dedup.c), as
     * lazy_step's does; an array backend runs its own threads and groups on the caller. */
    int T = k->array ? 1
          : lazyadam_sparse_threads(cfg, LAZYADAM_SPARSE_DENSIFIED, rows, rows, dim, 0);
    lazyadam_groups g;
    if ((st = lazyadam_group_indices(nnz, indices, rows, 1, T, &g)) != LAZYADAM_OK)
        return st;
    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    if (k->array) {
        st = sparse_adam_array(k, cfg, &g, rows, dim, param, m, v, vmax, values, &s);
        lazyadam_groups_free(&g);
        return st;
    }
    if (T == 1) {
        sparse_adam_rows(k, &g, 0, rows, dim, param, m, v, vmax, values, &s);
    } else {
        #pragma omp parallel num_threads(T)
        {
            size_t r0, r1;
            lazyadam_split(rows, 0, omp_get_thread_num(), omp_get_num_threads(), 0, &r0, &r1);
            sparse_adam_rows(k, &g, r0, r1, dim, param, m, v, vmax, values, &s);
        }
    }
    lazyadam_balance_end();
    lazyadam_groups_free(&g);
    return LAZYADAM_OK;
}
