/* Optimizers see only flat vectors: w -= f(g, state, lr). They never know the model. */
#ifndef GDMPI_OPTIM_H
#define GDMPI_OPTIM_H

#include <stddef.h>

typedef struct gd_optim gd_optim;

typedef struct gd_optim_ops {
    const char *name;
    size_t state_slots; /* floats of state per parameter; the state is one flat buffer */
    /* One update of w[0..n) with the mean gradient g at step o->t (1 for the first step). */
    void (*step)(gd_optim *o, float *w, const float *g, size_t n, float lr);
} gd_optim_ops;

typedef struct gd_optim_hparams {
    double momentum, beta1, beta2, eps, rho, decay, weight_decay;
} gd_optim_hparams;

struct gd_optim {
    const gd_optim_ops *ops;
    gd_optim_hparams hp;
    size_t n;     /* parameters this optimizer updates */
    float *state; /* n * ops->state_slots floats, zero at the start */
    long t;       /* steps taken so far */
};

const gd_optim_ops *gd_optim_find(const char *name);
const char *gd_optim_names(void);

int gd_optim_create(gd_optim *o, const char *name, const gd_optim_hparams *hp, size_t n);
void gd_optim_destroy(gd_optim *o);
/* Advances t and applies one update. */
void gd_optim_step(gd_optim *o, float *w, const float *g, float lr);

#endif
