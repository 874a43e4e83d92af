/* The independent reference: the numerical contract of ../shared/DESIGN.md written out
 * one element at a time, as plainly as possible, sharing no code with lib/. It uses
 * the public header only for its types. Also the same mathematics in double, to
 * measure the error of float32 arithmetic itself. */
#ifndef LAZYADAM_REFERENCE_H
#define LAZYADAM_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "lazyadam.h"

/* One dense Adam step, float32, exactly as the contract says. vmax used iff AMSGRAD. */
void ref_adam_step(const lazyadam_config *cfg, int64_t step, size_t n, float *param,
        const float *grad, float *m, float *v, float *vmax);

/* The densified, duplicate-summed gradient of a sparse one (rows x dim), and which rows
 * it names: grad[r] is the sum of r's value rows in input order; unnamed rows are 0. */
void ref_densify(size_t rows, size_t dim, size_t nnz, const int64_t *indices,
        const float *values, float *grad, unsigned char *named);

/* LazyAdam: only named rows change. Scratch is allocated with malloc; returns 0 on
 * success, -1 if it could not allocate. */
int ref_lazy_step(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *param, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values);
/* Adam on the densified gradient. Same return convention. */
int ref_adam_sparse_step(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *param, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values);

/* The same update with every operation in double (state in double). */
void ref64_adam_step(const lazyadam_config *cfg, int64_t step, size_t n, double *param,
        const double *grad, double *m, double *v, double *vmax);

#endif
