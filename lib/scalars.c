/* The per-call scalars of the numerical contract, computed exactly as it says:
 * bias corrections and step sizes in double, then rounded once to float. */
#include <math.h>

#include "internal.h"

lazyadam_scalars lazyadam_make_scalars(const lazyadam_config *cfg, int64_t step)
{
    lazyadam_scalars s;
    double bc1 = 1.0 - pow((double)cfg->beta1, (double)step);
    double bc2 = 1.0 - pow((double)cfg->beta2, (double)step);
    s.eps_plain = cfg->eps_mode == LAZYADAM_EPS_PLAIN;
    if (s.eps_plain) {
        s.alpha = (float)((double)cfg->lr / bc1);
        s.rbc2 = (float)sqrt(bc2);
    } else {
        s.alpha = (float)((double)cfg->lr * sqrt(bc2) / bc1);
        s.rbc2 = 1.0f;
    }
    s.beta1 = cfg->beta1;
    s.beta2 = cfg->beta2;
    s.omb1 = 1.0f - cfg->beta1;
    s.omb2 = 1.0f - cfg->beta2;
    s.eps = cfg->eps;
    s.wd = cfg->weight_decay;
    s.adamw = (cfg->flags & LAZYADAM_ADAMW) != 0;
    s.amsgrad = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    s.maximize = (cfg->flags & LAZYADAM_MAXIMIZE) != 0;
    s.l2 = cfg->weight_decay != 0.0f && !s.adamw;
    s.decay = s.adamw ? (float)(1.0 - (double)cfg->lr * (double)cfg->weight_decay) : 1.0f;
    return s;
}
