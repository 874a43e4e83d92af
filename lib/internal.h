/* Internal interfaces between the library's own files. Nothing here is installed. */
#ifndef LAZYADAM_INTERNAL_H
#define LAZYADAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lazyadam.h"
#include "kernels/kernels.h"

/* One-time initialisation is pthread_once, and kept scratch blocks pass between threads
 * through atomic slots (lib/alloc.c). valgrind's helgrind sees neither ordering: the one
 * pthread_once gives between the initialiser's writes and later readers, nor the one an
 * atomic exchange gives between a block's last user and its next. So where valgrind's
 * header exists both are annotated (client requests: a few no-op instructions outside
 * valgrind). */
#ifdef LAZYADAM_HAVE_HELGRIND_H
#include <valgrind/helgrind.h>
#define LAZYADAM_PUBLISH(addr) ANNOTATE_HAPPENS_BEFORE(addr)
#define LAZYADAM_ACQUIRE(addr) ANNOTATE_HAPPENS_AFTER(addr)
#else
#define LAZYADAM_PUBLISH(addr) ((void)0)
#define LAZYADAM_ACQUIRE(addr) ((void)0)
#endif

/* scalars.c — the per-call scalars of the numerical contract. */
lazyadam_scalars lazyadam_make_scalars(const lazyadam_config *cfg, int64_t step);
/* 1 - pow(beta, step) in double, bitwise (0 <= beta < 1, step >= 1). */
double lazyadam_bias_correction(float beta, int64_t step);

/* validate.c — argument checks shared by every entry point. */
/* The config's values and backend; sets *k to the backend's kernels when it returns OK. */
lazyadam_status lazyadam_check_config(const lazyadam_config *cfg, const lazyadam_kernels **k);
lazyadam_status lazyadam_check_step(int64_t step);
/* n elements of `elem` bytes each fit in size_t (and a, b multiply without overflow). */
int lazyadam_size_ok(size_t a, size_t b, size_t elem);

/* Everything the sparse entry points check, nothing written: config, step, sizes,
 * NULLs (last_step is checked by the caller; pass NULL when the call has none),
 * aliasing of every buffer, indices in [0, rows). Sets *k on success. */
lazyadam_status lazyadam_check_sparse(const lazyadam_config *cfg, int64_t step, size_t rows,
        size_t dim, float *param, float *m, float *v, float *vmax, int64_t *last_step,
        size_t nnz, const int64_t *indices, const float *values, const lazyadam_kernels **k);

/* A byte range a call touches; writable ranges may overlap nothing else. */
typedef struct lazyadam_range {
    uintptr_t lo, hi;   /* [lo, hi) */
    int writable;
} lazyadam_range;
/* Adds [ptr, ptr+bytes) to r[*count] when bytes > 0 and ptr != NULL. Inline: a dense call
 * adds four ranges, and the calls cost more than the work. */
static inline void lazyadam_range_add(lazyadam_range *r, size_t *count, const void *ptr,
        size_t bytes, int writable)
{
    if (!ptr || bytes == 0)
        return;
    uintptr_t lo = (uintptr_t)ptr;
    /* A range that wraps the address space is clamped; it overlaps everything above. */
    uintptr_t hi = (bytes > UINTPTR_MAX - lo) ? UINTPTR_MAX : lo + bytes;
    r[*count] = (lazyadam_range){ lo, hi, writable };
    (*count)++;
}
/* E_ALIAS if a writable range overlaps any other range. May reorder r. */
lazyadam_status lazyadam_check_ranges(lazyadam_range *r, size_t count);

/* dispatch.c — the backend table. */
/* Resolves cfg->backend (AUTO through LAZYADAM_BACKEND, then the best available);
 * NULL when the resolved backend cannot run (E_BACKEND). */
const lazyadam_kernels *lazyadam_kernels_for(const lazyadam_config *cfg);

/* cpu.c — what this CPU and OS can run; detected once. */
typedef struct lazyadam_cpu {
    int avx2;      /* AVX2 + FMA-free use: AVX2 and the OS saves YMM state */
    int avx512f;   /* AVX-512F and the OS saves opmask and ZMM state */
    int procs;     /* omp_get_num_procs() at detection (a system call each time it is asked) */
    int tsc;       /* an invariant time-stamp counter (rdtsc ticks at a constant rate) */
    int intel;     /* cpuid's vendor is GenuineIntel (lib/dense.c: which dense kernel) */
    int amd;       /* cpuid's vendor is AuthenticAMD (the same) */
    int family;    /* cpuid's family, extended field added (the same) */
} lazyadam_cpu;
const lazyadam_cpu *lazyadam_cpu_features(void);
/* The features a CPU reports through cpuid leaf 1 (ECX), XCR0 (0 when OSXSAVE is
 * clear) and leaf 7 subleaf 0 (EBX): what detection concludes, as a pure function so
 * tests can feed it CPUs this machine is not (verify/test_detect.c). */
