/* Plain (mini-batch) gradient descent: w <- w - lr * g. */
#include "gdmpi/optim.h"

#include <cblas.h>

static void sgd_step(gd_optim *o, float *w, const float *g, size_t n, float lr)
{
    (void)o;
    cblas_saxpy((int)n, -lr, g, 1, w, 1);
}

const gd_optim_ops gd_optim_sgd = {.name = "sgd", .state_slots = 0, .step = sgd_step};
