#ifndef LAZYADAM_BENCH_GROUPS_H
#define LAZYADAM_BENCH_GROUPS_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Groups the indices with method 0 (radix sort), 1 (hash) or 2 (radix sort on a team of
 * two where the indices are many enough); returns the number of distinct rows, or -1 when
 * scratch could not be allocated. */
int bench_group_indices(int method, size_t nnz, const int64_t *indices, size_t rows);
#ifdef __cplusplus
}
#endif
#endif
