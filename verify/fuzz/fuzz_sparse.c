/* libFuzzer target: the sparse entry points (lazy, Adam, exact LazyAdam and its flush)
 * with hostile indices (negative, out of range, INT64_MIN/MAX, duplicated), sizes,
 * last_step values, NULLs and overlapping buffers. */
#include "fuzz_common.h"
#include "reference.h"

static int overlap(const void *a, size_t na, const void *b, size_t nb)
{
    const char *x = a, *y = b;
    return na && nb && x && y && x < y + nb && y < x + na;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = { data, size };
    lazyadam_config c = take_valid_config(&in);
    int ams = c.flags & LAZYADAM_AMSGRAD;
    int op = (int)(take(&in, 1) % 4);
    size_t rows = take(&in, 1) % 40, dim = take(&in, 1) % 10, nnz = take(&in, 1) % 80;
    uint32_t mode = (uint32_t)take(&in, 1);
    int64_t step = 1 + (int64_t)(take(&in, 1) % 50);
    if (mode == 7) step = 0;
    size_t tab = rows * dim, cap = 4 * tab + nnz * dim + 64;
    float *arena = calloc(cap, sizeof(float)), *snap = malloc(cap * sizeof(float));
    fill(&in, arena, cap, 0.3f);
    for (size_t i = tab; i < 3 * tab; i++)   /* m may be anything; keep v, vmax >= 0 */
        arena[i] = fabsf(arena[i]);
    float *P = arena, *M = arena + tab, *V = arena + 2 * tab, *X = arena + 3 * tab;
    float *val = arena + 4 * tab;
    int64_t *idx = calloc(nnz + 1, sizeof *idx), *last = calloc(rows + 1, sizeof *last);
    int64_t *isnap = malloc((nnz + 1) * sizeof *idx), *lsnap = malloc((rows + 1) * sizeof *last);
    int bad_index = 0;
    for (size_t i = 0; i < nnz; i++) {
        uint32_t k = (uint32_t)take(&in, 1);
        idx[i] = k < 200 ? (rows ? (int64_t)(k % rows) : 0)
               : k < 220 ? (int64_t)(i ? idx[i - 1] : 0)
               : k < 230 ? -1 : k < 240 ? (int64_t)rows : k < 248 ? INT64_MIN : INT64_MAX;
        if (idx[i] < 0 || idx[i] >= (int64_t)rows)
            bad_index = 1;
    }
    int bad_last = 0;
    for (size_t r = 0; r < rows; r++) {
        uint32_t k = (uint32_t)take(&in, 1);
        last[r] = k < 230 ? (int64_t)(k % (uint32_t)(step > 0 ? step : 1)) : k < 240 ? -1 : step + (k % 3);
    }
    float *p = P, *m = M, *v = V, *x = X;
    const float *vals = val;
    const int64_t *ix = idx;
    int64_t *ls = last;
    if (mode == 1) p = NULL;
    if (mode == 2) vals = NULL;
    if (mode == 3) ix = NULL;
    if (mode == 4) ls = NULL;
    if (mode == 5 && tab) vals = P + take(&in, 1) % tab;    /* values over the table */
    if (mode == 6 && tab) v = M;                              /* m == v */
    memcpy(snap, arena, cap * sizeof(float));
    memcpy(isnap, idx, (nnz + 1) * sizeof *idx);
    memcpy(lsnap, last, (rows + 1) * sizeof *last);

    lazyadam_status st;
    switch (op) {
    case 0: st = lazyadam_lazy_step(&c, step, rows, dim, p, m, v, x, nnz, ix, vals); break;
    case 1: st = lazyadam_adam_sparse_step(&c, step, rows, dim, p, m, v, x, nnz, ix, vals); break;
    case 2: st = lazyadam_exact_lazy_step(&c, step, rows, dim, p, m, v, x, ls, nnz, ix, vals); break;
    default: st = lazyadam_exact_flush(&c, step, rows, dim, p, m, v, x, ls); break;
    }
    int uses_grad = op != 3, exact = op >= 2;
    size_t gn = uses_grad ? nnz : 0;
    /* What the contract makes invalid. */
    for (size_t r = 0; r < rows && exact; r++)       /* (before the call) */
        if (lsnap[r] < 0 || lsnap[r] > step)
            bad_last |= op == 3;
    for (size_t i = 0; i < gn && exact && !bad_index; i++)
        if (lsnap[idx[i]] < 0 || lsnap[idx[i]] >= step)
            bad_last = 1;
    int nulls = (tab && (!p || !m || !v || (ams && !x))) || (gn && (!ix || !vals))
             || (exact && rows && !ls);
    size_t tb = tab * sizeof(float);
    const void *wr[5] = { p, m, v, ams ? x : NULL, exact ? (void *)ls : NULL };
    size_t wn[5] = { tb, tb, tb, tb, exact ? rows * 8 : 0 };
    const void *all[7] = { p, m, v, ams ? x : NULL, exact ? (void *)ls : NULL, gn ? ix : NULL, gn ? vals : NULL };
    size_t an[7] = { tb, tb, tb, tb, exact ? rows * 8 : 0, gn * 8, gn * dim * sizeof(float) };
    int alias = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 7; b++)
            if (a != b && overlap(wr[a], wn[a], all[b], an[b]))
                alias = 1;
    int invalid = step < 1 || dim == 0 || nulls || alias || (gn && bad_index) || bad_last;

    if (st != LAZYADAM_OK) {
        FUZZ_CHECK(!memcmp(arena, snap, cap * sizeof(float)) && !memcmp(idx, isnap, (nnz + 1) * 8)
                && !memcmp(last, lsnap, (rows + 1) * 8), "op %d failed (%s) but wrote", op,
                lazyadam_status_string(st));
        FUZZ_CHECK(invalid || st == LAZYADAM_E_NOMEM, "a valid op %d call failed: %s", op,
                lazyadam_status_string(st));
    } else {
        FUZZ_CHECK(!invalid, "an invalid op %d call returned OK", op);
        lazyadam_backend be = lazyadam_backend_resolve(&c);
        float *rp = snap, *rm = snap + tab, *rv = snap + 2 * tab, *rx = snap + 3 * tab;
        const float *rvals = vals ? snap + (vals - arena) : NULL;
        float *zeros = calloc(dim + 1, sizeof(float));
        if (exact) {   /* catch-up with the reference: zero-gradient steps, one by one */
            unsigned char *named = calloc(rows + 1, 1);
            for (size_t i = 0; i < gn; i++)
                named[idx[i]] = 1;
            for (size_t r = 0; r < rows; r++)
                if (op == 3 || named[r])
                    for (int64_t s = lsnap[r] + 1; s <= (op == 3 ? step : step - 1); s++)
                        ref_adam_step(&c, s, dim, rp + r * dim, zeros, rm + r * dim, rv + r * dim,
                                ams ? rx + r * dim : NULL);
            for (size_t r = 0; r < rows; r++)
                FUZZ_CHECK(last[r] == ((op == 3 || named[r]) ? step : lsnap[r]), "last_step wrong");
            free(named);
        }
        if (op == 0 || op == 2)
            ref_lazy_step(&c, step, rows, dim, rp, rm, rv, rx, gn, isnap, rvals);
        else if (op == 1)
            ref_adam_sparse_step(&c, step, rows, dim, rp, rm, rv, rx, gn, isnap, rvals);
        FUZZ_CHECK(same(rp, P, tab, be) && same(rm, M, tab, be) && same(rv, V, tab, be)
                && (!ams || same(rx, X, tab, be)), "op %d differs from the reference", op);
        free(zeros);
    }
    free(arena); free(snap); free(idx); free(last); free(isnap); free(lsnap);
    return 0;
}
