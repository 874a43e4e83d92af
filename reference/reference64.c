/* The same update in double: what Adam would compute without float32 rounding. */
#include <math.h>

#include "reference.h"

void ref64_adam_step(const lazyadam_config *cfg, int64_t step, size_t n, double *param,
        const double *grad, double *m, double *v, double *vmax)
{
    const double b1 = cfg->beta1, b2 = cfg->beta2, lr = cfg->lr, eps = cfg->eps;
    const double wd = cfg->weight_decay;
    const double bc1 = 1.0 - pow(b1, (double)step);
    const double bc2 = 1.0 - pow(b2, (double)step);
    for (size_t i = 0; i < n; i++) {
        double p = param[i], g = grad[i];
        if (cfg->flags & LAZYADAM_MAXIMIZE)
            g = -g;
        if (wd != 0.0 && !(cfg->flags & LAZYADAM_ADAMW))
            g += wd * p;
        if (cfg->flags & LAZYADAM_ADAMW)
            p *= 1.0 - lr * wd;
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        double s = v[i];
        if (cfg->flags & LAZYADAM_AMSGRAD) {
            vmax[i] = v[i] > vmax[i] ? v[i] : vmax[i];
            s = vmax[i];
        }
        if (cfg->eps_mode == LAZYADAM_EPS_PLAIN)
            p -= (lr / bc1) * m[i] / (sqrt(s) / sqrt(bc2) + eps);
        else
            p -= lr * sqrt(bc2) / bc1 * m[i] / (sqrt(s) + eps);
        param[i] = p;
    }
}
