/* CPU feature detection: cpuid, then OSXSAVE, then xgetbv, because a feature bit
 * means nothing unless the OS saves the matching register state. Runs once. */
#include <omp.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"

void lazyadam_cpu_decode(lazyadam_cpu *c, unsigned max_leaf, uint32_t leaf1_ecx,
        uint64_t xcr0, uint32_t leaf7_ebx)
{
    c->avx2 = c->avx512f = 0;
    int osxsave = (leaf1_ecx >> 27) & 1, avx = (leaf1_ecx >> 28) & 1;
    if (!osxsave || !avx || max_leaf < 7)
        return;
    int ymm_state = (xcr0 & 0x6) == 0x6;             /* XMM and YMM */
    int zmm_state = (xcr0 & 0xe6) == 0xe6;           /* + opmask, ZMM_Hi256, Hi16_ZMM */
    c->avx2 = ymm_state && ((leaf7_ebx >> 5) & 1);
    /* AVX2 too: the avx512 backend streams large arrays with the AVX2 kernel (lib/dense.c).
     * Every AVX-512F processor made has it; a hypervisor that hid it would get avx2's
     * absence honoured rather than a SIGILL. */
    c->avx512f = zmm_state && c->avx2 && ((leaf7_ebx >> 16) & 1);
}

void lazyadam_cpu_identify(lazyadam_cpu *c, const char vendor[12], uint32_t leaf1_eax)
{
    c->intel = memcmp(vendor, "GenuineIntel", 12) == 0;
    c->amd = memcmp(vendor, "AuthenticAMD", 12) == 0;
    /* The family as both vendors number it: the base field, plus the extended one where
     * the base field reads 0xF (AMD's Zen 3 and Zen 4 are 0x19 = 25, Zen 5 0x1A = 26). */
    int base = (int)((leaf1_eax >> 8) & 0xf);
    c->family = base == 0xf ? base + (int)((leaf1_eax >> 20) & 0xff) : base;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* xgetbv by opcode, so this file needs no -mxsave. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(lazyadam_cpu *c)
{
    unsigned a, b, ecx1, d, b7 = 0, c7;
    if (!__get_cpuid(1, &a, &b, &ecx1, &d))
        return;
    /* Leaf 0: the highest leaf in EAX; EBX, EDX, ECX spell the vendor, in that order. */
    unsigned max_leaf, v[3];
    char vendor[12];
    __cpuid(0, max_leaf, v[0], v[2], v[1]);
    memcpy(vendor, v, sizeof vendor);
    lazyadam_cpu_identify(c, vendor, a);
    /* xgetbv faults unless OSXSAVE is set. */
    uint64_t xcr0 = ((ecx1 >> 27) & 1) ? read_xcr0() : 0;
    if (max_leaf >= 7)
        __cpuid_count(7, 0, a, b7, c7, d);
    lazyadam_cpu_decode(c, max_leaf, ecx1, xcr0, b7);
    /* Invariant TSC, for fork-lag balancing (lib/balance.c) only. */
    if (__get_cpuid(0x80000007u, &a, &b, &c7, &d))
        c->tsc = (d >> 8) & 1;
}
#else
static void detect(lazyadam_cpu *c)
{
    (void)c;
}
#endif

static lazyadam_cpu cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void init_cpu(void)
{
    detect(&cpu);
    cpu.procs = omp_get_num_procs();
    LAZYADAM_PUBLISH(&cpu_once);
}

const lazyadam_cpu *lazyadam_cpu_features(void)
{
    pthread_once(&cpu_once, init_cpu);
    LAZYADAM_ACQUIRE(&cpu_once);
    return &cpu;
}
