/* Scalar pieces the optimizers share; private to src/optim/. Everything is inline so
 * each optimizer's loop stays one readable pass over the parameters. */
#ifndef GDMPI_OPTIM_KERNELS_H
#define GDMPI_OPTIM_KERNELS_H

#include "gdmpi/optim.h"

#include <math.h>

/* An exponential moving average: avg <- d avg + (1 - d) x. The caller passes 1 - d
 * computed in double: 1.0f - 0.999f in float is off by 1e-5 relative. */
static inline float ema(float avg, float x, float d, float one_minus_d)
{
    return d * avg + one_minus_d * x;
}

/* 1 / (1 - beta^t): the bias correction of a moment average after t steps (Kingma & Ba). */
static inline float bias_correction(double beta, long t)
{
    return (float)(1.0 / (1.0 - pow(beta, (double)t)));
}

/* The Adam family's constants for step o->t: the betas, their complements computed in
 * double, eps, and the bias corrections 1/(1 - beta1^t) and 1/(1 - beta2^t). */
typedef struct adam_consts {
    float b1, b1c, b2, b2c, eps, corr1, corr2;
} adam_consts;

static inline adam_consts adam_consts_at(const gd_optim *o)
{
    const gd_optim_hparams *hp = &o->hp;
    return (adam_consts){(float)hp->beta1, (float)(1 - hp->beta1), (float)hp->beta2,
                         (float)(1 - hp->beta2), (float)hp->eps,
                         bias_correction(hp->beta1, o->t), bias_correction(hp->beta2, o->t)};
}

/* Kingma & Ba's moment estimates: m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2. */
static inline void adam_moments(float *m, float *v, float g, const adam_consts *k)
{
    *m = ema(*m, g, k->b1, k->b1c);
    *v = ema(*v, g * g, k->b2, k->b2c);
}

#endif
