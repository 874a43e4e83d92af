/* Fork-lag balancing (lib/balance.c) and the tilted split it drives (lib/parallel.c):
 * - every (n, lead, T, shift) split covers [0, n) exactly once, in thread order, cut on
 *   64-byte lines of the written buffer, and shift 0 is the even split;
 * - adam_step and adam_step_multi stay bitwise equal to reference/ at forced extreme
 *   shifts, for every backend and several thread counts;
 * - the learned shifts stay within their limits over many calls, and LAZYADAM_BALANCE=off
 *   turns balancing off;
 * - against a simulated clock, the learner walks to the fastest shift (or its limit) and
 *   stays there, through jitter and stalls, also when it learns in one window of calls
 *   in eight, as the library has it, and then times about one call in eight;
 * - against a simulated clock, a class takes the faster of the team and the caller alone,
 *   follows a change of the faster one, does not flap where they tie, and spends few
 *   calls trying the slower one; so does a dense call the static rule keeps on the
 *   caller, from 2^13 elements, with a team of two;
 * - under the library's duty a trial, once begun, runs its calls one after another;
 * - the same for lazy_step, exact_lazy_step and adam_sparse_step, per class, either way
 *   from the static rule's choice, bitwise all along;
 * - exact LazyAdam's rule sizes the team by the steps it replays. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "reference.h"
#include "testing.h"

/* The split before balancing existed: an even share of chunks, the first `rem` threads
 * one more. */
static void even_split(size_t n, size_t lead, int t, int T, size_t *lo, size_t *hi)
{
    size_t first = lead ? lead : 16;
    size_t nchunks = n <= first ? 1 : 1 + (n - first + 15) / 16;
    size_t base = nchunks / (size_t)T, rem = nchunks % (size_t)T, ut = (size_t)t;
    size_t c0 = ut * base + (ut < rem ? ut : rem), c1 = c0 + base + (ut < rem ? 1 : 0);
    size_t s0 = c0 == 0 ? 0 : first + 16 * (c0 - 1), s1 = c1 == 0 ? 0 : first + 16 * (c1 - 1);
    *lo = s0 < n ? s0 : n;
    *hi = c1 >= nchunks || s1 > n ? n : s1;
}

static void split_cases(tally *t, rng *r)
{
    static const int32_t fixed[] = { 0, 1, -1, 7, -7, INT32_MAX, INT32_MIN, 1 << 20, -(1 << 20) };
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = iter % 4 == 0 ? rng_below(r, 40) : rng_below(r, 200000);
        size_t lead = rng_below(r, 16);
        int T = 1 + (int)rng_below(r, 9);
        int32_t shift = iter % 3 == 0 ? fixed[rng_below(r, sizeof fixed / sizeof fixed[0])]
                                      : (int32_t)rng_below(r, 4001) - 2000;
        size_t next = 0;
        int ok = 1;
        for (int k = 0; k < T && ok; k++) {
            size_t lo, hi;
            lazyadam_split(n, lead, k, T, shift, &lo, &hi);
            /* contiguous, in order, inside [0, n], cut on lead + 16j */
            ok = lo == next && hi >= lo && hi <= n;
            if (ok && hi != n && hi != 0)
                ok = hi >= (lead ? lead : 16) && (hi - (lead ? lead : 16)) % 16 == 0;
            if (ok && shift == 0) {
                size_t elo, ehi;
                even_split(n, lead, k, T, &elo, &ehi);
                ok = elo == lo && ehi == hi;
            }
            next = hi;
        }
        ok = ok && next == n;
        tally_case(t, ok, "split n=%zu lead=%zu T=%d shift=%d", n, lead, T, (int)shift);
    }
}

/* One dense step of n elements (and a multi step over the same state cut in pieces) at
 * a forced shift, against the reference. */
static int dense_at_shift(rng *r, lazyadam_backend be, const lazyadam_config *base, int T,
        size_t n, int32_t shift, int multi)
{
    lazyadam_config cfg = *base;
    cfg.backend = be;
    cfg.num_threads = T;
    int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
    dense_state d;
    dense_state_init(&d, r, n, rng_below(r, 16));
    fill_normal(r, d.g.p, n, 0.1f);
    int64_t step = 1 + (int64_t)rng_below(r, 50);

    lazyadam_testing_force_shift(1, shift);
    lazyadam_status st;
    if (multi) {
        /* three tensors laid over the buffers: the split runs over their concatenation */
        size_t a = n / 3, b = n / 2;
        float *xs = ams ? d.x.p : NULL;
        lazyadam_tensor ts[3] = {
            { a, d.p.p, d.g.p, d.m.p, d.v.p, xs },
            { b - a, d.p.p + a, d.g.p + a, d.m.p + a, d.v.p + a, xs ? xs + a : NULL },
            { n - b, d.p.p + b, d.g.p + b, d.m.p + b, d.v.p + b, xs ? xs + b : NULL },
        };
        st = lazyadam_adam_step_multi(&cfg, step, 3, ts);
    } else {
        st = lazyadam_adam_step(&cfg, step, n, d.p.p, d.g.p, d.m.p, d.v.p, ams ? d.x.p : NULL);
    }
    lazyadam_testing_force_shift(0, 0);
    ref_adam_step(&cfg, step, n, d.rp, d.g.p, d.rm, d.rv, d.rx);
    int ok = st == LAZYADAM_OK && dense_state_check(&d, ams);
    dense_state_free(&d);
    return ok;
}

