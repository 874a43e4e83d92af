/* The replay can fail. `replay-golden` and `replay-torch` pass only if trajectory_replay
 * compares what it must, so this suite checks the comparison itself: a case of each kind
 * (dense, lazy, adam_sparse; AMSGrad, so all four states) survives a trip through the
 * HDF5 store unchanged and replays bitwise on every backend this CPU runs; then one
 * stored element at a time is moved, and the replay must count exactly that element:
 *
 *   - one ulp off, in each state, at a random step and at a step that names no row
 *     (so rows a sparse step leaves alone are compared too);
 *   - against an allowance of 1 ulp: one ulp passes, two do not;
 *   - against a relative tolerance: half of it passes, twice it does not, and below the
 *     floor the difference is taken relative to the floor;
 *   - a NaN where a number was is a mismatch under any tolerance, reported as an
 *     infinite relative difference;
 *   - an index outside the table makes the library refuse the step, which is a failure.
 *
 * Seeded; the seed is printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "trajectory.h"

#define RTOL 1e-5
#define FLOOR 1e-3

static tally T;

static int same_floats(const float *a, const float *b, size_t n)
{
    return (!a && !b) || (a && b && memcmp(a, b, n * sizeof(float)) == 0);
}

static int same_trajectory(const trajectory *a, const trajectory *b)
{
    int ok = a->kind == b->kind && a->n == b->n && a->rows == b->rows && a->dim == b->dim
          && a->steps == b->steps && a->total_nnz == b->total_nnz
          && a->cfg.lr == b->cfg.lr && a->cfg.beta1 == b->cfg.beta1
          && a->cfg.beta2 == b->cfg.beta2 && a->cfg.eps == b->cfg.eps
          && a->cfg.weight_decay == b->cfg.weight_decay && a->cfg.eps_mode == b->cfg.eps_mode
          && a->cfg.flags == b->cfg.flags;
    for (int i = 0; ok && i < 4; i++)
        ok = same_floats(a->init[i], b->init[i], a->n)
          && same_floats(a->traj[i], b->traj[i], a->steps * a->n);
    if (ok && a->kind == K_DENSE)
        return same_floats(a->grad, b->grad, a->steps * a->n);
    return ok && memcmp(a->nnz, b->nnz, a->steps * sizeof *a->nnz) == 0
        && memcmp(a->indices, b->indices, a->total_nnz * sizeof *a->indices) == 0
        && same_floats(a->values, b->values, a->total_nnz * a->dim);
}

/* Replays t on the scalar backend with stored element (state, step, j) set to x; checks
 * that `want_bad` elements mismatch and that the largest relative difference lies in
 * [rel_lo, rel_hi] (not checked when rel_lo > rel_hi); restores the element. */
static void moved(trajectory *t, int state, size_t step, size_t j, float x, uint64_t tol,
        double rtol, size_t want_bad, double rel_lo, double rel_hi, const char *what)
{
    float *e = t->traj[state] + step * t->n + j;
    float keep = *e;
    *e = x;
    double max_rel = -1;
    size_t bad = trajectory_replay(t, LAZYADAM_BACKEND_SCALAR, 2, tol, rtol, FLOOR, &max_rel);
    *e = keep;
    int rel_ok = !(rel_lo <= rel_hi) || (max_rel >= rel_lo && max_rel <= rel_hi);
    printf("  %-11s %-58s %zu mismatching, largest relative difference %.3g\n",
            kind_name(t->kind), what, bad, max_rel);
    tally_case(&T, bad == want_bad && rel_ok, "%s: %s: %zu mismatching (want %zu), largest "
            "relative difference %.3g", kind_name(t->kind), what, bad, want_bad, max_rel);
}

/* An element of state `state` at `step` whose magnitude is at least lo and below hi. */
static size_t element_in(const trajectory *t, int state, size_t step, double lo, double hi)
{
    const float *x = t->traj[state] + step * t->n;
    for (size_t j = 0; j < t->n; j++)
        if (fabs((double)x[j]) >= lo && fabs((double)x[j]) < hi)
            return j;
    return (size_t)-1;
}

