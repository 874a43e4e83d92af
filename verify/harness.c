#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define GUARD 64
#define CANARY 0xA5

uint64_t rng_u64(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rng_below(rng *r, uint64_t n)
{
    return n ? rng_u64(r) % n : 0;
}

float rng_uniform(rng *r, float lo, float hi)
{
    double u = (double)(rng_u64(r) >> 11) * 0x1.0p-53;
    return (float)(lo + (hi - lo) * u);
}

float rng_normal(rng *r)
{
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += (double)(rng_u64(r) >> 11) * 0x1.0p-53;
    return (float)((s - 2.0) * 1.7320508075688772);
}

uint64_t harness_seed(const char *test_name)
{
    const char *env = getenv("LAZYADAM_TEST_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 0)
                                : (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)clock();
    printf("%s: seed %llu (reproduce with LAZYADAM_TEST_SEED=%llu)\n", test_name,
            (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

gbuf gbuf_new(size_t n, size_t offset)
{
    gbuf b;
    size_t front = GUARD + (offset % 16) * sizeof(float);
    size_t total = front + n * sizeof(float) + GUARD;
    b.base = aligned_alloc(64, (total + 63) & ~(size_t)63);
    if (!b.base) {
        fprintf(stderr, "out of memory allocating %zu floats\n", n);
        exit(2);
    }
    memset(b.base, CANARY, total);
    b.p = (float *)(b.base + front);
    b.n = n;
    b.front = front;
    return b;
}

void gbuf_free(gbuf *b)
{
    free(b->base);
    b->base = NULL;
    b->p = NULL;
}

int gbuf_guards_ok(const gbuf *b)
{
    const unsigned char *after = (const unsigned char *)(b->p + b->n);
    for (size_t i = 0; i < b->front; i++)
        if (b->base[i] != CANARY)
            return 0;
    for (size_t i = 0; i < GUARD; i++)
        if (after[i] != CANARY)
            return 0;
    return 1;
}

static int64_t ordered(float x)
{
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

uint64_t ulp_distance(float a, float b)
{
    if (bits_of(a) == bits_of(b))
        return 0;
    if (isnan(a) || isnan(b))
        return UINT64_MAX;
    /* Different bits are never 0 apart, so tol_ulp 0 stays bitwise: +0 and -0 map to the
     * same ordered value and count as 1 ulp apart. */
    int64_t d = ordered(a) - ordered(b);
    return d == 0 ? 1 : (uint64_t)(d < 0 ? -d : d);
}

size_t compare_floats(const char *what, const float *want, const float *got, size_t n,
        uint64_t tol_ulp, uint64_t *max_ulp)
{
    size_t bad = 0;
    uint64_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = ulp_distance(want[i], got[i]);
        if (d > worst)
            worst = d;
        if (d > tol_ulp) {
            if (bad < 4)
                printf("    %s[%zu]: expected %.9g (0x%08x) got %.9g (0x%08x), %llu ulp\n", what,
                        i, (double)want[i], (unsigned)bits_of(want[i]), (double)got[i],
                        (unsigned)bits_of(got[i]), (unsigned long long)d);
            bad++;
        }
    }
    if (bad > 4)
        printf("    %s: %zu mismatches in all\n", what, bad);
    if (max_ulp && worst > *max_ulp)
        *max_ulp = worst;
    return bad;
}

static config_variant variants[16];
static size_t nvariants;

size_t config_variants(const config_variant **out)
{
    if (!nvariants) {
        lazyadam_config d = lazyadam_default_config();
        config_variant *v = variants;
        size_t k = 0;
        v[k].name = "hat"; v[k++].cfg = d;
        v[k].name = "plain"; v[k].cfg = d; v[k++].cfg.eps_mode = LAZYADAM_EPS_PLAIN;
        v[k].name = "hat+l2"; v[k].cfg = d; v[k++].cfg.weight_decay = 0.01f;
        /* AdamW's decay 1 - lr * wd is 0.96999997 in double, as the contract computes it,
         * and 0.97000003 in float: a decay computed in float shows here */
        v[k].name = "plain+adamw(lr=0.1,wd=0.3)"; v[k].cfg = d;
        v[k].cfg.eps_mode = LAZYADAM_EPS_PLAIN; v[k].cfg.lr = 0.1f;
        v[k].cfg.weight_decay = 0.3f; v[k++].cfg.flags = LAZYADAM_ADAMW;
        v[k].name = "hat+amsgrad"; v[k].cfg = d; v[k++].cfg.flags = LAZYADAM_AMSGRAD;
        v[k].name = "plain+maximize"; v[k].cfg = d; v[k].cfg.eps_mode = LAZYADAM_EPS_PLAIN;
        v[k++].cfg.flags = LAZYADAM_MAXIMIZE;
        v[k].name = "plain+l2+amsgrad+maximize"; v[k].cfg = d;
        v[k].cfg.eps_mode = LAZYADAM_EPS_PLAIN; v[k].cfg.weight_decay = 0.02f;
        v[k++].cfg.flags = LAZYADAM_AMSGRAD | LAZYADAM_MAXIMIZE;
        v[k].name = "hat+adamw+amsgrad+maximize"; v[k].cfg = d; v[k].cfg.weight_decay = 0.1f;
        v[k++].cfg.flags = LAZYADAM_ADAMW | LAZYADAM_AMSGRAD | LAZYADAM_MAXIMIZE;
        v[k].name = "hat+adamw(wd=0)"; v[k].cfg = d; v[k++].cfg.flags = LAZYADAM_ADAMW;
        v[k].name = "hat+lr0.1,b1=0,b2=0.5,eps=1e-3"; v[k].cfg = d; v[k].cfg.lr = 0.1f;
        v[k].cfg.beta1 = 0.0f; v[k].cfg.beta2 = 0.5f; v[k++].cfg.eps = 1e-3f;
        v[k].name = "plain+eps0+b2=0"; v[k].cfg = d; v[k].cfg.eps_mode = LAZYADAM_EPS_PLAIN;
        v[k].cfg.eps = 0.0f; v[k++].cfg.beta2 = 0.0f;
        nvariants = k;
    }
    *out = variants;
    return nvariants;
}

void tally_case(tally *t, int ok, const char *fmt, ...)
{
    if (ok) {
        t->passed++;
        return;
    }
    t->failed++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

void tally_skip(tally *t, const char *fmt, ...)
{
    t->skipped++;
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int tally_finish(const tally *t)
{
    printf("%ld passed, %ld failed, %ld skipped\n", t->passed, t->failed, t->skipped);
    return t->failed ? 1 : 0;
}

size_t test_backends(tally *t, lazyadam_backend out[4])
{
    static const lazyadam_backend all[] = {
        LAZYADAM_BACKEND_SCALAR, LAZYADAM_BACKEND_AVX2, LAZYADAM_BACKEND_AVX512,
        LAZYADAM_BACKEND_ONEDNN,
    };
    size_t k = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *why = lazyadam_backend_unavailable_reason(all[i]);
        if (why)
            tally_skip(t, "backend %s: %s", lazyadam_backend_name(all[i]), why);
        else
            out[k++] = all[i];
    }
    return k;
}

uint64_t backend_tolerance(lazyadam_backend b)
{
    return b == LAZYADAM_BACKEND_ONEDNN ? 8 : 0;
}

uint64_t current_tol, current_max_ulp;

void harness_begin_backend(lazyadam_backend b)
{
    current_tol = backend_tolerance(b);
    current_max_ulp = 0;
}

void harness_report_ulp(lazyadam_backend b)
{
    printf("backend %s: largest distance from the reference %llu ulp (allowed %llu)\n",
            lazyadam_backend_name(b), (unsigned long long)current_max_ulp,
            (unsigned long long)current_tol);
}

size_t compare_state(const char *what, const float *want, const float *got, size_t n)
{
    return compare_floats(what, want, got, n, current_tol, &current_max_ulp);
}

void fill_normal(rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * rng_normal(r);
}

void fill_positive(rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) {
        float z = rng_normal(r);
        x[i] = scale * z * z;
    }
}

void dense_state_sync(dense_state *s)
{
    memcpy(s->rp, s->p.p, s->n * sizeof(float));
    memcpy(s->rm, s->m.p, s->n * sizeof(float));
    memcpy(s->rv, s->v.p, s->n * sizeof(float));
    memcpy(s->rx, s->x.p, s->n * sizeof(float));
}

void dense_state_init_at(dense_state *s, rng *r, size_t n, const size_t offset[5], int with_grad)
{
    s->n = n;
    s->p = gbuf_new(n, offset[0]);
    s->g = gbuf_new(with_grad ? n : 0, offset[1]);
    s->m = gbuf_new(n, offset[2]);
    s->v = gbuf_new(n, offset[3]);
    s->x = gbuf_new(n, offset[4]);
    fill_normal(r, s->p.p, n, 1.0f);
    fill_normal(r, s->m.p, n, 0.01f);
    fill_positive(r, s->v.p, n, 1e-4f);
    fill_positive(r, s->x.p, n, 1e-4f);
    size_t bytes = n * sizeof(float) + 1;
    s->rp = malloc(bytes); s->rm = malloc(bytes); s->rv = malloc(bytes); s->rx = malloc(bytes);
    dense_state_sync(s);
}

/* +-k * 2^-149 with k in [0, kmax] and a random sign (a zero of either sign at k = 0). */
static float subnormal_of(rng *r, uint32_t kmax)
{
    uint32_t u = (uint32_t)rng_below(r, (uint64_t)kmax + 1) | (rng_below(r, 2) ? 0x80000000u : 0);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* One of: a signed zero, a subnormal, a tiny normal (2^-126 to about 2^-100), an
 * ordinary value of the given scale. */
static float mixed_of(rng *r, float scale)
{
    switch (rng_below(r, 4)) {
    case 0: return subnormal_of(r, 0);
    case 1: return subnormal_of(r, 0x7fffff);
    case 2: return rng_uniform(r, 1.2e-38f, 8e-31f) * (rng_below(r, 2) ? 1.0f : -1.0f);
    default: return scale * rng_normal(r);
    }
}

void dense_state_fill_subnormal(dense_state *s, rng *r)
{
    for (size_t b = 0; b < s->n; b += 16) {
        unsigned regime = (unsigned)rng_below(r, 10);
        for (size_t i = b; i < b + 16 && i < s->n; i++) {
            float z = rng_normal(r);
            float p = rng_below(r, 20) ? 0.1f * z : mixed_of(r, 0.1f);
            float g = subnormal_of(r, 0), m, v = 1e-8f * (z * z + 0.01f);
            if (rng_below(r, 10) == 0)
                v = 0.0f;
            switch (regime) {
            case 0: case 1: case 2: m = subnormal_of(r, 6); break;      /* stuck */
            case 3: m = subnormal_of(r, 0x7fffff); break;
            case 4: m = mixed_of(r, 1e-3f); break;
            case 5: m = mixed_of(r, 1e-3f); g = rng_below(r, 2) ? g : mixed_of(r, 1e-2f); break;
            case 6: m = subnormal_of(r, 0x7fffff); v = fabsf(mixed_of(r, 1e-4f)); break;
            case 7:   /* both stuck, v rarely with its sign bit set */
                m = subnormal_of(r, 6);
                v = subnormal_of(r, 600);
                v = rng_below(r, 50) ? fabsf(v) : v;
                break;
            case 8: m = subnormal_of(r, 6); v = fabsf(subnormal_of(r, 0x800000)); break;
            default: m = 1e-3f * z; g = 1e-2f * rng_normal(r); break;
            }
            s->p.p[i] = p;
            if (s->g.n)
                s->g.p[i] = g;
            s->m.p[i] = m;
            s->v.p[i] = v;
            s->x.p[i] = rng_below(r, 4) ? v * rng_uniform(r, 0.5f, 2.0f) : fabsf(mixed_of(r, 1e-4f));
            if (regime >= 7 && regime <= 8 && rng_below(r, 50) == 0) {
                s->x.p[i] = -0.0f;   /* vmax -0 beside v +0 too: +0 > -0 is false */
                if (rng_below(r, 2))
                    s->v.p[i] = 0.0f;
            }
        }
    }
    dense_state_sync(s);
}

void dense_state_init(dense_state *s, rng *r, size_t n, size_t offset)
{
    const size_t at[5] = { offset, offset + 3, offset + 5, offset + 7, offset + 11 };
    dense_state_init_at(s, r, n, at, 1);
}

void dense_state_free(dense_state *s)
{
    gbuf_free(&s->p); gbuf_free(&s->g); gbuf_free(&s->m); gbuf_free(&s->v); gbuf_free(&s->x);
    free(s->rp); free(s->rm); free(s->rv); free(s->rx);
}

lazyadam_status dense_state_step_quarters(const lazyadam_config *cfg, int64_t step,
        dense_state *s)
{
    const int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    const size_t q = s->n / 4;
    lazyadam_tensor ts[4];
    for (size_t k = 0; k < 4; k++) {
        size_t lo = (3 - k) * q, hi = k == 0 ? s->n : (4 - k) * q;
        ts[k] = (lazyadam_tensor){ hi - lo, s->p.p + lo, s->g.p + lo, s->m.p + lo,
                                   s->v.p + lo, ams ? s->x.p + lo : NULL };
    }
    return lazyadam_adam_step_multi(cfg, step, 4, ts);
}

int dense_state_check(const dense_state *s, int ams)
{
    size_t bad = compare_state("param", s->rp, s->p.p, s->n)
               + compare_state("m", s->rm, s->m.p, s->n)
               + compare_state("v", s->rv, s->v.p, s->n);
    if (ams)
        bad += compare_state("vmax", s->rx, s->x.p, s->n);
    int guards = gbuf_guards_ok(&s->p) && gbuf_guards_ok(&s->g) && gbuf_guards_ok(&s->m)
              && gbuf_guards_ok(&s->v) && gbuf_guards_ok(&s->x);
    if (!guards)
        printf("    a guard zone was overwritten\n");
    return bad == 0 && guards;
}
