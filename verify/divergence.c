#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divergence.h"
#include "reference.h"

enum scenario {
    UNIFORM = DIVERGENCE_UNIFORM, ZIPF = DIVERGENCE_ZIPF, IDLE_RETURN = DIVERGENCE_IDLE_RETURN,
    TOUCHED_ONCE = DIVERGENCE_TOUCHED_ONCE, NSCEN = DIVERGENCE_SCENARIOS
};
const char *const divergence_scenario_names[DIVERGENCE_SCENARIOS] = {
    "uniform", "zipf", "idle_return", "touched_once",
};
#define IDLE_K 10   /* idle_return: the second half of the table returns every 10th step */

const divergence_ops divergence_library = {
    lazyadam_lazy_step, lazyadam_adam_sparse_step, lazyadam_exact_lazy_step, lazyadam_exact_flush,
};

/* The indices of step t under a scenario (5% of draws repeat an earlier one). */
static size_t draw(rng *r, enum scenario sc, size_t rows, int64_t t, int64_t *idx)
{
    size_t n = 0, base = rows / 20 + 1;
    switch (sc) {
    case IDLE_RETURN:
        for (size_t i = 0; i < rows / 2; i++)
            idx[n++] = (int64_t)i;
        if (t % IDLE_K == 0)
            for (size_t i = rows / 2; i < rows; i++)
                idx[n++] = (int64_t)i;
        return n;
    case TOUCHED_ONCE:
        if (t == 1)
            for (size_t i = 0; i < rows / 10; i++)
                idx[n++] = (int64_t)i;
        for (size_t i = 0; i < base; i++)
            idx[n++] = (int64_t)(rows / 10 + rng_below(r, rows - rows / 10));
        return n;
    case ZIPF:
        for (size_t i = 0; i < base; i++) {
            double u = (double)(rng_u64(r) >> 11) * 0x1.0p-53;
            double e = 1.0 - 1.05, top = pow((double)rows + 1.0, e);
            size_t k = (size_t)pow(1.0 + u * (top - 1.0), 1.0 / e) - 1;
            idx[n++] = (int64_t)(k < rows ? k : rows - 1);
        }
        break;
    default:
        for (size_t i = 0; i < base; i++)
            idx[n++] = (int64_t)rng_below(r, rows);
    }
    for (size_t i = 1; i < n; i++)
        if (rng_below(r, 20) == 0)
            idx[i] = idx[rng_below(r, i)];
    return n;
}

/* Reference replay of the zero-gradient steps from .. to (inclusive) on one row. */
static void replay(const lazyadam_config *cfg, int64_t from, int64_t to, size_t dim, float *p,
        float *m, float *v, float *x, const float *zeros)
{
    for (int64_t s = from; s <= to; s++)
        ref_adam_step(cfg, s, dim, p, zeros, m, v, x);
}

/* Counts a failure of one check; whether to print it (the first three of a scenario). */
static int finding(long *check, long *failures)
{
    ++*check;
    return ++*failures <= 3;
}

static int row_equal(const float *a, const float *b, size_t dim)
{
    return memcmp(a, b, dim * sizeof(float)) == 0;
}

