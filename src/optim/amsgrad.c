/* AMSGrad (Reddi, Kale & Kumar 2018) with bias correction, the form PyTorch and Keras
 * use: the running maximum is taken over the raw second moment, then corrected:
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   vmax <- max(vmax, v)
 *   w <- w - lr (m / (1 - b1^t)) / (sqrt(vmax / (1 - b2^t)) + eps)
 * (The paper's Algorithm 2 has no bias correction: w <- w - lr m / sqrt(vmax).)
 * State: m in slot 0, v in slot 1, vmax in slot 2. */
#include "kernels.h"

static void amsgrad_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n,
                         float lr)
{
    const adam_consts k = adam_consts_at(o);
    float *restrict m = o->state, *restrict v = o->state + n, *restrict vmax = o->state + 2 * n;
    for (size_t i = 0; i < n; i++) {
        adam_moments(&m[i], &v[i], g[i], &k);
        vmax[i] = fmaxf(vmax[i], v[i]); /* vmax <- max(vmax, v) */
        w[i] -= lr * (m[i] * k.corr1) / (sqrtf(vmax[i] * k.corr2) + k.eps);
    }
}

const gd_optim_ops gd_optim_amsgrad = {
    .name = "amsgrad", .state_slots = 3, .default_lr = 0.001, .step = amsgrad_step};
