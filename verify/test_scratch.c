/* The scratch the allocator keeps between calls (lib/alloc.c): sparse steps large
 * enough for their grouping scratch to be kept give the reference's results on a
 * reused block, one call after another (a larger call keeping a second block, a
 * smaller one then taking the block that fits best) and from several threads at once; an injected
 * allocation failure still returns E_NOMEM with nothing written and nothing kept lost;
 * mid-size scratch is kept and reused in slots of its own, beside the large blocks;
 * asked for directly, the allocator keeps its pools apart, keeps a block freed into a
 * full pool and hands out the smallest kept block that fits; lazyadam_release_scratch
 * gives every kept block back. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "reference.h"
#include "testing.h"

#define ROWS ((size_t)1 << 18)
#define DIM 2
/* 24 bytes an index of grouping scratch: 36 MB, past LAZYADAM_KEEP_MIN; the larger
 * calls have 3/2 as many. */
#define NNZ ((size_t)1500000)
#define NNZ_MAX (NNZ + NNZ / 2)
/* sorted grouping (from 3,072 indices): 24 bytes an index and the histograms, about
 * 130 KB, between LAZYADAM_KEEP_MID and LAZYADAM_KEEP_MIN */
#define NNZ_MID ((size_t)4000)
#define NTHREADS 3

enum { P, M, V, X, NBUF };   /* param, m, v, vmax */

typedef struct table {
    float *lib[NBUF], *ref[NBUF];   /* the library's state and the reference's */
    int64_t *idx;
    float *val;
    size_t nnz;
    uint64_t seed;
    lazyadam_status st;
} table;

static void table_init(table *tb, uint64_t seed)
{
    size_t bytes = ROWS * DIM * sizeof(float);
    rng r = { seed };
    for (int b = 0; b < NBUF; b++) {
        tb->lib[b] = malloc(bytes);
        tb->ref[b] = malloc(bytes);
    }
    fill_normal(&r, tb->lib[P], ROWS * DIM, 1.0f);
    fill_normal(&r, tb->lib[M], ROWS * DIM, 0.01f);
    fill_positive(&r, tb->lib[V], ROWS * DIM, 1e-4f);
    fill_positive(&r, tb->lib[X], ROWS * DIM, 1e-4f);
    for (int b = 0; b < NBUF; b++)
        memcpy(tb->ref[b], tb->lib[b], bytes);
    tb->idx = malloc(NNZ_MAX * sizeof *tb->idx);
    tb->val = malloc(NNZ_MAX * DIM * sizeof *tb->val);
    tb->seed = seed;
    tb->st = LAZYADAM_OK;
}

static void table_free(table *tb)
{
    for (int b = 0; b < NBUF; b++) {
        free(tb->lib[b]);
        free(tb->ref[b]);
    }
    free(tb->idx);
    free(tb->val);
}

/* nnz new indices and values for step s, drawn from the table's seed. */
static void draw(table *tb, int64_t s, size_t nnz)
{
    rng r = { tb->seed * 1000003u + (uint64_t)s };
    tb->nnz = nnz;
    for (size_t i = 0; i < nnz; i++)
        tb->idx[i] = (int64_t)rng_below(&r, ROWS);
    fill_normal(&r, tb->val, nnz * DIM, 0.1f);
}

static lazyadam_config config(void)
{
    lazyadam_config c = lazyadam_default_config();
    c.flags = LAZYADAM_AMSGRAD;
    c.num_threads = 2;
    return c;
}

/* One LazyAdam step through the library; the reference's step is taken separately. */
static lazyadam_status lib_step(table *tb, int64_t s)
{
    lazyadam_config c = config();
    return lazyadam_lazy_step(&c, s, ROWS, DIM, tb->lib[P], tb->lib[M], tb->lib[V], tb->lib[X],
            tb->nnz, tb->idx, tb->val);
}

static void ref_step(table *tb, int64_t s)
{
    lazyadam_config c = config();
    ref_lazy_step(&c, s, ROWS, DIM, tb->ref[P], tb->ref[M], tb->ref[V], tb->ref[X], tb->nnz,
            tb->idx, tb->val);
}

static int equal_to_ref(const table *tb)
{
    size_t n = ROWS * DIM * sizeof(float);
    int same = tb->st == LAZYADAM_OK;
    for (int b = 0; b < NBUF; b++)
        same = same && !memcmp(tb->lib[b], tb->ref[b], n);
    return same;
}

