/* Grouping a sparse gradient's row indices: which distinct rows it names and, for
 * each, the positions of its value rows in input order (the order in which their
 * values are summed). Scratch is proportional to nnz, never to rows.
 *
 * Two methods, picked by measurement (lazyadam-bench group/ and lazy_step/, README
 * "Sparse de-duplication"): a stable LSD radix sort on the row index, which yields the rows
 * in ascending order, and an open-addressing hash table, which yields them in order of
 * first appearance and touches each index once. From SORT_TEAM_MIN indices a thread the
 * sort runs on the team that will update the rows. */
#include <omp.h>
#include <string.h>

#include "internal.h"

/* bytes rounded up to whole 64-byte lines, so the arrays after them start on one. */
static size_t whole_lines(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

/* Allocates row/start/src as one block; extra bytes of scratch are appended. */
static lazyadam_status groups_alloc(lazyadam_groups *g, size_t nnz, size_t extra, void **scratch)
{
    size_t head = whole_lines(nnz * sizeof(int64_t) + (nnz + 1) * sizeof(size_t)
                              + nnz * sizeof(size_t));
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

static int bits_for(uint64_t max)
{
    int b = 0;
    for (; max; max >>= 1)
        b++;
    return b;
}

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

/* The row a sort word stands for: above the position in a packed word, else read from
 * the indices. Always inlined with `packed` a constant, so each loop exists twice. */
static inline __attribute__((always_inline)) uint64_t row_of(size_t x, int packed,
        int pos_bits, const int64_t *indices)
{
    return packed ? (uint64_t)x >> pos_bits : (uint64_t)indices[x];
}

/* The radix digit d of a sort word: in a packed word one shift (loop-invariant in a pass)
 * past the position and the lower digits. */
static inline __attribute__((always_inline)) size_t digit_of(size_t x, int d, int packed,
        int pos_bits, const int64_t *indices)
{
    if (packed)
        return (x >> (pos_bits + d * RADIX_BITS)) & (RADIX_SIZE - 1);
    return ((uint64_t)indices[x] >> (d * RADIX_BITS)) & (RADIX_SIZE - 1);
}

/* The words of the sort made in a, and every digit's histogram counted in the same read
 * of the indices. Always inlined, with `digits` a constant where the caller can make it
 * one. */
static inline __attribute__((always_inline)) void make_words(size_t nnz,
        const int64_t *restrict indices, int pos_bits, int packed, int digits, size_t *a,
        size_t (*restrict hist)[RADIX_SIZE])
{
    for (size_t i = 0; i < nnz; i++) {
        uint64_t key = (uint64_t)indices[i];
        a[i] = packed ? (size_t)key << pos_bits | i : i;
        for (int d = 0; d < digits; d++)
            hist[d][(key >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
    }
}

/* The sort on one thread: the words made in a, sorted through b; returns the buffer that
 * holds them sorted (the other is free). The histograms of every digit are counted in one
 * read of the indices, as the words are made; a digit all words share needs no pass. */
static inline __attribute__((always_inline)) size_t *sort_words(size_t nnz,
        const int64_t *restrict indices, int key_bits, int pos_bits, int packed,
        size_t *a, size_t *b, size_t (*restrict hist)[RADIX_SIZE])
{
    int digits = (key_bits + RADIX_BITS - 1) / RADIX_BITS;
    memset(hist, 0, (size_t)digits * sizeof *hist);
    /* the loop over the digits unrolled for the common tables (up to 2^33 rows): left
     * in, it took a fifth of a 10,000-index sort's instructions (callgrind) */
    switch (digits) {
    case 1:
        make_words(nnz, indices, pos_bits, packed, 1, a, hist);
        break;
    case 2:
        make_words(nnz, indices, pos_bits, packed, 2, a, hist);
        break;
    case 3:
        make_words(nnz, indices, pos_bits, packed, 3, a, hist);
        break;
    default:
        make_words(nnz, indices, pos_bits, packed, digits, a, hist);
    }
    for (int d = 0; d < digits; d++) {
        size_t *h = hist[d], sum = 0;
        if (nnz > 0 && h[digit_of(a[0], d, packed, pos_bits, indices)] == nnz)
            continue;
        for (size_t x = 0; x < RADIX_SIZE; x++) {
            size_t c = h[x];
            h[x] = sum;
            sum += c;
        }
        /* Stable: equal digits keep their order, so positions stay ascending in a row. */
        const size_t *restrict from = a;
        size_t *restrict to = b;
        for (size_t i = 0; i < nnz; i++)
            to[h[digit_of(from[i], d, packed, pos_bits, indices)]++] = from[i];
        size_t *t = a; a = b; b = t;
    }
    return a;
}

/* The same sort of packed words on a team of T, each thread on its own slice of the
 * words: per digit, every thread counts its slice, computes where each of its words goes
 * (after every word of a lower digit, and after the same digit's words in the slices
 * before its own), and moves them. The order this leaves is the one ascending order of the
 * distinct words, whatever T: the caller's groups, bit for bit. Threads write into the
 * same buckets, so a team pays only where the buckets are long (SORT_TEAM_MIN). hist
 * holds 2 T histograms: each thread's counts, then its offsets. Returns the buffer that
 * holds the sorted words. */
static size_t *sort_words_team(size_t nnz, const int64_t *restrict indices, int key_bits,
        int pos_bits, size_t *a, size_t *b, size_t (*restrict hist)[RADIX_SIZE], int T)
{
    int digits = (key_bits + RADIX_BITS - 1) / RADIX_BITS;
    size_t *sorted = a;
    #pragma omp parallel num_threads(T)
    {
        size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        size_t lo = nnz * t / nt, hi = nnz * (t + 1) / nt;
        size_t *restrict mine = hist[t], *restrict off = hist[nt + t];
        size_t *from = a, *to = b;
        for (size_t i = lo; i < hi; i++)
            a[i] = (size_t)indices[i] << pos_bits | i;
        for (int d = 0; d < digits; d++) {
            memset(mine, 0, sizeof hist[0]);
            for (size_t i = lo; i < hi; i++)
                mine[digit_of(from[i], d, 1, pos_bits, indices)]++;
            #pragma omp barrier
            int all_one = 0;
            size_t sum = 0;
            for (size_t x = 0; x < RADIX_SIZE; x++) {
                size_t total = 0, before = 0;
                for (size_t u = 0; u < nt; u++) {
                    total += hist[u][x];
                    before += u < t ? hist[u][x] : 0;
                }
                all_one |= total == nnz;
                off[x] = sum + before;
                sum += total;
            }
            /* every thread sees the same totals, so all skip together */
            if (!all_one)
                for (size_t i = lo; i < hi; i++)
                    to[off[digit_of(from[i], d, 1, pos_bits, indices)]++] = from[i];
            #pragma omp barrier   /* the moves done, and every thread's counts read */
            if (!all_one) {
                size_t *x = from; from = to; to = x;
            }
        }
        if (t == 0)
            sorted = from;
    }
    return sorted;
}

/* The walk that turns the sorted words into g's groups: the words, read once each and
 * overwritten with their positions, become src; `free_buf`, 8 bytes an index, takes the
 * distinct rows. */
static inline __attribute__((always_inline)) void walk_groups(size_t nnz,
        const int64_t *indices, int pos_bits, int packed, size_t *words, size_t *free_buf,
        size_t *restrict start, lazyadam_groups *g)
{
    int64_t *row = (int64_t *)free_buf;
    size_t count = 0, pos_mask = packed && pos_bits ? SIZE_MAX >> (sizeof(size_t) * 8 - (size_t)pos_bits) : 0;
    for (size_t i = 0; i < nnz; i++) {
        int64_t key = (int64_t)row_of(words[i], packed, pos_bits, indices);
        if (count == 0 || key != row[count - 1]) {
            row[count] = key;
            start[count] = i;
            count++;
        }
        if (packed)
            words[i] &= pos_mask;
    }
    start[count] = nnz;
    g->count = count;
    g->row = row;
    g->start = start;
    g->src = words;
}

/* From this many indices a thread, the sort runs on the team that will update the rows,
 * at most SORT_TEAM_MAX threads (README "Sparse de-duplication"). */
#define SORT_TEAM_MIN 32768
#define SORT_TEAM_MAX 8

/* Sorted grouping: a stable LSD radix sort on the row index. Each element is one word:
 * where the row's bits and the position's fit in a size_t together, the row above the
 * position (so each pass moves 8 bytes an index and the key needs no lookup); where they
 * do not (a table of more than about 2^40 rows), the position alone, its row read from
 * the indices. Positions start ascending and every pass is stable, so a group's positions
 * stay in input order. After the last pass the sorted words become src in place and the
 * other buffer holds the distinct rows: 24 bytes an index in all (24 MB for a million),
 * which stays under glibc's largest mmap threshold (32 MB), so repeated calls reuse the
 * heap instead of faulting in fresh pages; past about 1.4 million indices the allocator
 * keeps the block itself (lib/alloc.c; README "Sparse de-duplication"). */
lazyadam_status lazyadam_group_sorted(size_t nnz, const int64_t *indices, size_t rows,
        int threads, lazyadam_groups *g)
{
    memset(g, 0, sizeof *g);
    if (nnz > (SIZE_MAX - 65536) / 32)   /* 24 bytes an index could not be allocated */
        return LAZYADAM_E_NOMEM;
    int key_bits = bits_for(rows > 0 ? (uint64_t)rows - 1 : 0);
    int pos_bits = bits_for(nnz > 0 ? (uint64_t)nnz - 1 : 0);
    size_t n8 = whole_lines(nnz * sizeof(int64_t));
    size_t n_start = whole_lines((nnz + 1) * sizeof(size_t));
    /* a histogram per digit the table's rows have (16 KB each), not per digit of 64 bits:
     * 32 KB for a table of up to 4M rows, where all six took 96 KB */
    size_t digits = (size_t)(key_bits + RADIX_BITS - 1) / RADIX_BITS;
    int width = (int)(sizeof(size_t) * 8), packed = key_bits + pos_bits <= width && pos_bits < width;
    size_t most = nnz / SORT_TEAM_MIN;
    int T = !packed || threads < 2 || most < 2 ? 1 : threads < (int)most ? threads : (int)most;
    T = T < SORT_TEAM_MAX ? T : SORT_TEAM_MAX;
    size_t hists = T > 1 ? 2 * (size_t)T : digits ? digits : 1;   /* sort_words_team's 2 T */
    size_t hist_bytes = hists * RADIX_SIZE * sizeof(size_t);
    char *mem = lazyadam_alloc(2 * n8 + n_start + hist_bytes);
    if (!mem)
        return LAZYADAM_E_NOMEM;
    size_t *a = (size_t *)mem, *b = (size_t *)(mem + n8), *start = (size_t *)(mem + 2 * n8);
    size_t (*hist)[RADIX_SIZE] = (size_t (*)[RADIX_SIZE])(mem + 2 * n8 + n_start);

    size_t *words;
    if (T > 1)
        words = sort_words_team(nnz, indices, key_bits, pos_bits, a, b, hist, T);
    else if (packed)
        words = sort_words(nnz, indices, key_bits, pos_bits, 1, a, b, hist);
    else
        words = sort_words(nnz, indices, key_bits, pos_bits, 0, a, b, hist);
    /* packed is a constant in each walk, as in each sort */
    if (packed)
        walk_groups(nnz, indices, pos_bits, 1, words, words == a ? b : a, start, g);
    else
        walk_groups(nnz, indices, pos_bits, 0, words, words == a ? b : a, start, g);
    g->mem = mem;
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

/* Which method (README "Sparse de-duplication"; each figure from a throwaway program
 * alternating the two rules in one process, every call on a new set of indices):
 * - from SORT_MIN_NNZ indices the sort groups faster than the hash on tables of up to 4M
 *   rows (two digits): 10,000 indices took 42-54 us to sort and 55-74 us to hash. On a
 *   table of 100M rows (three digits) the hash was as fast or faster at 10,000 (the full
 *   runs at 44ae2f5 and 8744d2f: 63.7 and 58.7 us to sort, 61.9 and 48.8 to hash) and the
 *   sort leads from 100,000; beside a step's page walks on such a table the difference is
 *   small. (Calling either on one set of indices over and over, as the benchmark once did,
 *   flatters the hash: the branch predictor learns which indices repeat, and 10,000 took
 *   it 22 us.)
 * - below that, the rows in ascending order still pay when the rows phase runs on a team
 *   (threads > 1: from 2 x 16,384 touched elements by lib/parallel.c's rule, or where the
 *   call's class has learned that the team is faster, lib/balance.c): each thread then takes
 *   about the same part of the table at every call, so its rows stay in its core's caches,
 *   and neighbouring rows share page-table lines. lazy_step on two threads was 1.16-1.68
 *   times as fast with sorted groups at 1,000 indices of 64 floats (tables of 10,000 and
 *   1,000,000 rows) and 500-1,000 of 256 (10,000 rows), but 0.65-0.91 with 200-500 of 64
 *   floats, where the rows phase runs on the caller alone, and 0.81-1.01 on one thread. */
#define SORT_MIN_NNZ 3072

lazyadam_status lazyadam_group_indices(size_t nnz, const int64_t *indices, size_t rows,
        int sorted, int threads, lazyadam_groups *out)
{
    int sort = sorted || nnz >= SORT_MIN_NNZ || threads > 1;
    if (!sort)
        return lazyadam_group_hashed(nnz, indices, out);
    return lazyadam_group_sorted(nnz, indices, rows, threads, out);
}

void lazyadam_groups_free(lazyadam_groups *g)
{
    lazyadam_free(g->mem);
    g->mem = NULL;
}
