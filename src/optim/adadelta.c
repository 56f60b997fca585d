/* Adadelta (Zeiler 2012, Algorithm 1), with lr as a plain multiplier (1 in the paper):
 *   E[g^2]  <- rho E[g^2] + (1 - rho) g^2
 *   dx       = -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
 *   E[dx^2] <- rho E[dx^2] + (1 - rho) dx^2
 *   w       <- w + lr dx
 * State: E[g^2] in slot 0, E[dx^2] in slot 1. */
#include "kernels.h"

#include "gdmpi/optim.h"

static void adadelta_step(gd_optim *o, float *restrict w, const float *restrict g, size_t n,
                          float lr)
{
    const float rho = (float)o->hp.rho, rho_c = (float)(1 - o->hp.rho), eps = (float)o->hp.eps;
    float *restrict eg2 = o->state, *restrict edx2 = o->state + n;
    for (size_t i = 0; i < n; i++) {
        eg2[i] = ema(eg2[i], g[i] * g[i], rho, rho_c);               /* E[g^2] */
        float dx = -sqrtf(edx2[i] + eps) / sqrtf(eg2[i] + eps) * g[i]; /* -RMS[dx]/RMS[g] g */
        edx2[i] = ema(edx2[i], dx * dx, rho, rho_c);                 /* E[dx^2] */
        w[i] += lr * dx;                                             /* w <- w + lr dx */
    }
}

const gd_optim_ops gd_optim_adadelta = {
    .name = "adadelta", .state_slots = 2, .default_lr = 1.0,
    .default_eps = 1e-6, /* Zeiler's and torch's: eps sits inside the numerator's square root
                            too, so it sets the size of the first steps */
    .step = adadelta_step};