static void forced_cases(tally *t, rng *r, lazyadam_backend be)
{
    static const int T_list[] = { 2, 3, 7 };
    static const size_t n_list[] = { 16384 * 2 + 5, 16384 * 3 + 17, 16384 * 8 };
    static const int32_t shifts[] = { INT32_MAX, INT32_MIN, 0, 33, -33 };
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (size_t ti = 0; ti < sizeof T_list / sizeof T_list[0]; ti++)
            for (size_t si = 0; si < sizeof shifts / sizeof shifts[0]; si++)
                for (int multi = 0; multi < 2; multi++) {
                    size_t n = n_list[rng_below(r, 3)];
                    int ok = dense_at_shift(r, be, &cv[c].cfg, T_list[ti], n, shifts[si], multi);
                    tally_case(t, ok, "%s backend=%s config=%s n=%zu threads=%d shift=%d",
                            multi ? "adam_step_multi" : "adam_step", lazyadam_backend_name(be),
                            cv[c].name, n, T_list[ti], (int)shifts[si]);
                }
}

/* Many learning calls, the reference stepped in lockstep: results stay bitwise the
 * reference's and the learned shift stays in bounds. */
static void learning_cases(tally *t, rng *r)
{
    const size_t n = 1u << 15;
    lazyadam_config cfg = lazyadam_default_config();
    cfg.num_threads = 2;
    float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
    float *rp = malloc(n * 4), *rm = calloc(n, 4), *rv = calloc(n, 4);
    fill_normal(r, p, n, 1.0f);
    memcpy(rp, p, n * 4);
    int ok = 1;
    for (int64_t step = 1; step <= 3000 && ok; step++) {
        fill_normal(r, g, 64, 0.1f);   /* a cheap change of gradient every step */
        ok = lazyadam_adam_step(&cfg, step, n, p, g, m, v, NULL) == LAZYADAM_OK;
        ref_adam_step(&cfg, step, n, rp, g, rm, rv, NULL);
    }
    size_t bad = compare_state("param", rp, p, n) + compare_state("m", rm, m, n)
               + compare_state("v", rv, v, n);
    int32_t learned = lazyadam_balance_shift(n, 2);
    int32_t limit = (int32_t)(n / 16 / 2 / 2);
    printf("  learned shift for %zu elements on 2 threads after 3000 steps: %d chunks "
           "(balancing %s)\n", n, (int)learned, lazyadam_balance_enabled() ? "on" : "off");
    tally_case(t, ok && bad == 0 && learned >= -limit && learned <= limit,
            "3000 learning steps of %zu elements on 2 threads: bitwise, shift %d within +-%d",
            n, (int)learned, (int)limit);
    if (!lazyadam_balance_enabled())
        tally_case(t, learned == 0, "balancing off: nothing learned (shift %d)", (int)learned);
    free(p); free(g); free(m); free(v); free(rp); free(rm); free(rv);
}

/* The learner against a simulated clock: each call "takes" a cost that is least at a
 * target shift and grows by `slope` ticks a chunk away from it, plus seeded jitter and, in
 * one call of 50, a 100,000-tick stall (a preemption). The shift must walk to the target
 * and stay within a step of it, and stop at its limit when the target is beyond it. */
static struct {
    rng r;
    uint32_t now;
    int32_t target;
    uint32_t slope, jitter;
    int calls;
} sim;

static uint32_t sim_clock(int threads, int32_t shift, int end)
{
    if (end && threads == 1) {   /* the caller alone: slower than any split, never chosen */
        sim.now += 1000000u + (uint32_t)rng_below(&sim.r, 20);
    } else if (end) {
        int64_t off = (int64_t)shift - sim.target;
        sim.now += 6000u + sim.slope * (uint32_t)(off < 0 ? -off : off)
                 + (uint32_t)rng_below(&sim.r, sim.jitter)
                 + (++sim.calls % 50 == 0 ? 100000u : 0u);
    }
    return sim.now;
}