static void *thread_main(void *arg)
{
    table *tb = arg;
    for (int64_t s = 1; s <= 2 && tb->st == LAZYADAM_OK; s++) {
        draw(tb, s, NNZ);
        tb->st = lib_step(tb, s);
        ref_step(tb, s);
    }
    return NULL;
}

/* Steps 1-4 of tb, of sizes[s - 1] indices each, one after another, each checked against
 * the reference; kept[s - 1]: the bytes kept after step s. */
static void calls(tally *t, table *tb, const size_t sizes[4], size_t kept[4],
        const char *what)
{
    for (int64_t s = 1; s <= 4; s++) {
        draw(tb, s, sizes[s - 1]);
        tb->st = lib_step(tb, s);
        ref_step(tb, s);
        kept[s - 1] = lazyadam_testing_kept_bytes();
        tally_case(t, equal_to_ref(tb), "%scall %lld of %zu indices: bitwise the reference's "
                "(%s)", what, (long long)s, tb->nnz, lazyadam_status_string(tb->st));
    }
}

/* The bytes kept after freeing p (the kept total's growth is p's capacity when a slot of
 * its pool was empty). */
static size_t kept_after_free(void *p)
{
    lazyadam_free(p);
    return lazyadam_testing_kept_bytes();
}

/* 5. The allocator's rules, on blocks asked for directly rather than through a call: the
 *    mid-size blocks have slots of their own (they never displace a large block, and a
 *    mid-size request never takes one), a block freed into a full pool is kept in place
 *    of an older one, and a request takes the smallest kept block that fits. */
static void policy_cases(tally *t)
{
    lazyadam_release_scratch();
    void *large = lazyadam_alloc(LAZYADAM_KEEP_MIN);
    size_t with_large = kept_after_free(large);
    void *small = lazyadam_alloc(LAZYADAM_KEEP_MID);
    lazyadam_free(small);
    size_t header = lazyadam_testing_kept_bytes() - with_large - LAZYADAM_KEEP_MID;
    small = lazyadam_alloc(4 * LAZYADAM_KEEP_MID);   /* fits no kept mid-size block */
    tally_case(t, with_large >= LAZYADAM_KEEP_MIN && header < 4096
            && lazyadam_testing_kept_bytes() == with_large + LAZYADAM_KEEP_MID + header,
            "a mid-size request leaves the kept large block (and the smaller mid-size one): "
            "%zu bytes kept, header %zu", lazyadam_testing_kept_bytes(), header);
    lazyadam_free(small);

    /* Six mid-size blocks, each twice the one before; the pool has four slots. */
    lazyadam_release_scratch();
    large = lazyadam_alloc(LAZYADAM_KEEP_MIN);
    with_large = kept_after_free(large);
    enum { NMID = 6 };
    void *b[NMID];
    size_t cap[NMID], four = with_large;
    for (int i = 0; i < NMID; i++) {
        cap[i] = (LAZYADAM_KEEP_MID << i) + header;
        b[i] = lazyadam_alloc(LAZYADAM_KEEP_MID << i);
    }
    for (int i = 0; i < 4; i++)
        four += cap[i];
    for (int i = 0; i < 4; i++)
        lazyadam_free(b[i]);
    tally_case(t, lazyadam_testing_kept_bytes() == four, "four mid-size blocks kept beside "
            "the large one: %zu bytes kept, %zu expected", lazyadam_testing_kept_bytes(), four);
    size_t five = kept_after_free(b[4]);
    int displaced = 0;
    for (int v = 0; v < 4; v++)
        displaced |= five == four - cap[v] + cap[4];
    tally_case(t, displaced, "a fifth mid-size block is kept in place of one of the four: "
            "%zu bytes kept, from %zu", five, four);

    /* Blocks of 64, 256 and 1024 KiB kept: 100 KiB takes the 256 KiB one. */
    lazyadam_free(b[5]);
    lazyadam_release_scratch();
    static const size_t kib[3] = { 64, 1024, 256 };
    void *k3[3];
    for (int i = 0; i < 3; i++)
        k3[i] = lazyadam_alloc(kib[i] << 10);
    size_t all = 0;
    for (int i = 0; i < 3; i++)
        all = kept_after_free(k3[i]);
    void *fit = lazyadam_alloc((size_t)100 << 10);
    size_t left = lazyadam_testing_kept_bytes();
    tally_case(t, all - left == ((size_t)256 << 10) + header, "a request of 100 KiB takes the "
            "kept 256 KiB block, the smallest that fits: %zu of %zu bytes still kept", left, all);
    lazyadam_free(fit);
    lazyadam_release_scratch();
}

