/* Plain (mini-batch) gradient descent: w <- w - lr * g. */
#include "gdmpi/optim.h"

#include <cblas.h>

static void sgd_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n, float lr)
{
    (void)o;
    cblas_saxpy((int)n, -lr, g, 1, w, 1); /* w <- w - lr g */
}

const gd_optim_ops gd_optim_sgd = {
    .name = "sgd", .state_slots = 0, .default_lr = 0.1, .step = sgd_step};
