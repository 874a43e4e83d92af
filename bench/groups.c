/* A C door into the index grouping (lib/dedup.c) for the C++ benchmark, which cannot
 * include the library's internal C headers. */
#include "groups.h"
#include "internal.h"

int bench_group_indices(int method, size_t nnz, const int64_t *indices, size_t rows)
{
    lazyadam_groups g;
    lazyadam_status st = method == 1 ? lazyadam_group_hashed(nnz, indices, &g)
                                     : lazyadam_group_sorted(nnz, indices, rows, method == 2 ? 2 : 1, &g);
    if (st != LAZYADAM_OK)
        return -1;
    int distinct = (int)g.count;
    lazyadam_groups_free(&g);
    return distinct;
}
