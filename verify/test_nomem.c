/* Scratch allocation failure (injected through lib/testing.h), on every backend this CPU
 * runs: each entry point is called with its 1st, 2nd, ... allocation failing until a call
 * makes fewer allocations than the one set to fail. A call whose allocation failed returns
 * E_NOMEM with every buffer unchanged, or, where the failure is one the call can do
 * without, OK with the same result as a call with no failure; the last call, untouched by
 * the injection, must give that result too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testing.h"

#define ROWS 64
#define DIM 16
#define NNZ 40
#define NBUF (6 * ROWS * DIM)
#define MAX_NTH 32   /* more allocations than any call makes */

enum { F_DENSE, F_MULTI, F_MULTI_BACK, F_LAZY, F_SPARSE, F_EXACT, F_FLUSH, NFN };
static const char *const names[NFN] = { "adam_step", "adam_step_multi",
                                        "adam_step_multi, tensors in descending order",
                                        "lazy_step", "adam_sparse_step", "exact_lazy_step",
                                        "exact_flush" };

typedef struct state {
    float buf[NBUF];
    int64_t last[ROWS];
} state;

static lazyadam_status call(int f, const lazyadam_config *c, state *s, const int64_t *idx)
{
    const size_t n = ROWS * DIM;
    float *p = s->buf, *m = p + n, *v = p + 2 * n, *x = p + 3 * n, *val = p + 4 * n;
    lazyadam_tensor ts[2] = { { 100, p, val, m, v, x },
                              { 200, p + 200, val + 200, m + 200, v + 200, x + 200 } };
    switch (f) {
    case F_DENSE: return lazyadam_adam_step(c, 1, n, p, val, m, v, x);
    case F_MULTI: return lazyadam_adam_step_multi(c, 1, 2, ts);
    case F_MULTI_BACK: {   /* not a layout the check without a list takes: it lists them */
        lazyadam_tensor back[2] = { ts[1], ts[0] };
        return lazyadam_adam_step_multi(c, 1, 2, back);
    }
    case F_LAZY: return lazyadam_lazy_step(c, 1, ROWS, DIM, p, m, v, x, NNZ, idx, val);
    case F_SPARSE: return lazyadam_adam_sparse_step(c, 1, ROWS, DIM, p, m, v, x, NNZ, idx, val);
    case F_EXACT:
        return lazyadam_exact_lazy_step(c, 5, ROWS, DIM, p, m, v, x, s->last, NNZ, idx, val);
    default: return lazyadam_exact_flush(c, 5, ROWS, DIM, p, m, v, x, s->last);
    }
}

static int same(const state *a, const state *b)
{
    return !memcmp(a->buf, b->buf, sizeof a->buf) && !memcmp(a->last, b->last, sizeof a->last);
}

int main(void)
{
    rng r = { harness_seed("test_nomem") };
    tally t = { 0, 0, 0 };
    state *start = malloc(sizeof *start), *want = malloc(sizeof *want),
          *got = malloc(sizeof *got);
    int64_t idx[NNZ];
    fill_positive(&r, start->buf, NBUF, 1.0f);
    for (size_t i = 0; i < NNZ; i++)
        idx[i] = (int64_t)rng_below(&r, ROWS);
    for (size_t i = 0; i < ROWS; i++)
        start->last[i] = (int64_t)rng_below(&r, 3);
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    for (size_t b = 0; b < nb; b++)
        for (int f = 0; f < NFN; f++) {
            lazyadam_config c = lazyadam_default_config();
            c.flags = LAZYADAM_AMSGRAD;
            c.backend = bes[b];
            const char *be = lazyadam_backend_name(bes[b]);
            *want = *start;
            lazyadam_status st = call(f, &c, want, idx);
            tally_case(&t, st == LAZYADAM_OK, "%s on %s without a failure: %s", names[f], be,
                    lazyadam_status_string(st));
            int nomem = 0;
            long nth = 1;
            for (; nth <= MAX_NTH; nth++) {
                *got = *start;
                lazyadam_testing_fail_alloc(nth);
                st = call(f, &c, got, idx);
                int failed = lazyadam_testing_fail_alloc(0) == 0;
                if (!failed) {   /* fewer than nth allocations: an ordinary call */
                    tally_case(&t, st == LAZYADAM_OK && same(got, want), "%s on %s, "
                            "allocation #%ld not reached: %s, result %s", names[f], be, nth,
                            lazyadam_status_string(st), same(got, want) ? "exact" : "differs");
                    break;
                }
                nomem += st == LAZYADAM_E_NOMEM;
                int ok = st == LAZYADAM_E_NOMEM ? same(got, start)
                       : st == LAZYADAM_OK && same(got, want);
                tally_case(&t, ok, "%s on %s with allocation #%ld failing: %s, buffers %s",
                        names[f], be, nth, lazyadam_status_string(st),
                        same(got, start) ? "unchanged" : same(got, want) ? "updated exactly"
                                                                        : "corrupted");
            }
            tally_case(&t, nth <= MAX_NTH, "%s on %s makes fewer than %d allocations",
                    names[f], be, MAX_NTH);
            printf("%s on %s: %ld allocation(s), %d failure(s) gave E_NOMEM\n", names[f], be,
                    nth - 1, nomem);
        }
    free(start);
    free(want);
    free(got);
    return tally_finish(&t);
}
