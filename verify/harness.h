/* Shared test scaffolding: seeded generator, guarded buffers, bitwise comparison with
 * ULP reports, the configuration variants, and pass/fail/skip counting. */
#ifndef LAZYADAM_HARNESS_H
#define LAZYADAM_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "lazyadam.h"

/* splitmix64: small, fast, and the same sequence on every platform. */
typedef struct rng { uint64_t s; } rng;
uint64_t rng_u64(rng *r);
uint64_t rng_below(rng *r, uint64_t n);            /* uniform in [0, n) */
float rng_uniform(rng *r, float lo, float hi);
float rng_normal(rng *r);                           /* approximately N(0, 1) */

/* The run's seed: $LAZYADAM_TEST_SEED if set, else from the clock; printed once with
 * the command line that reproduces it. */
uint64_t harness_seed(const char *test_name);

/* A float buffer of n elements with 64-byte canaries on both sides, placed `offset`
 * floats past a 64-byte boundary (so tests cover every alignment). */
typedef struct gbuf {
    unsigned char *base;
    float *p;
    size_t n;
    size_t front;        /* bytes before p */
} gbuf;
gbuf gbuf_new(size_t n, size_t offset);
void gbuf_free(gbuf *b);
int gbuf_guards_ok(const gbuf *b);                  /* 1 when both canaries are intact */

/* Order-preserving distance in units in the last place: 0 only for the same bits (NaN vs
 * NaN of other bits: UINT64_MAX; +0 vs -0: 1). */
uint64_t ulp_distance(float a, float b);
/* Compares got with want element by element. tol_ulp 0 means bitwise. Prints the first
 * few mismatches (index, expected, got, ULP distance) under `what`; returns the number of
 * mismatches. *max_ulp (may be NULL) receives the largest distance seen. */
size_t compare_floats(const char *what, const float *want, const float *got, size_t n,
        uint64_t tol_ulp, uint64_t *max_ulp);

/* The configuration variants every suite runs: both eps modes, L2, AdamW, AMSGrad,
 * maximize and combinations, plus edge hyper-parameters. */
typedef struct config_variant {
    const char *name;
    lazyadam_config cfg;
} config_variant;
size_t config_variants(const config_variant **out);

/* Counting, and the closing line "N passed, N failed, N skipped". */
typedef struct tally { long passed, failed, skipped; } tally;
void tally_case(tally *t, int ok, const char *fmt, ...);   /* prints only failures */
void tally_skip(tally *t, const char *fmt, ...);          /* always prints the reason */
int tally_finish(const tally *t);                          /* exit status */

#ifdef _OPENMP
#include <omp.h>
#include <stdio.h>
/* Whether the caller's OpenMP thread count is still `before`, as every library call must
 * leave it (printed when not). Only for tests built with OpenMP. */
static inline int omp_unchanged(int before)
{
    int now = omp_get_max_threads();
    if (now != before)
        printf("    omp_get_max_threads() was %d before the call, %d after\n", before, now);
    return now == before;
}
#endif

/* The backends this suite compares with the reference; an unavailable one is reported
 * skipped with its reason. Returns the number written into out (at most 4). */
size_t test_backends(tally *t, lazyadam_backend out[4]);

/* The largest distance, in ULP, a backend may be from the contract in one step: 0 (bitwise)
 * for scalar, AVX2 and AVX-512; 8 for oneDNN, which composes oneDNN primitives. */
uint64_t backend_tolerance(lazyadam_backend b);

/* The tolerance of the backend under test, and the largest distance seen for it, which
 * compare_state() below uses and updates; harness_report_ulp() prints it. */
extern uint64_t current_tol, current_max_ulp;
void harness_begin_backend(lazyadam_backend b);
void harness_report_ulp(lazyadam_backend b);
/* compare_floats with the current backend's tolerance, recording its distance. */
size_t compare_state(const char *what, const float *want, const float *got, size_t n);

/* Fills x[0..n) with a gradient-like, moment-like or parameter-like distribution. */
void fill_normal(rng *r, float *x, size_t n, float scale);
void fill_positive(rng *r, float *x, size_t n, float scale);

/* One tensor or table under test: guarded library buffers (x is vmax) and the
 * reference's copies of p, m, v and x. init fills p, m, v and x and leaves g to the test;
 * check compares the library's state with the reference's (vmax too when ams) and returns
 * 1 when bitwise equal within the current backend's tolerance and every guard is intact. */
typedef struct dense_state {
    size_t n;
    gbuf p, g, m, v, x;
    float *rp, *rm, *rv, *rx;
} dense_state;
void dense_state_init(dense_state *s, rng *r, size_t n, size_t offset);
/* The same with each buffer's offset given (p, g, m, v, x); without with_grad, g holds no
 * elements (a table updated from sparse values has no dense gradient). */
void dense_state_init_at(dense_state *s, rng *r, size_t n, const size_t offset[5], int with_grad);
void dense_state_free(dense_state *s);
/* The reference's copies take the library buffers' p, m, v and x, after a test has
 * written its own values into them. */
void dense_state_sync(dense_state *s);
/* Refills the state (g too where it has one) for the subnormal path of the vector
 * kernels (lib/kernels/subnormal.h): blocks of 16 elements, most with a zero gradient
 * and an m that is subnormal (a few units of 2^-149, as a row stuck for good, or any),
 * some with v subnormal too (up to 600 units, as stuck for good, or any) and vmax now
 * and then -0, some with m, g, v, vmax or p mixed among zeros of either sign,
 * subnormals, tiny and ordinary normals; the reference's copies follow. */
void dense_state_fill_subnormal(dense_state *s, rng *r);
int dense_state_check(const dense_state *s, int ams);
/* adam_step_multi on the state's n elements cut into four tensors of about n / 4, named
 * last quarter first: four pieces, each but the last run with the next one named to its
 * kernel (lib/dense.c), so that the vector kernels' hand-over loop (the last lines of a
 * piece, vec_kernel.h's adam_loop) meets the same values as the rest of the loop. The
 * result is adam_step's on the whole state, which the reference's copies check. */
lazyadam_status dense_state_step_quarters(const lazyadam_config *cfg, int64_t step,
        dense_state *s);

#endif
