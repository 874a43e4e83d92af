/* The divergence study can fail. `verify-quick` passes only if the study's checks hold on
 * the library, so this suite checks that each check can fail: the study runs (quick size)
 * on stand-ins for the library's entry points that move one stored float by one ulp
 * after the library's own call, at one step, and the check that must see it, and only
 * that one, must count it:
 *
 *   - Adam (adam_sparse_step) off by one ulp, in a row the step names and in one it does
 *     not, in each of p, m and v: the replay proof, and exact LazyAdam (measured against
 *     Adam) with it;
 *   - exact LazyAdam off by one ulp after a flush: the exact check alone;
 *   - LazyAdam (lazy_step) off by one ulp on a row named at every step (idle_return's
 *     first half): the check of LazyAdam on rows with no step skipped after a touch,
 *     alone (that it leaves alone the rows it cannot judge, those that did skip steps,
 *     the library's own run shows: their LazyAdam rows differ from the reference's
 *     catching-up ones);
 *   - a refused step: counted as refused.
 *
 * The library's own entry points must pass every scenario. Seeded; the seed is printed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "divergence.h"
#include "harness.h"

#define STEP 5   /* the step the stand-ins break */

static tally T;

/* What the stand-ins break: which entry point, which state (0 p, 1 m, 2 v), and which row:
 * a row the step names (named = 1) or one it does not (0), or a fixed row (row >= 0). */
enum target { NONE, ADAM, LAZY, FLUSH, REFUSE };
static struct {
    enum target target;
    int state, named;
    long row;
    int done;
} brk;

static void bump(float *x)
{
    *x = nextafterf(*x, INFINITY);
}

/* The row to break in a step that names indices[0..nnz). */
static size_t pick_row(size_t rows, size_t nnz, const int64_t *indices)
{
    if (brk.row >= 0)
        return (size_t)brk.row;
    if (brk.named)
        return (size_t)indices[nnz / 2];
    for (size_t r = 0; r < rows; r++) {
        size_t i = 0;
        while (i < nnz && (size_t)indices[i] != r)
            i++;
        if (i == nnz)
            return r;
    }
    return 0;
}

static void breaks(enum target at, int64_t step, size_t rows, size_t dim, float *p, float *m,
        float *v, size_t nnz, const int64_t *indices)
{
    if (brk.target != at || step != STEP || brk.done)
        return;
    float *s[3] = { p, m, v };
    bump(s[brk.state] + pick_row(rows, nnz, indices) * dim + dim / 2);
    brk.done = 1;
}

static lazyadam_status lazy(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *p, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values)
{
    if (brk.target == REFUSE && step == STEP)
        return LAZYADAM_E_INDEX;
    lazyadam_status st = lazyadam_lazy_step(cfg, step, rows, dim, p, m, v, vmax, nnz, indices,
            values);
    breaks(LAZY, step, rows, dim, p, m, v, nnz, indices);
    return st;
}

static lazyadam_status adam(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *p, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values)
{
    lazyadam_status st = lazyadam_adam_sparse_step(cfg, step, rows, dim, p, m, v, vmax, nnz,
            indices, values);
    breaks(ADAM, step, rows, dim, p, m, v, nnz, indices);
    return st;
}

static lazyadam_status flush(const lazyadam_config *cfg, int64_t step, size_t rows,
        size_t dim, float *p, float *m, float *v, float *vmax, int64_t *last)
{
    lazyadam_status st = lazyadam_exact_flush(cfg, step, rows, dim, p, m, v, vmax, last);
    breaks(FLUSH, step, rows, dim, p, m, v, 0, NULL);
    return st;
}

static const divergence_ops standins = { lazy, adam, lazyadam_exact_lazy_step, flush };

/* Runs scenario sc with the break set up as given; expects exactly the checks marked
 * in `want` (proof, lazy, exact, refused) to count failures. */
static void expect(int sc, enum target target, int state, int named, long row,
        uint64_t seed, int want_proof, int want_lazy, int want_exact, int want_refused,
        const char *what)
{
    brk.target = target;
    brk.state = state;
    brk.named = named;
    brk.row = row;
    brk.done = 0;
    tally inner = { 0, 0, 0 };
    divergence_result r;
    printf("-- %s, %s: the study's report follows, where its FINDING and FAIL lines are "
            "expected from every check that must see the break\n", what,
            divergence_scenario_names[sc]);
    divergence_scenario(&standins, sc, 1, seed, &inner, NULL, &r);
    int ok = (target == NONE || target == REFUSE || brk.done)
          && (r.proof > 0) == want_proof && (r.lazy > 0) == want_lazy
          && (r.exact > 0) == want_exact && (r.refused > 0) == want_refused && r.closed == 0
          && (inner.failed > 0) == (want_proof || want_lazy || want_exact || want_refused);
    tally_case(&T, ok, "%s, %s: proof %ld, lazy %ld, exact %ld, refused %ld, closed forms %ld "
            "failures (want proof %s, lazy %s, exact %s, refused %s, closed forms none)", what,
            divergence_scenario_names[sc], r.proof, r.lazy, r.exact, r.refused, r.closed,
            want_proof ? "some" : "none", want_lazy ? "some" : "none",
            want_exact ? "some" : "none", want_refused ? "some" : "none");
}

int main(void)
{
    uint64_t seed = harness_seed("test_divergence");
    static const char *const states[3] = { "p", "m", "v" };
    char what[96];

    for (int sc = 0; sc < DIVERGENCE_SCENARIOS; sc++)
        expect(sc, NONE, 0, 0, -1, seed, 0, 0, 0, 0, "the library");
    for (int st = 0; st < 3; st++)
        for (int named = 0; named <= 1; named++) {
            snprintf(what, sizeof what, "Adam's %s one ulp off in a row the step %s", states[st],
                    named ? "names" : "does not name");
            expect(DIVERGENCE_UNIFORM, ADAM, st, named, -1, seed, 1, 0, 1, 0, what);
        }
    for (int st = 0; st < 3; st++) {
        snprintf(what, sizeof what, "exact LazyAdam's %s one ulp off after a flush", states[st]);
        expect(DIVERGENCE_UNIFORM, FLUSH, st, 0, 3, seed, 0, 0, 1, 0, what);
        snprintf(what, sizeof what, "LazyAdam's %s one ulp off in a row named at every step",
                states[st]);
        expect(DIVERGENCE_IDLE_RETURN, LAZY, st, 0, 7, seed, 0, 1, 0, 0, what);
    }
    expect(DIVERGENCE_UNIFORM, REFUSE, 0, 0, -1, seed, 0, 0, 0, 1, "lazy_step refusing a step");
    return tally_finish(&T);
}
