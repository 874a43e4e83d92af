/* Which vectors take the exact path for subnormal moments (lib/kernels/subnormal.h).
 *
 * The bitwise suites cannot tell: the path and the float operations it replaces give the
 * same bits, and only the time differs (the assists: README "Subnormal moments"). This
 * suite counts the vectors the path finishes on the calling thread
 * (lazyadam_testing_subnormal_vectors, one thread a call) and checks that zero and
 * normal moments never take it (a zero m with a zero gradient too: a row never named),
 * down to the call's cold line (lazyadam_scalars' cold_below) and not below it, where a
 * zero-gradient step's products on a normal m are subnormal; that every vector of a stuck
 * row does (m alone stuck, and m and v both, and v decaying), that a single
 * subnormal lane anywhere sends exactly its own vector, and that a nonzero gradient or
 * L2 decay declines it; plain Adam's untouched rows and exact LazyAdam's replay take it
 * too. The dense cases also compare with the reference, bitwise, and so do the cases
 * that sit on the edges of the path's cold forms (where m or v stops being stuck, where
 * a decaying m's step starts to move p, scalars of -0). Vector backends only: the
 * scalar and oneDNN backends have no such path. Each dense case runs through adam_step
 * and through adam_step_multi on the state in quarters, last quarter first
 * (dense_state_step_quarters), whose kernel calls hand over to the next piece. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
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

/* The state a dense case starts from; `line` is the call's cold line (bits). */
enum fill {
    ZERO_MOMENTS, ZERO_NO_GRADIENT, NORMAL_MOMENTS, COLD_NORMAL_M, STUCK_M, STUCK_MV,
    STUCK_M_COLD_V, ONE_LANE, STUCK_M_GRADIENT
};

static const char *const fill_name[] = {
    "zero moments, a gradient", "zero m, no gradient",
    "normal moments down to the cold line, no gradient",
    "m normal below the cold line (beta1 * m or alpha * m' subnormal), no gradient",
    "m stuck, no gradient", "m and v stuck, no gradient",
    "m stuck, v from 2^-149 to 2^-99 in 3 lanes of 4, no gradient", "one subnormal lane of m",
    "m stuck, a gradient",
};

static void fill(dense_state *s, rng *r, enum fill f, size_t lane, uint32_t line)
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
            m = rng_below(r, 4) ? 1e-3f * rng_normal(r) : tiny_of(line, 0);
            m = rng_below(r, 2) ? m : -m;
            break;
        case COLD_NORMAL_M: {   /* 2^-126 where the line is there (L2 decay) */
            uint32_t span = line - 0x00800000u;
            m = tiny_of(0x00800000u + (uint32_t)rng_below(r, span ? span : 1),
                    (int)rng_below(r, 2));
            break;
        }
        case STUCK_M: m = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2)); break;
        case STUCK_MV:
            m = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2));
            v = tiny_of((uint32_t)rng_below(r, 601), 0);
            break;
        case STUCK_M_COLD_V:   /* v from 2^-149 to 2^-99, and normal */
            m = tiny_of(1 + (uint32_t)rng_below(r, 4), (int)rng_below(r, 2));
            v = rng_below(r, 4) ? ldexpf(rng_uniform(r, 1.0f, 2.0f), -149 + (int)rng_below(r, 50))
                                : v;
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
        for (int f = ZERO_MOMENTS; f <= STUCK_M_GRADIENT; f++)
        for (int multi = 0; multi < 2; multi++) {
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = be;
            cfg.num_threads = 1;
            int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
            int l2 = cfg.weight_decay != 0.0f && !(cfg.flags & LAZYADAM_ADAMW);
            size_t offset = rng_below(r, 16), lane = rng_below(r, N);
            dense_state s;
            dense_state_init(&s, r, N, offset);
            const uint32_t line = lazyadam_make_scalars(&cfg, 1000).cold_below;
            fill(&s, r, (enum fill)f, lane, line);
            uint64_t before = lazyadam_testing_subnormal_vectors();
            lazyadam_status st = multi ? dense_state_step_quarters(&cfg, 1000, &s)
                    : lazyadam_adam_step(&cfg, 1000, N, s.p.p, s.g.p, s.m.p, s.v.p,
                            ams ? s.x.p : NULL);
            uint64_t delta = lazyadam_testing_subnormal_vectors() - before;
            ref_adam_step(&cfg, 1000, N, s.rp, s.g.p, s.rm, s.rv, s.rx);
            int taken;
            if (f == STUCK_M || f == STUCK_MV || f == STUCK_M_COLD_V)
                taken = l2 ? delta == 0 : every_vector(delta, N, 1, be);
            else if (f == COLD_NORMAL_M)
                taken = line == 0x00800000u ? delta == 0 : every_vector(delta, N, 1, be);
            else if (f == ONE_LANE)
                taken = delta == (l2 ? 0u : 1u);
            else
                taken = delta == 0;
            if (!taken)
                printf("    %llu vectors took the path\n", (unsigned long long)delta);
            int ok = st == LAZYADAM_OK && taken && dense_state_check(&s, ams);
            tally_case(t, ok, "%s %s backend=%s config=%s offset=%zu lane=%zu",
                    multi ? "adam_step_multi (quarters, last first)" : "adam_step",
                    fill_name[f], lazyadam_backend_name(be), cv[c].name, offset, lane);
            dense_state_free(&s);
        }
}

