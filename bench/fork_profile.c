/* Where the time of a two-thread adam_step goes, next to the plain loop's: the 2^15
 * pair's question ("adam_step at 2^15 on two threads", README), answered per phase.
 *
 * The program defines GOMP_parallel, the entry GCC's `#pragma omp parallel` calls in
 * libgomp, so both the library's regions and the plain loop's pass through it. It stamps
 * the time-stamp counter where the region is asked for, where each thread starts and ends
 * its part, and where the region returns, then calls libgomp's own GOMP_parallel
 * (dlsym RTLD_NEXT). Calls of the library (avx2 backend against the -mno-avx512f plain
 * loop, or avx512 against the -march=native one) and of the plain loop alternate, one
 * each a round; each phase's median over the rounds is printed in TSC ticks:
 *
 *   entry->fork     the call's own work before its region: checks, scalars, learner
 *   fork->start t   libgomp's team start, to thread t's first instruction of the region
 *   work t          thread t's part of the update
 *   last end->back  the join: from the later thread's end to the region's return
 *   back->exit      the call's own work after its region
 *   total           the whole call
 *
 * Usage: lazyadam-fork-profile [avx2|avx512] [n] [rounds]  (default avx2 32768 3000).
 * Two threads. Only with libgomp (built where the compiler is GCC); it exits 1 when no
 * region of the plain loop reached it. The `fork_profile` test runs it briefly, as a
 * check that it still sees both sides' regions, not as a measurement. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "baselines.h"
#include "lazyadam.h"

typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);

enum { THREADS = 2 };

/* One region's stamps (the process runs one region at a time). */
static struct {
    unsigned long long fork, back, start[THREADS], end[THREADS];
    int regions;
} stamp;

struct region { void (*fn)(void *); void *data; };

static void stamped(void *arg)
{
    const struct region *r = arg;
    int t = omp_get_thread_num();
    unsigned long long s = __rdtsc();
    r->fn(r->data);
    unsigned long long e = __rdtsc();
    if (t < THREADS) {
        stamp.start[t] = s;
        stamp.end[t] = e;
    }
}

void GOMP_parallel(void (*fn)(void *), void *data, unsigned nthreads, unsigned flags)
{
    static gomp_parallel_fn real;
    if (!real) {   /* POSIX's object-to-function pointer, without ISO C's warning */
        void *sym = dlsym(RTLD_NEXT, "GOMP_parallel");
        memcpy(&real, &sym, sizeof real);
    }
    struct region r = { fn, data };
    memset(stamp.start, 0, sizeof stamp.start);
    stamp.fork = __rdtsc();
    real(stamped, &r, nthreads, flags);
    stamp.back = __rdtsc();
    stamp.regions++;
}

enum { ENTRY, START0, START1, WORK0, WORK1, JOIN, EXIT, TOTAL, PHASES };
static const char *const phase_name[PHASES] = {
    "entry->fork", "fork->start 0", "fork->start 1", "work 0", "work 1", "last end->back",
    "back->exit", "total",
};

static long long diff(unsigned long long a, unsigned long long b)
{
    return (long long)(a - b);
}

/* The phases of the call that ran from `in` to `out`; 0 when it forked no team. */
static int phases(unsigned long long in, unsigned long long out, long long *x)
{
    if (stamp.regions != 1 || !stamp.start[1])
        return 0;
    unsigned long long last = stamp.end[0] > stamp.end[1] ? stamp.end[0] : stamp.end[1];
    x[ENTRY] = diff(stamp.fork, in);
    x[START0] = diff(stamp.start[0], stamp.fork);
    x[START1] = diff(stamp.start[1], stamp.fork);
    x[WORK0] = diff(stamp.end[0], stamp.start[0]);
    x[WORK1] = diff(stamp.end[1], stamp.start[1]);
    x[JOIN] = diff(stamp.back, last);
    x[EXIT] = diff(out, stamp.back);
    x[TOTAL] = diff(out, in);
    return 1;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static long long median(long long *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_ll);
    return x[n / 2];
}