void lazyadam_cpu_decode(lazyadam_cpu *c, unsigned max_leaf, uint32_t leaf1_ecx,
        uint64_t xcr0, uint32_t leaf7_ebx);
/* Vendor and family from cpuid leaf 0's vendor string and leaf 1's EAX, as a pure
 * function for the same tests. */
void lazyadam_cpu_identify(lazyadam_cpu *c, const char vendor[12], uint32_t leaf1_eax);

/* dense.c — where the avx512 backend's dense calls run its streaming kernel on a CPU:
 * calls of min_bytes of state and gradient or more do, fewer do not (swapped: the other
 * way round). LAZYADAM_STREAM_BYTES replaces min_bytes. */
typedef struct lazyadam_stream_rule {
    size_t min_bytes;
    int swapped;
} lazyadam_stream_rule;
lazyadam_stream_rule lazyadam_stream_rule_on(const lazyadam_cpu *cpu);

/* dispatch.c — why backend b cannot run on a CPU with these features (NULL: it can),
 * and the backend AUTO picks there when LAZYADAM_BACKEND is not set. */
const char *lazyadam_unavailable_on(lazyadam_backend b, const lazyadam_cpu *cpu);
lazyadam_backend lazyadam_auto_on(const lazyadam_cpu *cpu);

/* parallel.c — how many threads a call uses and which part each one takes. */
int lazyadam_threads_for(const lazyadam_config *cfg, size_t work_elems);
/* The same for a call that already knows lazyadam_threads_requested (the balancer takes
 * both): the requested count, capped where fewer threads cannot each take enough. */
int lazyadam_threads_rule(int requested, size_t work_elems);
/* The threads a call may use at most: num_threads, or the OpenMP default. */
int lazyadam_threads_requested(const lazyadam_config *cfg);
/* The half-open element range [lo, hi) of thread t of T over n elements, split at
 * multiples of 16 floats counted from `lead` (so that split points fall on 64-byte
 * lines of the written buffer). Thread 0 takes `shift` chunks fewer than an even share
 * (more when negative; never fewer than none or more than all), the others share the rest
 * evenly. Every (shift, T) covers [0, n) exactly once, in thread order. */
void lazyadam_split(size_t n, size_t lead, int t, int T, int32_t shift, size_t *lo,
        size_t *hi);

/* balance.c — fork-lag balancing of the dense split and the choice between the team and
 * the caller alone (see the file's comment). The caller asks begin how to run n elements
 * that the static rule gives `rule` threads, the config `requested`, just before it runs
 * them, and calls end just after. */
typedef struct lazyadam_plan {
    int T;             /* threads to run on: the rule's, 1, or 2 where the rule says 1 */
    int32_t shift;     /* the split's shift (lazyadam_split) when T > 1 */
} lazyadam_plan;
lazyadam_plan lazyadam_balance_begin(size_t n, int rule, int requested);
void lazyadam_balance_end(void);
/* The threads to run a sparse call on (1 or a team): `named` = the elements it updates
 * (nnz x dim; adam_sparse_step: the whole table) of a table of `table` elements, which the
 * static rule gives `rule` threads, the config `requested`. kind tells calls of different
 * cost an element apart. Calls end as dense ones do, with lazyadam_balance_end (a call
 * that fails may skip it). */
enum { LAZYADAM_SPARSE_LAZY = 0, LAZYADAM_SPARSE_EXACT = 1, LAZYADAM_SPARSE_DENSIFIED = 2 };
int lazyadam_balance_sparse_begin(int kind, size_t named, size_t table, int rule,
        int requested);
/* What the calling thread has learned for such calls: 1 the caller alone, 0 the team,
 * -1 no class (outside the learned range, or not met yet). */
int lazyadam_balance_sparse_solo(int kind, size_t named, size_t table);
/* Whether balancing runs here (invariant TSC, LAZYADAM_BALANCE not "off" or "0"). */
int lazyadam_balance_enabled(void);
/* The shift the calling thread has learned for n elements on T threads (tests, bench). */
int32_t lazyadam_balance_shift(size_t n, int T);
/* Whether it has learned to run n elements on the caller alone rather than T threads. */
int lazyadam_balance_solo(size_t n, int T);
/* Elements before the first 64-byte boundary of p (0 when p is not float-aligned). */
size_t lazyadam_lead(const float *p);