long divergence_scenario(const divergence_ops *ops, int scen, int quick, uint64_t seed,
        tally *ta, h5w *w, divergence_result *out)
{
    const enum scenario sc = (enum scenario)scen;
    const char *name = divergence_scenario_names[sc];
    const size_t rows = quick ? 400 : 4000, dim = quick ? 8 : 16;
    const int64_t steps = quick ? 40 : 200;
    const int check_every = quick ? 1 : 10;
    const size_t n = rows * dim;
    lazyadam_config cfg = lazyadam_default_config();   /* EPS_HAT: TensorFlow's LazyAdam */
    cfg.lr = 0.01f;
    rng r = { seed ^ (0x9e37u * (sc + 1)) };

    /* L: LazyAdam (library); A: Adam (library); E: LazyAdam that catches each row up on
     * its skipped steps before touching it (reference). */
    float *L[3], *A[3], *E[3], *X[3], *tmp[3];
    for (int i = 0; i < 3; i++) {
        X[i] = malloc(n * sizeof(float));
        L[i] = malloc(n * sizeof(float));
        A[i] = malloc(n * sizeof(float));
        E[i] = malloc(n * sizeof(float));
        tmp[i] = malloc(dim * sizeof(float));
    }
    fill_normal(&r, L[0], n, 0.1f);
    memset(L[1], 0, n * sizeof(float));
    memset(L[2], 0, n * sizeof(float));
    for (int i = 0; i < 3; i++) {
        memcpy(A[i], L[i], n * sizeof(float));
        memcpy(E[i], L[i], n * sizeof(float));
        memcpy(X[i], L[i], n * sizeof(float));
    }
    /* X: exact LazyAdam (library), flushed at every checkpoint. */
    int64_t *xlast = calloc(rows, sizeof *xlast), *xdiffer = calloc((size_t)steps, sizeof(int64_t));
    double *xmax = calloc((size_t)steps, sizeof(double));
    float *zeros = calloc(dim, sizeof(float));
    int64_t *last = calloc(rows, sizeof *last), *idx = malloc((2 * rows + 8) * sizeof *idx);
    unsigned char *touched = malloc(rows), *gapped = calloc(rows, 1);
    float *val = malloc((2 * rows + 8) * dim * sizeof(float));

    double *max_dp = calloc((size_t)steps, sizeof(double)), *mean_dp = calloc((size_t)steps, sizeof(double));
    double *max_dm = calloc((size_t)steps, sizeof(double)), *rel = calloc((size_t)steps, sizeof(double));
    double *mdev = calloc((size_t)steps, sizeof(double)), *vdev = calloc((size_t)steps, sizeof(double));
    double *pdev = calloc((size_t)steps, sizeof(double));
    int64_t *differ = calloc((size_t)steps, sizeof(int64_t)), *proven = calloc((size_t)steps, sizeof(int64_t));
    int64_t *direct = calloc((size_t)steps, sizeof(int64_t));
    long failures = 0;   /* of every check; the first three are printed */
    divergence_result res = { 0, 0, 0, 0, 0 };
    int64_t lazy_checks = 0;   /* row checks of LazyAdam where no step was skipped after a touch */
    /* touched_once: what the rows held after step 1, for the closed forms. */
    float *once_m = NULL, *once_v = NULL, *once_p = NULL;

    for (int64_t t = 1; t <= steps; t++) {
        size_t nnz = draw(&r, sc, rows, t, idx);
        fill_normal(&r, val, nnz * dim, 0.1f);
        lazyadam_status s1 = ops->lazy_step(&cfg, t, rows, dim, L[0], L[1], L[2], NULL, nnz, idx,
                val);
        lazyadam_status s2 = ops->adam_sparse_step(&cfg, t, rows, dim, A[0], A[1], A[2], NULL, nnz,
                idx, val);
        lazyadam_status s3 = ops->exact_lazy_step(&cfg, t, rows, dim, X[0], X[1], X[2], NULL,
                xlast, nnz, idx, val);
        if (s1 || s2 || s3) {
            tally_case(ta, 0, "divergence %s step %lld: %s / %s", name, (long long)t,
                    lazyadam_status_string(s1), lazyadam_status_string(s2));
            finding(&res.refused, &failures);
            break;
        }
        memset(touched, 0, rows);
        for (size_t i = 0; i < nnz; i++)
            touched[idx[i]] = 1;
        for (size_t row = 0; row < rows; row++)
            if (touched[row]) {
                size_t o = row * dim;
                /* Skipped steps before a row's first touch ran on zero moments, which
                 * they leave as they were (m and v stay 0, p moves by 0 / eps): only a
                 * gap after a touch parts LazyAdam from the caught-up reference. */
                gapped[row] |= last[row] > 0 && last[row] + 1 < t;
                replay(&cfg, last[row] + 1, t - 1, dim, E[0] + o, E[1] + o, E[2] + o, NULL, zeros);
                last[row] = t;
            }
        ref_lazy_step(&cfg, t, rows, dim, E[0], E[1], E[2], NULL, nnz, idx, val);
        if (sc == TOUCHED_ONCE && t == 1) {
            once_p = malloc(rows / 10 * dim * sizeof(float));
            once_m = malloc(rows / 10 * dim * sizeof(float));
            once_v = malloc(rows / 10 * dim * sizeof(float));
            memcpy(once_p, L[0], rows / 10 * dim * sizeof(float));
            memcpy(once_m, L[1], rows / 10 * dim * sizeof(float));
            memcpy(once_v, L[2], rows / 10 * dim * sizeof(float));
        }

        /* Divergence of LazyAdam from Adam. */
        double pmax = 0, sum = 0, dmmax = 0;
        int64_t nd = 0;
        for (size_t row = 0; row < rows; row++) {
            size_t o = row * dim;
            if (!row_equal(L[0] + o, A[0] + o, dim) || !row_equal(L[1] + o, A[1] + o, dim)
                    || !row_equal(L[2] + o, A[2] + o, dim))
                nd++;
            for (size_t j = 0; j < dim; j++) {
                double d = fabs((double)L[0][o + j] - A[0][o + j]);
                max_dp[t - 1] = fmax(max_dp[t - 1], d);
                sum += d;
                dmmax = fmax(dmmax, fabs((double)L[1][o + j] - A[1][o + j]));
                pmax = fmax(pmax, fabs((double)A[0][o + j]));
            }
        }
        mean_dp[t - 1] = sum / (double)n;
        max_dm[t - 1] = dmmax;
        rel[t - 1] = max_dp[t - 1] / fmax(pmax, 1e-30);
        differ[t - 1] = nd;

        /* The proof: each row, caught up on the steps it skipped, is Adam's row. */
        proven[t - 1] = direct[t - 1] = -1;
        if (t % check_every == 0 || t == steps) {
            int64_t ok = 0, dok = 0;
            for (size_t row = 0; row < rows; row++) {
                size_t o = row * dim;
                int same_as_lazy = row_equal(E[0] + o, L[0] + o, dim)
                        && row_equal(E[1] + o, L[1] + o, dim) && row_equal(E[2] + o, L[2] + o, dim);
                for (int i = 0; i < 3; i++)
                    memcpy(tmp[i], E[i] + o, dim * sizeof(float));
                replay(&cfg, last[row] + 1, t, dim, tmp[0], tmp[1], tmp[2], NULL, zeros);
                int equal = row_equal(tmp[0], A[0] + o, dim) && row_equal(tmp[1], A[1] + o, dim)
                         && row_equal(tmp[2], A[2] + o, dim);
                if (equal) {
                    ok++;
                    /* Rows whose LazyAdam state is untouched by earlier gaps: the replay
                     * ran on LazyAdam's own state. */
                    dok += same_as_lazy;
                } else if (finding(&res.proof, &failures)) {
                    printf("FINDING: divergence %s, seed %llu, step %lld, row %zu: replaying "
                            "%lld skipped steps does not reproduce Adam's row\n", name,
                            (unsigned long long)seed, (long long)t, row,
                            (long long)(t - last[row]));
                }
                /* A row that has skipped no step since it was first named is where LazyAdam
                 * and the reference's catching-up LazyAdam must not part: they have run
                 * the same updates. */
                if (!gapped[row]) {
                    lazy_checks++;
                    if (!same_as_lazy && finding(&res.lazy, &failures))
                        printf("FINDING: divergence %s, seed %llu, step %lld, row %zu: "
                                "LazyAdam's row, which has skipped no step since it was first "
                                "named, is not the reference's\n", name, (unsigned long long)seed,
                                (long long)t, row);
                }
            }
            proven[t - 1] = ok;
            direct[t - 1] = dok;
        }

        /* Exact LazyAdam, brought up to date, is Adam: bitwise, so the divergence is 0. */
        xdiffer[t - 1] = -1;
        if (t % check_every == 0 || t == steps) {
            lazyadam_status s4 = ops->exact_flush(&cfg, t, rows, dim, X[0], X[1], X[2], NULL,
                    xlast);
            int64_t xd = s4 != LAZYADAM_OK ? (int64_t)rows : 0;
            for (size_t row = 0; row < rows; row++) {
                size_t o = row * dim;
                xd += !row_equal(X[0] + o, A[0] + o, dim) || !row_equal(X[1] + o, A[1] + o, dim)
                   || !row_equal(X[2] + o, A[2] + o, dim);
                for (size_t j = 0; j < dim; j++)
                    xmax[t - 1] = fmax(xmax[t - 1], fabs((double)X[0][o + j] - A[0][o + j]));
            }
            xdiffer[t - 1] = xd;
            if (xd && finding(&res.exact, &failures))
                printf("FINDING: divergence %s, seed %llu, step %lld: exact LazyAdam, flushed, "
                        "differs from Adam in %lld rows\n", name,
                        (unsigned long long)seed, (long long)t, (long long)xd);
        }

        /* Closed forms on the rows touched once: m and v decay by beta^k, and under Adam
         * the parameter keeps moving on momentum by the sum of the skipped updates. Each
         * holds within the float roundings the contract makes (u = 2^-24): m and v are k
         * products, so within (1+u)^k - 1 of the closed form, relative; each skipped update
         * carries at most 1.5 (s-1) + 5 roundings relative (the decays of m and of v, the
         * latter halved by the root, and alpha, the root, + eps, the product and the
         * quotient), and each subtraction from p one of p's size. */
        if (sc == TOUCHED_ONCE && t > 1) {
            size_t cnt = rows / 10 * dim;
            int64_t k = t - 1;
            double b1k = pow(cfg.beta1, (double)k), b2k = pow(cfg.beta2, (double)k);
            double md = 0, vd = 0, pd = 0;
            const double u = 0x1.0p-24, decay_bound = pow(1.0 + u, (double)k) - 1.0;
            int64_t outside = 0;
            for (size_t j = 0; j < cnt; j++) {
                double mp = b1k * once_m[j], vp = b2k * once_v[j];
                md = fmax(md, fabs(A[1][j] - mp) / fmax(fabs(mp), 1e-30));
                vd = fmax(vd, fabs(A[2][j] - vp) / fmax(fabs(vp), 1e-30));
                outside += fabs(A[1][j] - mp) > decay_bound * fabs(mp)
                        || fabs(A[2][j] - vp) > decay_bound * fabs(vp);
                double move = 0;   /* predicted drift, in double */
                for (int64_t s = 2; s <= t; s++) {
                    double bc1 = 1 - pow(cfg.beta1, (double)s), bc2 = 1 - pow(cfg.beta2, (double)s);
                    double alpha = cfg.lr * sqrt(bc2) / bc1;
                    double ms = pow(cfg.beta1, (double)(s - 1)) * once_m[j];
                    double vs = pow(cfg.beta2, (double)(s - 1)) * once_v[j];
                    move += alpha * ms / (sqrt(vs) + cfg.eps);
                }
                double actual = (double)once_p[j] - A[0][j];
                pd = fmax(pd, fabs(actual - move) / fmax(fabs(move), 1e-12));
                outside += fabs(actual - move) > (1.5 * (double)k + 5.0) * u * fabs(move)
                        + (double)k * u * (fabs(once_p[j]) + fabs(move));
            }
            if (outside && finding(&res.closed, &failures))
                printf("FINDING: divergence %s, seed %llu, step %lld: %lld elements of the rows "
                        "touched once outside the closed forms' rounding bounds\n",
                        name, (unsigned long long)seed, (long long)t,
                        (long long)outside);
            mdev[t - 1] = md;
            vdev[t - 1] = vd;
            pdev[t - 1] = pd;
        }
    }
    int64_t checked = 0, proven_total = 0, direct_total = 0;
    for (int64_t s = 0; s < steps; s++)
        if (proven[s] >= 0) {
            checked += (int64_t)rows;
            proven_total += proven[s];
            direct_total += direct[s];
        }
    printf("divergence %-12s rows=%zu dim=%zu steps=%lld: final max |dparam| %.3e (%.2e of the "
            "parameter scale), mean %.3e, rows differing %lld; replay proof %lld/%lld row checks "
            "bitwise (%lld on LazyAdam's own state); LazyAdam, on rows with no step skipped "
            "after a touch, %lld row checks bitwise%s\n", name, rows, dim,
            (long long)steps, max_dp[steps - 1], rel[steps - 1], mean_dp[steps - 1],
            (long long)differ[steps - 1], (long long)proven_total, (long long)checked,
            (long long)direct_total, (long long)lazy_checks, failures ? "  FAILED" : "");
    printf("  exact LazyAdam (flushed) against Adam after step %lld: %lld rows differ, max |dparam| %.1e\n",
            (long long)steps, (long long)xdiffer[steps - 1], xmax[steps - 1]);
    if (sc == TOUCHED_ONCE)
        printf("  touched once, after %lld idle steps: Adam's m = beta1^k m within %.1e, v = "
                "beta2^k v within %.1e, drift = sum of skipped updates within %.1e (relative)\n",
                (long long)(steps - 1), mdev[steps - 1], vdev[steps - 1], pdev[steps - 1]);
    tally_case(ta, failures == 0 && proven_total == checked, "divergence %s: replay proof, "
            "exact LazyAdam, LazyAdam where no step was skipped after a touch%s", name,
            sc == TOUCHED_ONCE ? ", closed forms" : "");

    if (w) {
        char g[64];
        snprintf(g, sizeof g, "divergence_%s", name);
        size_t S = (size_t)steps;
        h5w_group(w, g);
        h5w_config(w, &cfg);
        h5w_provenance(w);
        h5w_attr_str(w, "scenario", name);
        h5w_attr_int(w, "rows", (int64_t)rows);
        h5w_attr_int(w, "dim", (int64_t)dim);
        h5w_attr_int(w, "steps", steps);
        h5w_attr_int(w, "seed", (int64_t)seed);
        h5w_attr_int(w, "proof_failures", failures);
        h5w_attr_int(w, "proof_row_checks", checked);
        h5w_attr_int(w, "proof_rows_on_lazy_state", direct_total);
        h5w_attr_int(w, "lazy_row_checks", lazy_checks);
        h5w_f64(w, "max_abs_dparam", S, 0, max_dp);
        h5w_f64(w, "mean_abs_dparam", S, 0, mean_dp);
        h5w_f64(w, "max_abs_dm", S, 0, max_dm);
        h5w_f64(w, "rel_max_dparam", S, 0, rel);
        h5w_i64(w, "rows_differing", S, 0, differ);
        h5w_i64(w, "proof_rows", S, 0, proven);
        h5w_i64(w, "proof_rows_on_lazy_state", S, 0, direct);
        h5w_i64(w, "exact_rows_differing", S, 0, xdiffer);
        h5w_f64(w, "exact_max_abs_dparam", S, 0, xmax);
        if (sc == TOUCHED_ONCE) {
            h5w_f64(w, "m_decay_deviation", S, 0, mdev);
            h5w_f64(w, "v_decay_deviation", S, 0, vdev);
            h5w_f64(w, "drift_deviation", S, 0, pdev);
        }
    }
    for (int i = 0; i < 3; i++) {
        free(L[i]); free(A[i]); free(E[i]); free(X[i]); free(tmp[i]);
    }
    free(xlast); free(xdiffer); free(xmax);
    free(zeros); free(last); free(idx); free(touched); free(gapped); free(val);
    free(max_dp); free(mean_dp); free(max_dm); free(rel); free(mdev); free(vdev); free(pdev);
    free(differ); free(proven); free(direct); free(once_m); free(once_v); free(once_p);
    if (out)
        *out = res;
    return failures;
}

void divergence_study(int quick, uint64_t seed, tally *t, h5w *w)
{
    for (int sc = 0; sc < NSCEN; sc++)
        divergence_scenario(&divergence_library, sc, quick, seed, t, w, NULL);
}
