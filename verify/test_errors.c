/* Every error path of DESIGN.md "Errors and safety": each call gets one bad argument,
 * must return the documented status, and must leave every byte of every buffer as it
 * was (the buffers live in two arenas that are snapshotted before the call). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NF 8192
#define NI 512
#define ROWS 16
#define DIM 8
#define NNZ 6

static float *F;        /* float arena: tables, gradients, values */
static int64_t *I;      /* int64 arena: indices, last_step */
static float *Fsnap;
static int64_t *Isnap;
static tally T;

/* Named places in the arenas for a valid call. */
#define P   (F + 0)
#define G   (F + 1024)
#define M   (F + 2048)
#define V   (F + 3072)
#define X   (F + 4096)
#define VAL (F + 5120)
#define IDX (I + 0)
#define LAST (I + 64)

static void reset(rng *r)
{
    fill_normal(r, F, NF, 1.0f);
    for (size_t i = 0; i < NF; i++)
        if (F[i] < 0) F[i] = -F[i];           /* v and vmax must be valid moments */
    for (size_t i = 0; i < NNZ; i++)
        IDX[i] = (int64_t)rng_below(r, ROWS);
    for (size_t i = 0; i < ROWS; i++)
        LAST[i] = 0;
    memcpy(Fsnap, F, NF * sizeof *F);
    memcpy(Isnap, I, NI * sizeof *I);
}

static void expect(lazyadam_status got, lazyadam_status want, const char *what)
{
    int unchanged = !memcmp(F, Fsnap, NF * sizeof *F) && !memcmp(I, Isnap, NI * sizeof *I);
    int ok = got == want && (want != LAZYADAM_OK ? unchanged : 1);
    tally_case(&T, ok, "%s: expected %s, got %s%s", what, lazyadam_status_string(want),
            lazyadam_status_string(got), unchanged ? "" : " (a buffer was modified)");
}

typedef lazyadam_status (*sparse_fn)(const lazyadam_config *, int64_t, size_t, size_t,
        float *, float *, float *, float *, size_t, const int64_t *, const float *);