static void learner_cases(tally *t, rng *r)
{
    /* 2^16 elements on 2 threads: 2,048 chunks a share, a step of 4, a limit of 1,024
     * (a class of its own: learning_cases uses 2^15) */
    const size_t n = 1u << 16;
    const int32_t step = 4, limit = 1024;
    lazyadam_config cfg = lazyadam_default_config();
    cfg.num_threads = 2;
    float *p = calloc(n, 4), *g = calloc(n, 4), *m = calloc(n, 4), *v = calloc(n, 4);
    sim.r.s = rng_below(r, UINT64_MAX);
    sim.slope = 9;
    sim.jitter = 20;
    lazyadam_testing_balance_clock(sim_clock);
    static const struct { int32_t target; int calls; } legs[] = {
        { 40, 1000 }, { -300, 3000 }, { 5000, 8000 }, { -5000, 12000 }, { 0, 6000 },
    };
    int64_t s = 1;
    for (size_t l = 0; l < sizeof legs / sizeof legs[0]; l++) {
        sim.target = legs[l].target;
        int ok = 1;
        for (int k = 0; k < legs[l].calls && ok; k++)
            ok = lazyadam_adam_step(&cfg, s++, n, p, g, m, v, NULL) == LAZYADAM_OK;
        int32_t got = lazyadam_balance_shift(n, 2);
        int32_t want = sim.target > limit ? limit : sim.target < -limit ? -limit : sim.target;
        if (!lazyadam_balance_enabled())
            want = 0;
        int32_t d = got > want ? got - want : want - got;
        printf("  simulated clock, best shift %d: learned %d after %d calls\n", (int)sim.target,
                (int)got, legs[l].calls);
        tally_case(t, ok && d <= step, "learner, simulated clock: best shift %d (limit %d), "
                "learned %d after %d calls (balancing %s)", (int)sim.target, (int)limit,
                (int)got, legs[l].calls, lazyadam_balance_enabled() ? "on" : "off");
    }
    /* A split that does not matter, under jitter of a third of the call: no pair of probes
     * says anything, so the shift must stay near the even split. A learner that only moves
     * where the signs point does a random walk here: over these 20,000 calls (1,250
     * decisions) it strayed 14-21 steps in three seeded runs. Stepping back toward even on
     * every undecided verdict kept it within 3-5 steps in twelve, and 10 in one run of
     * about twenty (seed 4767101756538013258): each verdict moves it away with odds of
     * 37 in 256, so its farthest excursion has a long tail (8 steps or more in about one
     * run of 1,000, in a simulation of the walk), while its mean distance from even
     * (0.25-0.49 steps in 20,000 simulated runs; 8.6 the median of the walk without the
     * step back, under 2 in 4 of 20,000) tells the two apart. */
    sim.slope = 0;
    sim.jitter = 2000;
    int ok = 1;
    int32_t farthest = 0;
    double total = 0;
    const int calls = 20000;
    for (int k = 0; k < calls && ok; k++) {
        ok = lazyadam_adam_step(&cfg, s++, n, p, g, m, v, NULL) == LAZYADAM_OK;
        int32_t got = lazyadam_balance_shift(n, 2);
        got = got < 0 ? -got : got;
        farthest = got > farthest ? got : farthest;
        total += got;
    }
    double mean = total / calls;
    printf("  simulated clock, the split does not matter: mean shift %.1f chunks, farthest %d, "
           "in %d calls\n", mean, (int)farthest, calls);
    tally_case(t, ok && mean < 2 * step, "learner, simulated clock, flat cost: mean shift "
            "%.1f chunks (farthest %d), want under %d", mean, (int)farthest, (int)(2 * step));

    /* The library's own duty (main runs these cases with every call learning): a class
     * learns in one window of 16 calls (8 probe pairs) in every 8 and runs its other calls
     * as learned, untimed. The shift must still walk to the best one, and the clock be
     * asked to time about one call in 8 (a trial of the caller alone, which this clock
     * makes slow, may add its calls to a window). */
    const int duty_calls = 4000, window = 16, duty = 8;
    lazyadam_testing_balance_duty(0);
    sim.slope = 9;
    sim.jitter = 20;
    sim.target = 60;
    int before = sim.calls;
    ok = 1;
    for (int k = 0; k < duty_calls && ok; k++)
        ok = lazyadam_adam_step(&cfg, s++, n, p, g, m, v, NULL) == LAZYADAM_OK;
    lazyadam_testing_balance_duty(1);
    int timed = sim.calls - before, on = lazyadam_balance_enabled();
    int32_t got = lazyadam_balance_shift(n, 2), want = on ? sim.target : 0;
    int32_t d = got > want ? got - want : want - got;
    int lo = on ? duty_calls / duty - window : 0, hi = on ? duty_calls / duty + 3 * window : 0;
    printf("  duty 1 in %d, simulated clock, best shift %d: learned %d after %d calls, "
           "%d of them timed\n", duty, (int)sim.target, (int)got, duty_calls, timed);
    tally_case(t, ok && d <= step && timed >= lo && timed <= hi, "learner in one window of "
            "%d calls in %d, simulated clock: best shift %d, learned %d after %d calls, %d "
            "timed (want %d to %d; balancing %s)", window, duty, (int)sim.target, (int)got,
            duty_calls, timed, lo, hi, on ? "on" : "off");
    lazyadam_testing_balance_clock(NULL);
    free(p); free(g); free(m); free(v);
}

/* Team or solo against a simulated clock: a team call costs `team` ticks (10,000 unless
 * a case says), a solo call `solo` ticks, each with seeded jitter of 5%; the first
 * `transient` calls after a change of mode (2 unless a case says) cost 8,000 more (the
 * state moving between the cores' caches), and one call of 50 stalls for 100,000. */