int main(int argc, char **argv)
{
    const char *isa = argc > 1 ? argv[1] : "avx2";
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : (size_t)1 << 15;
    long rounds = argc > 3 ? strtol(argv[3], NULL, 10) : 3000;
    int avx2 = strcmp(isa, "avx2") == 0;
    if ((!avx2 && strcmp(isa, "avx512") != 0) || n == 0 || rounds < 1) {
        fprintf(stderr, "usage: %s [avx2|avx512] [n] [rounds]\n", argv[0]);
        return 2;
    }
    lazyadam_config cfg = lazyadam_default_config();
    cfg.backend = avx2 ? LAZYADAM_BACKEND_AVX2 : LAZYADAM_BACKEND_AVX512;
    cfg.num_threads = THREADS;
    if (!lazyadam_backend_available(cfg.backend)) {
        printf("backend %s: %s\n", isa, lazyadam_backend_unavailable_reason(cfg.backend));
        return 0;
    }
    void (*plain)(size_t, float *, const float *, float *, float *, float, float, float,
            float, long, int) = avx2 ? baseline_plain_adam_avx2 : baseline_plain_adam;

    size_t stride = (n + 15) / 16 * 16;
    float *buf = aligned_alloc(64, 4 * stride * sizeof(float));
    long long *lib = malloc((size_t)rounds * PHASES * sizeof *lib);
    long long *pln = malloc((size_t)rounds * PHASES * sizeof *pln);
    long long *tmp = malloc((size_t)rounds * sizeof *tmp);
    if (!buf || !lib || !pln || !tmp)
        return 1;
    float *p = buf, *g = buf + stride, *m = buf + 2 * stride, *v = buf + 3 * stride;
    for (size_t i = 0; i < n; i++) {
        p[i] = 0.01f * (float)(i % 97);
        g[i] = 0.001f * (float)((long)(i % 31) - 15);
        m[i] = v[i] = 0.0f;
    }

    /* Warm-up rounds (untimed) let the learner and the caches settle. */
    const long warm = rounds / 10 + 100;
    long kept_lib = 0, kept_plain = 0;
    int64_t step = 1;
    for (long r = -warm; r < rounds; r++, step++) {
        long long x[PHASES];
        stamp.regions = 0;
        unsigned long long in = __rdtsc();
        lazyadam_status st = lazyadam_adam_step(&cfg, step, n, p, g, m, v, NULL);
        unsigned long long out = __rdtsc();
        if (st != LAZYADAM_OK) {
            fprintf(stderr, "adam_step: %s\n", lazyadam_status_string(st));
            return 1;
        }
        if (r >= 0 && phases(in, out, x))
            memcpy(lib + PHASES * kept_lib++, x, sizeof x);
        stamp.regions = 0;
        in = __rdtsc();
        plain(n, p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, (long)step, THREADS);
        out = __rdtsc();
        if (r >= 0 && phases(in, out, x))
            memcpy(pln + PHASES * kept_plain++, x, sizeof x);
    }
    printf("adam_step (%s) against the plain loop (%s), %zu elements, %d threads, "
           "%ld rounds: medians in TSC ticks\n", isa, avx2 ? "-mno-avx512f" : "-march=native",
           n, THREADS, rounds);
    printf("calls that forked a team: library %ld, plain loop %ld\n", kept_lib, kept_plain);
    if (kept_plain == 0) {   /* the plain loop always forks two threads */
        fprintf(stderr, "no two-thread region of the plain loop passed through "
                "GOMP_parallel: is the OpenMP runtime libgomp?\n");
        return 1;
    }
    if (kept_lib == 0) {
        printf("(every library call ran on the caller alone: the learner chose it)\n");
        return 0;
    }
    long long col[2][PHASES];
    for (int k = 0; k < PHASES; k++)
        for (int s = 0; s < 2; s++) {
            long kept = s ? kept_plain : kept_lib;
            const long long *src = s ? pln : lib;
            for (long i = 0; i < kept; i++)
                tmp[i] = src[PHASES * i + k];
            col[s][k] = median(tmp, (size_t)kept);
        }
    printf("%-16s %9s %9s %9s\n", "phase", "library", "plain", "lib-plain");
    for (int k = 0; k < PHASES; k++)
        printf("%-16s %9lld %9lld %9lld\n", phase_name[k], col[0][k], col[1][k],
                col[0][k] - col[1][k]);
    /* The benchmark's pairs time batches of calls, so their ratio is one of means, where
     * the calls a preemption or a late wake-up slowed count in full. */
    double mean[2] = { 0, 0 };
    for (int s = 0; s < 2; s++) {
        long kept = s ? kept_plain : kept_lib;
        const long long *src = s ? pln : lib;
        for (long i = 0; i < kept; i++)
            mean[s] += (double)src[PHASES * i + TOTAL] / (double)kept;
    }
    printf("plain total / library total: medians %.3f, means %.3f (%.0f and %.0f ticks)\n",
            (double)col[1][TOTAL] / (double)col[0][TOTAL], mean[1] / mean[0], mean[0], mean[1]);
    free(buf);
    free(lib);
    free(pln);
    free(tmp);
    return 0;
}
