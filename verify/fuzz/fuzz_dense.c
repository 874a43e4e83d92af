/* libFuzzer target: lazyadam_adam_step with inputs that choose the size, every config
 * field, the step, NULL pointers and overlapping buffers. */
#include "fuzz_common.h"
#include "reference.h"

static int config_valid(const lazyadam_config *c)
{
    return isfinite(c->lr) && isfinite(c->beta1) && isfinite(c->beta2) && isfinite(c->eps)
        && isfinite(c->weight_decay) && c->lr >= 0 && c->beta1 >= 0 && c->beta1 < 1
        && c->beta2 >= 0 && c->beta2 < 1 && c->eps >= 0 && c->weight_decay >= 0
        && (c->eps_mode == LAZYADAM_EPS_HAT || c->eps_mode == LAZYADAM_EPS_PLAIN)
        && c->flags <= 7 && c->num_threads >= 0
        && (int)c->backend >= 0 && (int)c->backend <= 4 && lazyadam_backend_available(c->backend);
}

static int overlap(const float *a, const float *b, size_t n)
{
    return n && a && b && a < b + n && b < a + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = { data, size };
    lazyadam_config c = take_config(&in);
    int64_t step = take_step(&in);
    uint32_t mode = (uint32_t)take(&in, 2);
    size_t n = take(&in, 2) % 1500;
    size_t cap = n + 16;
    size_t shift = take(&in, 2) % cap;   /* shifted buffers stay inside the arena */
    int huge = (mode & 0x800) != 0;
    float *arena = calloc(6 * cap, sizeof(float)), *snap = malloc(6 * cap * sizeof(float));
    float *P = arena, *G = arena + cap, *M = arena + 2 * cap, *V = arena + 3 * cap, *X = arena + 4 * cap;
    fill(&in, P, n, 1.0f);
    fill(&in, G, n, 0.1f);
    fill(&in, M, n, 0.01f);
    fill(&in, V, n, 1e-4f);
    fill(&in, X, n, 1e-4f);
    /* Hostile pointers: NULLs and overlaps chosen by the input. */
    float *p = P, *m = M, *v = V, *x = X;
    const float *g = G;
    if (mode & 1) p = NULL;
    if (mode & 2) g = NULL;
    if (mode & 4) m = NULL;
    if (mode & 8) v = NULL;
    if (mode & 16) x = NULL;
    if ((mode & 0x60) == 0x20 && p) g = P + shift;          /* grad over param */
    if ((mode & 0x60) == 0x40 && m) v = M + shift;          /* v over m */
    if ((mode & 0x60) == 0x60 && v) x = V + shift;          /* vmax over v */
    size_t nn = huge ? (SIZE_MAX / 4 + 1 + shift) : n;
    memcpy(snap, arena, 6 * cap * sizeof(float));

    lazyadam_status st = lazyadam_adam_step(&c, step, nn, p, g, m, v, x);

    int ams = c.flags & LAZYADAM_AMSGRAD;
    int nulls = nn && (!p || !g || !m || !v || (ams && !x));
    int alias = overlap(p, g, n) || overlap(p, m, n) || overlap(p, v, n) || overlap(m, v, n)
             || overlap(g, m, n) || overlap(g, v, n)
             || (ams && (overlap(x, p, n) || overlap(x, g, n) || overlap(x, m, n) || overlap(x, v, n)));
    int valid = config_valid(&c) && step >= 1 && !huge && !nulls && !alias;
    if (st != LAZYADAM_OK) {
        FUZZ_CHECK(!memcmp(arena, snap, 6 * cap * sizeof(float)),
                "adam_step returned %s but changed a buffer", lazyadam_status_string(st));
        FUZZ_CHECK(!valid || st == LAZYADAM_E_NOMEM, "a valid call failed: %s",
                lazyadam_status_string(st));
    } else {
        FUZZ_CHECK(valid, "an invalid call returned OK (config/step/size/null/alias)");
        if (n) {
            /* The reference works on the snapshot, at the pointers the call got. */
            float *rp = snap + (p - arena), *rg = snap + (g - arena), *rm = snap + (m - arena);
            float *rv = snap + (v - arena), *rx = ams ? snap + (x - arena) : NULL;
            ref_adam_step(&c, step, n, rp, rg, rm, rv, rx);
            lazyadam_backend be = lazyadam_backend_resolve(&c);
            FUZZ_CHECK(same(rp, p, n, be) && same(rm, m, n, be) && same(rv, v, n, be)
                    && (!ams || same(rx, x, n, be)), "adam_step differs from the reference");
        }
    }
    free(arena);
    free(snap);
    return 0;
}
