/* AdaMax (Kingma & Ba 2015, section 7.1, Algorithm 2), Adam with the infinity norm:
 *   m <- b1 m + (1 - b1) g,   u <- max(b2 u, |g|)
 *   w <- w - (lr / (1 - b1^t)) m / u
 * The paper has no eps. u = 0 only where every gradient so far was 0, and then m = 0
 * too: that parameter does not move (instead of 0/0).
 * State: m in slot 0, u in slot 1. */
#include "kernels.h"

static void adamax_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n, float lr)
{
    const adam_consts k = adam_consts_at(o);
    const float step = lr * k.corr1;
    float *restrict m = o->state, *restrict u = o->state + n;
    for (size_t i = 0; i < n; i++) {
        m[i] = ema(m[i], g[i], k.b1, k.b1c);  /* m <- b1 m + (1 - b1) g */
        u[i] = fmaxf(k.b2 * u[i], fabsf(g[i])); /* u <- max(b2 u, |g|) */
        if (u[i] > 0)
            w[i] -= step * m[i] / u[i];       /* w <- w - lr/(1 - b1^t) m / u */
    }
}

const gd_optim_ops gd_optim_adamax = {
    .name = "adamax", .state_slots = 2, .default_lr = 0.002, .step = adamax_step};