/* Hyper-parameters out of range or not finite: E_HPARAM from every entry point. */
static void bad_configs(rng *r)
{
    const float nan = NAN, inf = INFINITY;
    struct { const char *what; lazyadam_config c; } bad[32];
    size_t k = 0;
    lazyadam_config d = lazyadam_default_config();
#define BAD(label, field, value) do { bad[k].what = label; bad[k].c = d; bad[k].c.field = value; k++; } while (0)
    BAD("lr NaN", lr, nan); BAD("lr +Inf", lr, inf); BAD("lr -1", lr, -1.0f);
    BAD("beta1 NaN", beta1, nan); BAD("beta1 -0.1", beta1, -0.1f); BAD("beta1 1", beta1, 1.0f);
    BAD("beta1 Inf", beta1, inf);
    BAD("beta2 NaN", beta2, nan); BAD("beta2 -1e-9", beta2, -1e-9f); BAD("beta2 1", beta2, 1.0f);
    BAD("eps NaN", eps, nan); BAD("eps -1e-8", eps, -1e-8f); BAD("eps Inf", eps, inf);
    BAD("weight_decay NaN", weight_decay, nan); BAD("weight_decay -0.1", weight_decay, -0.1f);
    BAD("weight_decay Inf", weight_decay, inf);
    BAD("eps_mode 7", eps_mode, (lazyadam_eps_mode)7);
    BAD("eps_mode -1", eps_mode, (lazyadam_eps_mode)-1);
    BAD("unknown flag 1<<5", flags, 1u << 5);
    BAD("num_threads -1", num_threads, -1);
#undef BAD
    char what[128];
    for (size_t i = 0; i < k; i++) {
        const lazyadam_config *c = &bad[i].c;
        lazyadam_tensor t = { 100, P, G, M, V, NULL };
        reset(r);
        snprintf(what, sizeof what, "adam_step %s", bad[i].what);
        expect(lazyadam_adam_step(c, 1, 100, P, G, M, V, NULL), LAZYADAM_E_HPARAM, what);
        snprintf(what, sizeof what, "adam_step_multi %s", bad[i].what);
        expect(lazyadam_adam_step_multi(c, 1, 1, &t), LAZYADAM_E_HPARAM, what);
        snprintf(what, sizeof what, "lazy_step %s", bad[i].what);
        expect(lazyadam_lazy_step(c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
                LAZYADAM_E_HPARAM, what);
        snprintf(what, sizeof what, "adam_sparse_step %s", bad[i].what);
        expect(lazyadam_adam_sparse_step(c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
                LAZYADAM_E_HPARAM, what);
        snprintf(what, sizeof what, "exact_lazy_step %s", bad[i].what);
        expect(lazyadam_exact_lazy_step(c, 1, ROWS, DIM, P, M, V, NULL, LAST, NNZ, IDX, VAL),
                LAZYADAM_E_HPARAM, what);
        snprintf(what, sizeof what, "exact_flush %s", bad[i].what);
        expect(lazyadam_exact_flush(c, 1, ROWS, DIM, P, M, V, NULL, LAST),
                LAZYADAM_E_HPARAM, what);
    }
    /* Edge values that are valid. */
    lazyadam_config ok = d;
    ok.lr = 0.0f; ok.beta1 = 0.0f; ok.beta2 = 0.0f; ok.eps = 0.0f;
    reset(r);
    expect(lazyadam_adam_step(&ok, 1, 100, P, G, M, V, NULL), LAZYADAM_OK,
            "adam_step lr = beta1 = beta2 = eps = 0 is valid");
}

static void bad_backend(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    c.backend = (lazyadam_backend)99;
    reset(r);
    expect(lazyadam_adam_step(&c, 1, 100, P, G, M, V, NULL), LAZYADAM_E_BACKEND,
            "adam_step backend 99");
    expect(lazyadam_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
            LAZYADAM_E_BACKEND, "lazy_step backend 99");
    c.backend = (lazyadam_backend)-3;
    expect(lazyadam_adam_sparse_step(&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
            LAZYADAM_E_BACKEND, "adam_sparse_step backend -3");
    tally_case(&T, lazyadam_backend_resolve(&c) == LAZYADAM_BACKEND_AUTO,
            "backend_resolve of an invalid backend is AUTO");
    /* One past the last backend and one before the first: not backends at all. */
    static const int outside[] = { LAZYADAM_BACKEND_ONEDNN + 1, -1 };
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        lazyadam_backend b = (lazyadam_backend)outside[i];
        const char *why = lazyadam_backend_unavailable_reason(b);
        c.backend = b;
        char what[64];
        snprintf(what, sizeof what, "adam_step backend %d", outside[i]);
        expect(lazyadam_adam_step(&c, 1, 100, P, G, M, V, NULL), LAZYADAM_E_BACKEND, what);
        tally_case(&T, !lazyadam_backend_available(b) && why
                && !strcmp(why, "not a backend of this library")
                && lazyadam_backend_resolve(&c) == LAZYADAM_BACKEND_AUTO,
                "backend %d: not available (\"%s\"), resolves to AUTO", outside[i],
                why ? why : "(null)");
    }
    for (int b = LAZYADAM_BACKEND_SCALAR; b <= LAZYADAM_BACKEND_ONEDNN; b++) {
        if (lazyadam_backend_available((lazyadam_backend)b))
            continue;
        c.backend = (lazyadam_backend)b;
        char what[96];
        snprintf(what, sizeof what, "adam_step on unavailable backend %s",
                lazyadam_backend_name((lazyadam_backend)b));
        expect(lazyadam_adam_step(&c, 1, 100, P, G, M, V, NULL), LAZYADAM_E_BACKEND, what);
        expect(lazyadam_exact_flush(&c, 1, ROWS, DIM, P, M, V, NULL, LAST), LAZYADAM_E_BACKEND,
                what);
    }
}

static void bad_steps(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    const int64_t steps[] = { 0, -1, INT64_MIN };
    for (size_t i = 0; i < 3; i++) {
        reset(r);
        lazyadam_tensor t = { 100, P, G, M, V, NULL };
        expect(lazyadam_adam_step(&c, steps[i], 100, P, G, M, V, NULL), LAZYADAM_E_STEP,
                "adam_step step < 1");
        expect(lazyadam_adam_step_multi(&c, steps[i], 1, &t), LAZYADAM_E_STEP,
                "adam_step_multi step < 1");
        expect(lazyadam_lazy_step(&c, steps[i], ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
                LAZYADAM_E_STEP, "lazy_step step < 1");
        expect(lazyadam_adam_sparse_step(&c, steps[i], ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
                LAZYADAM_E_STEP, "adam_sparse_step step < 1");
        expect(lazyadam_exact_lazy_step(&c, steps[i], ROWS, DIM, P, M, V, NULL, LAST, NNZ, IDX,
                VAL), LAZYADAM_E_STEP, "exact_lazy_step step < 1");
        expect(lazyadam_exact_flush(&c, steps[i], ROWS, DIM, P, M, V, NULL, LAST),
                LAZYADAM_E_STEP, "exact_flush step < 1");
    }
    /* Exact LazyAdam: a touched row already at or past step; flush behind a row. */
    reset(r);
    LAST[IDX[NNZ - 1]] = 5;
    memcpy(Isnap, I, NI * sizeof *I);
    expect(lazyadam_exact_lazy_step(&c, 5, ROWS, DIM, P, M, V, NULL, LAST, NNZ, IDX, VAL),
            LAZYADAM_E_STEP, "exact_lazy_step touched row with last_step == step");
    expect(lazyadam_exact_lazy_step(&c, 4, ROWS, DIM, P, M, V, NULL, LAST, NNZ, IDX, VAL),
            LAZYADAM_E_STEP, "exact_lazy_step touched row with last_step > step");
    expect(lazyadam_exact_flush(&c, 4, ROWS, DIM, P, M, V, NULL, LAST), LAZYADAM_E_STEP,
            "exact_flush with a row past step");
    reset(r);
    LAST[3] = -2;
    memcpy(Isnap, I, NI * sizeof *I);
    expect(lazyadam_exact_flush(&c, 4, ROWS, DIM, P, M, V, NULL, LAST), LAZYADAM_E_STEP,
            "exact_flush with a negative last_step");
}

static void bad_sizes(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    reset(r);
    expect(lazyadam_adam_step(&c, 1, SIZE_MAX, P, G, M, V, NULL), LAZYADAM_E_SIZE,
            "adam_step n = SIZE_MAX");
    expect(lazyadam_adam_step(&c, 1, SIZE_MAX / 4 + 1, P, G, M, V, NULL), LAZYADAM_E_SIZE,
            "adam_step n * 4 overflows");
    lazyadam_tensor t[2] = { { 100, P, G, M, V, NULL }, { SIZE_MAX / 2, X, VAL, X + 8, X + 16, NULL } };
    expect(lazyadam_adam_step_multi(&c, 1, 2, t), LAZYADAM_E_SIZE,
            "adam_step_multi one tensor's size overflows");
    /* Five tensors each of a size that fits, whose sizes together overflow: without the
     * sum's own check their ranges would overlap and answer E_ALIAS. */
    lazyadam_tensor five[5];
    for (int i = 0; i < 5; i++)
        five[i] = (lazyadam_tensor){ SIZE_MAX / 4, P + 4 * i, VAL, M + 4 * i, V + 4 * i, NULL };
    expect(lazyadam_adam_step_multi(&c, 1, 5, five), LAZYADAM_E_SIZE,
            "adam_step_multi tensors' sizes together overflow");
    /* A count whose ranges could not be listed is refused before any tensor is read:
     * only the two of t[] that exist are valid, so reading a third would be a bug. */
    t[1] = (lazyadam_tensor){ 100, X, VAL, X + 128, X + 256, NULL };
    expect(lazyadam_adam_step_multi(&c, 1, SIZE_MAX / 8, t), LAZYADAM_E_SIZE,
            "adam_step_multi count * 5 ranges overflows");
    sparse_fn fns[2] = { lazyadam_lazy_step, lazyadam_adam_sparse_step };
    const char *names[2] = { "lazy_step", "adam_sparse_step" };
    char what[96];
    for (int f = 0; f < 2; f++) {
        snprintf(what, sizeof what, "%s dim = 0", names[f]);
        expect(fns[f](&c, 1, ROWS, 0, P, M, V, NULL, NNZ, IDX, VAL), LAZYADAM_E_SIZE, what);
        snprintf(what, sizeof what, "%s rows * dim overflows", names[f]);
        expect(fns[f](&c, 1, SIZE_MAX / 2, 4, P, M, V, NULL, NNZ, IDX, VAL), LAZYADAM_E_SIZE, what);
        snprintf(what, sizeof what, "%s nnz * dim overflows", names[f]);
        expect(fns[f](&c, 1, ROWS, 1u << 20, P, M, V, NULL, SIZE_MAX / 1000, IDX, VAL),
                LAZYADAM_E_SIZE, what);
    }
    expect(lazyadam_exact_flush(&c, 1, ROWS, 0, P, M, V, NULL, LAST), LAZYADAM_E_SIZE,
            "exact_flush dim = 0");
}

static void bad_nulls(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    lazyadam_config ams = c;
    ams.flags = LAZYADAM_AMSGRAD;
    reset(r);
    expect(lazyadam_adam_step(NULL, 1, 100, P, G, M, V, NULL), LAZYADAM_E_NULL, "adam_step cfg NULL");
    expect(lazyadam_adam_step(&c, 1, 100, NULL, G, M, V, NULL), LAZYADAM_E_NULL, "adam_step param NULL");
    expect(lazyadam_adam_step(&c, 1, 100, P, NULL, M, V, NULL), LAZYADAM_E_NULL, "adam_step grad NULL");
    expect(lazyadam_adam_step(&c, 1, 100, P, G, NULL, V, NULL), LAZYADAM_E_NULL, "adam_step m NULL");
    expect(lazyadam_adam_step(&c, 1, 100, P, G, M, NULL, NULL), LAZYADAM_E_NULL, "adam_step v NULL");
    expect(lazyadam_adam_step(&ams, 1, 100, P, G, M, V, NULL), LAZYADAM_E_NULL,
            "adam_step vmax NULL with AMSGRAD");
    expect(lazyadam_adam_step(&c, 1, 0, NULL, NULL, NULL, NULL, NULL), LAZYADAM_OK,
            "adam_step n = 0 with NULL buffers is a valid no-op");
    lazyadam_tensor t[3] = { { 100, P, G, M, V, X }, { 50, VAL, VAL + 64, VAL + 128, VAL + 192, NULL },
                             { 10, X + 200, X + 300, X + 400, NULL, NULL } };
    expect(lazyadam_adam_step_multi(&c, 1, 3, t), LAZYADAM_E_NULL,
            "adam_step_multi third tensor's v NULL (first two untouched)");
    t[2].v = X + 500;
    expect(lazyadam_adam_step_multi(&ams, 1, 3, t), LAZYADAM_E_NULL,
            "adam_step_multi AMSGRAD, second tensor's vmax NULL");
    expect(lazyadam_adam_step_multi(&c, 1, 2, NULL), LAZYADAM_E_NULL,
            "adam_step_multi tensors NULL");
    expect(lazyadam_adam_step_multi(NULL, 1, 2, t), LAZYADAM_E_NULL, "adam_step_multi cfg NULL");

    sparse_fn fns[2] = { lazyadam_lazy_step, lazyadam_adam_sparse_step };
    const char *names[2] = { "lazy_step", "adam_sparse_step" };
    char what[96];
    for (int f = 0; f < 2; f++) {
#define NULLCASE(label, cfgp, p, m, v, x, idx, val) do { \
        snprintf(what, sizeof what, "%s %s", names[f], label); \
        expect(fns[f](cfgp, 1, ROWS, DIM, p, m, v, x, NNZ, idx, val), LAZYADAM_E_NULL, what); \
    } while (0)
        NULLCASE("cfg NULL", NULL, P, M, V, NULL, IDX, VAL);
        NULLCASE("param NULL", &c, NULL, M, V, NULL, IDX, VAL);
        NULLCASE("m NULL", &c, P, NULL, V, NULL, IDX, VAL);
        NULLCASE("v NULL", &c, P, M, NULL, NULL, IDX, VAL);
        NULLCASE("vmax NULL with AMSGRAD", &ams, P, M, V, NULL, IDX, VAL);
        NULLCASE("indices NULL", &c, P, M, V, NULL, NULL, VAL);
        NULLCASE("values NULL", &c, P, M, V, NULL, IDX, NULL);
#undef NULLCASE
    }
    expect(lazyadam_exact_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, NULL, NNZ, IDX, VAL),
            LAZYADAM_E_NULL, "exact_lazy_step last_step NULL");
    expect(lazyadam_exact_flush(&c, 1, ROWS, DIM, P, M, V, NULL, NULL), LAZYADAM_E_NULL,
            "exact_flush last_step NULL");
}

static void bad_indices(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    const int64_t bad[] = { -1, ROWS, ROWS + 1, INT64_MAX, INT64_MIN };
    char what[96];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset(r);
        IDX[NNZ - 1] = bad[i];      /* the last one, after valid ones */
        memcpy(Isnap, I, NI * sizeof *I);
        snprintf(what, sizeof what, "lazy_step index %lld", (long long)bad[i]);
        expect(lazyadam_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
                LAZYADAM_E_INDEX, what);
        snprintf(what, sizeof what, "adam_sparse_step index %lld", (long long)bad[i]);
        expect(lazyadam_adam_sparse_step(&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, VAL),
                LAZYADAM_E_INDEX, what);
        snprintf(what, sizeof what, "exact_lazy_step index %lld", (long long)bad[i]);
        expect(lazyadam_exact_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, LAST, NNZ, IDX, VAL),
                LAZYADAM_E_INDEX, what);
    }
    reset(r);
    expect(lazyadam_lazy_step(&c, 1, 0, DIM, NULL, NULL, NULL, NULL, NNZ, IDX, VAL),
            LAZYADAM_E_INDEX, "lazy_step rows = 0 with nnz > 0");
    expect(lazyadam_adam_sparse_step(&c, 1, 0, DIM, NULL, NULL, NULL, NULL, 0, NULL, NULL),
            LAZYADAM_OK, "adam_sparse_step rows = 0, nnz = 0 is a valid no-op");
}