/* Where a stuck lane ends (subnormal.h's sn_stuck_limit): beta1 * k must round back to k
 * and alpha * k to 0, ties to even. At step 100,000 both bias corrections are 1, so alpha
 * is lr itself and each boundary sits where the list says; m's lanes run over k = 0 to a
 * few past it, either sign, beside p lanes of +-0 now and then (a numerator's sign shows
 * there only), each config bitwise against the reference. The same for v's limit
 * (rint(beta2 * k) = k), with v near it in every lane but now and then +0, -0 or
 * negative, and vmax mostly normal (AMSGrad's form keeps it), now and then tiny or
 * negative. The same m beside a v still decaying (V_SPREAD): lanes anywhere from 2^-149
 * to 2^-100, on either side of 2^-125 (where the form's integer lanes end) and at it,
 * normal, +0, now and then -0 or negative (which the form declines), infinite or NaN
 * (which it takes), with eps 0 once (a zero v' makes 0 / 0 there). And scalars of -0,
 * which the checks let through (>= 0): each flips a zero's sign that the integer forms
 * of the path took for +. And m anywhere in the subnormals
 * (beta1 * m decaying, not stuck), a lane in 64 infinite or NaN, once with a p lane in
 * 8 spread over four decades about where the step alpha * m / denom starts to move it;
 * and m anywhere up to 2^-100, across the cold line (normal, but beta1 * m or alpha * m'
 * not), a lane in 8 normal and large, with p about the bound and at lr 1 and 1e-9,
 * where the line is at its lowest and at its cap. */
#define V_SPREAD 0xffffffffu
#define COLD_M 0x0d800000u   /* m's bits up to 2^-100's: every m the cold line can reach */

/* A v lane for V_SPREAD's cases (above). */
static float v_spread(rng *r, float normal)
{
    static const uint32_t edges[] = { 1, 0x007fffff, 0x00800000, 0x00ffffff, 0x01000000,
        0x01000001 };
    switch (rng_below(r, 16)) {
    case 0: return tiny_of(edges[rng_below(r, sizeof edges / sizeof edges[0])], 0);
    case 1: case 2: return normal;
    case 3: return 0.0f;
    case 4: {   /* now and then what the form declines */
        static const float odd[] = { -0.0f, -1e-40f, -1e-8f, INFINITY, NAN };
        return rng_below(r, 4) ? ldexpf(rng_uniform(r, 1.0f, 2.0f), -140)
                               : odd[rng_below(r, sizeof odd / sizeof odd[0])];
    }
    default: return ldexpf(rng_uniform(r, 1.0f, 2.0f), -149 + (int)rng_below(r, 50));
    }
}

