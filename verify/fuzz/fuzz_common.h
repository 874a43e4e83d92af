/* Shared by the libFuzzer targets: a reader over the fuzzer's bytes, buffers with
 * snapshots, and the oracle every target applies — a call either returns OK with the
 * reference's result (bitwise; within 8 ULP on oneDNN) or an error with every buffer
 * exactly as it was. Any other outcome aborts, which libFuzzer reports as a finding. */
#ifndef LAZYADAM_FUZZ_COMMON_H
#define LAZYADAM_FUZZ_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazyadam.h"

typedef struct input { const uint8_t *p; size_t n; } input;

static inline uint64_t take(input *in, int bytes)
{
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++) {
        x |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
        if (in->n) {
            in->p++;
            in->n--;
        }
    }
    return x;
}

/* A float that is now and then hostile: NaN, an infinity, negative, huge, denormal. */
static inline float take_float(input *in, float typical)
{
    uint32_t sel = (uint32_t)take(in, 1);
    switch (sel % 16) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -typical;
    case 4: return 3.0e38f;
    case 5: return 1e-40f;
    case 6: { uint32_t b = (uint32_t)take(in, 4); float f; memcpy(&f, &b, 4); return f; }
    case 7: return 0.0f;
    default: return typical * (float)(sel % 7 + 1) / 4.0f;
    }
}

/* A configuration drawn from the input; every field can be out of range. */
static inline lazyadam_config take_config(input *in)
{
    lazyadam_config c = lazyadam_default_config();
    uint32_t which = (uint32_t)take(in, 2);
    if (which & 1) c.lr = take_float(in, 1e-3f);
    if (which & 2) c.beta1 = take_float(in, 0.9f);
    if (which & 4) c.beta2 = take_float(in, 0.999f);
    if (which & 8) c.eps = take_float(in, 1e-8f);
    if (which & 16) c.weight_decay = take_float(in, 0.01f);
    if (which & 32) c.eps_mode = (lazyadam_eps_mode)(int)(int8_t)take(in, 1);
    else c.eps_mode = (take(in, 1) & 1) ? LAZYADAM_EPS_PLAIN : LAZYADAM_EPS_HAT;
    c.flags = (which & 64) ? (unsigned)take(in, 1) : (unsigned)(take(in, 1) & 7);
    c.backend = (which & 128) ? (lazyadam_backend)(int)(int8_t)take(in, 1)
                              : (lazyadam_backend)(take(in, 1) % 5);
    c.num_threads = (which & 256) ? (int)(int8_t)take(in, 1) : (int)(take(in, 1) % 4);
    return c;
}

/* A valid configuration with the options drawn from the input, for targets whose
 * hostility lies elsewhere (tensor lists, indices); the backend is one that runs here. */
static inline lazyadam_config take_valid_config(input *in)
{
    lazyadam_config c = lazyadam_default_config();
    c.flags = (unsigned)(take(in, 1) & 7);
    c.eps_mode = (take(in, 1) & 1) ? LAZYADAM_EPS_PLAIN : LAZYADAM_EPS_HAT;
    c.weight_decay = (take(in, 1) & 1) ? 0.01f : 0.0f;
    c.backend = (lazyadam_backend)(take(in, 1) % 5);
    c.num_threads = (int)(take(in, 1) % 4);
    if (!lazyadam_backend_available(c.backend))
        c.backend = LAZYADAM_BACKEND_AUTO;
    return c;
}

static inline int64_t take_step(input *in)
{
    switch (take(in, 1) % 8) {
    case 0: return 0;
    case 1: return -(int64_t)take(in, 2);
    case 2: return INT64_MAX - (int64_t)(take(in, 1));
    case 3: return INT64_MIN;
    default: return 1 + (int64_t)take(in, 2);
    }
}

static inline void fill(input *in, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (i < 64) ? take_float(in, scale) : scale * (float)((i * 2654435761u) % 1000) / 1000.0f;
}

/* Bitwise, except that two NaNs match whatever their payloads; oneDNN gets 8 ULP. */
static inline int same(const float *a, const float *b, size_t n, lazyadam_backend be)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i]))
            continue;
        if (memcmp(&a[i], &b[i], sizeof(float)) == 0)
            continue;
        if (be == LAZYADAM_BACKEND_ONEDNN && isfinite(a[i]) && isfinite(b[i])) {
            int32_t x, y;
            memcpy(&x, &a[i], 4);
            memcpy(&y, &b[i], 4);
            int64_t ox = x < 0 ? (int64_t)INT32_MIN - x : x, oy = y < 0 ? (int64_t)INT32_MIN - y : y;
            if (llabs(ox - oy) <= 8)
                continue;
        }
        fprintf(stderr, "element %zu: reference %.9g (0x%08x), library %.9g (0x%08x)\n", i,
                (double)a[i], *(const uint32_t *)(const void *)&a[i], (double)b[i],
                *(const uint32_t *)(const void *)&b[i]);
        return 0;
    }
    return 1;
}

#define FUZZ_CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); abort(); } } while (0)

#endif
