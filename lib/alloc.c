/* Scratch allocation, with a small cache of freed blocks.
 *
 * A freed block of LAZYADAM_KEEP_MID bytes or more is kept, in one of a few slots, and
 * handed to the next allocation it fits (the smallest kept block that fits). Two pools of
 * slots, so that the blocks of small calls never displace the large ones:
 * - large, LAZYADAM_KEEP_MIN (32 MiB) or more, LARGE_SLOTS slots: glibc maps a block
 *   past its largest mmap threshold fresh on every malloc and unmaps it on free, so
 *   without this a sparse step of more than about 1.4 million indices faulted in all of
 *   its grouping scratch on every call, at 14 us a page on the VM measured (README
 *   "Large scratch blocks are kept");
 * - mid, from 16 KiB up to that, MID_SLOTS slots: glibc serves such blocks from its
 *   heap, but gives the heap's top back to the OS once the free space there passes its
 *   trim threshold (128 KB until a mapped block is freed), which a call's scratch can do
 *   when a few such blocks add up past it. Calls of alternating shapes then shrank and
 *   regrew the heap on every call, faulting the pages in again and sending the other
 *   cores TLB-shootdown interrupts (README "Mid-size scratch blocks are kept too").
 * The slots are exchanged atomically, so concurrent calls each own the blocks they
 * hold; the newest freed block displaces a kept one of its pool, round robin, when every
 * slot of the pool is full. lazyadam_release_scratch gives the kept blocks back.
 *
 * Under AddressSanitizer a kept block is poisoned, and a reused one is poisoned past
 * the bytes asked for, so a stale pointer into kept scratch or an overrun of a reused
 * block is still reported.
 *
 * A test-only hook (lib/testing.h) makes the n-th allocation from now fail, cached or
 * not, so that every E_NOMEM path can be exercised. */
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "testing.h"
#include "lazyadam.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LAZYADAM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(LAZYADAM_ASAN)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define LARGE_SLOTS 2
#define MID_SLOTS 4
#define KEEP_SLOTS (LARGE_SLOTS + MID_SLOTS)

/* A block's header: its capacity, header included. 64 bytes, so the caller's bytes
 * start where they would in a plain malloc block, modulo a line. */
typedef struct block {
    size_t cap;
    char pad[64 - sizeof(size_t)];
} block;

static _Atomic(block *) kept[KEEP_SLOTS];
static atomic_uint next_victim[2];

/* The pool a block of cap bytes belongs to (0: large, 1: mid) and its slots. */
static int pool_of(size_t cap)
{
    return cap < LAZYADAM_KEEP_MIN;
}

static const int pool_first[2] = { 0, LARGE_SLOTS }, pool_slots[2] = { LARGE_SLOTS, MID_SLOTS };

/* 0: no injected failure; k > 0: the k-th allocation from now fails. */
static atomic_long fail_countdown;

long lazyadam_testing_fail_alloc(long nth)
{
    return atomic_exchange(&fail_countdown, nth);
}

size_t lazyadam_testing_kept_bytes(void)
{
    size_t total = 0;
    for (int i = 0; i < KEEP_SLOTS; i++) {
        /* Only for tests that make no concurrent calls: another thread could free it. */
        block *b = atomic_load(&kept[i]);
        total += b ? b->cap : 0;
    }
    return total;
}

static int injected_failure(void)
{
    long c = atomic_load(&fail_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
            return c == 1;
    }
    return 0;
}

/* Frees a block taken from a slot (NULL: nothing). */
static void drop(block *b)
{
    if (b) {
        LAZYADAM_ACQUIRE(b);
        UNPOISON(b + 1, b->cap - sizeof *b);
        free(b);
    }
}

/* Puts b in an empty slot of its pool, or in place of the block in the pool's next
 * victim slot, which is freed. */
static void keep(block *b)
{
    int pool = pool_of(b->cap), first = pool_first[pool], slots = pool_slots[pool];
    LAZYADAM_PUBLISH(b);   /* this thread's use of b before whoever takes it next */
    for (int i = first; i < first + slots; i++) {
        block *none = NULL;
        if (atomic_compare_exchange_strong(&kept[i], &none, b))
            return;
    }
    unsigned i = (unsigned)first + atomic_fetch_add(&next_victim[pool], 1) % (unsigned)slots;
    drop(atomic_exchange(&kept[i], b));
}

/* Takes the smallest block of at least cap bytes kept in cap's pool, if any; the others
 * stay kept. */
static block *take_fitting(size_t cap)
{
    block *held[KEEP_SLOTS], *best = NULL;
    int n = 0, pool = pool_of(cap), first = pool_first[pool];
    for (int i = first; i < first + pool_slots[pool]; i++) {
        block *b = atomic_exchange(&kept[i], NULL);
        if (!b)
            continue;
        LAZYADAM_ACQUIRE(b);
        if (b->cap >= cap && (!best || b->cap < best->cap)) {
            if (best)
                held[n++] = best;
            best = b;
        } else {
            held[n++] = b;
        }
    }
    for (int i = 0; i < n; i++)
        keep(held[i]);
    return best;
}

void *lazyadam_alloc(size_t bytes)
{
    if (injected_failure() || bytes > SIZE_MAX - sizeof(block))
        return NULL;
    size_t cap = bytes + sizeof(block);
    block *b = cap >= LAZYADAM_KEEP_MID ? take_fitting(cap) : NULL;
    if (b) {
        UNPOISON(b + 1, bytes);
        POISON((char *)(b + 1) + bytes, b->cap - cap);
    } else {
        b = malloc(cap);
        if (!b)
            return NULL;
        b->cap = cap;
    }
    return b + 1;
}

void lazyadam_free(void *p)
{
    if (!p)
        return;
    block *b = (block *)p - 1;
    if (b->cap >= LAZYADAM_KEEP_MID) {
        POISON(b + 1, b->cap - sizeof *b);
        keep(b);
    } else {
        free(b);
    }
}

void lazyadam_release_scratch(void)
{
    for (int i = 0; i < KEEP_SLOTS; i++)
        drop(atomic_exchange(&kept[i], NULL));
}
