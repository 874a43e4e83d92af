/* The overlap check behind E_ALIAS (lib/validate.c) against brute force, on random
 * range lists shaped to reach each of its paths: disjoint ascending runs, a few
 * interleaved runs (k-way sweep), unordered lists (sort), and lists of one call's own
 * buffers (up to 8, checked pair by pair), packed close so that they often touch or
 * overlap. Then lazyadam_adam_step_multi's verdict on random tensor layouts in one arena,
 * against brute force over the tensors' buffers: the layouts its check without a list
 * takes (each buffer kind ascending, the kinds apart: lib/dense.c) and the ones it must
 * leave to the full check, with overlaps planted within a kind, across kinds and
 * across the kinds' spans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

static int brute(const lazyadam_range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if ((r[i].writable || r[j].writable) && r[i].lo < r[j].hi && r[j].lo < r[i].hi)
                return 1;
    return 0;
}

/* The multi layouts: up to 12 tensors, each kind of buffer (param, grad, m, v, vmax)
 * laid in ascending order from a base of its own with small gaps, the kinds' bases far
 * apart (shape 0) or anywhere (1), or each tensor's buffers side by side, so that the
 * kinds' spans interleave (2); in a third of them one tensor's buffer moved onto
 * another's. */
#define ARENA 60000
static float arena[ARENA], before[ARENA];

static void multi_layouts(rng *g, tally *t)
{
    int aliased[3] = { 0 }, total[3] = { 0 };
    for (int iter = 0; iter < 3000; iter++) {
        int shape = iter % 3, ams = (iter / 3) % 2;
        int kinds = ams ? 5 : 4;
        size_t count = 1 + rng_below(g, 12);
        lazyadam_tensor ts[12];
        size_t at[12][5], len[12];
        for (size_t i = 0; i < count; i++)
            len[i] = rng_below(g, 9) == 0 ? 0 : 1 + rng_below(g, 200);
        for (int k = 0; k < kinds; k++) {
            size_t pos = shape == 0 ? (size_t)k * 11000 : rng_below(g, ARENA / 2);
            for (size_t i = 0; i < count; i++) {
                at[i][k] = shape == 2 ? (i * (size_t)kinds + (size_t)k) * 210 : pos;
                pos += len[i] + (rng_below(g, 3) == 0 ? rng_below(g, 40) : 0);
            }
        }
        if (rng_below(g, 3) == 0) {   /* plant one overlap (or a harmless shared grad) */
            size_t i = rng_below(g, count), j = rng_below(g, count);
            int ki = (int)rng_below(g, (uint64_t)kinds), kj = (int)rng_below(g, (uint64_t)kinds);
            at[j][kj] = at[i][ki] + rng_below(g, len[i] + 1);
        }
        lazyadam_range r[60];
        size_t nr = 0;
        for (size_t i = 0; i < count; i++) {
            float *b[5];
            for (int k = 0; k < 5; k++)
                b[k] = k < kinds ? arena + at[i][k] : NULL;
            ts[i] = (lazyadam_tensor){ len[i], b[0], b[1], b[2], b[3], b[4] };
            for (int k = 0; k < kinds; k++)
                lazyadam_range_add(r, &nr, b[k], len[i] * sizeof(float), k != 1);
        }
        int want = brute(r, nr);
        aliased[shape] += want;
        total[shape]++;
        for (size_t i = 0; i < ARENA; i++)
            arena[i] = before[i] = rng_uniform(g, 0.01f, 1.0f);
        lazyadam_config c = lazyadam_default_config();
        c.flags = ams ? LAZYADAM_AMSGRAD : 0;
        c.num_threads = 1 + (int)rng_below(g, 2);
        lazyadam_status st = lazyadam_adam_step_multi(&c, 1, count, ts);
        int ok = want ? st == LAZYADAM_E_ALIAS && !memcmp(arena, before, sizeof arena)
                      : st == LAZYADAM_OK;
        tally_case(t, ok, "adam_step_multi layout shape=%d count=%zu amsgrad=%d: brute force "
                "says %d, the call %s", shape, count, ams, want, lazyadam_status_string(st));
    }
    for (int s = 0; s < 3; s++)
        printf("multi layout shape %d: %d of %d overlap\n", s, aliased[s], total[s]);
}

int main(void)
{
    rng g = { harness_seed("test_ranges") };
    tally t = { 0, 0, 0 };
    int aliased[4] = { 0 }, total[4] = { 0 };
    for (int iter = 0; iter < 3000; iter++) {
        int shape = iter % 4;
        size_t runs = 1 + rng_below(&g, shape == 3 ? 8 : shape == 2 ? 40 : 6);
        size_t each = shape == 3 ? 1 : 1 + rng_below(&g, 30);
        size_t n = runs * each;
        lazyadam_range *r = malloc(n * sizeof *r), *copy = malloc(n * sizeof *r);
        uintptr_t spread = shape == 0 ? 1000000 : shape == 3 ? 150 * n : 20000 * n;
        for (size_t k = 0; k < runs; k++) {
            uintptr_t at = 4096 + (shape == 0 ? k * spread * 40 : rng_below(&g, spread));
            int writable = rng_below(&g, 4) != 0;
            for (size_t i = 0; i < each; i++) {
                size_t len = 1 + rng_below(&g, 64);
                /* Mostly ascending with gaps; now and then touching or overlapping. */
                uintptr_t gap = rng_below(&g, 20) == 0 ? 0 : rng_below(&g, shape == 0 ? 5000 : 200);
                if (shape != 0 && rng_below(&g, 30) == 0 && at > len)
                    at -= len / 2;
                r[k * each + i] = (lazyadam_range){ at, at + len, writable };
                at += len + gap;
            }
        }
        if (rng_below(&g, 3) == 0 && n > 1) {   /* plant one overlap */
            size_t i = rng_below(&g, n), j = rng_below(&g, n);
            if (i != j) {
                uintptr_t len = r[j].hi - r[j].lo;
                r[j].lo = r[i].lo + rng_below(&g, r[i].hi - r[i].lo);
                r[j].hi = r[j].lo + len;
            }
        }
        if (shape >= 2)   /* shuffle */
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = rng_below(&g, i + 1);
                lazyadam_range x = r[i]; r[i] = r[j]; r[j] = x;
            }
        memcpy(copy, r, n * sizeof *r);
        int want = brute(r, n);
        aliased[shape] += want;
        total[shape]++;
        int got = lazyadam_check_ranges(copy, n) == LAZYADAM_E_ALIAS;
        tally_case(&t, want == got, "ranges shape=%d runs=%zu each=%zu: brute force says %d, "
                "check says %d", shape, runs, each, want, got);
        free(r);
        free(copy);
    }
    for (int s = 0; s < 4; s++)
        printf("shape %d: %d of %d lists overlap\n", s, aliased[s], total[s]);
    multi_layouts(&g, &t);
    return tally_finish(&t);
}
