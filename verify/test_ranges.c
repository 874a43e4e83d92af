/* The overlap check behind E_ALIAS (lib/validate.c) against brute force, on random
 * range lists shaped to reach each of its paths: disjoint ascending runs, a few
 * interleaved runs (k-way sweep), unordered lists (sort), and lists of one call's own
 * buffers (up to 8, checked pair by pair), packed close so that they often touch or
 * overlap. */
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
    return tally_finish(&t);
}
