/* Thread counts and work partitions. */
#include <omp.h>

#include "internal.h"

/* Below this many elements per thread, forking a team costs more than it saves.
 * Measured with lazyadam-bench adam_step on this project's 2-core machine: at 2^15
 * elements two threads take 2.7 us against one thread's 4.0 us (AVX-512), at 2^10 a
 * fork would cost more than the whole update (0.23 us). Where a fork is cheaper, dense
 * calls the rule keeps on the caller learn whether a team pays (lib/balance.c). */
#define MIN_ELEMS_PER_THREAD 16384

/* A request far beyond the machine (num_threads = INT_MAX from a bad config) would make
 * the OpenMP runtime try to create that many threads and abort the process; more than
 * this many threads a core never help an update that is bound by memory or arithmetic. */
#define MAX_THREADS_PER_CORE 64

int lazyadam_threads_requested(const lazyadam_config *cfg)
{
    int want = cfg->num_threads > 0 ? cfg->num_threads : omp_get_max_threads();
    int cap = MAX_THREADS_PER_CORE * lazyadam_cpu_features()->procs;
    return want < cap ? want : cap;
}

int lazyadam_threads_rule(int requested, size_t work_elems)
{
    size_t useful = work_elems / MIN_ELEMS_PER_THREAD;
    if (useful < 1)
        useful = 1;
    return (size_t)requested < useful ? requested : (int)useful;
}

int lazyadam_threads_for(const lazyadam_config *cfg, size_t work_elems)
{
    return lazyadam_threads_rule(lazyadam_threads_requested(cfg), work_elems);
}

size_t lazyadam_lead(const float *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a % sizeof(float))
        return 0;
    return ((64 - a % 64) % 64) / sizeof(float);
}

/* Chunk c's first element: chunk 0 starts at 0, chunk c >= 1 at lead' + 16*(c-1),
 * where lead' = lead, or 16 when lead == 0 (the first chunk is then a whole one). */
static size_t chunk_start(size_t c, size_t lead, size_t n)
{
    if (c == 0)
        return 0;
    size_t first = lead ? lead : 16;
    size_t s = first + 16 * (c - 1);
    return s < n ? s : n;
}

void lazyadam_split(size_t n, size_t lead, int t, int T, int32_t shift, size_t *lo,
        size_t *hi)
{
    size_t first = lead ? lead : 16;
    size_t nchunks = n <= first ? 1 : 1 + (n - first + 15) / 16;
    size_t uT = (size_t)T, c0, a, b;
    if (T <= 1) {
        c0 = nchunks;
    } else {
        /* Thread 0's chunks: an even share, rounded up, less the shift. */
        size_t even = nchunks / uT + (nchunks % uT != 0);
        int64_t want = (int64_t)(even > INT64_MAX ? INT64_MAX : even) - shift;
        c0 = want <= 0 ? 0 : (uint64_t)want >= nchunks ? nchunks : (size_t)want;
    }
    if (t == 0) {
        a = 0;
        b = c0;
    } else {
        size_t rest = nchunks - c0, w = (size_t)t - 1;
        size_t base = rest / (uT - 1), rem = rest % (uT - 1);
        a = c0 + w * base + (w < rem ? w : rem);
        b = a + base + (w < rem ? 1 : 0);
    }
    *lo = a >= nchunks ? n : chunk_start(a, lead, n);
    *hi = b >= nchunks ? n : chunk_start(b, lead, n);
}
