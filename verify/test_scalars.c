/* The bias corrections behind every step (lib/scalars.c): lazyadam_bias_correction skips
 * pow once beta^step is far below what 1 - x can show in double, and must give exactly
 * 1 - pow(beta, step), the contract's formula, at every beta and step: most of all around
 * the step where it stops calling pow. And the cold line of the scalars (cold_below):
 * at the line a zero-gradient step's float products on m (beta1 * m, alpha * m') are
 * normal or zero, at half of it one is not, unless the line sits at its floor (2^-126,
 * under L2 decay or with beta1 zero) or its cap (2^-100, where half the cap is still
 * cold: the cap must be below the true line). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Checks beta at step; reports the first mismatch of a beta only. */
static int check(float beta, int64_t step, int *reported)
{
    double want = 1.0 - pow((double)beta, (double)step);
    double got = lazyadam_bias_correction(beta, step);
    if (same_double(want, got))
        return 1;
    if (!*reported)
        printf("    beta %.9g step %lld: 1 - pow = %.17g, lazyadam %.17g\n", (double)beta,
                (long long)step, want, got);
    *reported = 1;
    return 0;
}

/* Whether the exact product x is normal, or a zero (a factor zero): not below 2^-126,
 * where the float product is subnormal or underflows. */
static int normal_or_zero(double x)
{
    return x == 0.0 || fabs(x) >= 0x1p-126;
}

/* Whether a zero-gradient step's products on an m of magnitude x stay normal or zero:
 * beta1 * m, and alpha * m' with m' that product rounded to float (each product of two
 * floats exact in double). */
static int warm(const lazyadam_scalars *s, float x)
{
    double b = (double)s->beta1 * x;
    return normal_or_zero(b) && normal_or_zero((double)s->alpha * (double)(float)b);
}

static int line_ok(const lazyadam_config *cfg, int64_t step)
{
    lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    uint32_t bits = s.cold_below;
    float line;
    memcpy(&line, &bits, sizeof line);
    if (s.l2 || cfg->beta1 == 0.0f)
        return bits == 0x00800000u;
    if (bits == 0x0d800000u)
        return !warm(&s, 0x1p-101f);
    return bits >= 0x00800000u && bits < 0x0d800000u && warm(&s, line) && !warm(&s, 0.5f * line);
}

static void cold_line_cases(tally *t)
{
    const float beta1s[] = { 0.0f, 1e-30f, 0.1f, 0.5f, 0.9f, 0.99f, 0.999f,
        nextafterf(1.0f, 0.0f) };
    static const float lrs[] = { 0.0f, 1e-12f, 1e-9f, 1e-6f, 1e-3f, 0.1f, 1.0f, 1e3f };
    static const int64_t steps[] = { 1, 10, 1000, 100000 };
    for (size_t b = 0; b < sizeof beta1s / sizeof beta1s[0]; b++)
        for (size_t l = 0; l < sizeof lrs / sizeof lrs[0]; l++) {
            int ok = 1;
            for (int mode = 0; mode < 4; mode++)
                for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
                    lazyadam_config cfg = lazyadam_default_config();
                    cfg.beta1 = beta1s[b];
                    cfg.lr = lrs[l];
                    cfg.eps_mode = mode & 1 ? LAZYADAM_EPS_PLAIN : LAZYADAM_EPS_HAT;
                    cfg.weight_decay = mode & 2 ? 0.01f : 0.0f;   /* L2 */
                    if (!line_ok(&cfg, steps[k])) {
                        printf("    mode %d step %lld: cold_below 0x%08x\n", mode,
                                (long long)steps[k],
                                (unsigned)lazyadam_make_scalars(&cfg, steps[k]).cold_below);
                        ok = 0;
                    }
                }
            tally_case(t, ok, "cold line at beta1 %g lr %g: products normal at it, not at "
                    "half of it", (double)beta1s[b], (double)lrs[l]);
        }
}

int main(void)
{
    rng r = { harness_seed("test_scalars") };
    tally t = { 0, 0, 0 };
    float betas[40] = { 0.0f, 1e-30f, 0.1f, 0.5f, 0.9f, 0.95f, 0.99f, 0.999f, 0.9999f,
                        0.99999f, 0.999999f, nextafterf(1.0f, 0.0f) };
    size_t nb = 12;
    while (nb < sizeof betas / sizeof betas[0])   /* and random ones, many close to 1 */
        betas[nb++] = rng_below(&r, 2) ? (float)rng_below(&r, 1u << 24) / (float)(1u << 24)
                                        : 1.0f - (float)(1 + rng_below(&r, 4096)) * 0x1p-24f;
    for (size_t i = 0; i < nb; i++) {
        float beta = betas[i];
        int reported = 0, ok = 1;
        /* The first steps, the step where pow stops being called (42 / (1 - beta)) and
         * a thousand either side, random steps up to 2^40, and the largest. */
        for (int64_t s = 1; s <= 2000; s++)
            ok &= check(beta, s, &reported);
        double edge = 42.0 / (1.0 - (double)beta);
        int64_t mid = edge < 4e18 ? (int64_t)edge : (int64_t)4e18;
        for (int64_t s = mid - 1000; s <= mid + 1000; s++)
            if (s >= 1)
                ok &= check(beta, s, &reported);
        for (int k = 0; k < 20000; k++)
            ok &= check(beta, 1 + (int64_t)rng_below(&r, (uint64_t)1 << 40), &reported);
        ok &= check(beta, INT64_MAX, &reported);
        tally_case(&t, ok, "bias correction == 1 - pow(beta, step) bitwise, beta %.9g "
                "(pow skipped from step %lld)", (double)beta, (long long)mid);
    }
    cold_line_cases(&t);
    return tally_finish(&t);
}
