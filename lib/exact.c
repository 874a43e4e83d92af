/* Exact LazyAdam: lazyadam_exact_lazy_step and lazyadam_exact_flush. A row that
 * skipped steps first replays them (zero gradient, each with its own step's scalars,
 * through the same element operations), so the table ends bitwise where Adam on the
 * densified gradient would have put it. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "internal.h"

/* The scalars of steps first .. first+count-1, computed once per call, and whether a
 * zero-gradient step is the identity on a row whose m, v (and vmax) are +0.0:
 * true when there is no weight decay, eps > 0 and every alpha is finite, because then
 * m and v stay +0, the step is alpha*0/(sqrt(0)+eps) = +0 and p - +0 == p. */
typedef struct replay_plan {
    lazyadam_scalars *sc;
    int64_t first;
    int identity_on_zero;
} replay_plan;

static lazyadam_status plan_make(const lazyadam_config *cfg, int64_t first, int64_t last,
        replay_plan *pl)
{
    pl->sc = NULL;
    pl->first = first;
    pl->identity_on_zero = cfg->weight_decay == 0.0f && cfg->eps > 0.0f;
    if (last < first)
        return LAZYADAM_OK;
    uint64_t count = (uint64_t)(last - first) + 1;
    if (count > SIZE_MAX / sizeof(lazyadam_scalars))
        return LAZYADAM_E_NOMEM;
    pl->sc = lazyadam_alloc((size_t)count * sizeof(lazyadam_scalars));
    if (!pl->sc)
        return LAZYADAM_E_NOMEM;
    for (uint64_t i = 0; i < count; i++) {
        pl->sc[i] = lazyadam_make_scalars(cfg, first + (int64_t)i);
        if (!isfinite(pl->sc[i].alpha))
            pl->identity_on_zero = 0;
    }
    return LAZYADAM_OK;
}

static int bits_zero(const float *x, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        uint32_t u;
        memcpy(&u, &x[j], sizeof u);
        if (u)
            return 0;
    }
    return 1;
}

static int no_nan(const float *x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        if (isnan(x[j]))
            return 0;
    return 1;
}

/* Replays steps from .. to (inclusive) with a zero gradient on one row. */
static void replay_row(const lazyadam_kernels *k, const replay_plan *pl, int64_t from,
        int64_t to, size_t dim, float *p, float *m, float *v, float *vmax, int ams)
{
    if (to < from)
        return;
    if (pl->identity_on_zero && bits_zero(m, dim) && bits_zero(v, dim)
            && (!ams || bits_zero(vmax, dim)) && no_nan(p, dim))
        return;
    k->replay(dim, p, m, v, ams ? vmax : NULL, pl->sc + (from - pl->first),
            (size_t)(to - from) + 1);
}

lazyadam_status lazyadam_exact_lazy_step(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        int64_t *last_step, size_t nnz, const int64_t *indices, const float *values)
{
    const lazyadam_kernels *k = NULL;
    lazyadam_status st = lazyadam_check_sparse(cfg, step, rows, dim, param, m, v, vmax,
            last_step, nnz, indices, values, &k);
    if (st != LAZYADAM_OK)
        return st;
    if (rows > 0 && !last_step)
        return LAZYADAM_E_NULL;
    int64_t lmin = step;
    for (size_t i = 0; i < nnz; i++) {
        int64_t ls = last_step[indices[i]];
        if (ls < 0 || ls >= step)
            return LAZYADAM_E_STEP;
        lmin = ls < lmin ? ls : lmin;
    }
    if (nnz == 0)
        return LAZYADAM_OK;

    int T = lazyadam_sparse_threads(cfg, LAZYADAM_SPARSE_EXACT, nnz, rows, dim);
    lazyadam_groups g;
    if ((st = lazyadam_group_indices(nnz, indices, rows, 0, T, &g)) != LAZYADAM_OK)
        return st;
    replay_plan pl;
    if ((st = plan_make(cfg, lmin + 1, step - 1, &pl)) != LAZYADAM_OK) {
        lazyadam_groups_free(&g);
        return st;
    }
    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    lazyadam_named nu;
    if ((st = lazyadam_named_prepare(k, cfg, &s, &g, dim, T, &nu)) != LAZYADAM_OK) {
        lazyadam_free(pl.sc);
        lazyadam_groups_free(&g);
        return st;
    }
    int ams = s.amsgrad;
    size_t count = g.count;
    /* Rows lag by different amounts, so hand them out dynamically; the result does
     * not depend on which thread takes a row. A chunk backend updates each row right
     * after its catch-up, while it is in cache; an array backend takes all the caught-up
     * rows at once. */
    #pragma omp parallel for num_threads(T) schedule(dynamic, 16) if (T > 1)
    for (size_t i = 0; i < count; i++) {
        size_t r = (size_t)g.row[i], off = r * dim;
        float *vm = ams ? vmax + off : NULL;
        replay_row(k, &pl, last_step[r] + 1, step - 1, dim, param + off, m + off, v + off,
                vm, ams);
        if (!k->array)
            k->rows(dim, param + off, m + off, v + off, vm, values, g.src + g.start[i],
                    g.start[i + 1] - g.start[i], &s);
    }
    if (k->array)
        lazyadam_named_apply(&nu, k, &g, dim, param, m, v, vmax, values, &s);
    for (size_t i = 0; i < count; i++)
        last_step[g.row[i]] = step;
    lazyadam_named_release(&nu, k);
    lazyadam_free(pl.sc);
    lazyadam_groups_free(&g);
    lazyadam_balance_end();
    return LAZYADAM_OK;
}

lazyadam_status lazyadam_exact_flush(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        int64_t *last_step)
{
    const lazyadam_kernels *k = NULL;
    lazyadam_status st = lazyadam_check_sparse(cfg, step, rows, dim, param, m, v, vmax,
            last_step, 0, NULL, NULL, &k);
    if (st != LAZYADAM_OK)
        return st;
    if (rows > 0 && !last_step)
        return LAZYADAM_E_NULL;
    int64_t lmin = step;
    for (size_t r = 0; r < rows; r++) {
        if (last_step[r] < 0 || last_step[r] > step)
            return LAZYADAM_E_STEP;
        lmin = last_step[r] < lmin ? last_step[r] : lmin;
    }
    if (lmin == step)
        return LAZYADAM_OK;

    replay_plan pl;
    if ((st = plan_make(cfg, lmin + 1, step, &pl)) != LAZYADAM_OK)
        return st;
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    int T = lazyadam_threads_for(cfg, rows * dim);
    #pragma omp parallel for num_threads(T) schedule(dynamic, 64) if (T > 1)
    for (size_t r = 0; r < rows; r++) {
        size_t off = r * dim;
        replay_row(k, &pl, last_step[r] + 1, step, dim, param + off, m + off, v + off,
                ams ? vmax + off : NULL, ams);
        last_step[r] = step;
    }
    lazyadam_free(pl.sc);
    return LAZYADAM_OK;
}