static void bad_aliases(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    lazyadam_config ams = c;
    ams.flags = LAZYADAM_AMSGRAD;
    reset(r);
    expect(lazyadam_adam_step(&c, 1, 100, P, P, M, V, NULL), LAZYADAM_E_ALIAS, "adam_step grad == param");
    expect(lazyadam_adam_step(&c, 1, 100, P, G, M, M + 99, NULL), LAZYADAM_E_ALIAS,
            "adam_step v overlaps the last element of m");
    expect(lazyadam_adam_step(&c, 1, 100, P, G, M, P + 50, NULL), LAZYADAM_E_ALIAS,
            "adam_step v overlaps the second half of param");
    reset(r);
    expect(lazyadam_adam_step(&ams, 1, 100, P, G, M, V, P + 99), LAZYADAM_E_ALIAS,
            "adam_step vmax overlaps param");
    expect(lazyadam_adam_step(&ams, 1, 100, P, G, M, V, G - 99), LAZYADAM_E_ALIAS,
            "adam_step vmax's last element overlaps the first of grad");
    expect(lazyadam_adam_step(&c, 1, 100, P, M - 99, M, V, NULL), LAZYADAM_E_ALIAS,
            "adam_step grad's last element overlaps the first of m");
    expect(lazyadam_adam_step(&c, 1, 100, P, G, M, V, P), LAZYADAM_OK,
            "adam_step vmax ignored without AMSGRAD, even if it overlaps");
    reset(r);
    lazyadam_tensor t[3] = { { 100, P, G, M, V, NULL }, { 50, X, X + 64, X + 128, X + 192, NULL },
                             { 10, X + 300, P + 95, X + 400, X + 500, NULL } };
    expect(lazyadam_adam_step_multi(&c, 1, 3, t), LAZYADAM_E_ALIAS,
            "adam_step_multi third tensor's grad overlaps first tensor's param");
    t[2].grad = G;   /* read-only buffers may overlap each other */
    expect(lazyadam_adam_step_multi(&c, 1, 3, t), LAZYADAM_OK,
            "adam_step_multi two tensors sharing one gradient is valid");
    reset(r);
    sparse_fn fns[2] = { lazyadam_lazy_step, lazyadam_adam_sparse_step };
    const char *names[2] = { "lazy_step", "adam_sparse_step" };
    char what[96];
    for (int f = 0; f < 2; f++) {
        snprintf(what, sizeof what, "%s values overlap the end of param", names[f]);
        expect(fns[f](&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, P + ROWS * DIM - 1),
                LAZYADAM_E_ALIAS, what);
        snprintf(what, sizeof what, "%s the last value overlaps the first of v", names[f]);
        expect(fns[f](&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, V - NNZ * DIM + 1),
                LAZYADAM_E_ALIAS, what);
        snprintf(what, sizeof what, "%s the last index overlaps the start of m", names[f]);
        expect(fns[f](&c, 1, ROWS, DIM, P, M, V, NULL, NNZ,
                       (const int64_t *)(void *)(M + 2) - NNZ, VAL), LAZYADAM_E_ALIAS, what);
        snprintf(what, sizeof what, "%s m == v", names[f]);
        expect(fns[f](&c, 1, ROWS, DIM, P, M, M, NULL, NNZ, IDX, VAL), LAZYADAM_E_ALIAS, what);
        snprintf(what, sizeof what, "%s indices inside v", names[f]);
        expect(fns[f](&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, (const int64_t *)(void *)(V + 8), VAL),
                LAZYADAM_E_ALIAS, what);
        snprintf(what, sizeof what, "%s vmax overlaps m (AMSGRAD)", names[f]);
        expect(fns[f](&ams, 1, ROWS, DIM, P, M, V, M + 100, NNZ, IDX, VAL), LAZYADAM_E_ALIAS, what);
    }
    expect(lazyadam_exact_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, (int64_t *)(void *)(M + 32),
            NNZ, IDX, VAL), LAZYADAM_E_ALIAS, "exact_lazy_step last_step inside m");
    expect(lazyadam_exact_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, IDX, NNZ, IDX, VAL),
            LAZYADAM_E_ALIAS, "exact_lazy_step last_step == indices");
    expect(lazyadam_exact_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, IDX + NNZ - 1, NNZ, IDX,
            VAL), LAZYADAM_E_ALIAS, "exact_lazy_step last_step starts at the last index");
    expect(lazyadam_exact_flush(&c, 1, ROWS, DIM, P, M, V, NULL, (int64_t *)(void *)P),
            LAZYADAM_E_ALIAS, "exact_flush last_step == param");
    expect(lazyadam_exact_flush(&c, 1, ROWS, DIM, P, M, V, NULL, (int64_t *)(void *)V - ROWS + 1),
            LAZYADAM_E_ALIAS, "exact_flush last_step's last entry overlaps the start of v");
}

