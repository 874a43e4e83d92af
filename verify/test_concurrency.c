/* Concurrency: many threads calling the library at once on disjoint buffers — the first
 * calls racing the backend detection, every backend (oneDNN's shared primitive cache
 * included), inside an outer OpenMP team (nested parallelism) — must give results
 * bitwise equal to the same calls made one after another.
 *
 * With LAZYADAM_CONCURRENCY_SERIAL_KERNELS=1 every call uses num_threads = 1 and no
 * outer OpenMP team: that is the mode scripts/test runs under valgrind's helgrind,
 * which then sees only the library's own synchronisation (pthread_once, atomics, the
 * oneDNN cache mutex); libgomp is not annotated for helgrind, and ThreadSanitizer
 * likewise reports libgomp's own barriers as races unless libgomp is rebuilt with it. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NTHREADS 6
#define ROWS 300
#define DIM 16
#define STEPS 6

static int serial_kernels;
static pthread_barrier_t start;

typedef struct job {
    lazyadam_backend be;
    uint64_t seed;
    float *p, *m, *v, *x;      /* a ROWS x DIM table */
    int64_t *last;
    lazyadam_status st;
} job;

static void job_init(job *j, lazyadam_backend be, uint64_t seed)
{
    size_t n = ROWS * DIM;
    j->be = be;
    j->seed = seed;
    rng r = { seed };
    j->p = malloc(n * 4); j->m = malloc(n * 4); j->v = malloc(n * 4); j->x = malloc(n * 4);
    j->last = calloc(ROWS, sizeof *j->last);
    fill_normal(&r, j->p, n, 1.0f);
    fill_normal(&r, j->m, n, 0.01f);
    fill_positive(&r, j->v, n, 1e-4f);
    fill_positive(&r, j->x, n, 1e-4f);
    j->st = LAZYADAM_OK;
}

static void job_free(job *j)
{
    free(j->p); free(j->m); free(j->v); free(j->x); free(j->last);
}

/* A little training run: dense steps, LazyAdam steps, exact LazyAdam with a flush. */
static void job_run(job *j)
{
    lazyadam_config c = lazyadam_default_config();
    c.backend = j->be;
    c.flags = LAZYADAM_AMSGRAD;
    c.num_threads = serial_kernels ? 1 : 2;
    rng r = { j->seed ^ 0xabcdef };
    size_t n = ROWS * DIM;
    float *g = malloc(n * 4), *val = malloc(40 * DIM * 4);
    int64_t idx[40];
    for (int64_t s = 1; s <= STEPS && j->st == LAZYADAM_OK; s++) {
        fill_normal(&r, g, n, 0.1f);
        fill_normal(&r, val, 40 * DIM, 0.1f);
        for (int i = 0; i < 40; i++)
            idx[i] = (int64_t)rng_below(&r, ROWS);
        if (s <= 2)
            j->st = lazyadam_adam_step(&c, s, n, j->p, g, j->m, j->v, j->x);
        else if (s <= 4)
            j->st = lazyadam_lazy_step(&c, s, ROWS, DIM, j->p, j->m, j->v, j->x, 40, idx, val);
        else
            j->st = lazyadam_exact_lazy_step(&c, s, ROWS, DIM, j->p, j->m, j->v, j->x, j->last,
                    40, idx, val);
    }
    if (j->st == LAZYADAM_OK)
        j->st = lazyadam_exact_flush(&c, STEPS, ROWS, DIM, j->p, j->m, j->v, j->x, j->last);
    free(g);
    free(val);
}

static void *thread_main(void *arg)
{
    pthread_barrier_wait(&start);
    job_run(arg);
    return NULL;
}

static int same_job(const job *a, const job *b)
{
    size_t n = ROWS * DIM * 4;
    return a->st == LAZYADAM_OK && b->st == LAZYADAM_OK && !memcmp(a->p, b->p, n)
        && !memcmp(a->m, b->m, n) && !memcmp(a->v, b->v, n) && !memcmp(a->x, b->x, n);
}

int main(void)
{
    const char *e = getenv("LAZYADAM_CONCURRENCY_SERIAL_KERNELS");
    serial_kernels = e && *e == '1';
    uint64_t seed = harness_seed("test_concurrency");
    tally t = { 0, 0, 0 };
    lazyadam_backend avail[4];
    size_t nb = test_backends(&t, avail);

    /* 1. The very first calls of the process, from NTHREADS threads at once: they race
     *    the one-time CPU detection and AUTO resolution. Then every backend at once. */
    for (int round = 0; round < 2; round++) {
        job conc[NTHREADS], seq[NTHREADS];
        pthread_t th[NTHREADS];
        pthread_barrier_init(&start, NULL, NTHREADS);
        for (int i = 0; i < NTHREADS; i++) {
            lazyadam_backend be = round == 0 ? LAZYADAM_BACKEND_AUTO : avail[(size_t)i % nb];
            job_init(&conc[i], be, seed + (uint64_t)i);
            job_init(&seq[i], be, seed + (uint64_t)i);
        }
        for (int i = 0; i < NTHREADS; i++)
            pthread_create(&th[i], NULL, thread_main, &conc[i]);
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start);
        for (int i = 0; i < NTHREADS; i++) {
            job_run(&seq[i]);
            tally_case(&t, same_job(&conc[i], &seq[i]), "%s: thread %d (backend %s) concurrent "
                    "== sequential", round == 0 ? "first calls racing detection" : "all backends at once",
                    i, lazyadam_backend_name(conc[i].be));
            job_free(&conc[i]);
            job_free(&seq[i]);
        }
    }

    /* 2. Inside an outer OpenMP team: each member calls the library, which opens its own
     *    (nested) team of 2. */
    if (!serial_kernels) {
        job conc[4], seq[4];
        for (int i = 0; i < 4; i++) {
            job_init(&conc[i], avail[(size_t)i % nb], seed + 100 + (uint64_t)i);
            job_init(&seq[i], avail[(size_t)i % nb], seed + 100 + (uint64_t)i);
        }
        omp_set_max_active_levels(2);
        #pragma omp parallel for num_threads(4)
        for (int i = 0; i < 4; i++)
            job_run(&conc[i]);
        for (int i = 0; i < 4; i++) {
            job_run(&seq[i]);
            tally_case(&t, same_job(&conc[i], &seq[i]), "nested OpenMP: member %d (backend %s) "
                    "== sequential", i, lazyadam_backend_name(conc[i].be));
            job_free(&conc[i]);
            job_free(&seq[i]);
        }
    } else {
        tally_skip(&t, "nested OpenMP: not run in serial-kernel mode (the helgrind run)");
    }
    return tally_finish(&t);
}
