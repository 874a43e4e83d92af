/* lazyadam_lazy_step and lazyadam_adam_sparse_step against reference/, bitwise:
 * random tables with duplicates, nnz = 0, every row exactly once (== dense), the sum
 * order of duplicates, and TensorFlow's LazyAdam test vectors. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reference.h"

static const int thread_counts[] = { 1, 2, 3, 7 };

static float *dup(const float *x, size_t n)
{
    float *y = malloc(n * sizeof *y + 1);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* A table of n elements, each buffer at its own random offset; no dense gradient. */
static void table_init(dense_state *tb, rng *r, size_t n)
{
    size_t at[5] = { 0 };
    at[0] = rng_below(r, 16);   /* p, m, v, x: drawn in that order */
    at[2] = rng_below(r, 16);
    at[3] = rng_below(r, 16);
    at[4] = rng_below(r, 16);
    dense_state_init_at(tb, r, n, at, 0);
}

/* A sparse gradient: nnz indices (a share of them repeats) and nnz x dim values. */
typedef struct grad {
    size_t nnz;
    int64_t *idx;
    gbuf val;
} grad;

static grad grad_random(rng *r, size_t rows, size_t dim, size_t nnz, int dup_percent)
{
    grad g;
    g.nnz = nnz;
    g.idx = malloc((nnz + 1) * sizeof *g.idx);
    for (size_t i = 0; i < nnz; i++)
        g.idx[i] = (i > 0 && (int)rng_below(r, 100) < dup_percent)
                 ? g.idx[rng_below(r, i)] : (int64_t)rng_below(r, rows);
    g.val = gbuf_new(nnz * dim, rng_below(r, 16));
    fill_normal(r, g.val.p, nnz * dim, 0.1f);
    return g;
}

static void grad_free(grad *g)
{
    free(g->idx);
    gbuf_free(&g->val);
}

typedef lazyadam_status (*sparse_fn)(const lazyadam_config *, int64_t, size_t, size_t,
        float *, float *, float *, float *, size_t, const int64_t *, const float *);
typedef int (*ref_fn)(const lazyadam_config *, int64_t, size_t, size_t, float *, float *,
        float *, float *, size_t, const int64_t *, const float *);

/* One step of fn and of ref on table tb, with a new random gradient. Returns 1 when fn
 * returned OK, left the values' guard zones intact and the caller's OpenMP thread count
 * as it was; tb itself is the caller's to check. */
static int step_case(rng *r, const lazyadam_config *cfg, sparse_fn fn, ref_fn ref,
        dense_state *tb, int64_t step, size_t rows, size_t dim, size_t nnz, int dup_percent)
{
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    grad g = grad_random(r, rows, dim, nnz, dup_percent);
    int omp0 = omp_get_max_threads();
    lazyadam_status st = fn(cfg, step, rows, dim, tb->p.p, tb->m.p, tb->v.p,
            ams ? tb->x.p : NULL, g.nnz, g.idx, g.val.p);
    int ok = st == LAZYADAM_OK && omp_unchanged(omp0);
    ref(cfg, step, rows, dim, tb->rp, tb->rm, tb->rv, tb->rx, g.nnz, g.idx, g.val.p);
    if (st != LAZYADAM_OK)
        printf("    status %s\n", lazyadam_status_string(st));
    ok = ok && gbuf_guards_ok(&g.val);
    grad_free(&g);
    return ok;
}

/* Three steps of fn against ref on one random table, checked after each. */
static int run_case(rng *r, const lazyadam_config *cfg, sparse_fn fn, ref_fn ref,
        size_t rows, size_t dim, size_t nnz, int dup_percent)
{
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    dense_state tb;
    table_init(&tb, r, rows * dim);
    int ok = 1;
    for (int64_t step = 1; step <= 3 && ok; step++)
        ok = step_case(r, cfg, fn, ref, &tb, step, rows, dim, nnz, dup_percent)
          && dense_state_check(&tb, ams);
    dense_state_free(&tb);
    return ok;
}

