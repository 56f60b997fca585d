/* Optimizers see only flat vectors: w -= f(g, state, lr). They never know the model.
 *
 * State layout: state_slots blocks of n floats, slot k of parameter i at state[k*n + i]
 * (e.g. Adam: m[0..n) then v[0..n)). Together with t it is the whole optimizer state,
 * so a checkpoint saves gd_optim_state_len() floats and t, and restores them exactly. */
#ifndef GDMPI_OPTIM_H
#define GDMPI_OPTIM_H

#include "gdmpi/rng.h"
#include "gdmpi/state.h"

#include <stddef.h>

typedef struct gd_optim gd_optim;

typedef struct gd_optim_ops {
    const char *name;
    size_t state_slots; /* floats of state per parameter; the state is one flat buffer */
    double default_lr;  /* the lr used when optimizer.lr is 0 (not set) */
    double default_eps; /* the eps used when optimizer.eps is 0 (not set); 0 here: 1e-8 */
    /* One update of w[0..n) with the mean gradient g at step o->t (1 for the first step). */
    void (*step)(gd_optim *o, float *restrict w, const float *restrict g, size_t n, float lr);
} gd_optim_ops;

/* The config's [optimizer] numbers. lr is the base rate alpha (after the linear
 * scaling rule): AdamW scales its decoupled decay by lr(t) / lr, the schedule multiplier. */
typedef struct gd_optim_hparams {
    double lr, momentum, beta1, beta2, eps, rho, decay, weight_decay;
} gd_optim_hparams;

struct gd_optim {
    const gd_optim_ops *ops;
    gd_optim_hparams hp;
    size_t n;     /* parameters this optimizer updates */
    float *state; /* n * ops->state_slots floats, zero at the start */
    long t;       /* steps taken so far */
};

const gd_optim_ops *gd_optim_find(const char *name);
/* "sgd|momentum|...": the registry's names, for the config's name check. */
const char *gd_optim_names(void);

/* Checks the hyper-parameters the update formulas divide by (GD_ECONFIG on failure). */
int gd_optim_create(gd_optim *o, const char *name, const gd_optim_hparams *hp, size_t n);
void gd_optim_destroy(gd_optim *o);
/* Advances t and applies one update. w, g and the state never overlap (restrict: the
 * loops vectorise without run-time alias checks). */
void gd_optim_step(gd_optim *o, float *restrict w, const float *restrict g, float lr);
/* Floats in o->state (n * state_slots), for checkpoints. */
size_t gd_optim_state_len(const gd_optim *o);
/* Checkpoints (gdmpi/state.h): "optimizer/state", one block of n floats per slot, held as
 * scope says (GD_SLICED: this rank's [lo, lo + n) of total), and "optimizer/t" per rank. */
void gd_optim_declare(gd_optim *o, gd_state *s, gd_state_scope scope, size_t lo, size_t total);

/* Vector helpers for what happens to the combined gradient before the step. */

/* Sum of squares, accumulated in double (the squared global norm of g). */
double gd_sumsq(const float *restrict g, size_t n);
/* g <- g * scale (in float, as a separate loop would), and the sum of squares of the
 * result, in one pass: equal to the bit to scaling and then calling gd_sumsq. */
double gd_scale_sumsq(float *restrict g, size_t n, float scale);
/* g <- g * max_norm / norm when norm > max_norm (clipping by the global norm). */
void gd_clip_by_norm(float *g, size_t n, double norm, double max_norm);
/* Adds the subgradient l1 * sign(w) (sign(0) = 0) to g (unless g is NULL); returns the
 * penalty l1 * |w|_1. */
double gd_l1_penalty(const float *w, float *g, size_t n, double l1);
/* Adds l2 * w to g (unless g is NULL); returns the penalty l2/2 |w|^2. Works on any slice
 * of the weights, as a parameter server needs. */
double gd_l2_penalty(const float *w, float *g, size_t n, double l2);
/* Neelakantan et al. 2015: the noise standard deviation sqrt(eta / (1 + t)^gamma)
 * at step t (0 for the first step). */
double gd_grad_noise_stddev(double eta, double gamma, long t);
/* g[i] += N(0, stddev^2), drawn in order from rng (a stream every rank shares). */
void gd_add_grad_noise(float *g, size_t n, double stddev, gd_rng *rng);

#endif
