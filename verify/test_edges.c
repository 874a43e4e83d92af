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

typedef struct edge {
    const char *input, *outcome;
    lazyadam_config cfg;
    int64_t step;
    float p, g, m, v;
    int (*holds)(const float *p0, const float *p, const float *m, const float *v, const float *g);
} edge;

static int nan_all(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)p0; (void)g;
    return isnan(p[0]) && isnan(m[0]) && isnan(v[0]);
}
static int inf_grad(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)p0; (void)g;
    return isinf(m[0]) && isinf(v[0]) && isnan(p[0]);
}
static int denormal_kept(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)p0; (void)p; (void)v; (void)g;
    return m[0] != 0.0f && fabsf(m[0]) < 1.17549435e-38f;
}
static int huge_grad(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)g;
    return isinf(v[0]) && isfinite(m[0]) && p[0] == p0[0];
}
static int eps0_nan(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)p0; (void)g;
    return isnan(p[0]) && m[0] == 0.0f && v[0] == 0.0f;
}
static int betas0(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    return m[0] == g[0] && v[0] == g[0] * g[0] && fabs((p0[0] - p[0]) - 1e-3) < 1e-6;
}
static int lr0(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)m; (void)v; (void)g;
    for (int i = 0; i < N; i++)
        if (!(p[i] == p0[i]))
            return 0;
    return 1;
}
static int step_max(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)g;
    /* bias corrections are 1: the update is lr * m / (sqrt(v) + eps) */
    double want = 1e-3 * m[0] / (sqrt(v[0]) + 1e-8);
    return isfinite(p[0]) && fabs((p0[0] - p[0]) - want) < 1e-6;
}
static int adamw_flip(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)m; (void)v; (void)g;
    return (p0[0] > 0) == (p[0] < 0);
}
static int beta1_near1(const float *p0, const float *p, const float *m, const float *v, const float *g)
{
    (void)m; (void)v; (void)g;
    return isfinite(p[0]) && p[0] != p0[0];
}

int main(void)
{
    tally t = { 0, 0, 0 };
    lazyadam_config d = lazyadam_default_config();
    lazyadam_config eps0 = d, b0 = d, l0 = d, aw = d, b1 = d, l2 = d;
    eps0.eps = 0.0f;
    b0.beta1 = 0.0f; b0.beta2 = 0.0f;
    l0.lr = 0.0f;
    aw.flags = LAZYADAM_ADAMW; aw.lr = 1.0f; aw.weight_decay = 3.0f;
    b1.beta1 = 0.99999994f;
    l2.weight_decay = 0.1f;
    const edge edges[] = {
        { "NaN gradient", "p, m, v become NaN in that element (no fix-up)", d, 1, 1.0f, NAN, 0.0f, 0.0f, nan_all },
        { "NaN parameter with L2 decay", "g + wd*p is NaN: p, m, v NaN", l2, 1, NAN, 0.1f, 0.0f, 0.0f, nan_all },
        { "+Inf gradient", "m = v = +Inf; the step is Inf/Inf = NaN, so p is NaN", d, 1, 1.0f, INFINITY, 0.0f, 0.0f, inf_grad },
        { "denormal gradient 1e-40", "m = (1-beta1)*g stays a denormal (no flush to zero); g*g underflows to 0", d, 1, 1.0f, 1e-40f, 0.0f, 0.0f, denormal_kept },
        { "denormal moments, zero gradient", "beta1*m stays a denormal (no flush to zero)", d, 3, 1.0f, 0.0f, 1e-40f, 1e-42f, denormal_kept },
        { "huge gradient 3e38", "g*g overflows: v = +Inf, the step is 0, p unchanged", d, 1, 1.0f, 3e38f, 0.0f, 0.0f, huge_grad },
        { "eps = 0, zero gradient, zero moments", "0/0: p becomes NaN, as the contract computes", eps0, 1, 1.0f, 0.0f, 0.0f, 0.0f, eps0_nan },
        { "beta1 = beta2 = 0", "m = g, v = g*g, p moves by lr*g/(abs(g)+eps)", b0, 7, 1.0f, 0.5f, 0.3f, 0.2f, betas0 },
        { "lr = 0", "p unchanged up to the sign of a zero; m, v still updated", l0, 5, -0.0f, 0.2f, -0.1f, 0.3f, lr0 },
        { "step = INT64_MAX", "beta^step = 0, bias corrections are 1: p moves by lr*m/(sqrt(v)+eps)", d, INT64_MAX, 1.0f, 0.1f, 0.05f, 0.01f, step_max },
        { "beta1 = 0.99999994 at step 1", "1 - beta1^1 = 6e-8: a very large but finite step", b1, 1, 1.0f, 0.1f, 0.0f, 0.0f, beta1_near1 },
        { "AdamW with lr*wd = 3", "decay = 1 - 3 = -2 (valid hyper-parameters): p changes sign", aw, 1, 1.0f, 0.0f, 0.0f, 0.0f, adamw_flip },
    };
    lazyadam_backend bes[4];
    size_t nb = test_backends(&t, bes);
    printf("| input | outcome |\n|---|---|\n");
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        const edge *c = &edges[e];
        int all = 1;
        for (size_t b = 0; b < nb; b++) {
            harness_begin_backend(bes[b]);
            float p[N], g[N], m[N], v[N], p0[N], rp[N], rm[N], rv[N];
            for (int i = 0; i < N; i++) {
                p[i] = c->p; g[i] = c->g; m[i] = c->m; v[i] = c->v;
            }
            memcpy(p0, p, sizeof p); memcpy(rp, p, sizeof p); memcpy(rm, m, sizeof m); memcpy(rv, v, sizeof v);
            lazyadam_config cfg = c->cfg;
            cfg.backend = bes[b];
            lazyadam_status st = lazyadam_adam_step(&cfg, c->step, N, p, g, m, v, NULL);
            ref_adam_step(&cfg, c->step, N, rp, g, rm, rv, NULL);
            int ok = st == LAZYADAM_OK && !compare_state("param", rp, p, N)
                  && !compare_state("m", rm, m, N) && !compare_state("v", rv, v, N)
                  && c->holds(p0, p, m, v, g);
            tally_case(&t, ok, "%s on %s: %s (got p=%g m=%g v=%g)", c->input,
                    lazyadam_backend_name(bes[b]), c->outcome, (double)p[0], (double)m[0], (double)v[0]);
            all &= ok;
        }
        printf("| %s | %s%s |\n", c->input, c->outcome, all ? "" : " — FAILED");
    }
    return tally_finish(&t);
}
