/* Exact LazyAdam against Adam: over long random sequences (uniform, Zipf-skewed, rows
 * idle then returning, duplicates, empty steps), lazyadam_exact_lazy_step, brought up to
 * date by lazyadam_exact_flush, equals lazyadam_adam_sparse_step at every step, bitwise, for
 * every configuration variant, several thread counts and every backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum pattern { UNIFORM, ZIPF, IDLE_RETURN, EMPTY_STEPS, NPATTERNS };
static const char *pattern_names[] = { "uniform", "zipf", "idle-return", "empty-steps" };

/* Row for the k-th index of step t under a pattern. */
static int64_t draw_row(rng *r, enum pattern pat, size_t rows, int64_t t)
{
    switch (pat) {
    case ZIPF: {
        /* Inverse-CDF of a power law over [1, rows]: low rows are hot. */
        double u = (double)(rng_u64(r) >> 11) * 0x1.0p-53;
        size_t k = (size_t)pow((double)rows + 1.0, u) - 1;
        return (int64_t)(k < rows ? k : rows - 1);
    }
    case IDLE_RETURN:
        /* The first half of the table is touched only every 7th step. */
        if (t % 7 == 0)
            return (int64_t)rng_below(r, rows / 2 + 1);
        return (int64_t)(rows / 2 + rng_below(r, rows - rows / 2));
    default:
        return (int64_t)rng_below(r, rows);
    }
}

static int run_sequence(rng *r, const lazyadam_config *cfg, enum pattern pat, size_t rows,
        size_t dim, int64_t nsteps)
{
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    size_t n = rows * dim;
    float *a[4], *b[4], *c[4];
    for (int i = 0; i < 4; i++) {
        a[i] = malloc(n * sizeof(float));
        b[i] = malloc(n * sizeof(float));
        c[i] = malloc(n * sizeof(float));
    }
    fill_normal(r, a[0], n, 1.0f);
    /* Half the rows start with zero moments (fresh embeddings), half with history. */
    for (size_t j = 0; j < n; j++) {
        int fresh = (j / dim) % 2 == 0;
        a[1][j] = fresh ? 0.0f : 0.01f * rng_normal(r);
        float z = rng_normal(r);
        a[2][j] = fresh ? 0.0f : 1e-4f * z * z;
        a[3][j] = fresh ? 0.0f : a[2][j] * 1.5f;
    }
    for (int i = 0; i < 4; i++)
        memcpy(b[i], a[i], n * sizeof(float));
    int64_t *last = calloc(rows, sizeof *last), *clast = malloc(rows * sizeof *clast);
    int ok = 1;
    for (int64_t t = 1; t <= nsteps && ok; t++) {
        size_t nnz = (pat == EMPTY_STEPS && t % 3 == 0) ? 0 : 1 + rng_below(r, rows / 4 + 2);
        int64_t *idx = malloc((nnz + 1) * sizeof *idx);
        float *val = malloc((nnz * dim + 1) * sizeof *val);
        for (size_t i = 0; i < nnz; i++)
            idx[i] = (i > 0 && rng_below(r, 5) == 0) ? idx[i - 1] : draw_row(r, pat, rows, t);
        fill_normal(r, val, nnz * dim, 0.1f);
        lazyadam_status s1 = lazyadam_exact_lazy_step(cfg, t, rows, dim, a[0], a[1], a[2],
                ams ? a[3] : NULL, last, nnz, idx, val);
        lazyadam_status s2 = lazyadam_adam_sparse_step(cfg, t, rows, dim, b[0], b[1], b[2],
                ams ? b[3] : NULL, nnz, idx, val);
        ok = s1 == LAZYADAM_OK && s2 == LAZYADAM_OK;
        /* At every step, a flushed copy of the exact table is Adam's table; now and then
         * (a checkpoint), and at the end, the table itself is flushed and goes on. */
        if (ok) {
            int in_place = t == nsteps || rng_below(r, 10) == 0;
            for (int i = 0; i < 4 && !in_place; i++)
                memcpy(c[i], a[i], n * sizeof(float));
            if (!in_place)
                memcpy(clast, last, rows * sizeof *last);
            float **f = in_place ? a : c;
            int64_t *fl = in_place ? last : clast;
            ok = lazyadam_exact_flush(cfg, t, rows, dim, f[0], f[1], f[2], ams ? f[3] : NULL,
                    fl) == LAZYADAM_OK;
            for (size_t i = 0; i < rows && ok; i++)
                ok = fl[i] == t;
            ok = ok && !compare_state("param", b[0], f[0], n)
                    && !compare_state("m", b[1], f[1], n)
                    && !compare_state("v", b[2], f[2], n)
                    && (!ams || !compare_state("vmax", b[3], f[3], n));
            if (!ok)
                printf("    differs after step %lld\n", (long long)t);
        }
        free(idx);
        free(val);
    }
    for (int i = 0; i < 4; i++) {
        free(a[i]);
        free(b[i]);
        free(c[i]);
    }
    free(last);
    free(clast);
    return ok;
}