static void stuck_boundary_cases(tally *t, rng *r, lazyadam_backend be)
{
    static const struct {
        float beta1, beta2, lr;
        unsigned kmax, vk;   /* m's k from 0 to kmax; v's the last 12 up to vk (0: normal;
                                V_SPREAD: v_spread's) */
        int vneg;            /* every v lane negated (a v the contract takes the root of) */
        int pexp;            /* one p lane in 8 from 10^-pexp to 10^(4 - pexp) (0: none) */
        float eps;
        const char *why;
    } cases[] = {
        { 0.9f, 0.999f, 1e-3f, 8, 0, 0, 0, 1e-8f, "beta1: k <= 4" },
        { 0.75f, 0.999f, 1e-3f, 6, 0, 0, 0, 1e-8f, "beta1: k <= 2, 2 by a tie to even" },
        { 0.5f, 0.999f, 1e-3f, 4, 0, 0, 0, 1e-8f, "beta1: none (rint(0.5) = 0)" },
        { 0.99f, 0.999f, 1e-3f, 64, 0, 0, 0, 1e-8f, "beta1: k <= 50, 50 by a tie to even" },
        { 0.9f, 0.999f, 0.25f, 6, 0, 0, 0, 1e-8f, "alpha: k <= 2, 2 by a tie" },
        { 0.9f, 0.999f, 0.2f, 6, 0, 0, 0, 1e-8f, "alpha: k <= 2" },
        { 0.999f, 0.999f, 0.0625f, 12, 0, 0, 0, 1e-8f, "alpha: k <= 8, 8 by a tie" },
        { 0.9f, 0.999f, 0.0f, 8, 0, 0, 0, 1e-8f, "alpha 0" },
        { 0.9f, 0.999f, 1e-3f, 4, 501, 0, 0, 1e-8f, "beta2: v's k <= 500, 500 by a tie" },
        { 0.9f, 0.999f, 1e-3f, 4, 501, 0, 0, 0.0f, "beta2: v's k <= 500, eps 0 (0 / 0 where v is 0)" },
        { 0.9f, 0.75f, 1e-3f, 4, 4, 0, 0, 1e-8f, "beta2: v's k <= 2" },
        { 0.9f, 0.999f, 1e-3f, 4, 501, 1, 0, 1e-8f, "beta2: v's k <= 500, every v negative" },
        { 0.9f, 0.5f, 1e-3f, 6, 3, 0, 0, 1e-8f, "beta2: v's none" },
        { 0.9f, 0.999f, 1e-3f, 4, V_SPREAD, 0, 0, 1e-8f, "v decaying beside a stuck m" },
        { 0.9f, 0.999f, 1e-3f, 4, V_SPREAD, 0, 0, 0.0f, "v decaying, eps 0 (0 / 0 where v' is 0)" },
        { 0.99f, 0.75f, 1e-3f, 50, V_SPREAD, 0, 0, 1e-8f, "v decaying, beta2 0.75" },
        { 0.9f, 0.5f, 1e-3f, 4, V_SPREAD, 0, 0, 1e-8f, "v decaying, beta2 0.5: none" },
        { 0.9f, 0.999f, 1e-3f, 4, V_SPREAD, 1, 0, 1e-8f, "v decaying, every v negative" },
        { 0.9f, 0.999f, -0.0f, 8, 0, 0, 0, 1e-8f, "alpha -0: the numerator's sign flips" },
        { -0.0f, 0.999f, 1e-3f, 8, 0, 0, 0, 1e-8f, "beta1 -0: beta1 * m's sign flips" },
        { 0.9f, -0.0f, 1e-3f, 8, 0, 0, 0, 1e-8f, "beta2 -0, v tiny in some lanes: beta2 * v is -0" },
        { 0.9f, 0.999f, 1.0f, 0x7fffff, 0, 0, 29, 1e-8f, "decaying m, p about the step's bound" },
        { 0.9f, 0.999f, 1e-3f, 0x7fffff, 0, 0, 0, 1e-8f, "decaying m" },
        { 0.9f, 0.999f, 1e-3f, COLD_M, 0, 0, 22, 1e-8f, "m across the cold line, p about the bound" },
        { 0.9f, 0.999f, 1.0f, COLD_M, 0, 0, 0, 1e-8f, "m across the cold line, lr 1 (at 2^-126 / 0.9)" },
        { 0.9f, 0.999f, 1e-9f, COLD_M, 0, 0, 0, 1e-8f, "m across the cold line, lr 1e-9 (at 2^-100)" },
    };
    const int flags[3] = { 0, LAZYADAM_MAXIMIZE, LAZYADAM_AMSGRAD | LAZYADAM_ADAMW };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int f = 0; f < 3; f++)
            for (int plain = 0; plain < 2; plain++) {
                lazyadam_config cfg = lazyadam_default_config();
                cfg.backend = be;
                cfg.num_threads = 1;
                cfg.beta1 = cases[c].beta1;
                cfg.beta2 = cases[c].beta2;
                cfg.lr = cases[c].lr;
                cfg.eps = cases[c].eps;
                cfg.flags = flags[f];
                cfg.weight_decay = (flags[f] & LAZYADAM_ADAMW) ? 0.01f : 0.0f;
                cfg.eps_mode = plain ? LAZYADAM_EPS_PLAIN : LAZYADAM_EPS_HAT;
                int ams = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
                dense_state s;
                dense_state_init(&s, r, N, rng_below(r, 16));
                for (size_t i = 0; i < N; i++) {
                    float z = rng_normal(r);
                    s.p.p[i] = rng_below(r, 16) ? 0.1f * z : (rng_below(r, 2) ? 0.0f : -0.0f);
                    if (cases[c].pexp && rng_below(r, 8) == 0)
                        s.p.p[i] = (float)pow(10.0, rng_uniform(r, 0.0f, 4.0f) - cases[c].pexp)
                                 * (rng_below(r, 2) ? 1.0f : -1.0f);
                    s.g.p[i] = rng_below(r, 2) ? 0.0f : -0.0f;
                    s.m.p[i] = tiny_of((uint32_t)rng_below(r, cases[c].kmax + 1),
                            (int)rng_below(r, 2));
                    if (cases[c].kmax == COLD_M && rng_below(r, 8) == 0)   /* and normal ones */
                        s.m.p[i] = 1e-3f * rng_normal(r);
                    if (cases[c].kmax == 0x7fffff && rng_below(r, 64) == 0)   /* beside them */
                        s.m.p[i] = rng_below(r, 2) ? NAN : (rng_below(r, 2) ? INFINITY : -INFINITY);
                    float v = 1e-8f * (z * z + 0.01f), x = v * rng_uniform(r, 0.5f, 2.0f);
                    if (signbit(cfg.beta2) && rng_below(r, 2))
                        v = x = tiny_of((uint32_t)rng_below(r, 600), 0);
                    unsigned vk = cases[c].vk;
                    if (vk == V_SPREAD) {
                        v = v_spread(r, v);
                        x = rng_below(r, 32) ? x : rng_below(r, 2) ? v : v_spread(r, v);
                        v = cases[c].vneg ? -v : v;
                    } else if (vk) {   /* v +0 or near its limit; now and then -0 or negative */
                        uint32_t back = (uint32_t)rng_below(r, 12);
                        v = rng_below(r, 8) ? tiny_of(back < vk ? vk - back : 0, 0) : 0.0f;
                        v = rng_below(r, 64) ? v : -v;
                        x = rng_below(r, 32) ? x : v;   /* vmax mostly normal */
                        x = rng_below(r, 64) ? x : -x;
                        v = cases[c].vneg ? -v : v;
                    }
                    s.v.p[i] = v;
                    s.x.p[i] = x;
                }
                dense_state_sync(&s);
                lazyadam_status st = lazyadam_adam_step(&cfg, 100000, N, s.p.p, s.g.p, s.m.p,
                        s.v.p, ams ? s.x.p : NULL);
                ref_adam_step(&cfg, 100000, N, s.rp, s.g.p, s.rm, s.rv, s.rx);
                tally_case(t, st == LAZYADAM_OK && dense_state_check(&s, ams),
                        "adam_step stuck boundary (%s) beta1=%g lr=%g flags=%d %s backend=%s",
                        cases[c].why, (double)cfg.beta1, (double)cfg.lr, cfg.flags,
                        plain ? "plain" : "hat", lazyadam_backend_name(be));
                dense_state_free(&s);
            }
}