static struct {
    rng r;
    uint32_t now, solo, team, jitter;   /* a call's cost varies by up to cost / jitter */
    int last_threads, since_change, calls, transient;
    long solo_calls;
} ms;

static uint32_t mode_clock(int threads, int32_t shift, int end)
{
    (void)shift;
    if (!end)
        return ms.now;
    if (threads != ms.last_threads) {
        ms.last_threads = threads;
        ms.since_change = 0;
    }
    uint32_t cost = threads == 1 ? ms.solo : ms.team;
    cost += (uint32_t)rng_below(&ms.r, cost / ms.jitter + 1);
    if (ms.since_change++ < ms.transient)
        cost += 8000u;
    if (++ms.calls % 50 == 0)
        cost += 100000u;
    ms.solo_calls += threads == 1;
    ms.now += cost;
    return ms.now;
}

/* The mode clock afresh: a team call 10,000 ticks, jitter of 1/20, 2 calls slow after a
 * change of mode, the last call seen on `last_threads` threads; a case sets ms.solo. */
static void mode_clock_reset(rng *r, int last_threads)
{
    ms.r.s = rng_below(r, UINT64_MAX);
    ms.last_threads = last_threads;
    ms.team = 10000;
    ms.jitter = 20;
    ms.transient = 2;
}

static void mode_cases(tally *t, rng *r)
{
    /* 2^17 elements on 2 threads: a class of its own, below the learned range's end */
    const size_t n = 1u << 17;
    lazyadam_config cfg = lazyadam_default_config();
    cfg.num_threads = 2;
    float *p = calloc(n, 4), *g = calloc(n, 4), *m = calloc(n, 4), *v = calloc(n, 4);
    mode_clock_reset(r, 2);
    lazyadam_testing_balance_clock(mode_clock);
    /* A leg that changes the faster mode has calls enough for the slowest reaction: a
     * trial after the longest wait (4,096 calls) and its 8 calls. In a steady leg the
     * calls of its last 8,000 in the mode not chosen (the trials: 8 calls in 4,096, 0.2%)
     * may be at most 24. */
    static const struct { uint32_t solo; int want_solo, steady, calls; uint32_t jitter; } legs[] = {
        { 8000, 1, 0, 1000, 20 },     /* alone 20% faster: take it */
        { 14000, 0, 0, 9000, 20 },    /* the team 29% faster: back */
        { 10000, 0, 1, 9000, 20 },    /* a tie: stay */
        /* alone 1% faster, inside the 1/32 a switch must gain, with a quiet clock (costs
         * within 0.5%) so that every trial sees the gain: stay. A learner that switched on
         * any gain would leave here at its first trial; the noisy tie above lets it stay
         * by chance when its trials happen to favour the team. */
        { 9900, 0, 1, 9000, 200 },
        { 9000, 1, 0, 9000, 20 },     /* alone 10% faster */
        { 9000, 1, 1, 9000, 20 },     /* ... and stay, trying the team rarely */
    };
    int64_t s = 1;
    for (size_t l = 0; l < sizeof legs / sizeof legs[0]; l++) {
        ms.solo = legs[l].solo;
        ms.jitter = legs[l].jitter;
        int ok = 1;
        int window = legs[l].calls < 8000 ? legs[l].calls : 8000;
        long solo_before = 0;
        for (int k = 0; k < legs[l].calls && ok; k++) {
            if (k == legs[l].calls - window)
                solo_before = ms.solo_calls;
            ok = lazyadam_adam_step(&cfg, s++, n, p, g, m, v, NULL) == LAZYADAM_OK;
        }
        int on = lazyadam_balance_enabled(), want = on && legs[l].want_solo;
        int got = lazyadam_balance_solo(n, 2);
        long tail_solo = ms.solo_calls - solo_before;
        long other = want ? window - tail_solo : tail_solo;
        int rare = !legs[l].steady || other <= 24;
        printf("  simulated clock, solo %u vs team 10000 ticks (+0..1/%u): %s after %d calls, "
               "%ld of the last %d in the other mode\n", (unsigned)legs[l].solo,
               (unsigned)legs[l].jitter, got ? "solo" : "team", legs[l].calls, other, window);
        tally_case(t, ok && got == want && rare, "team or solo, simulated clock: solo %u "
                "vs team 10000 ticks: want %s, learned %s after %d calls, %ld of the last "
                "%d in the other mode (balancing %s)", (unsigned)legs[l].solo,
                want ? "solo" : "team", got ? "solo" : "team", legs[l].calls, other, window,
                on ? "on" : "off");
    }
    lazyadam_testing_balance_clock(NULL);
    free(p); free(g); free(m); free(v);
}

/* Dense calls the static rule keeps on the caller (under 2 x 16,384 elements) learn a team
 * of two from 2^13 elements, against the same simulated clock: 2^14 elements start alone
 * and stay there while it is faster, take the team where that is faster and come back;
 * 2^12 elements, and 2^14 with one thread asked, never fork, however fast the clock makes
 * the team; adam_step_multi's class is its total's. Every call bitwise the reference's, stepped in lockstep. */