/* A row whose m and v (and vmax) are +0 is left as it is when its zero-gradient steps
 * are the identity (lib/exact.c skips them). Three cases where they are not: a NaN
 * parameter (Adam's p - 0 quiets a signalling NaN), and an alpha that overflows to +Inf
 * (alpha * 0 is NaN, so p becomes NaN), each with every other condition of the skip met;
 * and moments of -0, equal to zero but not its bits, which a zero-gradient step turns
 * into +0 (beta * -0 + (1 - beta) * +0), so the replay must run, with a gradient of +0
 * (a gradient of -0 would leave m at -0). Rows 1 to 5 start at `moment` and wait; row 0
 * moves every step, row 1 returns at step 4, the rest only at the flush. Exact LazyAdam,
 * flushed, must be Adam bit for bit. */
enum { ZR_ROWS = 6, ZR_DIM = 37 };   /* ZR_DIM: vector lanes and a scalar tail */

static int zero_rows_not_identity(const lazyadam_config *cfg, const float *row_p,
        float moment)
{
    enum { ROWS = ZR_ROWS, DIM = ZR_DIM, STEPS = 6 };
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    static float a[4][ROWS * DIM], b[4][ROWS * DIM], val[2 * DIM];
    int64_t last[ROWS] = { 0 };
    for (size_t j = 0; j < (size_t)ROWS * DIM; j++) {
        size_t row = j / DIM, col = j % DIM;
        a[0][j] = row == 0 ? 0.5f : row_p[(row - 1) * DIM + col];
        a[1][j] = row == 0 ? 0.01f : moment;
        a[2][j] = row == 0 ? 1e-4f : moment;
        a[3][j] = row == 0 ? 2e-4f : moment;
    }
    memcpy(b, a, sizeof a);
    int ok = 1;
    for (int64_t t = 1; t <= STEPS && ok; t++) {
        int64_t idx[2] = { 0, 1 };
        size_t nnz = t == 4 ? 2 : 1;
        for (size_t j = 0; j < 2 * DIM; j++)
            val[j] = 0.001f * (float)((int)j - DIM) * (float)t;
        ok = lazyadam_exact_lazy_step(cfg, t, ROWS, DIM, a[0], a[1], a[2], ams ? a[3] : NULL,
                     last, nnz, idx, val) == LAZYADAM_OK
                && lazyadam_adam_sparse_step(cfg, t, ROWS, DIM, b[0], b[1], b[2],
                     ams ? b[3] : NULL, nnz, idx, val) == LAZYADAM_OK;
    }
    ok = ok && lazyadam_exact_flush(cfg, STEPS, ROWS, DIM, a[0], a[1], a[2], ams ? a[3] : NULL,
            last) == LAZYADAM_OK;
    const char *what[4] = { "param", "m", "v", "vmax" };
    for (int i = 0; i < 3 + ams && ok; i++)
        ok = !compare_state(what[i], b[i], a[i], (size_t)ROWS * DIM);
    return ok;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void zero_rows_cases(tally *t, lazyadam_backend be)
{
    enum { DIM = ZR_DIM };
    static float row_p[(ZR_ROWS - 1) * DIM], finite_p[(ZR_ROWS - 1) * DIM];
    /* the params of rows 1-5: a signalling NaN of each sign, a quiet NaN with a payload,
     * those and -0 among finite values, and finite values alone */
    const float special[4] = { bits_float(0x7f800001u), bits_float(0xff812345u),
            bits_float(0x7fc0abcdu), -0.0f };
    for (size_t j = 0; j < (ZR_ROWS - 1) * DIM; j++) {
        size_t row = j / DIM, col = j % DIM;
        row_p[j] = row < 3 ? special[row] : row == 3 && col % 3 == 0 ? special[col % 4]
                 : 0.25f - 0.01f * (float)col;
        finite_p[j] = 0.25f - 0.01f * (float)col - 0.1f * (float)row;
    }
    lazyadam_config dflt = lazyadam_default_config(), inf_cfg = dflt;
    /* alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t) overflows float for every t here */
    inf_cfg.lr = 3e38f;
    inf_cfg.beta1 = 0.99999994f;
    struct { const char *name; lazyadam_config cfg; const float *p; float moment; } cases[] = {
        { "NaN params", dflt, row_p, 0.0f },
        { "NaN params, amsgrad, plain", dflt, row_p, 0.0f },
        { "alpha +Inf", inf_cfg, row_p, 0.0f },
        { "alpha +Inf, plain", inf_cfg, row_p, 0.0f },
        { "moments -0", dflt, finite_p, -0.0f },
        { "moments -0, amsgrad", dflt, finite_p, -0.0f },
    };
    cases[1].cfg.flags = LAZYADAM_AMSGRAD;
    cases[1].cfg.eps_mode = LAZYADAM_EPS_PLAIN;
    cases[3].cfg.eps_mode = LAZYADAM_EPS_PLAIN;
    cases[5].cfg.flags = LAZYADAM_AMSGRAD;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int threads = 1; threads <= 2; threads++) {
            lazyadam_config cfg = cases[c].cfg;
            cfg.backend = be;
            cfg.num_threads = threads;
            tally_case(t, zero_rows_not_identity(&cfg, cases[c].p, cases[c].moment),
                    "exact == adam_sparse on zero-moment rows whose zero-gradient step is not "
                    "the identity: %s backend=%s threads=%d", cases[c].name,
                    lazyadam_backend_name(be), threads);
        }
}

