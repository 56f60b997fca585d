/* Nesterov accelerated gradient, in the "lookahead" form (Bengio, Boulanger-Lewandowski
 * & Pascanu 2012; the form PyTorch uses). Sutskever et al. 2013 write NAG as
 *   v <- mu v - lr grad f(w + mu v),   w <- w + v,
 * which needs the gradient at the look-ahead point. Storing w' = w + mu v instead (the
 * point where the trainer evaluates g) and writing v for -v gives an update that needs
 * only g = grad f(w'):
 *   v <- mu v + lr g,   w' <- w' - (mu v + lr g)
 * With a constant lr it equals PyTorch's SGD(momentum=mu, nesterov=True). */
#include "gdmpi/optim.h"

static void nesterov_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n,
                          float lr)
{
    const float mu = (float)o->hp.momentum;
    float *restrict v = o->state;
    for (size_t i = 0; i < n; i++) {
        v[i] = mu * v[i] + lr * g[i];  /* v <- mu v + lr g */
        w[i] -= mu * v[i] + lr * g[i]; /* w <- w - (mu v + lr g) */
    }
}

const gd_optim_ops gd_optim_nesterov = {
    .name = "nesterov", .state_slots = 1, .default_lr = 0.01, .step = nesterov_step};
