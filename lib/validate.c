/* Argument checks shared by every entry point. They only read. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define LAZYADAM_KNOWN_FLAGS (LAZYADAM_AMSGRAD | LAZYADAM_ADAMW | LAZYADAM_MAXIMIZE)

lazyadam_status lazyadam_check_config(const lazyadam_config *cfg, const lazyadam_kernels **k)
{
    if (!cfg)
        return LAZYADAM_E_NULL;
    const float f[5] = { cfg->lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay };
    for (int i = 0; i < 5; i++)
        if (!isfinite(f[i]))
            return LAZYADAM_E_HPARAM;
    if (!(cfg->lr >= 0.0f) || !(cfg->eps >= 0.0f) || !(cfg->weight_decay >= 0.0f))
        return LAZYADAM_E_HPARAM;
    if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f) || !(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f))
        return LAZYADAM_E_HPARAM;
    if (cfg->eps_mode != LAZYADAM_EPS_HAT && cfg->eps_mode != LAZYADAM_EPS_PLAIN)
        return LAZYADAM_E_HPARAM;
    if (cfg->flags & ~(unsigned)LAZYADAM_KNOWN_FLAGS)
        return LAZYADAM_E_HPARAM;
    if (cfg->num_threads < 0)
        return LAZYADAM_E_HPARAM;
    if (!(*k = lazyadam_kernels_for(cfg)))
        return LAZYADAM_E_BACKEND;
    return LAZYADAM_OK;
}

lazyadam_status lazyadam_check_step(int64_t step)
{
    return step < 1 ? LAZYADAM_E_STEP : LAZYADAM_OK;
}

int lazyadam_size_ok(size_t a, size_t b, size_t elem)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    size_t ab = a * b;
    return elem == 0 || ab <= SIZE_MAX / elem;
}

static int range_cmp(const void *a, const void *b)
{
    const lazyadam_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The overlap sweep over ranges visited in ascending order of start: a range overlaps
 * an earlier one iff it starts before that one's end, so it is enough to track the
 * furthest end of any earlier range and of any earlier writable range. */
typedef struct sweep {
    uintptr_t end_any, end_w;
} sweep;

static int sweep_visit(sweep *s, const lazyadam_range *r)
{
    if (r->lo < s->end_w || (r->writable && r->lo < s->end_any))
        return 1;
    if (r->hi > s->end_any)
        s->end_any = r->hi;
    if (r->writable && r->hi > s->end_w)
        s->end_w = r->hi;
    return 0;
}

/* At most this many ascending runs are merged on the fly; more are sorted. */
#define MAX_RUNS 16

/* True when every run is free of internal overlap and the runs' bounding intervals are
 * pairwise disjoint: then no two ranges overlap at all (a trainer's flat parameter,
 * gradient and state buffers). O(count + runs^2). */
static int runs_disjoint(const lazyadam_range *r, size_t count, const size_t *start,
        size_t runs)
{
    uintptr_t lo[MAX_RUNS], hi[MAX_RUNS];
    for (size_t k = 0; k < runs; k++) {
        size_t a = start[k], b = k + 1 < runs ? start[k + 1] : count;
        lo[k] = r[a].lo;
        hi[k] = r[a].hi;
        for (size_t i = a + 1; i < b; i++) {
            if (r[i].lo < hi[k])
                return 0;
            hi[k] = r[i].hi;
        }
    }
    for (size_t j = 0; j < runs; j++)
        for (size_t k = j + 1; k < runs; k++)
            if (lo[j] < hi[k] && lo[k] < hi[j])
                return 0;
    return 1;
}


/* Up to this many ranges (a dense or sparse call's own buffers) are checked pair by pair:
 * fewer steps than finding the runs, for at most 28 pairs. */
#define PAIRWISE_MAX 8