/* The two sparse entry points and their references, as the random cases run them. */
enum { LAZY, DENSIFIED };
static const struct {
    const char *name;
    sparse_fn fn;
    ref_fn ref;
} entry[] = {
    [LAZY] = { "lazy_step", lazyadam_lazy_step, ref_lazy_step },
    [DENSIFIED] = { "adam_sparse_step", lazyadam_adam_sparse_step, ref_adam_sparse_step },
};

/* run_case on entry point e, tallied with everything needed to find the case again. */
static void entry_case(tally *t, rng *r, int e, const lazyadam_config *cfg,
        const char *config_name, size_t rows, size_t dim, size_t nnz, int dups)
{
    tally_case(t, run_case(r, cfg, entry[e].fn, entry[e].ref, rows, dim, nnz, dups),
            "%s backend=%s config=%s rows=%zu dim=%zu nnz=%zu dup=%d%% threads=%d",
            entry[e].name, lazyadam_backend_name(cfg->backend), config_name, rows, dim, nnz,
            dups, cfg->num_threads);
}

static void random_cases(tally *t, rng *r, lazyadam_backend be)
{
    static const size_t rows_list[] = { 1, 7, 100, 3000 };
    /* Rows of 1, 2, 3, 4, 8 and 16 cache lines: every form of the groups loop's
     * prefetches (lib/kernels/groups.h) updates rows in cases of its own; 100 is a chunk
     * of the vector kernels' summed rows, whole vectors and an element tail in one row
     * (lib/kernels/vec_kernel.h). */
    static const size_t dim_list[] = { 1, 3, 8, 16, 17, 40, 64, 100, 128, 256 };
    const size_t ndims = sizeof dim_list / sizeof dim_list[0];
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (size_t ri = 0; ri < 4; ri++)
            for (size_t di = 0; di < ndims; di++) {
                lazyadam_config cfg = cv[c].cfg;
                cfg.backend = be;
                cfg.num_threads = thread_counts[rng_below(r, 4)];
                size_t rows = rows_list[ri], dim = dim_list[di];
                size_t nnz_opts[] = { 0, 1, rows / 2 + 1, 3 * rows };
                size_t nnz = nnz_opts[rng_below(r, 4)];
                int dups = (int)rng_below(r, 60);
                entry_case(t, r, LAZY, &cfg, cv[c].name, rows, dim, nnz, dups);
                entry_case(t, r, DENSIFIED, &cfg, cv[c].name, rows, dim, nnz, dups);
            }
    /* A table past the cache (5 MB a buffer) and 10,000 indices, for every config; then
     * 3 threads, many duplicates, and more indices than rows on a small table; then
     * groupings large enough to sort on the call's team (from 32,768 indices a thread:
     * 2 threads of 3 at 70,000, all 3 at 100,000), through both entry points; then rows
     * named about 40 times each, past the summed rows' prefetch distance. (The cases
     * above hash their indices where the rows run on one thread and sort them on a team
     * or from 3,072 indices: lib/dedup.c.) */
    static const struct { size_t rows, dim, nnz; int dups, threads, densified; } big[] = {
        { 20000, 64, 10000, 5, 2, 0 }, { 20000, 64, 10000, 60, 3, 0 },
        { 3000, 3, 20000, 30, 3, 0 }, { 5000, 8, 70000, 30, 3, 1 },
        { 200000, 4, 100000, 5, 3, 1 }, { 500, 100, 20000, 30, 2, 0 },
    };
    for (size_t bi = 0; bi < sizeof big / sizeof big[0]; bi++)
        for (size_t c = 0; c < nv; c++) {
            if (bi > 0 && c % 3 != 0)
                continue;
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = big[bi].threads;
            for (int e = LAZY; e <= (big[bi].densified ? DENSIFIED : LAZY); e++)
                entry_case(t, r, e, &cfg, cv[c].name, big[bi].rows, big[bi].dim,
                        big[bi].nnz, big[bi].dups);
        }
}

/* Sorted lazy_step called by each member of an outer team of 2: with nested parallelism
 * off, each call gets a team of one thread where it asked for two, and that one thread
 * must update every row; with it on, two such calls run at once. The members
 * only run the steps; the comparisons (which keep a running ULP maximum) come after. */
/* A table with subnormal moments (lib/kernels/subnormal.h): the rows no index names
 * decay through the gap kernel, mostly on that path. adam_sparse_step, six steps. */
