/* The float32 reference. Deliberately naive: no vectors, no threads, no cleverness. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

void ref_adam_step(const lazyadam_config *cfg, int64_t step, size_t n, float *param,
        const float *grad, float *m, float *v, float *vmax)
{
    const int amsgrad = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    const int adamw = (cfg->flags & LAZYADAM_ADAMW) != 0;
    const int maximize = (cfg->flags & LAZYADAM_MAXIMIZE) != 0;

    /* Per call, in double. */
    const double bc1 = 1.0 - pow((double)cfg->beta1, (double)step);
    const double bc2 = 1.0 - pow((double)cfg->beta2, (double)step);
    float alpha, rbc2 = 1.0f;
    if (cfg->eps_mode == LAZYADAM_EPS_PLAIN) {
        alpha = (float)((double)cfg->lr / bc1);
        rbc2 = (float)sqrt(bc2);
    } else {
        alpha = (float)((double)cfg->lr * sqrt(bc2) / bc1);
    }
    /* In float. */
    const float omb1 = 1.0f - cfg->beta1;
    const float omb2 = 1.0f - cfg->beta2;
    const float decay = (float)(1.0 - (double)cfg->lr * cfg->weight_decay);

    for (size_t i = 0; i < n; i++) {
        float p = param[i];
        float g = grad[i];
        if (maximize)
            g = -g;
        if (cfg->weight_decay != 0.0f && !adamw)
            g = g + cfg->weight_decay * p;
        if (adamw)
            p = p * decay;
        float mi = cfg->beta1 * m[i] + omb1 * g;
        float gg = g * g;
        float vi = cfg->beta2 * v[i] + omb2 * gg;
        float s = vi;
        if (amsgrad) {
            vmax[i] = (vi > vmax[i]) ? vi : vmax[i];
            s = vmax[i];
        }
        float denom;
        if (cfg->eps_mode == LAZYADAM_EPS_PLAIN) {
            float q = sqrtf(s) / rbc2;
            denom = q + cfg->eps;
        } else {
            denom = sqrtf(s) + cfg->eps;
        }
        float num = alpha * mi;
        float upd = num / denom;
        p = p - upd;
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}

void ref_densify(size_t rows, size_t dim, size_t nnz, const int64_t *indices,
        const float *values, float *grad, unsigned char *named)
{
    memset(named, 0, rows);
    for (size_t j = 0; j < rows * dim; j++)
        grad[j] = 0.0f;
    for (size_t i = 0; i < nnz; i++) {
        size_t r = (size_t)indices[i];
        for (size_t j = 0; j < dim; j++) {
            /* The first value row is taken as it is (so -0.0 stays -0.0), the others
             * are added in input order: ((a + b) + c). */
            if (named[r])
                grad[r * dim + j] = grad[r * dim + j] + values[i * dim + j];
            else
                grad[r * dim + j] = values[i * dim + j];
        }
        named[r] = 1;
    }
}

/* Densifies the gradient, then updates the named rows (lazy) or every row. */
static int sparse_step(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *param, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values, int lazy)
{
    float *grad = malloc((rows * dim + 1) * sizeof *grad);
    unsigned char *named = malloc(rows + 1);
    if (!grad || !named) {
        free(grad);
        free(named);
        return -1;
    }
    ref_densify(rows, dim, nnz, indices, values, grad, named);
    const int amsgrad = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    for (size_t r = 0; r < rows; r++) {
        if (lazy && !named[r])
            continue;
        size_t o = r * dim;
        ref_adam_step(cfg, step, dim, param + o, grad + o, m + o, v + o,
                amsgrad ? vmax + o : NULL);
    }
    free(grad);
    free(named);
    return 0;
}

int ref_lazy_step(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *param, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values)
{
    return sparse_step(cfg, step, rows, dim, param, m, v, vmax, nnz, indices, values, 1);
}

int ref_adam_sparse_step(const lazyadam_config *cfg, int64_t step, size_t rows, size_t dim,
        float *param, float *m, float *v, float *vmax, size_t nnz, const int64_t *indices,
        const float *values)
{
    return sparse_step(cfg, step, rows, dim, param, m, v, vmax, nnz, indices, values, 0);
}