static void dense_rule_solo_cases(tally *t, rng *r)
{
    const size_t most = 1u << 14;
    lazyadam_config cfg = lazyadam_default_config(), one = cfg;
    cfg.num_threads = 2;
    one.num_threads = 1;
    dense_state d;
    dense_state_init(&d, r, most, rng_below(r, 16));
    mode_clock_reset(r, 1);
    lazyadam_testing_balance_clock(mode_clock);
    int on = lazyadam_balance_enabled();
    /* want: 1 solo, 0 team; `other`: the most calls the leg may run in the other mode */
    static const struct {
        size_t n;
        int threads, multi;
        uint32_t solo;
        int want_solo, calls, other;
    } legs[] = {
        /* alone 20% faster: start alone and stay, trying the team in 4 trials of 8 calls
         * (a class starting on the team would run 64 calls there before its first) */
        { 1u << 14, 2, 0, 8000, 1, 1000, 40 },
        { 1u << 14, 2, 0, 14000, 0, 3000, 3000 },   /* the team 29% faster: take it */
        { 1u << 14, 2, 0, 8000, 1, 9000, 9000 },    /* alone 20% faster: back */
        { 1u << 14, 2, 0, 8000, 1, 8000, 24 },      /* ... and stay, trying the team rarely */
        { 1u << 12, 2, 0, 14000, 1, 2000, 0 },      /* under 2^13: never a team */
        { 1u << 14, 1, 0, 14000, 1, 2000, 0 },      /* one thread asked: never a team */
        { 1u << 13, 2, 1, 14000, 0, 1000, 1000 },   /* multi, 8,192 in all: the team */
    };
    int64_t step = 1;
    for (size_t l = 0; l < sizeof legs / sizeof legs[0]; l++) {
        const lazyadam_config *c = legs[l].threads == 1 ? &one : &cfg;
        size_t n = legs[l].n;
        ms.solo = legs[l].solo;
        ms.last_threads = 1;
        long solo_before = ms.solo_calls, calls_before = ms.calls;
        int ok = 1;
        for (int k = 0; k < legs[l].calls && ok; k++, step++) {
            fill_normal(r, d.g.p, 64, 0.1f);   /* a cheap change of gradient every step */
            if (legs[l].multi) {
                size_t a = n / 3;
                lazyadam_tensor ts[2] = {
                    { a, d.p.p, d.g.p, d.m.p, d.v.p, NULL },
                    { n - a, d.p.p + a, d.g.p + a, d.m.p + a, d.v.p + a, NULL },
                };
                ok = lazyadam_adam_step_multi(c, step, 2, ts) == LAZYADAM_OK;
            } else {
                ok = lazyadam_adam_step(c, step, n, d.p.p, d.g.p, d.m.p, d.v.p, NULL)
                        == LAZYADAM_OK;
            }
            ref_adam_step(c, step, n, d.rp, d.g.p, d.rm, d.rv, NULL);
        }
        ok = ok && dense_state_check(&d, 0);
        long timed = ms.calls - calls_before, solo = ms.solo_calls - solo_before;
        /* calls the clock did not time ran outside any class: on the caller, by the rule */
        long team = timed - solo, elsewhere = legs[l].want_solo || !on ? team
                                            : legs[l].calls - team;
        int got = lazyadam_balance_solo(n, 2);
        int want = on ? legs[l].want_solo : 0;   /* off: no class, so not solo either */
        int classless = legs[l].other == 0;
        int right = classless ? timed == 0 : got == want;
        printf("  adam_step%s, %zu elements, %d thread%s asked, simulated clock, solo %u vs "
               "team 10000 ticks: %ld calls timed, %ld in the team, %s\n",
               legs[l].multi ? "_multi" : "", n, legs[l].threads,
               legs[l].threads == 1 ? "" : "s", (unsigned)legs[l].solo, timed, team,
               classless || !on ? "no class" : got ? "solo" : "team");
        tally_case(t, ok && right && (!on || elsewhere <= legs[l].other), "adam_step%s, %zu "
                "elements, %d thread(s) asked, simulated clock: solo %u vs team 10000 ticks: "
                "want %s, %ld calls timed, %ld in the team, %ld in the other mode (at most "
                "%d), bitwise (balancing %s)", legs[l].multi ? "_multi" : "", n,
                legs[l].threads, (unsigned)legs[l].solo,
                classless ? "no class" : want ? "solo" : "team", timed, team, elsewhere,
                legs[l].other, on ? "on" : "off");
    }
    lazyadam_testing_balance_clock(NULL);
    dense_state_free(&d);
}