static void subnormal_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    const size_t rows = 500, dim = 40;
    for (size_t c = 0; c < nv; c++)
        for (int threads = 1; threads <= 2; threads++) {
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = threads;
            int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
            dense_state tb;
            table_init(&tb, r, rows * dim);
            dense_state_fill_subnormal(&tb, r);
            int ok = 1;
            for (int64_t step = 1000; step < 1006 && ok; step++) {
                grad g = grad_random(r, rows, dim, 5, 20);
                lazyadam_status st = lazyadam_adam_sparse_step(&cfg, step, rows, dim, tb.p.p,
                        tb.m.p, tb.v.p, ams ? tb.x.p : NULL, g.nnz, g.idx, g.val.p);
                ref_adam_sparse_step(&cfg, step, rows, dim, tb.rp, tb.rm, tb.rv,
                        ams ? tb.rx : NULL, g.nnz, g.idx, g.val.p);
                ok = st == LAZYADAM_OK && dense_state_check(&tb, ams);
                grad_free(&g);
            }
            tally_case(t, ok, "adam_sparse_step subnormal moments backend=%s config=%s "
                    "threads=%d", lazyadam_backend_name(be), cv[c].name, threads);
            dense_state_free(&tb);
        }
}

static void team_cases(tally *t, rng *r, lazyadam_backend be)
{
    enum { ROWS = 20000, DIM = 64, NNZ = 10000 };
    int levels0 = omp_get_max_active_levels();
    for (int levels = 1; levels <= 2; levels++) {
        lazyadam_config cfg = lazyadam_default_config();
        cfg.backend = be;
        cfg.num_threads = 2;
        struct { rng r; dense_state tb; int ok; } job[2];
        for (int me = 0; me < 2; me++) {
            job[me].r.s = rng_u64(r);
            job[me].ok = 1;
        }
        omp_set_max_active_levels(levels);
        #pragma omp parallel num_threads(2)
        {
            int me = omp_get_thread_num();
            table_init(&job[me].tb, &job[me].r, (size_t)ROWS * DIM);
            for (int64_t step = 1; step <= 3; step++)
                job[me].ok &= step_case(&job[me].r, &cfg, lazyadam_lazy_step, ref_lazy_step,
                        &job[me].tb, step, ROWS, DIM, NNZ, 5);
        }
        omp_set_max_active_levels(levels0);
        for (int me = 0; me < 2; me++) {
            tally_case(t, job[me].ok && dense_state_check(&job[me].tb, 0), "lazy_step in an "
                    "outer team, max active levels %d, member %d backend=%s rows=%d dim=%d "
                    "nnz=%d threads=2", levels, me, lazyadam_backend_name(be), ROWS, DIM, NNZ);
            dense_state_free(&job[me].tb);
        }
    }
}

/* Every row exactly once, in a random order: lazy_step, adam_sparse_step and adam_step
 * on the densified gradient are bitwise identical. */
