/* Grouping a sparse gradient's row indices: which distinct rows it names and, for
 * each, the positions of its value rows in input order (the order in which their
 * values are summed). Scratch is proportional to nnz, never to rows.
 *
 * Two methods, picked by measurement (lazyadam-bench group/ and lazy_step/, README
 * "Sparse de-duplication"): a stable LSD radix sort on the row index, which yields the rows
 * in ascending order, and an open-addressing hash table, which yields them in order of
 * first appearance and touches each index once. */
#include <string.h>

#include "internal.h"

typedef struct kv {
    uint64_t key;
    size_t pos;
} kv;

/* Allocates row/start/src as one block; extra bytes of scratch are appended. */
static lazyadam_status groups_alloc(lazyadam_groups *g, size_t nnz, size_t extra, void **scratch)
{
    size_t head = nnz * sizeof(int64_t) + (nnz + 1) * sizeof(size_t) + nnz * sizeof(size_t);
    head = (head + 63) & ~(size_t)63;
    char *mem = lazyadam_alloc(head + extra);
    if (!mem)
        return LAZYADAM_E_NOMEM;
    g->mem = mem;
    g->row = (int64_t *)mem;
    g->start = (size_t *)(mem + nnz * sizeof(int64_t));
    g->src = g->start + nnz + 1;
    *scratch = mem + head;
    return LAZYADAM_OK;
}

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

lazyadam_status lazyadam_group_sorted(size_t nnz, const int64_t *indices, size_t rows,
        lazyadam_groups *g)
{
    memset(g, 0, sizeof *g);
    void *scratch;
    size_t extra = 2 * nnz * sizeof(kv) + RADIX_SIZE * sizeof(size_t);
    lazyadam_status st = groups_alloc(g, nnz, extra, &scratch);
    if (st != LAZYADAM_OK)
        return st;
    kv *a = scratch, *b = a + nnz;
    size_t *hist = (size_t *)(b + nnz);
    for (size_t i = 0; i < nnz; i++) {
        a[i].key = (uint64_t)indices[i];
        a[i].pos = i;
    }
    int bits = 0;
    for (uint64_t r = rows > 0 ? (uint64_t)rows - 1 : 0; r; r >>= 1)
        bits++;
    /* Stable LSD passes keep equal keys in input order. */
    for (int shift = 0; shift < bits; shift += RADIX_BITS) {
        memset(hist, 0, RADIX_SIZE * sizeof(size_t));
        for (size_t i = 0; i < nnz; i++)
            hist[(a[i].key >> shift) & (RADIX_SIZE - 1)]++;
        size_t sum = 0;
        for (size_t d = 0; d < RADIX_SIZE; d++) {
            size_t c = hist[d];
            hist[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < nnz; i++)
            b[hist[(a[i].key >> shift) & (RADIX_SIZE - 1)]++] = a[i];
        kv *t = a; a = b; b = t;
    }
    size_t count = 0;
    for (size_t i = 0; i < nnz; i++) {
        if (i == 0 || a[i].key != a[i - 1].key) {
            g->row[count] = (int64_t)a[i].key;
            g->start[count] = i;
            count++;
        }
        g->src[i] = a[i].pos;
    }
    g->start[count] = nnz;
    g->count = count;
    return LAZYADAM_OK;
}

static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* A slot holds its group's number plus one (0: empty); the key it stands for is that
 * group's row, g->row[group]. Four bytes a slot keep the table, at most twice nnz slots,
 * a quarter of the size it would be with the key stored beside the group: 128 KB for
 * 10,000 indices, which stays in L2 and is cleared in a quarter of the time. */
typedef uint32_t slot;

lazyadam_status lazyadam_group_hashed(size_t nnz, const int64_t *indices, lazyadam_groups *g)
{
    memset(g, 0, sizeof *g);
    if (nnz >= UINT32_MAX / 2)   /* group numbers and positions must fit in a slot */
        return LAZYADAM_E_SIZE;
    size_t cap = 16;
    while (cap < 2 * nnz)
        cap <<= 1;
    void *scratch;
    size_t extra = cap * sizeof(slot) + nnz * sizeof(uint32_t) + (nnz + 1) * sizeof(uint32_t);
    lazyadam_status st = groups_alloc(g, nnz, extra, &scratch);
    if (st != LAZYADAM_OK)
        return st;
    slot *tab = scratch;
    uint32_t *group_of = tab + cap;
    uint32_t *fill = group_of + nnz;
    memset(tab, 0, cap * sizeof(slot));
    uint32_t count = 0;
    for (size_t i = 0; i < nnz; i++) {
        int64_t key = indices[i];
        size_t h = hash64((uint64_t)key) & (cap - 1);
        while (tab[h] != 0 && g->row[tab[h] - 1] != key)
            h = (h + 1) & (cap - 1);
        if (tab[h] == 0) {
            tab[h] = count + 1;
            g->row[count] = key;
            fill[count] = 0;
            count++;
        }
        uint32_t grp = tab[h] - 1;
        group_of[i] = grp;
        fill[grp]++;
    }
    size_t sum = 0;
    for (size_t c = 0; c < count; c++) {
        g->start[c] = sum;
        sum += fill[c];
        fill[c] = (uint32_t)g->start[c];
    }
    g->start[count] = nnz;
    for (size_t i = 0; i < nnz; i++)
        g->src[fill[group_of[i]]++] = i;
    g->count = count;
    return LAZYADAM_OK;
}

/* Which method, measured with lazyadam-bench (README "Sparse de-duplication"):
 * - the hash is the cheaper grouping up to HASH_MAX_NNZ indices, the sort above;
 * - but rows updated in ascending order are reached faster once the table is far larger
 *   than the cache (neighbouring rows share page-table lines and DRAM pages): lazy_step
 *   on 1M x 64 with 10,000 indices took 212-260 us with sorted groups against 271-282 us
 *   with hashed ones. With 1,000 indices, or a table that stays in cache, the sort's fixed
 *   cost (two 2048-bucket histograms) outweighs that, so the hash stays there. */
#define HASH_MAX_NNZ 16384
#define ORDERED_MIN_NNZ 4096
#define ORDERED_MIN_TABLE_BYTES ((size_t)4 << 20)

lazyadam_status lazyadam_group_indices(size_t nnz, const int64_t *indices, size_t rows,
        size_t dim, int sorted, lazyadam_groups *out)
{
    int ordered_pays = nnz >= ORDERED_MIN_NNZ && rows * dim * sizeof(float) >= ORDERED_MIN_TABLE_BYTES;
    if (!sorted && !ordered_pays && nnz <= HASH_MAX_NNZ)
        return lazyadam_group_hashed(nnz, indices, out);
    return lazyadam_group_sorted(nnz, indices, rows, out);
}

void lazyadam_groups_free(lazyadam_groups *g)
{
    lazyadam_free(g->mem);
    g->mem = NULL;
}
