/* The LazyAdam-vs-Adam divergence study: measures how far LazyAdam drifts from Adam on
 * sparse gradients and proves, row by row and bitwise, that the drift is exactly the
 * zero-gradient Adam steps LazyAdam skipped. */
#ifndef LAZYADAM_DIVERGENCE_H
#define LAZYADAM_DIVERGENCE_H

#include <stdint.h>

#include "h5store.h"
#include "harness.h"

/* The entry points the study drives: the library's (divergence_library), or stand-ins
 * that break one thing on purpose, to show that the study notices
 * (verify/test_divergence.c). */
typedef struct divergence_ops {
    lazyadam_status (*lazy_step)(const lazyadam_config *cfg, int64_t step, size_t rows,
            size_t dim, float *param, float *m, float *v, float *vmax, size_t nnz,
            const int64_t *indices, const float *values);
    lazyadam_status (*adam_sparse_step)(const lazyadam_config *cfg, int64_t step, size_t rows,
            size_t dim, float *param, float *m, float *v, float *vmax, size_t nnz,
            const int64_t *indices, const float *values);
    lazyadam_status (*exact_lazy_step)(const lazyadam_config *cfg, int64_t step, size_t rows,
            size_t dim, float *param, float *m, float *v, float *vmax, int64_t *last_step,
            size_t nnz, const int64_t *indices, const float *values);
    lazyadam_status (*exact_flush)(const lazyadam_config *cfg, int64_t step, size_t rows,
            size_t dim, float *param, float *m, float *v, float *vmax, int64_t *last_step);
} divergence_ops;

extern const divergence_ops divergence_library;

/* The scenarios: uniform and Zipf(1.05) rows; idle_return, whose first half of the table
 * is named at every step and second half every 10th; touched_once, a tenth of the table
 * named at step 1 only. */
enum { DIVERGENCE_UNIFORM, DIVERGENCE_ZIPF, DIVERGENCE_IDLE_RETURN, DIVERGENCE_TOUCHED_ONCE,
       DIVERGENCE_SCENARIOS };
/* Their names, as the report and the HDF5 groups (divergence_<name>) give them. */
extern const char *const divergence_scenario_names[DIVERGENCE_SCENARIOS];

/* What failed in a scenario, check by check. */
typedef struct divergence_result {
    long proof;    /* row checks where Adam's row is not the caught-up LazyAdam's, replayed */
    long lazy;     /* row checks where LazyAdam, on a row that skipped no step, is not the
                    * reference's */
    long exact;    /* checkpoints where exact LazyAdam, flushed, is not Adam */
    long closed;   /* steps where the rows touched once left the closed forms' bounds */
    long refused;  /* steps an entry point refused */
} divergence_result;

/* One scenario on ops: one case tallied, whether every check held (failures printed with
 * the inputs that reproduce them, the first three of a scenario). Returns the number of
 * failures, and, where out is not NULL, stores them check by check. w may be NULL; else
 * the per-step metrics are stored as group divergence_<scenario>. */
long divergence_scenario(const divergence_ops *ops, int scenario, int quick, uint64_t seed,
        tally *t, h5w *w, divergence_result *out);

/* Every scenario on the library. */
void divergence_study(int quick, uint64_t seed, tally *t, h5w *w);

#endif