/* Under the library's own duty a dense class times its calls in windows, but a trial of
 * the other mode, once begun, runs to its end: its 8 calls follow the timed call that
 * started it, one after another, whatever the window (a trial put off to the next window
 * would run after 100-odd calls in the class's own mode, on caches settled for that).
 * The clock records, by the test's call count, where each run of solo calls (a trial: the
 * team is faster here, so every trial fails) begins and how long it is. A fresh class: 3
 * threads asked, so the team differs from every class before. */
static struct {
    long call, last_team, run_start, run_len;
    int trials, late, short_runs;
} tw;

static void trial_run_ends(void)
{
    if (tw.run_len == 0)
        return;
    tw.trials++;
    tw.late += tw.run_start != tw.last_team + 1;
    tw.short_runs += tw.run_len != 8;
    tw.run_len = 0;
}

static uint32_t trial_clock(int threads, int32_t shift, int end)
{
    if (end && threads == 1) {
        if (tw.run_len == 0)
            tw.run_start = tw.call;
        tw.run_len++;
    } else if (end) {
        trial_run_ends();
        tw.last_team = tw.call;
    }
    return mode_clock(threads, shift, end);
}

static void trial_window_cases(tally *t, rng *r)
{
    const size_t n = 1u << 17;
    lazyadam_config cfg = lazyadam_default_config();
    cfg.num_threads = 3;
    float *p = calloc(n, 4), *g = calloc(n, 4), *m = calloc(n, 4), *v = calloc(n, 4);
    mode_clock_reset(r, 3);
    ms.solo = 14000;
    memset(&tw, 0, sizeof tw);
    tw.last_team = -10;
    lazyadam_testing_balance_clock(trial_clock);
    int ok = 1;
    for (tw.call = 0; tw.call < 4000 && ok; tw.call++)
        ok = lazyadam_adam_step(&cfg, tw.call + 1, n, p, g, m, v, NULL) == LAZYADAM_OK;
    trial_run_ends();
    lazyadam_testing_balance_clock(NULL);
    int on = lazyadam_balance_enabled();
    printf("  duty 1 in 8, 3 threads asked, solo 14000 vs team 10000 ticks: %d trials in "
           "4000 calls, %d begun late, %d not 8 calls long\n", tw.trials, tw.late,
           tw.short_runs);
    tally_case(t, ok && (on ? tw.trials >= 2 : tw.trials == 0) && tw.late == 0
            && tw.short_runs == 0, "trials under the library's duty: %d in 4000 calls "
            "(want at least 2), %d begun later than the call that started them, %d not 8 "
            "consecutive calls (balancing %s)", tw.trials, tw.late, tw.short_runs,
            on ? "on" : "off");
    free(p); free(g); free(m); free(v);
}

/* Sparse calls learn team or solo per class (lib/balance.c), against the same simulated
 * clock. lazy_step: 100 indices of 64 floats, which the static rule keeps on the caller,
 * must take the team where it is faster and come back; exact_lazy_step: 600 indices,
 * which the rule forks, must go solo where that is faster, in a class of its own; so must
 * adam_sparse_step on a 1,024-row table. A sparse class lets a change of mode settle
 * for up to 32 calls or about 2^21 ticks: 300 indices must take a team that is faster
 * only once 20 calls have settled it, and 1,000 indices in calls of 300,000 ticks must
 * try the caller alone in trials of a dozen calls, not 38. Every call stays bitwise:
 * lazy_step and adam_sparse_step the reference's in lockstep, exact_lazy_step a twin run
 * on one thread (which never learns). */