static void permutation_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (size_t ti = 0; ti < 4; ti++) {
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = thread_counts[ti];
            int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
            size_t rows = 1 + rng_below(r, 3000), dim = 1 + rng_below(r, 40), n = rows * dim;
            dense_state a, b;
            table_init(&a, r, n);
            b = a;   /* second copy of the same initial state */
            b.p = gbuf_new(n, 1); b.m = gbuf_new(n, 2); b.v = gbuf_new(n, 3); b.x = gbuf_new(n, 4);
            memcpy(b.p.p, a.p.p, n * 4); memcpy(b.m.p, a.m.p, n * 4);
            memcpy(b.v.p, a.v.p, n * 4); memcpy(b.x.p, a.x.p, n * 4);
            float *dp = dup(a.p.p, n), *dm = dup(a.m.p, n), *dv = dup(a.v.p, n), *dx = dup(a.x.p, n);
            int ok = 1;
            for (int64_t step = 1; step <= 2 && ok; step++) {
                int64_t *idx = malloc(rows * sizeof *idx);
                for (size_t i = 0; i < rows; i++)
                    idx[i] = (int64_t)i;
                for (size_t i = rows - 1; i > 0; i--) {
                    size_t j = rng_below(r, i + 1);
                    int64_t tmp = idx[i]; idx[i] = idx[j]; idx[j] = tmp;
                }
                float *val = malloc(n * sizeof *val), *dense = malloc(n * sizeof *dense);
                fill_normal(r, val, n, 0.1f);
                for (size_t i = 0; i < rows; i++)
                    memcpy(dense + (size_t)idx[i] * dim, val + i * dim, dim * sizeof(float));
                lazyadam_status s1 = lazyadam_lazy_step(&cfg, step, rows, dim, a.p.p, a.m.p,
                        a.v.p, ams ? a.x.p : NULL, rows, idx, val);
                lazyadam_status s2 = lazyadam_adam_sparse_step(&cfg, step, rows, dim, b.p.p,
                        b.m.p, b.v.p, ams ? b.x.p : NULL, rows, idx, val);
                lazyadam_status s3 = lazyadam_adam_step(&cfg, step, n, dp, dense, dm, dv,
                        ams ? dx : NULL);
                ok = s1 == LAZYADAM_OK && s2 == LAZYADAM_OK && s3 == LAZYADAM_OK
                  && !compare_state("lazy vs dense param", dp, a.p.p, n)
                  && !compare_state("lazy vs dense m", dm, a.m.p, n)
                  && !compare_state("lazy vs dense v", dv, a.v.p, n)
                  && !compare_state("sparse vs dense param", dp, b.p.p, n)
                  && !compare_state("sparse vs dense m", dm, b.m.p, n)
                  && !compare_state("sparse vs dense v", dv, b.v.p, n)
                  && (!ams || (!compare_state("lazy vs dense vmax", dx, a.x.p, n)
                            && !compare_state("sparse vs dense vmax", dx, b.x.p, n)));
                free(idx); free(val); free(dense);
            }
            tally_case(t, ok, "every row once: lazy == adam_sparse == adam backend=%s "
                    "config=%s rows=%zu dim=%zu threads=%d", lazyadam_backend_name(be),
                    cv[c].name, rows, dim, cfg.num_threads);
            free(dp); free(dm); free(dv); free(dx);
            gbuf_free(&b.p); gbuf_free(&b.m); gbuf_free(&b.v); gbuf_free(&b.x);
            dense_state_free(&a);
        }
}

/* Duplicates are summed in input order: with values 1e8, 1, -1e8 the order shows
 * ((a + b) + c) = (1e8 + 1) - 1e8 = 0 in float (1e8 + 1 rounds to 1e8), while the
 * other association a + (b + c) would give a different sum. */
static void sum_order_cases(tally *t, lazyadam_backend be)
{
    lazyadam_config cfg = lazyadam_default_config();
    cfg.backend = be;
    const float vals[3][2] = { { 1e8f, 3.0f }, { 1.0f, -1e-7f }, { -1e8f, 1e-7f } };
    const int64_t idx[3] = { 0, 0, 0 };
    float p[2] = { 1, 1 }, m[2] = { 0, 0 }, v[2] = { 0, 0 };
    float rp[2] = { 1, 1 }, rm[2] = { 0, 0 }, rv[2] = { 0, 0 };
    lazyadam_status st = lazyadam_lazy_step(&cfg, 1, 1, 2, p, m, v, NULL, 3, idx, &vals[0][0]);
    float g[2] = { (vals[0][0] + vals[1][0]) + vals[2][0], (vals[0][1] + vals[1][1]) + vals[2][1] };
    ref_adam_step(&cfg, 1, 2, rp, g, rm, rv, NULL);
    /* (1e8 + 1) - 1e8 == 0 in float; the other order gives 1. */
    int ok = st == LAZYADAM_OK && g[0] == 0.0f
          && !compare_state("param", rp, p, 2) && !compare_state("m", rm, m, 2);
    tally_case(t, ok, "duplicates summed in input order backend=%s", lazyadam_backend_name(be));

    /* nnz == 0 changes nothing (and needs no index or value pointers). */
    float q[4] = { 1, 2, 3, 4 }, q0[4];
    memcpy(q0, q, sizeof q);
    st = lazyadam_lazy_step(&cfg, 5, 2, 2, q, q, q, NULL, 0, NULL, NULL);
    tally_case(t, st == LAZYADAM_E_ALIAS, "lazy_step aliasing table buffers is refused even "
            "with nnz == 0 (got %s)", lazyadam_status_string(st));
    float a[4] = { 1, 2, 3, 4 }, b[4] = { 0 }, c[4] = { 0 };
    st = lazyadam_lazy_step(&cfg, 5, 2, 2, a, b, c, NULL, 0, NULL, NULL);
    tally_case(t, st == LAZYADAM_OK && !memcmp(a, q0, sizeof a) && b[0] == 0 && c[3] == 0,
            "lazy_step nnz == 0 changes nothing backend=%s", lazyadam_backend_name(be));
}

