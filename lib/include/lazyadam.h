/*
 * lazyadam — Adam and LazyAdam optimizer kernels for CPUs.
 *
 * One header, C11. All state is float32 and owned by the caller. Every entry
 * point validates every argument before it writes anything: on any status other
 * than LAZYADAM_OK every buffer is exactly as it was. The library never prints,
 * aborts or exits. The numerical contract (which float operations, in which
 * order) is documented in README.md and is bitwise identical across the scalar,
 * AVX2 and AVX-512 backends, every thread count and every call split.
 */
#ifndef LAZYADAM_H
#define LAZYADAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lazyadam_status {
    LAZYADAM_OK = 0,
    LAZYADAM_E_NULL,     /* a required pointer is NULL (vmax too, when AMSGRAD is set) */
    LAZYADAM_E_HPARAM,   /* hyper-parameter out of range or not finite */
    LAZYADAM_E_STEP,     /* step < 1 */
    LAZYADAM_E_SIZE,     /* n, rows*dim or nnz*dim overflows size_t, or dim == 0 */
    LAZYADAM_E_INDEX,    /* a sparse index is < 0 or >= rows */
    LAZYADAM_E_ALIAS,    /* two of the buffers overlap */
    LAZYADAM_E_BACKEND,  /* backend not built in, or this CPU lacks its instructions */
    LAZYADAM_E_NOMEM,    /* scratch allocation failed */
} lazyadam_status;

typedef enum lazyadam_backend {
    LAZYADAM_BACKEND_AUTO = 0, LAZYADAM_BACKEND_SCALAR, LAZYADAM_BACKEND_AVX2,
    LAZYADAM_BACKEND_AVX512, LAZYADAM_BACKEND_ONEDNN,
} lazyadam_backend;

typedef enum lazyadam_eps_mode {
    LAZYADAM_EPS_HAT = 0,  /* TensorFlow, Keras, LazyAdam, torch.optim.SparseAdam */
    LAZYADAM_EPS_PLAIN,    /* Kingma & Ba Algorithm 1, torch.optim.Adam, Optax */
} lazyadam_eps_mode;

enum { LAZYADAM_AMSGRAD = 1u << 0, LAZYADAM_ADAMW = 1u << 1, LAZYADAM_MAXIMIZE = 1u << 2 };

typedef struct lazyadam_config {
    float lr, beta1, beta2, eps, weight_decay;
    lazyadam_eps_mode eps_mode;
    unsigned flags;            /* LAZYADAM_AMSGRAD | LAZYADAM_ADAMW | LAZYADAM_MAXIMIZE */
    lazyadam_backend backend;  /* AUTO: best available; env LAZYADAM_BACKEND=name overrides AUTO */
    int num_threads;           /* 0: the OpenMP default; capped at 64 per core */
} lazyadam_config;

/* lr 0.001, beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0, EPS_HAT, flags 0, AUTO, 0 */
lazyadam_config lazyadam_default_config(void);

/* Dense Adam, one step (step = 1 for the first update) over n elements.
 * vmax: NULL unless AMSGRAD. With n == 0 nothing is read or written and the
 * buffer pointers may be NULL. Errors: E_NULL, E_HPARAM, E_STEP, E_SIZE
 * (n * sizeof(float) overflows), E_ALIAS, E_BACKEND. */
lazyadam_status lazyadam_adam_step(const lazyadam_config *cfg, int64_t step, size_t n,
        float *param, const float *grad, float *m, float *v, float *vmax);

/* Many tensors in one call and one parallel region (a trainer's parameter list).
 * Bitwise equal to one lazyadam_adam_step per tensor. Every tensor is validated,
 * and aliasing is checked across all of them, before any is written. Tensors that
 * follow each other in every buffer (cut from flat buffers) are updated as one run.
 * E_SIZE also when the tensors' sizes together overflow size_t, or count is too large
 * for their ranges to be listed (refused before any tensor is read).
 * Extra error: E_NOMEM when the scratch for the alias check cannot be allocated: only
 * where each buffer kind's tensors are not in ascending address order, or the kinds'
 * address spans overlap (then every range is listed and checked). */