lazyadam_status lazyadam_check_ranges(lazyadam_range *r, size_t count)
{
    if (count <= PAIRWISE_MAX) {
        for (size_t i = 1; i < count; i++)
            for (size_t j = 0; j < i; j++)
                if ((r[i].writable | r[j].writable) && r[i].lo < r[j].hi && r[j].lo < r[i].hi)
                    return LAZYADAM_E_ALIAS;
        return LAZYADAM_OK;
    }
    /* Callers list ranges buffer kind by buffer kind (all params, then all grads, ...),
     * and a trainer's tensors usually sit in address order, so the list is a few
     * ascending runs: merge them with a k-way sweep in O(count * runs) instead of
     * sorting. Anything else is sorted. */
    size_t start[MAX_RUNS + 1], runs = 0;
    for (size_t i = 0; i < count; i++)
        if (i == 0 || r[i].lo < r[i - 1].lo) {
            if (runs == MAX_RUNS) {
                runs = MAX_RUNS + 1;
                break;
            }
            start[runs++] = i;
        }
    if (runs <= MAX_RUNS && runs_disjoint(r, count, start, runs))
        return LAZYADAM_OK;
    sweep s = { 0, 0 };
    if (runs > MAX_RUNS) {
        qsort(r, count, sizeof *r, range_cmp);
        for (size_t i = 0; i < count; i++)
            if (sweep_visit(&s, &r[i]))
                return LAZYADAM_E_ALIAS;
        return LAZYADAM_OK;
    }
    size_t head[MAX_RUNS], end[MAX_RUNS];
    for (size_t k = 0; k < runs; k++) {
        head[k] = start[k];
        end[k] = k + 1 < runs ? start[k + 1] : count;
    }
    for (size_t left = count; left > 0; left--) {
        size_t best = MAX_RUNS;
        for (size_t k = 0; k < runs; k++)
            if (head[k] < end[k] && (best == MAX_RUNS || r[head[k]].lo < r[head[best]].lo))
                best = k;
        if (sweep_visit(&s, &r[head[best]++]))
            return LAZYADAM_E_ALIAS;
    }
    return LAZYADAM_OK;
}

lazyadam_status lazyadam_check_sparse(const lazyadam_config *cfg, int64_t step, size_t rows,
        size_t dim, float *param, float *m, float *v, float *vmax, int64_t *last_step,
        size_t nnz, const int64_t *indices, const float *values, const lazyadam_kernels **k)
{
    lazyadam_status st = lazyadam_check_config(cfg, k);
    if (st != LAZYADAM_OK)
        return st;
    if ((st = lazyadam_check_step(step)) != LAZYADAM_OK)
        return st;
    if (dim == 0 || !lazyadam_size_ok(rows, dim, sizeof(float))
            || !lazyadam_size_ok(nnz, dim, sizeof(float))
            || !lazyadam_size_ok(nnz, 1, sizeof(int64_t))
            || !lazyadam_size_ok(rows, 1, sizeof(int64_t)))
        return LAZYADAM_E_SIZE;
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    if (rows > 0 && (!param || !m || !v || (ams && !vmax)))
        return LAZYADAM_E_NULL;
    if (nnz > 0 && (!indices || !values))
        return LAZYADAM_E_NULL;

    lazyadam_range r[7];
    size_t nr = 0, table = rows * dim * sizeof(float);
    lazyadam_range_add(r, &nr, param, table, 1);
    lazyadam_range_add(r, &nr, m, table, 1);
    lazyadam_range_add(r, &nr, v, table, 1);
    if (ams)
        lazyadam_range_add(r, &nr, vmax, table, 1);
    lazyadam_range_add(r, &nr, last_step, rows * sizeof(int64_t), 1);
    lazyadam_range_add(r, &nr, indices, nnz * sizeof(int64_t), 0);
    lazyadam_range_add(r, &nr, values, nnz * dim * sizeof(float), 0);
    if ((st = lazyadam_check_ranges(r, nr)) != LAZYADAM_OK)
        return st;

    for (size_t i = 0; i < nnz; i++)
        if (indices[i] < 0 || (uint64_t)indices[i] >= (uint64_t)rows)
            return LAZYADAM_E_INDEX;
    return LAZYADAM_OK;
}
