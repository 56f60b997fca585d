/* Adagrad (Duchi, Hazan & Singer 2011), the diagonal form with eps outside the root
 * (the paper's delta; PyTorch and Keras agree):
 *   G <- G + g^2,   w <- w - lr g / (sqrt(G) + eps) */
#include "gdmpi/optim.h"

#include <math.h>

static void adagrad_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n,
                         float lr)
{
    const float eps = (float)o->hp.eps;
    float *restrict G = o->state;
    for (size_t i = 0; i < n; i++) {
        G[i] += g[i] * g[i];                       /* G <- G + g^2 */
        w[i] -= lr * g[i] / (sqrtf(G[i]) + eps);   /* w <- w - lr g / (sqrt(G) + eps) */
    }
}

const gd_optim_ops gd_optim_adagrad = {
    .name = "adagrad", .state_slots = 1, .default_lr = 0.1, .step = adagrad_step};
