/* Defaults, names and strings of the public API. */
#include "internal.h"
#include "lazyadam_version.h"

lazyadam_config lazyadam_default_config(void)
{
    lazyadam_config c = {
        .lr = 0.001f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f,
        .eps_mode = LAZYADAM_EPS_HAT, .flags = 0u, .backend = LAZYADAM_BACKEND_AUTO,
        .num_threads = 0,
    };
    return c;
}

const char *lazyadam_status_string(lazyadam_status s)
{
    switch (s) {
    case LAZYADAM_OK:        return "ok";
    case LAZYADAM_E_NULL:    return "a required pointer is NULL";
    case LAZYADAM_E_HPARAM:  return "a hyper-parameter is out of range or not finite";
    case LAZYADAM_E_STEP:    return "step is out of range (step < 1, or a row is already at or past step)";
    case LAZYADAM_E_SIZE:    return "a size overflows size_t, or dim is 0";
    case LAZYADAM_E_INDEX:   return "a sparse index is negative or not below rows";
    case LAZYADAM_E_ALIAS:   return "a written buffer overlaps another buffer of the call";
    case LAZYADAM_E_BACKEND: return "the backend is not built in, unknown, or not runnable on this CPU";
    case LAZYADAM_E_NOMEM:   return "scratch memory could not be allocated";
    }
    return "unknown status";
}

const char *lazyadam_backend_name(lazyadam_backend b)
{
    switch (b) {
    case LAZYADAM_BACKEND_AUTO:   return "auto";
    case LAZYADAM_BACKEND_SCALAR: return "scalar";
    case LAZYADAM_BACKEND_AVX2:   return "avx2";
    case LAZYADAM_BACKEND_AVX512: return "avx512";
    case LAZYADAM_BACKEND_ONEDNN: return "onednn";
    }
    return "invalid";
}

const char *lazyadam_version(void)
{
    return LAZYADAM_VERSION_STRING;
}