typedef struct lazyadam_tensor {
    size_t n; float *param; const float *grad; float *m; float *v; float *vmax;
} lazyadam_tensor;
lazyadam_status lazyadam_adam_step_multi(const lazyadam_config *cfg, int64_t step,
        size_t count, const lazyadam_tensor *tensors);

/* Row-sparse gradient (TF IndexedSlices): nnz row indices into a rows x dim table,
 * values is nnz x dim, row-major. Duplicated indices are summed in input order.
 * lazyadam_lazy_step: LazyAdam — only the rows named in indices change.
 * lazyadam_adam_sparse_step: Adam — every row changes, as if the gradient were dense.
 * param, m, v (and vmax with AMSGRAD) are required when rows > 0; indices and values
 * when nnz > 0. Errors: E_NULL, E_HPARAM, E_STEP, E_SIZE (dim == 0 or an overflow),
 * E_INDEX, E_ALIAS, E_BACKEND, E_NOMEM (scratch, proportional to nnz). */
lazyadam_status lazyadam_lazy_step(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        size_t nnz, const int64_t *indices, const float *values);
lazyadam_status lazyadam_adam_sparse_step(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        size_t nnz, const int64_t *indices, const float *values);

/* Exact LazyAdam: LazyAdam's memory traffic, Adam's result. last_step[rows] holds the step
 * through which each row is up to date (all 0 for a fresh table). Before a touched row is
 * updated, the zero-gradient Adam steps it missed (last_step[r]+1 .. step-1) are replayed on
 * it, so after lazyadam_exact_flush every row is bitwise equal to what
 * lazyadam_adam_sparse_step at every step would have produced. Calls must come in
 * increasing step order; a row whose last_step >= step is E_STEP, nothing changed. */
lazyadam_status lazyadam_exact_lazy_step(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        int64_t *last_step, size_t nnz, const int64_t *indices, const float *values);
/* Bring every row up to date through `step` (before evaluation or a checkpoint). */
lazyadam_status lazyadam_exact_flush(const lazyadam_config *cfg, int64_t step,
        size_t rows, size_t dim, float *param, float *m, float *v, float *vmax,
        int64_t *last_step);

/* The sparse steps allocate scratch proportional to nnz on every call (24 bytes an index
 * to group the indices; exact LazyAdam also 60 bytes a replayed step). Freed blocks of
 * 16 KiB or more are kept for later calls (up to two of 32 MiB or more, and four
 * smaller), so that calls do not fault in fresh pages every time; this gives them back.
 * Safe to call at any time, from any thread. */
void lazyadam_release_scratch(void);

/* A short English sentence for a status; never NULL. */
const char *lazyadam_status_string(lazyadam_status s);
/* "auto","scalar","avx2","avx512","onednn"; "invalid" outside the enum. */
const char *lazyadam_backend_name(lazyadam_backend b);
/* 1 when backend b is built in AND runnable on this CPU (AUTO: always 1), else 0. */
int lazyadam_backend_available(lazyadam_backend b);
/* NULL when b is available; otherwise why not ("not built in: ...", "this CPU lacks ..."). */
const char *lazyadam_backend_unavailable_reason(lazyadam_backend b);
/* The backend a call with this config would run on: AUTO is resolved through the
 * environment variable LAZYADAM_BACKEND (read once) or the best available backend.
 * Returns LAZYADAM_BACKEND_AUTO when such a call would fail with E_BACKEND. */
lazyadam_backend lazyadam_backend_resolve(const lazyadam_config *cfg);
/* The library version, "MAJOR.MINOR.PATCH". */
const char *lazyadam_version(void);

#ifdef __cplusplus
}
#endif
#endif /* LAZYADAM_H */