static void sparse_mode_cases(tally *t, rng *r)
{
    const size_t rows = 4096, dim = 64, n = rows * dim;
    lazyadam_config cfg = lazyadam_default_config(), one = cfg;
    cfg.num_threads = 2;
    one.num_threads = 1;
    float *p = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
    float *rp = malloc(n * 4), *rm = calloc(n, 4), *rv = calloc(n, 4);
    const size_t most = 1000;   /* the legs' largest nnz */
    float *vals = malloc(most * dim * 4);
    int64_t *idx = malloc(most * sizeof *idx), *last = calloc(rows, sizeof *last),
            *rlast = calloc(rows, sizeof *rlast);
    fill_normal(r, p, n, 1.0f);
    memcpy(rp, p, n * 4);
    mode_clock_reset(r, 1);   /* each leg sets its team, transient and last mode */
    lazyadam_testing_balance_clock(mode_clock);
    int on = lazyadam_balance_enabled();
    static const char *const names[] = { "lazy_step", "exact_lazy_step", "adam_sparse_step" };
    /* `other`: the most calls the leg may run in the mode it must not end in */
    static const struct {
        int kind;
        size_t rows, nnz;
        uint32_t solo, team;
        int transient, want_solo, calls, other;
    } legs[] = {
        /* the team 29% faster than the rule's caller alone */
        { LAZYADAM_SPARSE_LAZY, 4096, 100, 14000, 10000, 2, 0, 1000, 1000 },
        /* alone 20% faster again: back */
        { LAZYADAM_SPARSE_LAZY, 4096, 100, 8000, 10000, 2, 1, 5000, 5000 },
        /* the rule's team, alone 20% faster */
        { LAZYADAM_SPARSE_EXACT, 4096, 600, 8000, 10000, 2, 1, 1000, 1000 },
        { LAZYADAM_SPARSE_DENSIFIED, 1024, 10, 8000, 10000, 2, 1, 1000, 1000 },
        /* the team 29% faster, but only from the 21st call after a change of mode: with
         * 2 calls settled, trials timed its slow calls and kept the caller alone */
        { LAZYADAM_SPARSE_LAZY, 4096, 300, 14000, 10000, 20, 0, 1000, 1000 },
        /* the rule's team, 25% faster, in calls of 300,000 ticks: 5 trials in 3,000
         * calls, each 5 or 6 calls settling (2^21 ticks) and 6 timed, about 60 calls;
         * 38 each without the bound on time, 190 */
        { LAZYADAM_SPARSE_LAZY, 4096, 1000, 400000, 300000, 2, 0, 3000, 100 },
    };
    int64_t step = 1;
    for (size_t l = 0; l < sizeof legs / sizeof legs[0]; l++) {
        size_t lr = legs[l].rows, nnz = legs[l].nnz, tab = lr * dim;
        int kind = legs[l].kind, dens = kind == LAZYADAM_SPARSE_DENSIFIED;
        size_t named = dens ? tab : nnz * dim;
        int other = kind == LAZYADAM_SPARSE_LAZY ? LAZYADAM_SPARSE_EXACT : LAZYADAM_SPARSE_LAZY;
        ms.solo = legs[l].solo;
        ms.team = legs[l].team;
        ms.transient = legs[l].transient;
        long solo_before = ms.solo_calls;
        /* the mode the class runs in now: what it learned, else the rule's */
        int known = lazyadam_balance_sparse_solo(kind, named, tab);
        ms.last_threads = known == 0 || (known < 0 && named >= 32768) ? 2 : 1;
        int ok = lazyadam_balance_sparse_solo(other, named, tab) == -1;
        for (int k = 0; k < legs[l].calls && ok; k++, step++) {
            for (size_t i = 0; i < nnz; i++)
                idx[i] = (int64_t)rng_below(r, lr);
            fill_normal(r, vals, 4 * dim, 0.1f);   /* a cheap change of gradient */
            if (kind == LAZYADAM_SPARSE_EXACT) {
                ok = lazyadam_exact_lazy_step(&cfg, step, lr, dim, p, m, v, NULL, last, nnz,
                        idx, vals) == LAZYADAM_OK
                  && lazyadam_exact_lazy_step(&one, step, lr, dim, rp, rm, rv, NULL, rlast,
                        nnz, idx, vals) == LAZYADAM_OK;
            } else if (dens) {
                ok = lazyadam_adam_sparse_step(&cfg, step, lr, dim, p, m, v, NULL, nnz, idx,
                        vals) == LAZYADAM_OK
                  && ref_adam_sparse_step(&cfg, step, lr, dim, rp, rm, rv, NULL, nnz, idx,
                        vals) == 0;
            } else {
                ok = lazyadam_lazy_step(&cfg, step, lr, dim, p, m, v, NULL, nnz, idx, vals)
                        == LAZYADAM_OK
                  && ref_lazy_step(&cfg, step, lr, dim, rp, rm, rv, NULL, nnz, idx, vals) == 0;
            }
        }
        size_t bad = compare_state("param", rp, p, n) + compare_state("m", rm, m, n)
                   + compare_state("v", rv, v, n)
                   + (size_t)(memcmp(last, rlast, rows * sizeof *last) != 0);
        int got = lazyadam_balance_sparse_solo(kind, named, tab);
        int want = on ? legs[l].want_solo : -1;
        long solo = ms.solo_calls - solo_before;
        long elsewhere = legs[l].want_solo ? legs[l].calls - solo : solo;
        printf("  %s, %zu x %zu, %zu indices, simulated clock, solo %u vs team %u ticks: "
               "%s after %d calls, %ld in the other mode\n", names[kind], lr, dim, nnz,
               (unsigned)legs[l].solo, (unsigned)legs[l].team,
               got == 1 ? "solo" : got == 0 ? "team" : "no class", legs[l].calls, elsewhere);
        tally_case(t, ok && bad == 0 && got == want && (!on || elsewhere <= legs[l].other),
                "%s, %zu x %zu, %zu indices, simulated clock: solo %u vs team %u ticks, %d "
                "calls slow after a change: want %d, learned %d (1 solo, 0 team, -1 no class) "
                "after %d calls, %ld in the other mode (at most %d), bitwise: %s (balancing "
                "%s)", names[kind], lr, dim, nnz, (unsigned)legs[l].solo,
                (unsigned)legs[l].team, legs[l].transient, want, got, legs[l].calls, elsewhere,
                legs[l].other, bad == 0 ? "yes" : "no", on ? "on" : "off");
    }
    lazyadam_testing_balance_clock(NULL);
    free(p); free(m); free(v); free(rp); free(rm); free(rv); free(vals);
    free(idx); free(last); free(rlast);
}