/* Read-only buffers may overlap each other: values that read the indices' own bytes. */
static void valid_read_overlap(rng *r)
{
    lazyadam_config c = lazyadam_default_config();
    reset(r);
    expect(lazyadam_lazy_step(&c, 1, ROWS, DIM, P, M, V, NULL, NNZ, IDX, (const float *)(void *)IDX),
            LAZYADAM_OK, "lazy_step values overlapping indices (both read-only) is valid");
    tally_case(&T, memcmp(F, Fsnap, NF * sizeof *F) != 0, "lazy_step valid call wrote the table");
}

int main(void)
{
    rng r = { harness_seed("test_errors") };
    F = malloc(NF * sizeof *F);
    I = calloc(NI, sizeof *I);   /* wholly defined: the snapshot compares all of it */
    Fsnap = malloc(NF * sizeof *F);
    Isnap = malloc(NI * sizeof *I);
    bad_configs(&r);
    bad_backend(&r);
    bad_steps(&r);
    bad_sizes(&r);
    bad_nulls(&r);
    bad_indices(&r);
    bad_aliases(&r);
    valid_read_overlap(&r);
    /* Each status its own message; outside the enum, "unknown status". */
    for (int s = -1; s <= LAZYADAM_E_NOMEM + 1; s++) {
        const char *msg = lazyadam_status_string((lazyadam_status)s);
        int in_enum = s >= LAZYADAM_OK && s <= LAZYADAM_E_NOMEM, distinct = msg != NULL;
        for (int o = LAZYADAM_OK; o < s && distinct && in_enum; o++)
            distinct = strcmp(msg, lazyadam_status_string((lazyadam_status)o)) != 0;
        tally_case(&T, distinct && (in_enum ? strcmp(msg, "unknown status") != 0
                                            : strcmp(msg, "unknown status") == 0),
                "status_string(%d) = \"%s\": %s", s, msg ? msg : "(null)",
                in_enum ? "a message of its own" : "\"unknown status\"");
    }
    /* The names DESIGN.md fixes, which LAZYADAM_BACKEND is matched against. */
    static const char *const names[] = { "auto", "scalar", "avx2", "avx512", "onednn" };
    for (int b = LAZYADAM_BACKEND_AUTO; b <= LAZYADAM_BACKEND_ONEDNN + 1; b++) {
        const char *want = b <= LAZYADAM_BACKEND_ONEDNN ? names[b] : "invalid";
        tally_case(&T, !strcmp(lazyadam_backend_name((lazyadam_backend)b), want),
                "backend_name(%d) = \"%s\", want \"%s\"", b,
                lazyadam_backend_name((lazyadam_backend)b), want);
    }
    tally_case(&T, !strcmp(lazyadam_backend_name((lazyadam_backend)42), "invalid"),
            "backend_name of an invalid backend");
    /* The defaults DESIGN.md fixes, which bad_configs changes one field at a time. */
    lazyadam_config d = lazyadam_default_config();
    tally_case(&T, d.lr == 0.001f && d.beta1 == 0.9f && d.beta2 == 0.999f && d.eps == 1e-8f
            && d.weight_decay == 0.0f && d.eps_mode == LAZYADAM_EPS_HAT && d.flags == 0
            && d.backend == LAZYADAM_BACKEND_AUTO && d.num_threads == 0,
            "default_config is lr 0.001, betas 0.9 and 0.999, eps 1e-8, no decay, EPS_HAT, "
            "no flags, AUTO, 0 threads");
    free(F); free(I); free(Fsnap); free(Isnap);
    return tally_finish(&T);
}
