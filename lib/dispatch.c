/* The backend table: one entry per backend enum value, filled at build time by the
 * backends that were compiled in, and resolution of AUTO (environment variable
 * LAZYADAM_BACKEND, read once, else the best backend this CPU runs). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testing.h"

#define NBACKENDS (LAZYADAM_BACKEND_ONEDNN + 1)

__thread uint64_t lazyadam_subnormal_vectors;

uint64_t lazyadam_testing_subnormal_vectors(void)
{
    return lazyadam_subnormal_vectors;
}

static const lazyadam_kernels *const table[NBACKENDS] = {
    [LAZYADAM_BACKEND_SCALAR] = &lazyadam_kernels__scalar,
#ifdef LAZYADAM_HAVE_AVX2
    [LAZYADAM_BACKEND_AVX2] = &lazyadam_kernels__avx2,
#endif
#ifdef LAZYADAM_HAVE_AVX512
    [LAZYADAM_BACKEND_AVX512] = &lazyadam_kernels__avx512,
#endif
#ifdef LAZYADAM_HAVE_ONEDNN
    [LAZYADAM_BACKEND_ONEDNN] = &lazyadam_kernels__onednn,
#endif
};

static int valid_backend(lazyadam_backend b)
{
    return (int)b >= 0 && (int)b < NBACKENDS;
}

const char *lazyadam_unavailable_on(lazyadam_backend b, const lazyadam_cpu *cpu)
{
    if (!valid_backend(b))
        return "not a backend of this library";
    if (b == LAZYADAM_BACKEND_AUTO)
        return NULL;
    if (!table[b])
        return "not built in (its meson option is disabled or the compiler cannot build it)";
    if (b == LAZYADAM_BACKEND_AVX2 && !cpu->avx2)
        return "this CPU or OS lacks AVX2 (or does not save YMM state)";
#ifndef LAZYADAM_AVX512_EMULATED
    if (b == LAZYADAM_BACKEND_AVX512 && !cpu->avx512f)
        return "this CPU or OS lacks AVX-512F or AVX2 (or does not save opmask/ZMM state)";
#elif defined(LAZYADAM_HAVE_AVX2)
    /* Test-only build: avx512.c through SIMDe runs anywhere, but it streams large arrays
     * with the real AVX2 kernel. */
    if (b == LAZYADAM_BACKEND_AVX512 && !cpu->avx2)
        return "this CPU or OS lacks AVX2, which the emulated avx512 backend streams with";
#endif
    return NULL;
}

const char *lazyadam_backend_unavailable_reason(lazyadam_backend b)
{
    return lazyadam_unavailable_on(b, lazyadam_cpu_features());
}

/* AUTO's preference among the backends a CPU runs; oneDNN is never picked by AUTO. */
lazyadam_backend lazyadam_auto_on(const lazyadam_cpu *cpu)
{
    static const lazyadam_backend order[] = {
        LAZYADAM_BACKEND_AVX512, LAZYADAM_BACKEND_AVX2, LAZYADAM_BACKEND_SCALAR,
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (!lazyadam_unavailable_on(order[i], cpu))
            return order[i];
    return LAZYADAM_BACKEND_SCALAR;
}

/* Every backend's kernels where this CPU runs it (NULL where it is not built in or cannot
 * run), with AUTO's choice in the AUTO slot, and AUTO's backend: both fixed at the first
 * call, so that each call resolves its backend with one load, not a CPU query. AUTO is the
 * environment override if set (an unknown name or an unavailable backend makes AUTO fail
 * with E_BACKEND, never a silent fallback), else the best available backend. */
static const lazyadam_kernels *runnable[NBACKENDS];
static lazyadam_backend auto_backend;
static pthread_once_t dispatch_once = PTHREAD_ONCE_INIT;

static lazyadam_backend choose_auto(const lazyadam_cpu *cpu)
{
    const char *env = getenv("LAZYADAM_BACKEND");
    if (!env || !*env || strcmp(env, "auto") == 0)
        return lazyadam_auto_on(cpu);
    for (int b = LAZYADAM_BACKEND_SCALAR; b < NBACKENDS; b++)
        if (strcmp(env, lazyadam_backend_name((lazyadam_backend)b)) == 0)
            return runnable[b] ? (lazyadam_backend)b : LAZYADAM_BACKEND_AUTO;
    return LAZYADAM_BACKEND_AUTO;   /* unknown name: no backend */
}

static void init_dispatch(void)
{
    const lazyadam_cpu *cpu = lazyadam_cpu_features();
    for (int b = LAZYADAM_BACKEND_SCALAR; b < NBACKENDS; b++)
        runnable[b] = lazyadam_unavailable_on((lazyadam_backend)b, cpu) ? NULL : table[b];
    auto_backend = choose_auto(cpu);
    runnable[LAZYADAM_BACKEND_AUTO] = runnable[auto_backend];   /* stays NULL if AUTO has none */
    LAZYADAM_PUBLISH(&dispatch_once);
}

static void dispatch_ready(void)
{
    pthread_once(&dispatch_once, init_dispatch);
    LAZYADAM_ACQUIRE(&dispatch_once);
}

int lazyadam_backend_available(lazyadam_backend b)
{
    if (!valid_backend(b))
        return 0;
    dispatch_ready();
    return b == LAZYADAM_BACKEND_AUTO || runnable[b] != NULL;
}

lazyadam_backend lazyadam_backend_resolve(const lazyadam_config *cfg)
{
    if (!cfg || !valid_backend(cfg->backend))
        return LAZYADAM_BACKEND_AUTO;
    dispatch_ready();
    lazyadam_backend b = cfg->backend == LAZYADAM_BACKEND_AUTO ? auto_backend : cfg->backend;
    return runnable[b] ? b : LAZYADAM_BACKEND_AUTO;
}

const lazyadam_kernels *lazyadam_kernels_for(const lazyadam_config *cfg)
{
    if (!cfg || !valid_backend(cfg->backend))
        return NULL;
    dispatch_ready();
    return runnable[cfg->backend];
}
