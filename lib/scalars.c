/* The per-call scalars of the numerical contract, computed exactly as it says:
 * bias corrections and step sizes in double, then rounded once to float. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* 1 - pow(beta, step), the contract's bias correction, for 0 <= beta < 1 and step >= 1.
 * Once step * (1 - beta) >= 42, beta^step <= e^-42 < 2^-60 (ln beta <= beta - 1), and
 * 1 - x is 1.0 exactly in double for every x <= 2^-54, whatever pow's last bits: so the
 * result is 1.0 without asking pow. pow was half of a small call's cost, more once
 * beta^step underflows (beta 0.9 from step 7,000): a 16-element adam_step went from 230 to
 * 98 TSC ticks (README, "Bias corrections without pow"). */
#define BIAS_SETTLED 42.0

double lazyadam_bias_correction(float beta, int64_t step)
{
    double b = (double)beta;
    if ((double)step * (1.0 - b) >= BIAS_SETTLED)
        return 1.0;
    return 1.0 - pow(b, (double)step);
}

/* The line below which a lane of m takes the vector kernels' cold path (lazyadam_scalars).
 * With a zero gradient, a step's float products on m are beta1 * m and alpha * m', m' =
 * beta1 * m: from 2^-126 / beta1 and 2^-126 / (alpha * beta1) up they are normal (or
 * zero, where a factor is), and below that a subnormal one takes a microcode assist on Intel
 * cores, as a subnormal m does (for about 65 steps of a row's decay with lr 1e-3; README
 * "Subnormal moments"). The cold path is exact for any m, so the line only decides speed;
 * it stays at 2^-126 under L2 decay (whose gradient is never zero there), and goes no
 * higher than 2^-100 (a factor below about 2^-26). */
#define COLD_LINE_MIN 0x00800000u   /* 2^-126 */
#define COLD_LINE_MAX 0x0d800000u   /* 2^-100 */

static uint32_t cold_line(const lazyadam_scalars *s)
{
    double b1 = (double)s->beta1;   /* below 1 (lazyadam_check_config) */
    if (s->l2 || !(b1 > 0.0))
        return COLD_LINE_MIN;
    double ab = (double)s->alpha * b1, f = ab > 0.0 && ab < b1 ? ab : b1;   /* the smaller */
    /* a margin of 2^-20 over the float roundings (2^-24 each) of the line and m' */
    double line = 0x1p-126 / f * (1.0 + 0x1p-20);
    if (line >= 0x1p-100)
        return COLD_LINE_MAX;
    float lf = (float)line;
    uint32_t bits;
    memcpy(&bits, &lf, sizeof bits);
    return bits;
}

lazyadam_scalars lazyadam_make_scalars(const lazyadam_config *cfg, int64_t step)
{
    lazyadam_scalars s;
    double bc1 = lazyadam_bias_correction(cfg->beta1, step);
    double bc2 = lazyadam_bias_correction(cfg->beta2, step);
    s.eps_plain = cfg->eps_mode == LAZYADAM_EPS_PLAIN;
    if (s.eps_plain) {
        s.alpha = (float)((double)cfg->lr / bc1);
        s.rbc2 = (float)sqrt(bc2);
    } else {
        s.alpha = (float)((double)cfg->lr * sqrt(bc2) / bc1);
        s.rbc2 = 1.0f;
    }
    s.beta1 = cfg->beta1;
    s.beta2 = cfg->beta2;
    s.omb1 = 1.0f - cfg->beta1;
    s.omb2 = 1.0f - cfg->beta2;
    s.eps = cfg->eps;
    s.wd = cfg->weight_decay;
    s.adamw = (cfg->flags & LAZYADAM_ADAMW) != 0;
    s.amsgrad = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    s.maximize = (cfg->flags & LAZYADAM_MAXIMIZE) != 0;
    s.l2 = cfg->weight_decay != 0.0f && !s.adamw;
    s.decay = s.adamw ? (float)(1.0 - (double)cfg->lr * (double)cfg->weight_decay) : 1.0f;
    s.cold_below = cold_line(&s);
    return s;
}
