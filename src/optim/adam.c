/* Adam (Kingma & Ba 2015, Algorithm 1):
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   m^ = m / (1 - b1^t),      v^ = v / (1 - b2^t)
 *   w <- w - lr m^ / (sqrt(v^) + eps)
 * State: m in slot 0, v in slot 1. */
#include "kernels.h"

static void adam_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n, float lr)
{
    const adam_consts k = adam_consts_at(o);
    float *restrict m = o->state, *restrict v = o->state + n;
    for (size_t i = 0; i < n; i++) {
        adam_moments(&m[i], &v[i], g[i], &k);
        w[i] -= lr * (m[i] * k.corr1) / (sqrtf(v[i] * k.corr2) + k.eps); /* lr m^/(sqrt(v^)+eps) */
    }
}

const gd_optim_ops gd_optim_adam = {
    .name = "adam", .state_slots = 2, .default_lr = 0.001, .step = adam_step};
