/* lazyadam_adam_step and lazyadam_adam_step_multi, bitwise against reference/, for
 * every backend this CPU runs, every configuration variant, sizes that straddle the
 * vector tiles, every alignment, and several thread counts; guard zones around every
 * buffer catch writes past the end, and every call must leave the caller's OpenMP
 * thread count (omp_get_max_threads) as it found it. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reference.h"

static const size_t sizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 100003 };
static const int thread_counts[] = { 1, 2, 3, 7 };
static const int64_t steps[] = { 1, 2, 1000 };

static void dense_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (size_t ti = 0; ti < sizeof thread_counts / sizeof thread_counts[0]; ti++) {
                lazyadam_config cfg = cv[c].cfg;
                cfg.backend = be;
                cfg.num_threads = thread_counts[ti];
                int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
                size_t n = sizes[si], offset = rng_below(r, 16);
                dense_state s;
                dense_state_init(&s, r, n, offset);
                int ok = 1;
                for (size_t k = 0; k < sizeof steps / sizeof steps[0] && ok; k++) {
                    fill_normal(r, s.g.p, n, 0.1f);
                    int omp0 = omp_get_max_threads();
                    lazyadam_status st = lazyadam_adam_step(&cfg, steps[k], n, s.p.p, s.g.p,
                            s.m.p, s.v.p, ams ? s.x.p : NULL);
                    ref_adam_step(&cfg, steps[k], n, s.rp, s.g.p, s.rm, s.rv, s.rx);
                    ok = st == LAZYADAM_OK && dense_state_check(&s, ams)
                      && omp_unchanged(omp0);
                    if (st != LAZYADAM_OK)
                        printf("    status %s\n", lazyadam_status_string(st));
                }
                tally_case(t, ok, "adam_step backend=%s config=%s n=%zu threads=%d offset=%zu",
                        lazyadam_backend_name(be), cv[c].name, n, cfg.num_threads, offset);
                dense_state_free(&s);
            }
}

/* Subnormal moments (lib/kernels/subnormal.h's path, and the float path where it
 * declines), three steps with one gradient, mostly zero: bitwise against the reference.
 * Through adam_step, and through adam_step_multi on the state in quarters, last first. */
static void subnormal_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (int threads = 1; threads <= 2; threads++)
        for (int multi = 0; multi < 2; multi++) {
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = threads;
            int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
            size_t n = 4099, offset = rng_below(r, 16);
            dense_state s;
            dense_state_init(&s, r, n, offset);
            dense_state_fill_subnormal(&s, r);
            int ok = 1;
            for (int64_t step = 1000; step < 1003 && ok; step++) {
                lazyadam_status st = multi ? dense_state_step_quarters(&cfg, step, &s)
                        : lazyadam_adam_step(&cfg, step, n, s.p.p, s.g.p, s.m.p, s.v.p,
                                ams ? s.x.p : NULL);
                ref_adam_step(&cfg, step, n, s.rp, s.g.p, s.rm, s.rv, s.rx);
                ok = st == LAZYADAM_OK && dense_state_check(&s, ams);
            }
            tally_case(t, ok, "%s subnormal moments backend=%s config=%s threads=%d "
                    "offset=%zu", multi ? "adam_step_multi (quarters, last first)" : "adam_step",
                    lazyadam_backend_name(be), cv[c].name, threads, offset);
            dense_state_free(&s);
        }
}

/* Many tensors in one call against one reference step per tensor. */
static void multi_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (size_t ti = 0; ti < sizeof thread_counts / sizeof thread_counts[0]; ti++)
            for (int rep = 0; rep < 3; rep++) {
                lazyadam_config cfg = cv[c].cfg;
                cfg.backend = be;
                cfg.num_threads = thread_counts[ti];
                int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
                size_t count = rep == 0 ? 0 : 1 + rng_below(r, rep == 1 ? 8 : 60);
                dense_state *s = calloc(count + 1, sizeof *s);
                lazyadam_tensor *ts = calloc(count + 1, sizeof *ts);
                for (size_t i = 0; i < count; i++) {
                    /* Mostly small tensors, a few large, some empty: balance by elements. */
                    size_t n = rng_below(r, 10) == 0 ? 20000 + rng_below(r, 50000)
                                                     : sizes[rng_below(r, 11)];
                    dense_state_init(&s[i], r, n, rng_below(r, 16));
                    fill_normal(r, s[i].g.p, n, 0.1f);
                    ts[i] = (lazyadam_tensor){ n, s[i].p.p, s[i].g.p, s[i].m.p, s[i].v.p,
                                               ams ? s[i].x.p : NULL };
                }
                int64_t step = 1 + (int64_t)rng_below(r, 100);
                int omp0 = omp_get_max_threads();
                lazyadam_status st = lazyadam_adam_step_multi(&cfg, step, count, ts);
                int ok = st == LAZYADAM_OK && omp_unchanged(omp0);
                for (size_t i = 0; i < count; i++) {
                    ref_adam_step(&cfg, step, s[i].n, s[i].rp, s[i].g.p, s[i].rm, s[i].rv,
                            s[i].rx);
                    ok = dense_state_check(&s[i], ams) && ok;
                    dense_state_free(&s[i]);
                }
                tally_case(t, ok, "adam_step_multi backend=%s config=%s count=%zu threads=%d",
                        lazyadam_backend_name(be), cv[c].name, count, cfg.num_threads);
                free(s);
                free(ts);
            }
}

