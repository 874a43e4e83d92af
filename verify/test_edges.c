/* Numerical edges: each case is run on every backend, compared bitwise with the
 * reference (oneDNN within its allowance), and its documented outcome asserted. The
 * printed lines are the README's table of hostile inputs. No silent fix-ups: NaN and
 * Inf propagate exactly as the contract's operations carry them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "reference.h"

#define N 37   /* straddles the vector tiles, so lanes and tails are both exercised */

/* An element's state after the step: p0 and x0 before it, vmax in x (AMSGrad only). */
typedef struct after {
    const float *p0, *p, *m, *v, *g, *x0, *x;
} after;

typedef struct edge {
    const char *input, *outcome;
    lazyadam_config cfg;
    int64_t step;
    float p, g, m, v, x;   /* x: vmax, used with AMSGRAD */
    int (*holds)(const after *a);
} edge;

static int nan_all(const after *a)
{
    return isnan(a->p[0]) && isnan(a->m[0]) && isnan(a->v[0]);
}
static int inf_grad(const after *a)
{
    return isinf(a->m[0]) && isinf(a->v[0]) && isnan(a->p[0]);
}
static int denormal_kept(const after *a)
{
    return a->m[0] != 0.0f && fabsf(a->m[0]) < 1.17549435e-38f;
}
static int huge_grad(const after *a)
{
    return isinf(a->v[0]) && isfinite(a->m[0]) && a->p[0] == a->p0[0];
}
static int eps0_nan(const after *a)
{
    return isnan(a->p[0]) && a->m[0] == 0.0f && a->v[0] == 0.0f;
}
static int betas0(const after *a)
{
    return a->m[0] == a->g[0] && a->v[0] == a->g[0] * a->g[0] && fabs((a->p0[0] - a->p[0]) - 1e-3) < 1e-6;
}
static int lr0(const after *a)
{
    for (int i = 0; i < N; i++)
        if (!(a->p[i] == a->p0[i]))
            return 0;
    return 1;
}
static int step_max(const after *a)
{
    /* bias corrections are 1: the update is lr * m / (sqrt(v) + eps) */
    double want = 1e-3 * a->m[0] / (sqrt(a->v[0]) + 1e-8);
    return isfinite(a->p[0]) && fabs((a->p0[0] - a->p[0]) - want) < 1e-6;
}
static int adamw_flip(const after *a)
{
    return (a->p0[0] > 0) == (a->p[0] < 0);
}
static int beta1_near1(const after *a)
{
    return isfinite(a->p[0]) && a->p[0] != a->p0[0];
}
static int ams_nan_grad(const after *a)
{
    return isnan(a->v[0]) && a->x[0] == a->x0[0] && isnan(a->m[0]) && isnan(a->p[0]);
}
static int ams_nan_vmax(const after *a)
{
    return isnan(a->x[0]) && isnan(a->p[0]) && isfinite(a->m[0]) && isfinite(a->v[0]);
}
static int max_minus_zero(const after *a)
{
    return a->m[0] == 0.0f && signbit(a->m[0]) && a->p[0] == a->p0[0];
}
static int ams_minus_zero(const after *a)
{
    return a->x[0] == 0.0f && signbit(a->x[0]) && a->p[0] == a->p0[0];
}

