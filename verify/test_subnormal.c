/* Which vectors take the exact path for subnormal moments (lib/kernels/subnormal.h).
 *
 * The bitwise suites cannot tell: the path and the float operations it replaces give the
 * same bits, and only the time differs (the assists: README "Subnormal moments"). This
 * suite counts the vectors the path finishes on the calling thread
 * (lazyadam_testing_subnormal_vectors, one thread a call) and checks that zero and
 * normal moments never take it (a zero m with a zero gradient too: a row never named),
 * that every vector of a stuck row does (m alone stuck, and m and v both), that a single
 * subnormal lane anywhere sends exactly its own vector, and that a nonzero gradient or
 * L2 decay declines it; plain Adam's untouched rows and exact LazyAdam's replay take it
 * too. The dense cases also compare with the reference, bitwise. Vector backends only:
 * the scalar and oneDNN backends have no such path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reference.h"
#include "testing.h"

enum { N = 4096 };   /* a multiple of 16: no scalar tail on either vector width */

static float tiny_of(uint32_t k, int negative)
{
    uint32_t u = k | (negative ? 0x80000000u : 0);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The state a dense case starts from. */
enum fill { ZERO_MOMENTS, ZERO_NO_GRADIENT, NORMAL_MOMENTS, STUCK_M, STUCK_MV, ONE_LANE, STUCK_M_GRADIENT };

static const char *const fill_name[] = {
    "zero moments, a gradient", "zero m, no gradient", "normal moments down to 2^-126, no gradient",
    "m stuck, no gradient", "m and v stuck, no gradient", "one subnormal lane of m",
    "m stuck, a gradient",
};

static void fill(dense_state *s, rng *r, enum fill f, size_t lane)
{
    for (size_t i = 0; i < s->n; i++) {
        float z = rng_normal(r);
        float g = rng_below(r, 2) ? 0.0f : -0.0f, m, v = 1e-8f * (z * z + 0.01f);
        switch (f) {
        case ZERO_MOMENTS:
            m = rng_below(r, 2) ? 0.0f : -0.0f;
            v = 0.0f;
            g = 1e-2f * rng_normal(r);
            break;
        case ZERO_NO_GRADIENT:   /* a row plain Adam has never named */
            m = rng_below(r, 2) ? 0.0f : -0.0f;
            v = rng_below(r, 2) ? 0.0f : v;
            break;
        case NORMAL_MOMENTS:
            m = rng_below(r, 4) ? 1e-3f * rng_normal(r) : 1.17549435e-38f;
            m = rng_below(r, 2) ? m : -m;
            break;
        case STUCK_M: m = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2)); break;
        case STUCK_MV:
            m = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2));
            v = tiny_of((uint32_t)rng_below(r, 601), 0);
            break;
        case ONE_LANE:
            m = i == lane ? tiny_of(1 + (uint32_t)rng_below(r, 0x7fffff), 0)
                          : 1e-3f * rng_normal(r);
            break;
        default:   /* STUCK_M_GRADIENT */
            m = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2));
            g = 1e-2f * rng_normal(r);
            break;
        }
        s->p.p[i] = 0.1f * z;
        s->g.p[i] = g;
        s->m.p[i] = m;
        s->v.p[i] = v;
        s->x.p[i] = v * rng_uniform(r, 0.5f, 2.0f);
    }
    dense_state_sync(s);
}

/* Whether delta is the count of vectors of width 8 or 16 (the avx512 backend runs the
 * AVX2 kernel on some calls: lib/dense.c) that n floats hold, each times `times`. */
static int every_vector(uint64_t delta, size_t n, uint64_t times, lazyadam_backend be)
{
    return delta == times * (n / 8) || (be == LAZYADAM_BACKEND_AVX512 && delta == times * (n / 16));
}

static void dense_cases(tally *t, rng *r, lazyadam_backend be)
{
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    for (size_t c = 0; c < nv; c++)
        for (int f = ZERO_MOMENTS; f <= STUCK_M_GRADIENT; f++) {
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = 1;
            int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
            int l2 = cfg.weight_decay != 0.0f && !(cfg.flags & LAZYADAM_ADAMW);
            size_t offset = rng_below(r, 16), lane = rng_below(r, N);
            dense_state s;
            dense_state_init(&s, r, N, offset);
            fill(&s, r, (enum fill)f, lane);
            uint64_t before = lazyadam_testing_subnormal_vectors();
            lazyadam_status st = lazyadam_adam_step(&cfg, 1000, N, s.p.p, s.g.p, s.m.p,
                    s.v.p, ams ? s.x.p : NULL);
            uint64_t delta = lazyadam_testing_subnormal_vectors() - before;
            ref_adam_step(&cfg, 1000, N, s.rp, s.g.p, s.rm, s.rv, s.rx);
            int taken;
            if (f == STUCK_M || f == STUCK_MV)
                taken = l2 ? delta == 0 : every_vector(delta, N, 1, be);
            else if (f == ONE_LANE)
                taken = delta == (l2 ? 0u : 1u);
            else
                taken = delta == 0;
            if (!taken)
                printf("    %llu vectors took the path\n", (unsigned long long)delta);
            int ok = st == LAZYADAM_OK && taken && dense_state_check(&s, ams);
            tally_case(t, ok, "adam_step %s backend=%s config=%s offset=%zu lane=%zu",
                    fill_name[f], lazyadam_backend_name(be), cv[c].name, offset, lane);
            dense_state_free(&s);
        }
}

