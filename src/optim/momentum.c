/* Classical momentum (Polyak 1964; Qian 1999; as in Ruder 2016, section 4.1):
 *   v <- mu v + lr g,   w <- w - v
 * The velocity carries lr, as in the literature. With a constant lr this is PyTorch's
 * SGD(momentum=mu); under a schedule the velocity keeps the earlier steps' lr. */
#include "gdmpi/optim.h"

static void momentum_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n,
                          float lr)
{
    const float mu = (float)o->hp.momentum;
    float *restrict v = o->state;
    for (size_t i = 0; i < n; i++) {
        v[i] = mu * v[i] + lr * g[i]; /* v <- mu v + lr g */
        w[i] -= v[i];                 /* w <- w - v */
    }
}

const gd_optim_ops gd_optim_momentum = {
    .name = "momentum", .state_slots = 1, .default_lr = 0.01, .step = momentum_step};
