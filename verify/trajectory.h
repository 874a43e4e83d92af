/* One verification case and its trajectory: what lazyadam-verify runs, stores in HDF5
 * and replays. */
#ifndef LAZYADAM_TRAJECTORY_H
#define LAZYADAM_TRAJECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "h5store.h"
#include "harness.h"
#include "lazyadam.h"

typedef enum { K_DENSE, K_LAZY, K_ADAM_SPARSE } case_kind;

typedef struct trajectory {
    case_kind kind;
    lazyadam_config cfg;
    size_t n;                 /* dense: elements; sparse: rows * dim */
    size_t rows, dim;         /* sparse */
    size_t steps;
    float *init[4];           /* param, m, v, vmax: n each */
    float *traj[4];           /* param, m, v, vmax after each step: steps x n each */
    float *grad;              /* dense: steps x n */
    int64_t *nnz;             /* sparse: steps */
    int64_t *indices;         /* sparse: sum(nnz) */
    float *values;            /* sparse: sum(nnz) x dim */
    size_t total_nnz;
} trajectory;

/* Builds a case's inputs: initial state and every step's gradient (dense: n_or_rows
 * elements; sparse: a table of n_or_rows rows of dim columns, a quarter of each step's
 * indices repeating an earlier one, every fifth step from the fourth naming none). */
void trajectory_make(rng *r, trajectory *t, case_kind kind, const lazyadam_config *cfg,
        size_t n_or_rows, size_t dim, size_t steps);
/* Runs the reference through the case, filling t->traj; for dense cases also the
 * float64 reference, returning float32's largest relative error on param (0: sparse). */
double trajectory_reference(trajectory *t);
void trajectory_free(trajectory *t);
const char *kind_name(case_kind k);

/* Stores t as group `name` (with config and provenance attributes). 0 on success. */
int trajectory_write(h5w *w, const char *name, const trajectory *t, uint64_t seed,
        const char *source);
/* Loads group `name`; -1 with h5r_error() on anything missing or inconsistent. */
int trajectory_read(h5r *r, const char *name, trajectory *t, char *source, size_t len);

/* Re-runs t's inputs through the library on backend b and compares every step with the
 * stored trajectory: each element within max(tol_ulp ULP, rtol relative to the
 * larger of |x| and `floor`). Returns the number of mismatching elements; prints the
 * first few. *max_rel receives the largest relative difference seen. */
size_t trajectory_replay(const trajectory *t, lazyadam_backend b, int threads,
        uint64_t tol_ulp, double rtol, double floor, double *max_rel);

#endif