/* TensorFlow's LazyAdam test (lazy_adam_test.py, testSparse): var0 = [1, 2],
 * var1 = [3, 4], gradients [0.1, 0.1] and [0.01, 0.01] on indices [0, 1] of a 2 x 1
 * table, defaults with eps 1e-8, three steps. */
static void tf_vector_cases(tally *t, lazyadam_backend be)
{
    lazyadam_config cfg = lazyadam_default_config();
    cfg.backend = be;
    float v0[2] = { 1, 2 }, m0[2] = { 0 }, s0[2] = { 0 };
    float v1[2] = { 3, 4 }, m1[2] = { 0 }, s1[2] = { 0 };
    const int64_t idx[2] = { 0, 1 };
    const float g0[2] = { 0.1f, 0.1f }, g1[2] = { 0.01f, 0.01f };
    int ok = 1;
    for (int64_t step = 1; step <= 3; step++) {
        ok &= lazyadam_lazy_step(&cfg, step, 2, 1, v0, m0, s0, NULL, 2, idx, g0) == LAZYADAM_OK;
        ok &= lazyadam_lazy_step(&cfg, step, 2, 1, v1, m1, s1, NULL, 2, idx, g1) == LAZYADAM_OK;
    }
    const double want0[2] = { 0.9970000072, 1.9970000072 };
    const double want1[2] = { 2.9970000723, 3.9970000723 };
    for (int i = 0; i < 2; i++)
        ok &= fabs(v0[i] - want0[i]) <= 1e-6 && fabs(v1[i] - want1[i]) <= 1e-6;
    tally_case(t, ok, "TensorFlow LazyAdam vectors backend=%s: var0=[%.10f, %.10f] "
            "var1=[%.10f, %.10f]", lazyadam_backend_name(be), v0[0], v0[1], v1[0], v1[1]);

    /* Indices [1, 1] with 0.1 each give exactly what index [1] with 0.2 gives. */
    float a[2] = { 1, 2 }, am[2] = { 0 }, av[2] = { 0 };
    float b[2] = { 1, 2 }, bm[2] = { 0 }, bv[2] = { 0 };
    const int64_t i11[2] = { 1, 1 }, i1[1] = { 1 };
    const float x11[2] = { 0.1f, 0.1f }, x1[1] = { 0.2f };
    ok = lazyadam_lazy_step(&cfg, 1, 2, 1, a, am, av, NULL, 2, i11, x11) == LAZYADAM_OK
      && lazyadam_lazy_step(&cfg, 1, 2, 1, b, bm, bv, NULL, 1, i1, x1) == LAZYADAM_OK
      && !memcmp(a, b, sizeof a) && !memcmp(am, bm, sizeof am) && !memcmp(av, bv, sizeof av)
      && a[0] == 1.0f && a[1] != 2.0f;
    tally_case(t, ok, "indices [1, 1] x 0.1 == index [1] x 0.2 backend=%s",
            lazyadam_backend_name(be));
}

int main(void)
{
    rng r = { harness_seed("test_sparse") };
    tally t = { 0, 0, 0 };
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    for (size_t b = 0; b < nb; b++) {
        harness_begin_backend(bes[b]);
        random_cases(&t, &r, bes[b]);
        team_cases(&t, &r, bes[b]);
        subnormal_cases(&t, &r, bes[b]);
        permutation_cases(&t, &r, bes[b]);
        sum_order_cases(&t, bes[b]);
        tf_vector_cases(&t, bes[b]);
        harness_report_ulp(bes[b]);
    }
    return tally_finish(&t);
}