static void sensitivity(rng *r, trajectory *t)
{
    static const char *names[4] = { "param", "m", "v", "vmax" };
    char what[128];
    /* Step 4 (index 3) names no row in a sparse case (trajectory_make). */
    size_t quiet = t->kind == K_DENSE ? 0 : 3;
    if (t->kind != K_DENSE)
        tally_case(&T, t->steps > quiet && t->nnz[quiet] == 0, "%s: step 4 names no row",
                kind_name(t->kind));
    for (int s = 0; s < 4; s++) {
        size_t steps[2] = { rng_below(r, t->steps), quiet };
        for (int k = 0; k < (t->kind == K_DENSE ? 1 : 2); k++) {
            size_t j = rng_below(r, t->n);
            float x = t->traj[s][steps[k] * t->n + j];
            snprintf(what, sizeof what, "%s[%zu] at step %zu one ulp up", names[s], j,
                    steps[k] + 1);
            moved(t, s, steps[k], j, nextafterf(x, INFINITY), 0, 0.0, 1, 1e-300, 2.4e-7, what);
        }
    }
    size_t k = rng_below(r, t->steps), j = rng_below(r, t->n);
    float x = t->traj[0][k * t->n + j];
    moved(t, 0, k, j, nextafterf(x, INFINITY), 1, 0.0, 0, 1, 0, "one ulp up, 1 ulp allowed");
    moved(t, 0, k, j, nextafterf(nextafterf(x, INFINITY), INFINITY), 1, 0.0, 1, 1, 0,
            "two ulps up, 1 ulp allowed");
    moved(t, 0, k, j, NAN, 0, RTOL, 1, INFINITY, INFINITY, "a NaN, relative tolerance");
    moved(t, 0, k, j, NAN, 1000, 0.0, 1, INFINITY, INFINITY, "a NaN, 1000 ulps allowed");

    /* Relative to |x| above the floor, to the floor below it. */
    size_t big = element_in(t, 0, k, 0.1, 100.0), small = element_in(t, 2, k, 1e-30, FLOOR / 10);
    tally_case(&T, big != (size_t)-1 && small != (size_t)-1, "%s: elements above and below "
            "the floor", kind_name(t->kind));
    if (big == (size_t)-1 || small == (size_t)-1)
        return;
    double xb = t->traj[0][k * t->n + big], xs = t->traj[2][k * t->n + small];
    moved(t, 0, k, big, (float)(xb * (1 + RTOL / 2)), 0, RTOL, 0, 1, 0,
            "half the relative tolerance off");
    moved(t, 0, k, big, (float)(xb * (1 + RTOL * 2)), 0, RTOL, 1, RTOL, 3 * RTOL,
            "twice the relative tolerance off");
    moved(t, 2, k, small, (float)(xs + RTOL * FLOOR / 2), 0, RTOL, 0, 1, 0,
            "below the floor, half the tolerance of the floor off");
    moved(t, 2, k, small, (float)(xs + RTOL * FLOOR * 2), 0, RTOL, 1, RTOL, 3 * RTOL,
            "below the floor, twice the tolerance of the floor off");

    if (t->kind != K_DENSE) {   /* a stored index the library must refuse */
        size_t i = rng_below(r, t->total_nnz);
        int64_t keep = t->indices[i];
        t->indices[i] = (int64_t)t->rows;
        double max_rel;
        size_t bad = trajectory_replay(t, LAZYADAM_BACKEND_SCALAR, 2, 0, 0.0, FLOOR, &max_rel);
        t->indices[i] = keep;
        tally_case(&T, bad == 1, "%s: an index past the table fails the replay (%zu)",
                kind_name(t->kind), bad);
    }
}

int main(void)
{
    uint64_t seed = harness_seed("test_replay");
    rng r = { seed };
    char dir[] = "/tmp/lazyadam-replay-XXXXXX", path[300], err[512], src[64];
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof path, "%s/cases.h5", dir);
    lazyadam_config cfg = lazyadam_default_config();
    cfg.flags = LAZYADAM_AMSGRAD;
    cfg.lr = 0.01f;
    trajectory made[3];
    h5w *w = h5w_open(path, err, sizeof err);
    int wrote = w != NULL;
    for (int kind = K_DENSE; kind <= K_ADAM_SPARSE; kind++) {
        trajectory_make(&r, &made[kind], (case_kind)kind, &cfg, kind == K_DENSE ? 257 : 40, 5, 7);
        trajectory_reference(&made[kind]);
        char name[32];
        snprintf(name, sizeof name, "case_%05d", kind);
        wrote = wrote && trajectory_write(w, name, &made[kind], seed, "lazyadam") == 0;
    }
    wrote = wrote && h5w_commit(w, err, sizeof err) == 0;
    tally_case(&T, wrote, "write the three cases (%s)", wrote ? path : err);
    h5r *rd = wrote ? h5r_open(path, err, sizeof err) : NULL;
    lazyadam_backend bes[4];
    size_t nb = test_backends(&T, bes);
    for (int kind = K_DENSE; rd && kind <= K_ADAM_SPARSE; kind++) {
        char name[32];
        snprintf(name, sizeof name, "case_%05d", kind);
        trajectory t;
        if (trajectory_read(rd, name, &t, src, sizeof src)) {
            tally_case(&T, 0, "read %s back: %s", name, h5r_error(rd));
            continue;
        }
        tally_case(&T, same_trajectory(&made[kind], &t), "%s: read back as written",
                kind_name(t.kind));
        for (size_t b = 0; b < nb; b++) {
            double max_rel;
            uint64_t tol = backend_tolerance(bes[b]);
            size_t bad = trajectory_replay(&t, bes[b], 2, tol, 0.0, FLOOR, &max_rel);
            tally_case(&T, bad == 0 && (tol || max_rel == 0), "%s replays on %s: %zu "
                    "mismatching, largest relative difference %.3g", kind_name(t.kind),
                    lazyadam_backend_name(bes[b]), bad, max_rel);
        }
        sensitivity(&r, &t);
        trajectory_free(&t);
    }
    if (rd)
        h5r_close(rd);
    for (int kind = K_DENSE; kind <= K_ADAM_SPARSE; kind++)
        trajectory_free(&made[kind]);
    unlink(path);
    rmdir(dir);
    return tally_finish(&T);
}
