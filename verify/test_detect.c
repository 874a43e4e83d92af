/* CPU detection and AUTO's choice on CPUs this machine is not: the cpuid and XCR0
 * words of a few real processor and OS situations go through the same decoding and
 * the same preference order the library uses at run time (lib/cpu.c, lib/dispatch.c).
 * The first profile is the AMD Zen 3 the project's CI machine is specified as
 * (AVX2, no AVX-512): AUTO must pick avx2 there. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "internal.h"

#define ECX_OSXSAVE (1u << 27)
#define ECX_AVX (1u << 28)
#define EBX7_AVX2 (1u << 5)
#define EBX7_AVX512F (1u << 16)
#define XCR0_SSE_AVX 0x7ull                 /* x87, XMM, YMM */
#define XCR0_AVX512 0xe7ull                 /* + opmask, ZMM_Hi256, Hi16_ZMM */

typedef struct profile {
    const char *name;
    unsigned max_leaf;
    uint32_t ecx1;
    uint64_t xcr0;
    uint32_t ebx7;
    int avx2, avx512f;            /* what detection must conclude */
    lazyadam_backend want;        /* AUTO, when every backend is built in */
} profile;

static const profile profiles[] = {
    { "AMD Zen 3 (EPYC 7003): AVX2, no AVX-512", 16, ECX_OSXSAVE | ECX_AVX, XCR0_SSE_AVX,
        EBX7_AVX2, 1, 0, LAZYADAM_BACKEND_AVX2 },
    { "AMD Zen 4 / Intel Sapphire Rapids: AVX-512F, OS saves ZMM state", 16,
        ECX_OSXSAVE | ECX_AVX, XCR0_AVX512, EBX7_AVX2 | EBX7_AVX512F, 1, 1,
        LAZYADAM_BACKEND_AVX512 },
    { "AVX-512F CPU, OS saves YMM but not opmask/ZMM state", 16, ECX_OSXSAVE | ECX_AVX,
        XCR0_SSE_AVX, EBX7_AVX2 | EBX7_AVX512F, 1, 0, LAZYADAM_BACKEND_AVX2 },
    { "XCR0: opmask saved, ZMM state not (XSETBV refuses it)", 16,
        ECX_OSXSAVE | ECX_AVX, XCR0_SSE_AVX | 0x20, EBX7_AVX2 | EBX7_AVX512F, 1, 0,
        LAZYADAM_BACKEND_AVX2 },
    { "AVX2 CPU, OS has XSAVE off (OSXSAVE clear)", 16, ECX_AVX, 0,
        EBX7_AVX2 | EBX7_AVX512F, 0, 0, LAZYADAM_BACKEND_SCALAR },
    { "OSXSAVE clear: an XCR0 word (never read then, xgetbv would fault) is ignored", 16,
        ECX_AVX, XCR0_AVX512, EBX7_AVX2 | EBX7_AVX512F, 0, 0, LAZYADAM_BACKEND_SCALAR },
    { "AVX2 CPU, OS saves XMM only", 16, ECX_OSXSAVE | ECX_AVX, 0x3, EBX7_AVX2, 0, 0,
        LAZYADAM_BACKEND_SCALAR },
    { "cpuid stops below leaf 7 (leaf-7 bits are then not to be read)", 6, ECX_OSXSAVE | ECX_AVX, XCR0_SSE_AVX,
        EBX7_AVX2, 0, 0, LAZYADAM_BACKEND_SCALAR },
    { "hypervisor hiding AVX (leaf 1 AVX clear)", 16, ECX_OSXSAVE, XCR0_AVX512,
        EBX7_AVX2 | EBX7_AVX512F, 0, 0, LAZYADAM_BACKEND_SCALAR },
    { "hypervisor showing AVX-512F but hiding AVX2 (the avx512 backend needs both)", 16,
        ECX_OSXSAVE | ECX_AVX, XCR0_AVX512, EBX7_AVX512F, 0, 0, LAZYADAM_BACKEND_SCALAR },
};

/* Where the avx512 backend's dense calls run its streaming kernel (lib/dense.c): the
 * vendor string and leaf 1's EAX of real processors. */
typedef struct stream_profile {
    const char *name;
    char vendor[13];
    uint32_t eax1;
    int family;                   /* what identification must conclude */
    size_t min_bytes;
    int swapped;
} stream_profile;

#define MIB256 ((size_t)256 << 20)

