/* The bias corrections behind every step (lib/scalars.c): lazyadam_bias_correction skips
 * pow once beta^step is far below what 1 - x can show in double, and must give exactly
 * 1 - pow(beta, step), the contract's formula, at every beta and step: most of all around
 * the step where it stops calling pow. */
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
    return tally_finish(&t);
}
