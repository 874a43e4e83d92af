/* What subnormal moments cost: the README's "Subnormal moments" figures.
 *
 * A row that no gradient names still decays under plain Adam: m *= beta1 each step. After
 * about 750 such steps m is subnormal, and it stays so: beta1 * k*2^-149 rounds back to
 * k*2^-149 for k <= 4 (beta1 = 0.9), so m never reaches zero. The contract keeps IEEE
 * gradual underflow (no flush to zero), and on Intel cores each float instruction with a
 * subnormal operand or result takes a microcode assist.
 *
 * Part 1, per element: one adam_step over 2^20 elements with a zero gradient, on one
 * thread, for every backend this CPU runs: m and v normal, m normal but below the cold
 * line (1e-36: beta1 * m is normal, alpha * m' is not, for the some 65 steps of a row's
 * decay before its m is subnormal; lib/scalars.c), m subnormal (1e-39, still
 * decaying), m stuck for good (4 units of 2^-149, where beta1 = 0.9 leaves it), both
 * subnormal, m stuck beside a v that is subnormal and still decaying (1e-40: the some
 * 10,000 steps of a row's life before its v is stuck too), both stuck for good (m = 4 and
 * v = 500 units of 2^-149, where beta2 = 0.999 leaves v) (best of 7 calls, each on
 * freshly written state; ns an element).
 * Part 2, over a run: adam_sparse_step (plain Adam) and lazy_step (LazyAdam) on a
 * rows x 64 table from zero moments, `nnz` Zipf(1.05)-distributed indices a step (hot
 * rows scattered over the table), two threads, AUTO: the mean time a step over each
 * `every` steps, and the share of m's and v's elements that are subnormal after them.
 *
 * Usage: lazyadam-subnormal-drift [rows] [nnz] [steps] [every]
 *        (default 100000 1000 3000 250; the `subnormal_drift` test runs a short one). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lazyadam.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *floats(size_t n)
{
    float *x = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return x;
}

static int subnormal(float x)
{
    return x != 0.0f && fabsf(x) < 1.17549435e-38f;
}

/* Part 1: ns an element of one adam_step with m = m0, v = v0 everywhere, g = 0. */
static double dense_ns(lazyadam_backend b, size_t n, float m0, float v0, float *p, float *g,
        float *m, float *v)
{
    lazyadam_config c = lazyadam_default_config();
    c.backend = b;
    c.num_threads = 1;
    double best = INFINITY;
    for (int r = 0; r < 7; r++) {
        for (size_t i = 0; i < n; i++) {
            p[i] = 0.5f;
            g[i] = 0.0f;
            m[i] = m0;
            v[i] = v0;
        }
        double t0 = now();
        lazyadam_status st = lazyadam_adam_step(&c, 1000, n, p, g, m, v, NULL);
        double t = now() - t0;
        if (st != LAZYADAM_OK) {
            fprintf(stderr, "adam_step: %s\n", lazyadam_status_string(st));
            exit(1);
        }
        best = t < best ? t : best;
    }
    return 1e9 * best / (double)n;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Part 2: one run of `steps` steps of op (0 adam_sparse_step, 1 lazy_step). */
static void run(int op, size_t rows, size_t nnz, int steps, int every)
{
    const size_t dim = 64, n = rows * dim;
    float *p = floats(n), *m = floats(n), *v = floats(n), *vals = floats(nnz * dim);
    int64_t *idx = malloc(nnz * sizeof *idx);
    if (!idx) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = 0.01f * (float)(i % 1000) - 5.0f;
        m[i] = 0.0f;
        v[i] = 0.0f;
    }
    for (size_t i = 0; i < nnz * dim; i++)
        vals[i] = 1e-3f * ((float)((i * 7) % 13) - 6.5f);
    lazyadam_config c = lazyadam_default_config();
    c.num_threads = 2;
    const double e = 1.0 - 1.05, top = pow((double)rows + 1.0, e);
    rng = 0x9e3779b97f4a7c15u;
    double spent = 0;
    printf("%s, %zu x %zu, %zu Zipf(1.05) indices a step, 2 threads:\n",
            op ? "lazy_step" : "adam_sparse_step", rows, dim, nnz);
    for (int t = 1; t <= steps; t++) {
        for (size_t i = 0; i < nnz; i++) {
            double u = (double)(next() >> 11) * 0x1p-53;
            double x = pow(1.0 + u * (top - 1.0), 1.0 / e);
            uint64_t r = (uint64_t)x - 1 < rows ? (uint64_t)x - 1 : rows - 1;
            idx[i] = (int64_t)((r * 2654435761u) % rows);   /* hot rows scattered */
        }
        double t0 = now();
        lazyadam_status st = op
            ? lazyadam_lazy_step(&c, t, rows, dim, p, m, v, NULL, nnz, idx, vals)
            : lazyadam_adam_sparse_step(&c, t, rows, dim, p, m, v, NULL, nnz, idx, vals);
        spent += now() - t0;
        if (st != LAZYADAM_OK) {
            fprintf(stderr, "step %d: %s\n", t, lazyadam_status_string(st));
            exit(1);
        }
        if (t % every == 0) {
            size_t sm = 0, sv = 0;
            for (size_t i = 0; i < n; i++) {
                sm += (size_t)subnormal(m[i]);
                sv += (size_t)subnormal(v[i]);
            }
            printf("  steps %5d-%5d: %8.3f ms a step, m subnormal %5.1f%%, v %5.1f%%\n",
                    t - every + 1, t, 1e3 * spent / every, 100.0 * (double)sm / (double)n,
                    100.0 * (double)sv / (double)n);
            spent = 0;
        }
    }
    free(p);
    free(m);
    free(v);
    free(vals);
    free(idx);
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    size_t nnz = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
    int steps = argc > 3 ? atoi(argv[3]) : 3000;
    int every = argc > 4 ? atoi(argv[4]) : 250;
    if (rows == 0 || nnz == 0 || steps < 1 || every < 1) {
        fprintf(stderr, "usage: %s [rows] [nnz] [steps] [every]\n", argv[0]);
        return 2;
    }
    const size_t n = (size_t)1 << 20;
    float *p = floats(n), *g = floats(n), *m = floats(n), *v = floats(n);
    printf("adam_step, 2^20 elements, zero gradient, 1 thread (ns an element):\n");
    printf("  %-8s %6s %16s %16s %16s %16s %16s %16s\n", "backend", "normal", "m 1e-36",
            "m subnormal", "m stuck", "m, v subnormal", "m stuck, v sub.", "m, v stuck");
    const lazyadam_backend all[] = { LAZYADAM_BACKEND_SCALAR, LAZYADAM_BACKEND_AVX2,
        LAZYADAM_BACKEND_AVX512 };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        if (!lazyadam_backend_available(all[k]))
            continue;
        double a = dense_ns(all[k], n, 1e-4f, 1e-8f, p, g, m, v);
        double z = dense_ns(all[k], n, 1e-36f, 1e-8f, p, g, m, v);
        double b = dense_ns(all[k], n, 1e-39f, 1e-8f, p, g, m, v);
        double s = dense_ns(all[k], n, ldexpf(4.0f, -149), 1e-8f, p, g, m, v);
        double c = dense_ns(all[k], n, 1e-39f, 1e-39f, p, g, m, v);
        double e = dense_ns(all[k], n, ldexpf(4.0f, -149), 1e-40f, p, g, m, v);
        double d = dense_ns(all[k], n, ldexpf(4.0f, -149), ldexpf(500.0f, -149), p, g, m, v);
        const double x[6] = { z, b, s, c, e, d };
        printf("  %-8s %6.2f", lazyadam_backend_name(all[k]), a);
        for (int j = 0; j < 6; j++)
            printf(" %8.2f (%5.1fx)", x[j], x[j] / a);
        printf("\n");
    }
    free(p);
    free(g);
    free(m);
    free(v);
    run(0, rows, nnz, steps, every);
    run(1, rows, nnz, steps, every);
    return 0;
}
