/* The index grouping behind the sparse entry points (lib/dedup.c), both methods,
 * against a naive grouping: same distinct rows, each with its positions in input
 * order, rows ascending for the sorted method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

/* Checks g against the indices directly: every position appears once, in the group of
 * its row, ascending within the group; rows distinct. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int groups_ok(const lazyadam_groups *g, size_t nnz, const int64_t *idx, size_t rows,
        int sorted)
{
    unsigned char *seen = calloc(nnz + 1, 1);
    int64_t *distinct = malloc((g->count + 1) * sizeof *distinct);
    memcpy(distinct, g->row, g->count * sizeof *distinct);
    qsort(distinct, g->count, sizeof *distinct, cmp_i64);
    int ok = g->start[0] == 0 && g->start[g->count] == nnz;
    for (size_t c = 1; c < g->count && ok; c++)
        ok = distinct[c - 1] != distinct[c];
    for (size_t c = 0; c < g->count && ok; c++) {
        int64_t row = g->row[c];
        ok = row >= 0 && (size_t)row < rows;
        if (sorted && c > 0)
            ok = ok && g->row[c - 1] < row;
        for (size_t k = g->start[c]; k < g->start[c + 1] && ok; k++) {
            size_t pos = g->src[k];
            ok = pos < nnz && !seen[pos] && idx[pos] == row
              && (k == g->start[c] || g->src[k - 1] < pos);
            seen[pos] = 1;
        }
    }
    for (size_t i = 0; i < nnz && ok; i++)
        ok = seen[i];
    free(seen);
    free(distinct);
    return ok;
}

static int same_groups(const lazyadam_groups *a, const lazyadam_groups *b, size_t nnz)
{
    return a->count == b->count
        && memcmp(a->row, b->row, a->count * sizeof *a->row) == 0
        && memcmp(a->start, b->start, (a->count + 1) * sizeof *a->start) == 0
        && memcmp(a->src, b->src, nnz * sizeof *a->src) == 0;
}

int main(void)
{
    rng r = { harness_seed("test_dedup") };
    tally t = { 0, 0, 0 };
    /* The last two leave too few bits for row and position in one word (lib/dedup.c):
     * the sort then carries positions alone and reads their rows from the indices. */
    static const size_t rows_list[] = { 1, 2, 1000, 2049, 1u << 22, (size_t)1 << 40,
                                        (size_t)1 << 62, (size_t)INT64_MAX };
    enum { NROWS = sizeof rows_list / sizeof rows_list[0] };
    static const size_t nnz_list[] = { 0, 1, 2, 17, 1000, 70000, 100000 };
    for (size_t ri = 0; ri < NROWS; ri++)
        for (size_t ni = 0; ni < sizeof nnz_list / sizeof nnz_list[0]; ni++)
            for (int dups = 0; dups <= 90; dups += 45) {
                size_t rows = rows_list[ri], nnz = nnz_list[ni];
                int64_t *idx = malloc((nnz + 1) * sizeof *idx);
                for (size_t i = 0; i < nnz; i++)
                    idx[i] = (i > 0 && (int)rng_below(&r, 100) < dups) ? idx[rng_below(&r, i)]
                                                                     : (int64_t)rng_below(&r, rows);
                lazyadam_groups a, b;
                lazyadam_status sa = lazyadam_group_sorted(nnz, idx, rows, 1, &a);
                lazyadam_status sb = lazyadam_group_hashed(nnz, idx, &b);
                tally_case(&t, sa == LAZYADAM_OK && groups_ok(&a, nnz, idx, rows, 1),
                        "sorted grouping rows=%zu nnz=%zu dup=%d%%", rows, nnz, dups);
                tally_case(&t, sb == LAZYADAM_OK && groups_ok(&b, nnz, idx, rows, 0)
                        && a.count == b.count,
                        "hashed grouping rows=%zu nnz=%zu dup=%d%%", rows, nnz, dups);
                /* The sort on a team (from 32,768 indices a thread: 70,000 on 2 threads,
                 * 100,000 on 2 and on 3) must give the caller's groups exactly. */
                for (int threads = 2; threads <= 5 && sa == LAZYADAM_OK; threads += 3) {
                    lazyadam_groups c;
                    lazyadam_status sc = lazyadam_group_sorted(nnz, idx, rows, threads, &c);
                    tally_case(&t, sc == LAZYADAM_OK && same_groups(&a, &c, nnz),
                            "sorted grouping on %d threads rows=%zu nnz=%zu dup=%d%%",
                            threads, rows, nnz, dups);
                    if (sc == LAZYADAM_OK)
                        lazyadam_groups_free(&c);
                }
                lazyadam_groups_free(&a);
                lazyadam_groups_free(&b);
                free(idx);
            }
    return tally_finish(&t);
}
