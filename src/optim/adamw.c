/* AdamW (Loshchilov & Hutter 2019, Algorithm 2): Adam with decoupled weight decay
 *   m, v, m^, v^ as in Adam
 *   w <- w - eta_t (alpha m^ / (sqrt(v^) + eps) + lambda w)
 * alpha is the base lr (o->hp.lr), eta_t = lr(t) / alpha the schedule multiplier and
 * lambda = optimizer.weight_decay. The decay is not multiplied by alpha: PyTorch's
 * AdamW(lr, weight_decay=wd) decays by lr * wd, i.e. lambda = lr * wd here.
 * State: m in slot 0, v in slot 1. */
#include "kernels.h"

static void adamw_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n, float lr)
{
    const adam_consts k = adam_consts_at(o);
    const float eta = o->hp.lr > 0 ? (float)(lr / o->hp.lr) : 1.0f;
    const float decay = eta * (float)o->hp.weight_decay;
    float *restrict m = o->state, *restrict v = o->state + n;
    for (size_t i = 0; i < n; i++) {
        adam_moments(&m[i], &v[i], g[i], &k);
        /* w <- w - eta (alpha m^ / (sqrt(v^) + eps) + lambda w), with eta alpha = lr */
        w[i] -= lr * (m[i] * k.corr1) / (sqrtf(v[i] * k.corr2) + k.eps) + decay * w[i];
    }
}

const gd_optim_ops gd_optim_adamw = {
    .name = "adamw", .state_slots = 2, .default_lr = 0.001, .step = adamw_step};