static const stream_profile stream_profiles[] = {
    { "Intel Sapphire Rapids (family 6, model 0x8F): 256-bit in cache", "GenuineIntel",
        0x000806f8, 6, MIB256, 1 },
    { "AMD Zen 4 EPYC 9004 (family 25, model 17): 512-bit everywhere", "AuthenticAMD",
        0x00a10f11, 25, SIZE_MAX, 0 },
    { "AMD Zen 5 EPYC 9005 (family 26, model 2): 256-bit from DRAM", "AuthenticAMD",
        0x00b00f21, 26, MIB256, 0 },
    { "AMD Zen 3 EPYC 7003 (family 25, model 1), were it to show AVX-512", "AuthenticAMD",
        0x00a00f11, 25, SIZE_MAX, 0 },
    { "another vendor (Hygon, family 24): 256-bit from DRAM", "HygonGenuine", 0x00900f01, 24,
        MIB256, 0 },
    { "another vendor were it to report family 25: not taken for Zen 4", "HygonGenuine",
        0x00a00f01, 25, MIB256, 0 },
};

/* Where a rule streams from, as the lines below print it. */
static const char *stream_from(lazyadam_stream_rule r)
{
    return r.min_bytes == SIZE_MAX ? "never" : r.swapped ? "256 MiB (swapped)" : "256 MiB";
}

int main(void)
{
    tally t = { 0, 0, 0 };
    for (size_t i = 0; i < sizeof stream_profiles / sizeof stream_profiles[0]; i++) {
        const stream_profile *p = &stream_profiles[i];
        lazyadam_cpu c = { .intel = 1, .amd = 1 };   /* identify must overwrite all three */
        lazyadam_cpu_identify(&c, p->vendor, p->eax1);
        lazyadam_stream_rule r = lazyadam_stream_rule_on(&c);
        tally_case(&t, c.family == p->family && r.min_bytes == p->min_bytes
                && r.swapped == p->swapped,
                "%s: family %d, streams from %zu bytes, swapped %d; want %d, %zu, %d",
                p->name, c.family, r.min_bytes, r.swapped, p->family, p->min_bytes,
                p->swapped);
        printf("%-66s -> family %d, stream from %s\n", p->name, c.family, stream_from(r));
    }
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        const profile *p = &profiles[i];
        lazyadam_cpu c = { .avx2 = 1, .avx512f = 1, .procs = 2 };   /* decode must overwrite both ISA flags */
        lazyadam_cpu_decode(&c, p->max_leaf, p->ecx1, p->xcr0, p->ebx7);
        tally_case(&t, c.avx2 == p->avx2 && c.avx512f == p->avx512f,
                "%s: detected avx2=%d avx512f=%d, want %d %d", p->name, c.avx2, c.avx512f,
                p->avx2, p->avx512f);
        /* AUTO's pick, given which backends this build has: the wanted one when it is
         * built in, else the next in the order avx512 > avx2 > scalar. */
        lazyadam_backend want = p->want;
        if (want == LAZYADAM_BACKEND_AVX512 && lazyadam_unavailable_on(want, &c))
            want = LAZYADAM_BACKEND_AVX2;
        if (want == LAZYADAM_BACKEND_AVX2 && lazyadam_unavailable_on(want, &c))
            want = LAZYADAM_BACKEND_SCALAR;
        lazyadam_backend got = lazyadam_auto_on(&c);
        tally_case(&t, got == want, "%s: AUTO picks %s, want %s", p->name,
                lazyadam_backend_name(got), lazyadam_backend_name(want));
        printf("%-66s -> AUTO = %s\n", p->name, lazyadam_backend_name(got));
        /* A backend the profile lacks is refused with a reason, never run. */
        if (!c.avx512f)
            tally_case(&t, lazyadam_unavailable_on(LAZYADAM_BACKEND_AVX512, &c) != NULL,
                    "%s: avx512 must be unavailable", p->name);
        if (!c.avx2)
            tally_case(&t, lazyadam_unavailable_on(LAZYADAM_BACKEND_AVX2, &c) != NULL,
                    "%s: avx2 must be unavailable", p->name);
    }
    /* This machine: the run-time answer is the decoding of its own cpuid. */
    const lazyadam_cpu *here = lazyadam_cpu_features();
    lazyadam_config cfg = lazyadam_default_config();
    lazyadam_backend want_here = lazyadam_auto_on(here);
    printf("this machine: avx2=%d avx512f=%d -> AUTO = %s; %s family %d, streaming from %s\n",
            here->avx2, here->avx512f, lazyadam_backend_name(want_here),
            here->intel ? "Intel" : here->amd ? "AMD" : "vendor neither Intel nor AMD",
            here->family, stream_from(lazyadam_stream_rule_on(here)));
    if (!getenv("LAZYADAM_BACKEND"))
        tally_case(&t, lazyadam_backend_resolve(&cfg) == want_here,
                "this machine: lazyadam_backend_resolve(AUTO) = %s, want %s",
                lazyadam_backend_name(lazyadam_backend_resolve(&cfg)),
                lazyadam_backend_name(want_here));
    return tally_finish(&t);
}