int main(void)
{
    uint64_t seed = harness_seed("test_scratch");
    tally t = { 0, 0, 0 };
    lazyadam_release_scratch();

    /* 1. One call after another: the second runs on the block the first kept, the
     *    third is larger and keeps a second block, the fourth takes the first again. */
    table tb;
    table_init(&tb, seed);
    static const size_t sizes[4] = { NNZ, NNZ, NNZ_MAX, NNZ };
    size_t kept[4];
    calls(&t, &tb, sizes, kept, "");
    tally_case(&t, kept[0] >= LAZYADAM_KEEP_MIN && kept[1] == kept[0], "a call of %zu indices "
            "keeps its grouping scratch and the next reuses it: %zu, then %zu bytes kept", NNZ,
            kept[0], kept[1]);
    tally_case(&t, kept[2] > 2 * kept[0] && kept[3] == kept[2], "a larger call keeps a second "
            "block and the next smaller call takes the first: %zu, then %zu bytes kept", kept[2],
            kept[3]);

    /* 2. An injected failure while a block is kept: E_NOMEM, nothing written, the block
     *    still kept and used by the next call. */
    draw(&tb, 5, NNZ);
    lazyadam_testing_fail_alloc(1);
    lazyadam_status st = lib_step(&tb, 5);
    lazyadam_testing_fail_alloc(0);
    tally_case(&t, st == LAZYADAM_E_NOMEM && equal_to_ref(&tb)
            && lazyadam_testing_kept_bytes() == kept[3],
            "allocation failing with a block kept: %s, buffers %s, %zu bytes kept",
            lazyadam_status_string(st), equal_to_ref(&tb) ? "unchanged" : "changed",
            lazyadam_testing_kept_bytes());
    tb.st = lib_step(&tb, 5);
    ref_step(&tb, 5);
    tally_case(&t, equal_to_ref(&tb), "the call after the failure: bitwise the reference's (%s)",
            lazyadam_status_string(tb.st));
    table_free(&tb);

    /* 3. Several threads at once, each with its own table: each takes a kept block or
     *    allocates its own, and at most two blocks stay kept. Released first, so that
     *    every block in play is of the first call's size. */
    lazyadam_release_scratch();
    table tt[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        table_init(&tt[i], seed + 1 + (uint64_t)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, thread_main, &tt[i]);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++) {
        tally_case(&t, equal_to_ref(&tt[i]), "thread %d, two calls at once with %d others: "
                "bitwise the reference's (%s)", i, NTHREADS - 1, lazyadam_status_string(tt[i].st));
        table_free(&tt[i]);
    }
    size_t now = lazyadam_testing_kept_bytes();
    tally_case(&t, now == kept[0] || now == 2 * kept[0], "after the threads: %zu bytes kept "
            "(one or two blocks of %zu)", now, kept[0]);

    /* 4. Mid-size scratch (LAZYADAM_KEEP_MID up to LAZYADAM_KEEP_MIN) is kept in slots of
     *    its own: a call of NNZ_MID indices keeps its grouping scratch, the next reuses
     *    it, and neither displaces the large block a call of NNZ keeps, nor it them. */
    lazyadam_release_scratch();
    table tm;
    table_init(&tm, seed + 100);
    static const size_t mid_sizes[4] = { NNZ_MID, NNZ_MID, NNZ, NNZ_MID };
    size_t mkept[4];
    calls(&t, &tm, mid_sizes, mkept, "mid-size scratch, ");
    tally_case(&t, mkept[0] >= LAZYADAM_KEEP_MID && mkept[0] < LAZYADAM_KEEP_MIN
            && mkept[1] == mkept[0], "a call of %zu indices keeps its mid-size grouping "
            "scratch and the next reuses it: %zu, then %zu bytes kept", NNZ_MID, mkept[0],
            mkept[1]);
    tally_case(&t, mkept[2] >= mkept[0] + LAZYADAM_KEEP_MIN && mkept[3] == mkept[2],
            "a large call keeps its block beside the mid-size one, and the next mid-size "
            "call takes its own: %zu, then %zu bytes kept", mkept[2], mkept[3]);
    table_free(&tm);

    policy_cases(&t);

    /* 6. Release, with blocks of both pools kept. */
    lazyadam_free(lazyadam_alloc(LAZYADAM_KEEP_MIN));
    lazyadam_free(lazyadam_alloc(LAZYADAM_KEEP_MID));
    lazyadam_release_scratch();
    tally_case(&t, lazyadam_testing_kept_bytes() == 0, "release_scratch leaves %zu bytes kept",
            lazyadam_testing_kept_bytes());
    return tally_finish(&t);
}