/* Rows with subnormal moments left alone for up to 200 steps (lib/kernels/subnormal.h:
 * the replay's zero-gradient steps, mostly on that path): exact LazyAdam, flushed, is
 * adam_sparse_step at every step, bit for bit. */
static void subnormal_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    enum { ROWS = 200, DIM = 40, STEPS = 200 };
    for (size_t c = 0; c < nv; c++) {
        lazyadam_config cfg = cv[c].cfg;
        cfg.backend = be;
        cfg.num_threads = 2;
        int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
        dense_state a;
        const size_t at[5] = { 0 };
        dense_state_init_at(&a, r, (size_t)ROWS * DIM, at, 0);
        dense_state_fill_subnormal(&a, r);
        int64_t *last = calloc(ROWS, sizeof *last);
        static float val[3 * DIM];
        int ok = last != NULL;
        for (int64_t s = 1; s <= STEPS && ok; s++) {
            /* rows 0-2 most steps, row 3 now and then, the rest only at the flush */
            int64_t idx[3] = { s % 3, (s * 7) % 3, s % 97 == 0 ? 3 : 0 };
            for (size_t j = 0; j < 3 * DIM; j++)
                val[j] = 0.001f * (float)((int)j - DIM) + 1e-4f * (float)s;
            ok = lazyadam_exact_lazy_step(&cfg, s, ROWS, DIM, a.p.p, a.m.p, a.v.p,
                         ams ? a.x.p : NULL, last, 3, idx, val) == LAZYADAM_OK
                 && lazyadam_adam_sparse_step(&cfg, s, ROWS, DIM, a.rp, a.rm, a.rv,
                         ams ? a.rx : NULL, 3, idx, val) == LAZYADAM_OK;
        }
        ok = ok && lazyadam_exact_flush(&cfg, STEPS, ROWS, DIM, a.p.p, a.m.p, a.v.p,
                ams ? a.x.p : NULL, last) == LAZYADAM_OK;
        ok = ok && dense_state_check(&a, ams);
        tally_case(t, ok, "exact == adam_sparse with subnormal moments backend=%s config=%s",
                lazyadam_backend_name(be), cv[c].name);
        free(last);
        dense_state_free(&a);
    }
}

int main(void)
{
    rng r = { harness_seed("test_exact") };
    tally t = { 0, 0, 0 };
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    static const int threads[] = { 1, 2, 3, 7 };
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t b = 0; b < nb; b++) {
        harness_begin_backend(bes[b]);
        for (size_t c = 0; c < nv; c++)
            for (int pat = 0; pat < NPATTERNS; pat++) {
                lazyadam_config cfg = cv[c].cfg;
                cfg.backend = bes[b];
                cfg.num_threads = threads[rng_below(&r, 4)];
                size_t rows = 20 + rng_below(&r, 300), dim = 1 + rng_below(&r, 40);
                int64_t nsteps = 60;
                tally_case(&t, run_sequence(&r, &cfg, (enum pattern)pat, rows, dim, nsteps),
                        "exact == adam_sparse backend=%s config=%s pattern=%s rows=%zu dim=%zu "
                        "threads=%d steps=%lld", lazyadam_backend_name(bes[b]), cv[c].name,
                        pattern_names[pat], rows, dim, cfg.num_threads, (long long)nsteps);
            }
        zero_rows_cases(&t, bes[b]);
        subnormal_cases(&t, &r, bes[b]);
        harness_report_ulp(bes[b]);
    }
    /* A long idle gap on a big table, through the threaded path. */
    lazyadam_config cfg = lazyadam_default_config();
    cfg.num_threads = 2;
    tally_case(&t, run_sequence(&r, &cfg, IDLE_RETURN, 5000, 16, 40),
            "exact == adam_sparse, 5000 x 16 table, threaded");
    return tally_finish(&t);
}
