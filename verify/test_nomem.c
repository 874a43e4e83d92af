/* Scratch allocation failure (injected through lib/testing.h) returns E_NOMEM from
 * every entry point that allocates, with every buffer unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testing.h"

#define ROWS 64
#define DIM 16
#define NNZ 40

int main(void)
{
    rng r = { harness_seed("test_nomem") };
    tally t = { 0, 0, 0 };
    size_t n = ROWS * DIM;
    float *buf = malloc(6 * n * sizeof *buf), *snap = malloc(6 * n * sizeof *buf);
    float *p = buf, *m = buf + n, *v = buf + 2 * n, *x = buf + 3 * n, *val = buf + 4 * n;
    int64_t idx[NNZ], last[ROWS], last_snap[ROWS];
    fill_positive(&r, buf, 6 * n, 1.0f);
    for (size_t i = 0; i < NNZ; i++)
        idx[i] = (int64_t)rng_below(&r, ROWS);
    for (size_t i = 0; i < ROWS; i++)
        last[i] = (int64_t)rng_below(&r, 3);
    memcpy(snap, buf, 6 * n * sizeof *buf);
    memcpy(last_snap, last, sizeof last);
    lazyadam_config c = lazyadam_default_config();
    c.flags = LAZYADAM_AMSGRAD;
    lazyadam_tensor ts[2] = { { 100, p, val, m, v, x }, { 200, p + 200, val + 200, m + 200, v + 200, x + 200 } };

    for (long nth = 1; nth <= 2; nth++) {
        const char *names[5] = { "adam_step_multi", "lazy_step", "adam_sparse_step",
                                 "exact_lazy_step", "exact_flush" };
        for (int f = 0; f < 5; f++) {
            lazyadam_testing_fail_alloc(nth);
            lazyadam_status st;
            switch (f) {
            case 0: st = lazyadam_adam_step_multi(&c, 1, 2, ts); break;
            case 1: st = lazyadam_lazy_step(&c, 1, ROWS, DIM, p, m, v, x, NNZ, idx, val); break;
            case 2: st = lazyadam_adam_sparse_step(&c, 1, ROWS, DIM, p, m, v, x, NNZ, idx, val); break;
            case 3: st = lazyadam_exact_lazy_step(&c, 5, ROWS, DIM, p, m, v, x, last, NNZ, idx, val); break;
            default: st = lazyadam_exact_flush(&c, 5, ROWS, DIM, p, m, v, x, last); break;
            }
            lazyadam_testing_fail_alloc(0);
            int unchanged = !memcmp(buf, snap, 6 * n * sizeof *buf) && !memcmp(last, last_snap, sizeof last);
            /* The first allocation of every call fails; only exact_lazy_step makes a second. */
            int want_nomem = nth == 1 || f == 3;
            int ok = want_nomem ? (st == LAZYADAM_E_NOMEM && unchanged) : st == LAZYADAM_OK;
            tally_case(&t, ok, "%s with allocation #%ld failing: %s%s", names[f], nth,
                    lazyadam_status_string(st), unchanged ? "" : " (buffers changed)");
            if (!want_nomem) {   /* restore for the next call */
                memcpy(buf, snap, 6 * n * sizeof *buf);
                memcpy(last, last_snap, sizeof last);
            }
        }
    }
    free(buf);
    free(snap);
    return tally_finish(&t);
}
