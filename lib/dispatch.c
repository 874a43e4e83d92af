/* The backend table: one entry per backend enum value, filled at build time by the
 * backends that were compiled in, and resolution of AUTO (environment variable
 * LAZYADAM_BACKEND, read once, else the best backend this CPU runs). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NBACKENDS (LAZYADAM_BACKEND_ONEDNN + 1)

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

int lazyadam_backend_available(lazyadam_backend b)
{
    return lazyadam_backend_unavailable_reason(b) == NULL;
}

/* AUTO's answer, fixed at the first call: the environment override if set
 * (an unknown name or an unavailable backend makes AUTO fail with E_BACKEND,
 * never a silent fallback), else the best available backend. */
static lazyadam_backend auto_backend;
static pthread_once_t auto_once = PTHREAD_ONCE_INIT;

static lazyadam_backend choose_auto(void)
{
    const char *env = getenv("LAZYADAM_BACKEND");
    if (!env || !*env || strcmp(env, "auto") == 0)
        return lazyadam_auto_on(lazyadam_cpu_features());
    for (int b = LAZYADAM_BACKEND_SCALAR; b < NBACKENDS; b++)
        if (strcmp(env, lazyadam_backend_name((lazyadam_backend)b)) == 0)
            return lazyadam_backend_available((lazyadam_backend)b) ? (lazyadam_backend)b
                                                                   : LAZYADAM_BACKEND_AUTO;
    return LAZYADAM_BACKEND_AUTO;   /* unknown name: no backend */
}

static void init_auto(void)
{
    auto_backend = choose_auto();
    LAZYADAM_PUBLISH(&auto_once);
}

lazyadam_backend lazyadam_backend_resolve(const lazyadam_config *cfg)
{
    if (!cfg || !valid_backend(cfg->backend))
        return LAZYADAM_BACKEND_AUTO;
    if (cfg->backend != LAZYADAM_BACKEND_AUTO)
        return lazyadam_backend_available(cfg->backend) ? cfg->backend : LAZYADAM_BACKEND_AUTO;
    pthread_once(&auto_once, init_auto);
    LAZYADAM_ACQUIRE(&auto_once);
    return auto_backend;
}

const lazyadam_kernels *lazyadam_kernels_for(const lazyadam_config *cfg)
{
    lazyadam_backend b = lazyadam_backend_resolve(cfg);
    return b == LAZYADAM_BACKEND_AUTO ? NULL : table[b];
}