int main(void)
{
    tally t = { 0, 0, 0 };
    lazyadam_config d = lazyadam_default_config();
    lazyadam_config eps0 = d, b0 = d, l0 = d, aw = d, b1 = d, l2 = d, ams = d, max = d;
    eps0.eps = 0.0f;
    b0.beta1 = 0.0f; b0.beta2 = 0.0f;
    l0.lr = 0.0f;
    aw.flags = LAZYADAM_ADAMW; aw.lr = 1.0f; aw.weight_decay = 3.0f;
    b1.beta1 = 0.99999994f;
    l2.weight_decay = 0.1f;
    ams.flags = LAZYADAM_AMSGRAD;
    max.flags = LAZYADAM_MAXIMIZE;
    const edge edges[] = {
        { "NaN gradient", "p, m, v become NaN in that element (no fix-up)", d, 1, 1.0f, NAN, 0.0f, 0.0f, 0.0f, nan_all },
        { "NaN parameter with L2 decay", "g + wd*p is NaN: p, m, v NaN", l2, 1, NAN, 0.1f, 0.0f, 0.0f, 0.0f, nan_all },
        { "+Inf gradient", "m = v = +Inf; the step is Inf/Inf = NaN, so p is NaN", d, 1, 1.0f, INFINITY, 0.0f, 0.0f, 0.0f, inf_grad },
        { "denormal gradient 1e-40", "m = (1-beta1)*g stays a denormal (no flush to zero); g*g underflows to 0", d, 1, 1.0f, 1e-40f, 0.0f, 0.0f, 0.0f, denormal_kept },
        { "denormal moments, zero gradient", "beta1*m stays a denormal (no flush to zero)", d, 3, 1.0f, 0.0f, 1e-40f, 1e-42f, 0.0f, denormal_kept },
        { "huge gradient 3e38", "g*g overflows: v = +Inf, the step is 0, p unchanged", d, 1, 1.0f, 3e38f, 0.0f, 0.0f, 0.0f, huge_grad },
        { "eps = 0, zero gradient, zero moments", "0/0: p becomes NaN, as the contract computes", eps0, 1, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, eps0_nan },
        { "beta1 = beta2 = 0", "m = g, v = g*g, p moves by lr*g/(abs(g)+eps)", b0, 7, 1.0f, 0.5f, 0.3f, 0.2f, 0.0f, betas0 },
        { "lr = 0", "p unchanged up to the sign of a zero; m, v still updated", l0, 5, -0.0f, 0.2f, -0.1f, 0.3f, 0.0f, lr0 },
        { "step = INT64_MAX", "beta^step = 0, bias corrections are 1: p moves by lr*m/(sqrt(v)+eps)", d, INT64_MAX, 1.0f, 0.1f, 0.05f, 0.01f, 0.0f, step_max },
        { "beta1 = 0.99999994 at step 1", "1 - beta1^1 = 6e-8: a very large but finite step", b1, 1, 1.0f, 0.1f, 0.0f, 0.0f, 0.0f, beta1_near1 },
        { "AdamW with lr*wd = 3", "decay = 1 - 3 = -2 (valid hyper-parameters): p changes sign", aw, 1, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, adamw_flip },
        { "MAXIMIZE, gradient +0, m = -0", "g = -(+0) = -0 flips the sign bit, so m = -0 + -0 stays -0; p unchanged", max, 1, 1.0f, 0.0f, -0.0f, 0.0f, 0.0f, max_minus_zero },
        { "AMSGrad, NaN gradient", "v is NaN, vmax keeps its value (NaN > vmax is false); m, p NaN", ams, 1, 1.0f, NAN, 0.0f, 0.0f, 0.5f, ams_nan_grad },
        { "AMSGrad, vmax NaN", "v > NaN is false: vmax stays NaN, so p is NaN; m, v finite", ams, 1, 1.0f, 0.1f, 0.0f, 0.0f, NAN, ams_nan_vmax },
        { "AMSGrad, vmax -0, zero gradient and moments", "v = +0 is not > -0: vmax keeps -0; p unchanged", ams, 1, 1.0f, 0.0f, 0.0f, 0.0f, -0.0f, ams_minus_zero },
    };
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    printf("| input | outcome |\n|---|---|\n");
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        const edge *c = &edges[e];
        int all = 1;
        for (size_t b = 0; b < nb; b++) {
            harness_begin_backend(bes[b]);
            float p[N], g[N], m[N], v[N], x[N], p0[N], x0[N], rp[N], rm[N], rv[N], rx[N];
            for (int i = 0; i < N; i++) {
                p[i] = c->p; g[i] = c->g; m[i] = c->m; v[i] = c->v; x[i] = c->x;
            }
            memcpy(p0, p, sizeof p); memcpy(x0, x, sizeof x);
            memcpy(rp, p, sizeof p); memcpy(rm, m, sizeof m); memcpy(rv, v, sizeof v);
            memcpy(rx, x, sizeof x);
            lazyadam_config cfg = c->cfg;
            cfg.backend = bes[b];
            int with_x = (cfg.flags & LAZYADAM_AMSGRAD) != 0;
            lazyadam_status st = lazyadam_adam_step(&cfg, c->step, N, p, g, m, v,
                    with_x ? x : NULL);
            ref_adam_step(&cfg, c->step, N, rp, g, rm, rv, with_x ? rx : NULL);
            const after af = { p0, p, m, v, g, x0, x };
            int ok = st == LAZYADAM_OK && !compare_state("param", rp, p, N)
                  && !compare_state("m", rm, m, N) && !compare_state("v", rv, v, N)
                  && !compare_state("vmax", rx, x, N) && c->holds(&af);
            tally_case(&t, ok, "%s on %s: %s (got p=%g m=%g v=%g)", c->input,
                    lazyadam_backend_name(bes[b]), c->outcome, (double)p[0], (double)m[0], (double)v[0]);
            all &= ok;
        }
        printf("| %s | %s%s |\n", c->input, c->outcome, all ? "" : " — FAILED");
    }
    return tally_finish(&t);
}
