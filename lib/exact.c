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

/* Team size and hand-out for the replay. A replayed element-step costs about what an
 * element of a dense step does (a square root and a division, the state in registers),
 * so the team is sized by the element-steps to replay (plus the named elements), not by
 * the elements alone, which kept the caller alone on small tables and few rows however
 * far behind. On the project's machine (2 threads allowed, medians of 40 calls alternating
 * with one thread): exact_flush of 256 x 64 rows 200 steps behind 428 us alone, 224 on
 * the team; exact_lazy_step of 40 rows of a 100,000 x 64 table 1,000 steps behind 578
 * and 283 us, 16 rows 1.47-1.85 times as fast from 200 steps behind. The price is at the
 * rule's edge: a flush of 64 x 64 rows 10 steps behind (40,960 element-steps) took 10.8
 * us on the team against 7.6 alone. lag sums the rows' missed steps, saturating. */
static void lag_add(uint64_t *lag, uint64_t steps)
{
    *lag = steps > UINT64_MAX - *lag ? UINT64_MAX : *lag + steps;
}

static size_t replay_elems(uint64_t lag, size_t dim)
{
    return lag > SIZE_MAX / dim ? SIZE_MAX : (size_t)lag * dim;
}

static _Thread_local int last_team;

int lazyadam_exact_last_team(void)
{
    return last_team;
}

/* Rows a dynamic chunk hands out: `most`, or fewer, so that each thread can take about
 * 8 chunks when there are few rows (a few of them may hold all the replay). */
static int chunk_rows(size_t count, int T, int most)
{
    size_t c = count / (8 * (size_t)T);
    return c < 1 ? 1 : c > (size_t)most ? most : (int)c;
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
    uint64_t lag = 0;   /* a duplicated row counts once per index: an estimate */
    for (size_t i = 0; i < nnz; i++) {
        int64_t ls = last_step[indices[i]];
        if (ls < 0 || ls >= step)
            return LAZYADAM_E_STEP;
        lmin = ls < lmin ? ls : lmin;
        lag_add(&lag, (uint64_t)(step - 1 - ls));
    }
    if (nnz == 0)
        return LAZYADAM_OK;

    int T = lazyadam_sparse_threads(cfg, LAZYADAM_SPARSE_EXACT, nnz, rows, dim,
            replay_elems(lag, dim));
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
    int chunk = chunk_rows(count, T, 16);
    last_team = T;
    /* Rows lag by different amounts, so hand them out dynamically; the result does
     * not depend on which thread takes a row. A chunk backend updates each row right
     * after its catch-up, while it is in cache; an array backend takes all the caught-up
     * rows at once. */
    #pragma omp parallel for num_threads(T) schedule(dynamic, chunk) if (T > 1)
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
    uint64_t lag = 0;
    for (size_t r = 0; r < rows; r++) {
        if (last_step[r] < 0 || last_step[r] > step)
            return LAZYADAM_E_STEP;
        lmin = last_step[r] < lmin ? last_step[r] : lmin;
        lag_add(&lag, (uint64_t)(step - last_step[r]));
    }
    if (lmin == step)
        return LAZYADAM_OK;

    replay_plan pl;
    if ((st = plan_make(cfg, lmin + 1, step, &pl)) != LAZYADAM_OK)
        return st;
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    int T = lazyadam_threads_for(cfg, replay_elems(lag, dim));
    int chunk = chunk_rows(rows, T, 64);
    last_team = T;
    #pragma omp parallel for num_threads(T) schedule(dynamic, chunk) if (T > 1)
    for (size_t r = 0; r < rows; r++) {
        size_t off = r * dim;
        replay_row(k, &pl, last_step[r] + 1, step, dim, param + off, m + off, v + off,
                ams ? vmax + off : NULL, ams);
        last_step[r] = step;
    }
    lazyadam_free(pl.sc);
    return LAZYADAM_OK;
}