/* The scalars as eight 64-bit words (they fit in 64 bytes), so that an OpenMP region can
 * take them by value: it passes scalar variables in the block it hands the team, but
 * structs by address. */
typedef struct lazyadam_scalar_words {
    uint64_t w[8];
} lazyadam_scalar_words;
_Static_assert(sizeof(lazyadam_scalars) <= sizeof(lazyadam_scalar_words),
        "lazyadam_scalars must fit in lazyadam_scalar_words");
static inline lazyadam_scalar_words lazyadam_scalars_to_words(const lazyadam_scalars *s)
{
    lazyadam_scalar_words w = { { 0 } };
    memcpy(&w, s, sizeof *s);
    return w;
}
static inline lazyadam_scalars lazyadam_scalars_from_words(const lazyadam_scalar_words *w)
{
    lazyadam_scalars s;
    memcpy(&s, w, sizeof s);
    return s;
}

/* dedup.c — grouping a sparse gradient's indices by row, input order kept in a group
 * (lazyadam_groups: kernels/kernels.h, whose groups kernels walk it). */
/* Indices must already be validated and below rows. threads is the team that will update
 * the groups' rows (with a team, ascending rows pay for the sort); sorted != 0 asks for
 * ascending rows whatever the cost. Returns LAZYADAM_OK or LAZYADAM_E_NOMEM. */
lazyadam_status lazyadam_group_indices(size_t nnz, const int64_t *indices, size_t rows,
        int sorted, int threads, lazyadam_groups *out);
void lazyadam_groups_free(lazyadam_groups *g);
/* The two methods behind it (rows ascending / in order of first appearance). The hash
 * takes nnz < 2^31 (E_SIZE above: its slots hold 32-bit group numbers). The sort runs on
 * up to `threads` threads where nnz is large enough; its result does not depend on them. */
lazyadam_status lazyadam_group_sorted(size_t nnz, const int64_t *indices, size_t rows,
        int threads, lazyadam_groups *out);
lazyadam_status lazyadam_group_hashed(size_t nnz, const int64_t *indices, lazyadam_groups *out);

/* sparse.c — the update of the rows a sparse gradient names (LazyAdam and exact
 * LazyAdam). */
/* The threads a lazy_step, exact_lazy_step or adam_sparse_step call (kind) runs on, for
 * nnz named rows (adam_sparse_step: all rows) of dim floats and `replay` element-steps of
 * zero-gradient catch-up (exact_lazy_step; 0 for the others): the static rule's, for the
 * named elements plus the replay, or what the calling thread has learned for its class
 * (lib/balance.c). The caller ends the timed call with lazyadam_balance_end once it has
 * run. */
int lazyadam_sparse_threads(const lazyadam_config *cfg, int kind, size_t nnz, size_t rows,
        size_t dim, size_t replay);
/* exact.c — the team the calling thread's last exact_lazy_step or exact_flush that
 * reached its rows ran them on (1: the caller alone), for the tests of its rule. */
int lazyadam_exact_last_team(void);
/* prepare does everything that can fail, before anything is written; apply cannot fail;
 * release frees. */
typedef struct lazyadam_named {
    int threads;
    float *scratch;   /* array backends: the gathered rows */
    size_t span;      /* ... each kind's length there (lazyadam_array_span) */
    void *ctx;        /* array backends: their call state */
} lazyadam_named;
lazyadam_status lazyadam_named_prepare(const lazyadam_kernels *k, const lazyadam_config *cfg,
        const lazyadam_scalars *s, const lazyadam_groups *g, size_t dim, int threads,
        lazyadam_named *nu);
void lazyadam_named_apply(const lazyadam_named *nu, const lazyadam_kernels *k,
        const lazyadam_groups *g, size_t dim, float *param, float *m, float *v, float *vmax,
        const float *values, const lazyadam_scalars *s);
void lazyadam_named_release(lazyadam_named *nu, const lazyadam_kernels *k);

/* alloc.c — scratch allocation; tests can make it fail. A freed block of
 * LAZYADAM_KEEP_MID bytes or more is kept for a later allocation it fits, those of
 * LAZYADAM_KEEP_MIN or more in slots of their own. */
#define LAZYADAM_KEEP_MID ((size_t)16 << 10)
#define LAZYADAM_KEEP_MIN ((size_t)32 << 20)
void *lazyadam_alloc(size_t bytes);
void lazyadam_free(void *p);

#endif
