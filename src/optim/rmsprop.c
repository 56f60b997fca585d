/* RMSprop (Hinton, Srivastava & Swersky 2012, Coursera lecture 6e; as in Ruder 2016),
 * with eps outside the root as in PyTorch:
 *   E[g^2] <- decay E[g^2] + (1 - decay) g^2,   w <- w - lr g / (sqrt(E[g^2]) + eps) */
#include "kernels.h"

#include "gdmpi/optim.h"

static void rmsprop_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n,
                         float lr)
{
    const float d = (float)o->hp.decay, d_c = (float)(1 - o->hp.decay), eps = (float)o->hp.eps;
    float *restrict eg2 = o->state;
    for (size_t i = 0; i < n; i++) {
        eg2[i] = ema(eg2[i], g[i] * g[i], d, d_c);    /* E[g^2] */
        w[i] -= lr * g[i] / (sqrtf(eg2[i]) + eps);    /* w <- w - lr g / (sqrt(E[g^2]) + eps) */
    }
}

const gd_optim_ops gd_optim_rmsprop = {
    .name = "rmsprop", .state_slots = 1, .default_lr = 0.001, .step = rmsprop_step};