/* A rows x 64 table whose m is stuck everywhere, `named` rows given a gradient. */
typedef struct table {
    size_t rows, dim;
    float *p, *m, *v, *vals;
    int64_t *idx, *last;
} table;

static table table_new(rng *r, size_t rows, size_t named)
{
    table tb = { rows, 64, NULL, NULL, NULL, NULL, NULL, NULL };
    size_t n = rows * tb.dim;
    tb.p = malloc(n * sizeof(float));
    tb.m = malloc(n * sizeof(float));
    tb.v = malloc(n * sizeof(float));
    tb.vals = malloc(named * tb.dim * sizeof(float));
    tb.idx = malloc(named * sizeof(int64_t));
    tb.last = malloc(rows * sizeof(int64_t));
    if (!tb.p || !tb.m || !tb.v || !tb.vals || !tb.idx || !tb.last) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        float z = rng_normal(r);
        tb.p[i] = 0.1f * z;
        tb.m[i] = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2));
        tb.v[i] = 1e-8f * (z * z + 0.01f);
    }
    for (size_t k = 0; k < named; k++)
        tb.idx[k] = (int64_t)(k * (rows / named));
    fill_normal(r, tb.vals, named * tb.dim, 1e-2f);
    for (size_t k = 0; k < rows; k++)
        tb.last[k] = 990;
    return tb;
}

static void table_free(table *tb)
{
    free(tb->p); free(tb->m); free(tb->v); free(tb->vals); free(tb->idx); free(tb->last);
}

static void sparse_cases(tally *t, rng *r, lazyadam_backend be)
{
    const size_t rows = 256, named = 16;
    lazyadam_config cfg = lazyadam_default_config();
    cfg.backend = be;
    cfg.num_threads = 1;

    /* Plain Adam: the rows no index names decay, each of their vectors on the path. */
    table tb = table_new(r, rows, named);
    uint64_t before = lazyadam_testing_subnormal_vectors();
    lazyadam_status st = lazyadam_adam_sparse_step(&cfg, 1000, rows, tb.dim, tb.p, tb.m,
            tb.v, NULL, named, tb.idx, tb.vals);
    uint64_t delta = lazyadam_testing_subnormal_vectors() - before;
    int ok = st == LAZYADAM_OK && every_vector(delta, (rows - named) * tb.dim, 1, be);
    if (!ok)
        printf("    %llu vectors took the path\n", (unsigned long long)delta);
    tally_case(t, ok, "adam_sparse_step untouched stuck rows backend=%s",
            lazyadam_backend_name(be));
    table_free(&tb);

    /* Exact LazyAdam: each named row replays steps 991..999 before its own step 1000,
     * each replayed step of each vector on the path. */
    tb = table_new(r, rows, named);
    before = lazyadam_testing_subnormal_vectors();
    st = lazyadam_exact_lazy_step(&cfg, 1000, rows, tb.dim, tb.p, tb.m, tb.v, NULL,
            tb.last, named, tb.idx, tb.vals);
    delta = lazyadam_testing_subnormal_vectors() - before;
    ok = st == LAZYADAM_OK && every_vector(delta, named * tb.dim, 9, be);
    if (!ok)
        printf("    %llu vectors took the path\n", (unsigned long long)delta);
    tally_case(t, ok, "exact_lazy_step replay of stuck rows backend=%s",
            lazyadam_backend_name(be));
    table_free(&tb);
}

int main(void)
{
    rng r = { harness_seed("test_subnormal") };
    tally t = { 0, 0, 0 };
    const lazyadam_backend vec[2] = { LAZYADAM_BACKEND_AVX2, LAZYADAM_BACKEND_AVX512 };
    for (size_t b = 0; b < 2; b++) {
        if (!lazyadam_backend_available(vec[b])) {
            tally_skip(&t, "backend %s: %s", lazyadam_backend_name(vec[b]),
                    lazyadam_backend_unavailable_reason(vec[b]));
            continue;
        }
        harness_begin_backend(vec[b]);
        dense_cases(&t, &r, vec[b]);
        sparse_cases(&t, &r, vec[b]);
    }
    return tally_finish(&t);
}