/* Exact LazyAdam sizes its team by the element-steps it replays, not by the elements it
 * names (lib/exact.c): few rows far behind go to the team, many rows one step behind stay
 * on the caller when they are few elements. Outside the learned range (under 2^12 named
 * elements), so the rule alone decides; each call bitwise equal to a one-thread twin. */
static void replay_team_cases(tally *t, rng *r)
{
    const size_t rows = 256, dim = 64, n = rows * dim;
    lazyadam_config cfg = lazyadam_default_config(), one = cfg;
    cfg.num_threads = 2;
    one.num_threads = 1;
    float *s[2][3];
    int64_t *last[2], idx[16];
    float vals[16 * 64];
    for (int k = 0; k < 2; k++) {
        for (int a = 0; a < 3; a++)
            s[k][a] = malloc(n * 4);
        last[k] = malloc(rows * sizeof *last[k]);
    }
    static const struct { int flush; int64_t behind; int want; const char *what; } legs[] = {
        { 1, 1, 1, "exact_flush, 256 x 64, every row 1 step behind (16,384 element-steps)" },
        { 1, 200, 2, "exact_flush, 256 x 64, every row 200 steps behind (3.3M element-steps)" },
        { 0, 1, 1, "exact_lazy_step, 16 rows of 64, 0 steps to replay" },
        { 0, 300, 2, "exact_lazy_step, 16 rows of 64, 299 steps each to replay (306,176)" },
    };
    for (size_t l = 0; l < sizeof legs / sizeof legs[0]; l++) {
        const int64_t step = 400;
        fill_normal(r, s[0][0], n, 1.0f);
        fill_normal(r, s[0][1], n, 0.01f);
        for (size_t i = 0; i < n; i++)
            s[0][2][i] = 1e-4f + s[0][1][i] * s[0][1][i];
        for (size_t i = 0; i < rows; i++)
            last[0][i] = step - legs[l].behind;
        for (int a = 0; a < 3; a++)
            memcpy(s[1][a], s[0][a], n * 4);
        memcpy(last[1], last[0], rows * sizeof *last[0]);
        int ok, team;
        if (legs[l].flush) {
            ok = lazyadam_exact_flush(&cfg, step, rows, dim, s[0][0], s[0][1], s[0][2], NULL,
                    last[0]) == LAZYADAM_OK;
            team = lazyadam_exact_last_team();
            ok = ok && lazyadam_exact_flush(&one, step, rows, dim, s[1][0], s[1][1], s[1][2],
                    NULL, last[1]) == LAZYADAM_OK;
        } else {
            for (size_t i = 0; i < 16; i++)
                idx[i] = (int64_t)rng_below(r, rows);
            fill_normal(r, vals, 16 * dim, 0.1f);
            ok = lazyadam_exact_lazy_step(&cfg, step + 1, rows, dim, s[0][0], s[0][1], s[0][2],
                    NULL, last[0], 16, idx, vals) == LAZYADAM_OK;
            team = lazyadam_exact_last_team();
            ok = ok && lazyadam_exact_lazy_step(&one, step + 1, rows, dim, s[1][0], s[1][1],
                    s[1][2], NULL, last[1], 16, idx, vals) == LAZYADAM_OK;
        }
        size_t bad = compare_state("param", s[1][0], s[0][0], n)
                   + compare_state("m", s[1][1], s[0][1], n)
                   + compare_state("v", s[1][2], s[0][2], n)
                   + (size_t)(memcmp(last[0], last[1], rows * sizeof *last[0]) != 0);
        printf("  %s: %d thread%s\n", legs[l].what, team, team == 1 ? "" : "s");
        tally_case(t, ok && team == legs[l].want && bad == 0, "%s, 2 threads allowed: want "
                "%d, ran on %d, bitwise against one thread: %s", legs[l].what, legs[l].want,
                team, bad == 0 ? "yes" : "no");
    }
    for (int k = 0; k < 2; k++) {
        for (int a = 0; a < 3; a++)
            free(s[k][a]);
        free(last[k]);
    }
}

int main(void)
{
    rng r = { harness_seed("test_balance") };
    tally t = { 0, 0, 0 };
    const char *env = getenv("LAZYADAM_BALANCE");
    if (env && strcmp(env, "off") == 0)
        tally_case(&t, !lazyadam_balance_enabled(), "LAZYADAM_BALANCE=off turns balancing off");
    split_cases(&t, &r);
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    for (size_t b = 0; b < nb; b++)
        forced_cases(&t, &r, bes[b]);
    learning_cases(&t, &r);
    /* The simulated-clock cases count on every dense call learning (learner_cases ends
     * with one under the library's own duty). */
    lazyadam_testing_balance_duty(1);
    learner_cases(&t, &r);
    mode_cases(&t, &r);
    dense_rule_solo_cases(&t, &r);
    lazyadam_testing_balance_duty(0);
    trial_window_cases(&t, &r);
    sparse_mode_cases(&t, &r);
    replay_team_cases(&t, &r);
    return tally_finish(&t);
}