/* count tensors of n[i] elements cut from shared buffers, as a trainer's flattened
 * parameters and moments are: each buffer kind (param, grad, m, v, vmax) lays the tensors
 * end to end, with a hole after some of them (after every one with `apart`) that the other
 * kinds need not have, and empty tensors (all NULL) among them. The library runs tensors
 * that continue each other in every buffer as one piece (lib/dense.c); the holes must
 * stay untouched and every tensor must get its own gradient, which one reference step
 * per tensor on the same slices checks. */
static int laid_out_case(rng *r, const lazyadam_config *cfg, size_t count, const size_t *n,
        int apart)
{
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    size_t *at = calloc(5 * count, sizeof *at);
    size_t end[5] = { 0, 0, 0, 0, 0 };
    for (size_t i = 0; i < count; i++)
        for (int k = 0; k < 5; k++) {
            at[5 * i + k] = end[k];
            end[k] += n[i] + (apart || rng_below(r, 4) == 0 ? 1 + rng_below(r, 17) : 0);
        }
    size_t len = 0;
    for (int k = 0; k < 5; k++)
        len = end[k] > len ? end[k] : len;
    dense_state s;
    dense_state_init(&s, r, len, rng_below(r, 16));
    fill_normal(r, s.g.p, len, 0.1f);
    lazyadam_tensor *ts = calloc(count, sizeof *ts);
    for (size_t i = 0; i < count; i++) {
        const size_t *a = &at[5 * i];
        if (n[i])
            ts[i] = (lazyadam_tensor){ n[i], s.p.p + a[0], s.g.p + a[1], s.m.p + a[2],
                                       s.v.p + a[3], ams ? s.x.p + a[4] : NULL };
    }
    int64_t step = 1 + (int64_t)rng_below(r, 100);
    int omp0 = omp_get_max_threads();
    lazyadam_status st = lazyadam_adam_step_multi(cfg, step, count, ts);
    for (size_t i = 0; i < count; i++) {
        const size_t *a = &at[5 * i];
        ref_adam_step(cfg, step, n[i], s.rp + a[0], s.g.p + a[1], s.rm + a[2], s.rv + a[3],
                ams ? s.rx + a[4] : NULL);
    }
    int ok = st == LAZYADAM_OK && omp_unchanged(omp0) && dense_state_check(&s, ams);
    dense_state_free(&s);
    free(ts);
    free(at);
    return ok;
}

static void flat_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (size_t ti = 0; ti < sizeof thread_counts / sizeof thread_counts[0]; ti++) {
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = thread_counts[ti];
            size_t count = 1 + rng_below(r, 40), total = 0;
            size_t *n = calloc(count, sizeof *n);
            for (size_t i = 0; i < count; i++) {
                n[i] = rng_below(r, 8) == 0 ? 0 : rng_below(r, 12) == 0 ? 20000 + rng_below(r, 30000)
                                                                        : sizes[rng_below(r, 11)];
                total += n[i];
            }
            int ok = laid_out_case(r, &cfg, count, n, 0);
            tally_case(t, ok, "adam_step_multi flat backend=%s config=%s count=%zu elements=%zu threads=%d",
                    lazyadam_backend_name(be), cv[c].name, count, total, cfg.num_threads);
            free(n);
        }
}

/* Many short tensors, each apart from the next in every buffer: the oneDNN backend
 * stages such pieces into blocks of 2^18 elements, at most 4,096 pieces a block, and
 * copies them in and out on two threads (lib/dense.c). 5,000 tensors of up to 40
 * elements fill a stage by count, 300 of 900 to 1,500 by size, and a few of a block or
 * more (and empty ones) run around the stage. */
static void stage_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    static const struct { size_t count, lo, span; } shapes[] = {
        { 5000, 1, 40 }, { 300, 900, 601 },
    };
    for (size_t c = 0; c < nv; c++) {   /* the two shapes by turns, AMSGrad in both */
        size_t sh = c % (sizeof shapes / sizeof shapes[0]);
        lazyadam_config cfg = cv[c].cfg;
        cfg.backend = be;
        cfg.num_threads = 2;
        size_t count = shapes[sh].count, total = 0;
        size_t *n = calloc(count, sizeof *n);
        for (size_t i = 0; i < count; i++) {   /* about two empty and two of a block */
            size_t pick = rng_below(r, count / 2);
            n[i] = pick == 0 ? 0 : pick == 1 ? ((size_t)1 << 18) + rng_below(r, 3)
                 : shapes[sh].lo + rng_below(r, shapes[sh].span);
            total += n[i];
        }
        int ok = laid_out_case(r, &cfg, count, n, 1);
        tally_case(t, ok, "adam_step_multi apart backend=%s config=%s count=%zu elements=%zu",
                lazyadam_backend_name(be), cv[c].name, count, total);
        free(n);
    }
}

int main(void)
{
    rng r = { harness_seed("test_dense") };
    tally t = { 0, 0, 0 };
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    for (size_t b = 0; b < nb; b++) {
        harness_begin_backend(bes[b]);
        dense_cases(&t, &r, bes[b]);
        subnormal_cases(&t, &r, bes[b]);
        multi_cases(&t, &r, bes[b]);
        flat_cases(&t, &r, bes[b]);
        stage_cases(&t, &r, bes[b]);
        harness_report_ulp(bes[b]);
    }
    return tally_finish(&t);
}
