/* Nadam (Dozat 2016, Algorithm 2) with a constant momentum mu_t = b1 (no warming
 * schedule), i.e. Adam with a Nesterov look-ahead on the first moment:
 *   m <- b1 m + (1 - b1) g,   n <- b2 n + (1 - b2) g^2
 *   m_ = b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)
 *   n^ = n / (1 - b2^t)
 *   w <- w - lr m_ / (sqrt(n^) + eps)
 * Ruder 2016 writes the first term with 1 - b1^t; Dozat's product of mu_i up to t+1 gives
 * 1 - b1^(t+1), which we follow. State: m in slot 0, n in slot 1. */
#include "kernels.h"

static void nadam_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n, float lr)
{
    const adam_consts k = adam_consts_at(o);
    const float ahead = k.b1 * bias_correction(o->hp.beta1, o->t + 1); /* b1 / (1 - b1^(t+1)) */
    const float now = k.b1c * k.corr1;                                  /* (1 - b1) / (1 - b1^t) */
    float *restrict m = o->state, *restrict v = o->state + n;
    for (size_t i = 0; i < n; i++) {
        adam_moments(&m[i], &v[i], g[i], &k);
        float mbar = ahead * m[i] + now * g[i];                     /* m_ */
        w[i] -= lr * mbar / (sqrtf(v[i] * k.corr2) + k.eps);       /* w <- w - lr m_/(sqrt(n^)+eps) */
    }
}

const gd_optim_ops gd_optim_nadam = {
    .name = "nadam", .state_slots = 2, .default_lr = 0.002, .step = nadam_step};
