/* One element of the numerical contract, in plain C. Every backend's kernels use it
 * for tails, so a tail is computed exactly like a vector lane. */
#ifndef LAZYADAM_ELEMENT_H
#define LAZYADAM_ELEMENT_H

#include <math.h>

#include "kernels.h"

/* g is the raw gradient (before MAXIMIZE); vmax is touched only when s->amsgrad. */
static inline void lazyadam_element(float *restrict p, float g, float *restrict m,
        float *restrict v, float *restrict vmax, const lazyadam_scalars *s)
{
    float pi = *p;
    if (s->maximize)
        g = -g;
    if (s->l2)
        g = g + s->wd * pi;
    if (s->adamw)
        pi = pi * s->decay;
    float mi = s->beta1 * *m + s->omb1 * g;
    float vi = s->beta2 * *v + s->omb2 * (g * g);
    float si = vi;
    if (s->amsgrad) {
        float vm = *vmax;
        vm = (vi > vm) ? vi : vm;
        *vmax = vm;
        si = vm;
    }
    float denom = s->eps_plain ? sqrtf(si) / s->rbc2 + s->eps : sqrtf(si) + s->eps;
    *p = pi - (s->alpha * mi) / denom;
    *m = mi;
    *v = vi;
}

/* True when the kernels may take the path for the default configuration (EPS_HAT,
 * no weight decay, no flags), which every backend specialises. */
static inline int lazyadam_plain_config(const lazyadam_scalars *s)
{
    return !s->maximize && !s->l2 && !s->adamw && !s->amsgrad && !s->eps_plain;
}

#endif