/* A rows x 64 table whose m is stuck everywhere (or, with `below_line`, normal but below
 * the cold line: about 1e-36, for lr 1e-3), `named` rows given a gradient. */
typedef struct table {
    size_t rows, dim;
    float *p, *m, *v, *vals;
    int64_t *idx, *last;
} table;

static table table_new(rng *r, size_t rows, size_t named, int below_line)
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
        if (below_line)
            tb.m[i] = (rng_below(r, 2) ? 1e-36f : -1e-36f) * rng_uniform(r, 0.5f, 2.0f);
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

    static const char *const kind[2] = { "stuck", "below the cold line" };
    for (int below = 0; below < 2; below++) {
        /* Plain Adam: the rows no index names decay, each of their vectors on the path. */
        table tb = table_new(r, rows, named, below);
        uint64_t before = lazyadam_testing_subnormal_vectors();
        lazyadam_status st = lazyadam_adam_sparse_step(&cfg, 1000, rows, tb.dim, tb.p, tb.m,
                tb.v, NULL, named, tb.idx, tb.vals);
        uint64_t delta = lazyadam_testing_subnormal_vectors() - before;
        int ok = st == LAZYADAM_OK && every_vector(delta, (rows - named) * tb.dim, 1, be);
        if (!ok)
            printf("    %llu vectors took the path\n", (unsigned long long)delta);
        tally_case(t, ok, "adam_sparse_step untouched rows, m %s, backend=%s", kind[below],
                lazyadam_backend_name(be));
        table_free(&tb);

        /* Exact LazyAdam: each named row replays steps 991..999 before its own step 1000,
         * each replayed step of each vector on the path (m stays below the line: 0.9^9
         * of 1e-36 is above 2^-126). */
        tb = table_new(r, rows, named, below);
        before = lazyadam_testing_subnormal_vectors();
        st = lazyadam_exact_lazy_step(&cfg, 1000, rows, tb.dim, tb.p, tb.m, tb.v, NULL,
                tb.last, named, tb.idx, tb.vals);
        delta = lazyadam_testing_subnormal_vectors() - before;
        ok = st == LAZYADAM_OK && every_vector(delta, named * tb.dim, 9, be);
        if (!ok)
            printf("    %llu vectors took the path\n", (unsigned long long)delta);
        tally_case(t, ok, "exact_lazy_step replay of rows, m %s, backend=%s", kind[below],
                lazyadam_backend_name(be));
        table_free(&tb);
    }
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
        stuck_boundary_cases(&t, &r, vec[b]);
        sparse_cases(&t, &r, vec[b]);
    }
    return tally_finish(&t);
}
