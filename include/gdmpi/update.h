/* The update pipeline: what happens to a combined mean gradient before and during the
 * optimizer step (docs/optimizers.md, "What happens to the gradient before the step"):
 *
 *   penalties (l2, l1 on the weights) -> divergence check (loss, squared norm)
 *     -> clipping by the global norm -> gradient noise -> optimizer step
 *
 * It knows flat vectors, the optimizer and a handful of numbers from the config; never the
 * model, the trainer or the strategy. Every strategy calls it on the slice it updates: the
 * whole vector (allreduce, local-sgd, hogwild, easgd) or a parameter server's slice.
 *
 * Passes over the slice: the division by the count, the penalties and the squared norm
 * share the first (gd_update_prepare); the optimizer step is the second. They cannot be one:
 * the divergence check and clipping need the whole gradient's norm before any parameter
 * moves (a non-finite gradient must never reach w). Clipping, when it scales, and noise
 * add a pass each. */
#ifndef GDMPI_UPDATE_H
#define GDMPI_UPDATE_H

#include "gdmpi/config.h"
#include "gdmpi/optim.h"
#include "gdmpi/rng.h"
#include "gdmpi/state.h"

#include <mpi.h>
#include <stddef.h>

/* Why a step was refused: its loss or its gradient was not finite. */
typedef enum { GD_DIV_NONE, GD_DIV_LOSS, GD_DIV_GRADIENT } gd_divergence;

/* "loss" or "gradient" (NULL for none): the words of the divergence message. */
const char *gd_divergence_name(gd_divergence d);

typedef struct gd_update {
    gd_optim *optim;       /* the optimizer that steps (a parameter server's: its slice's) */
    size_t nparams;        /* the whole vector's length: slices skip the others' noise draws */
    size_t nweights;       /* the penalised prefix (the model's weights; the rest are biases) */
    double l2, l1;         /* model.l2, model.l1 */
    double clip_norm;      /* train.clip_norm (0: off) */
    double noise, noise_gamma; /* train.grad_noise eta and gamma (eta 0: off) */
    gd_rng noise_rng;      /* the noise stream: (seed, 0, GD_RNG_NOISE) on every rank */
    int own_noise;         /* gd_update_own_noise: the stream is this rank's, not shared */
    double sumsq;          /* the squared norm of the last step's whole mean gradient, after
                              the penalties and before clipping (steps.csv's grad_norm; the
                              trainer sets it to NaN to see whether a step made one) */
} gd_update;

/* The pipeline for optimizer o over a vector of nparams floats whose first nweights are
 * penalised, with the config's numbers (model.l2, l1, train.clip_norm, grad_noise and its
 * gamma) and the noise stream (train.seed, 0, GD_RNG_NOISE). */
void gd_update_init(gd_update *u, gd_optim *o, size_t nparams, size_t nweights,
                    const gd_config *c);

/* Adds the l2 and l1 gradient of the weights among parameters [lo, lo + n) of w to g
 * (unless g is NULL); returns their loss per sample. w is the whole vector. */
double gd_update_penalties(const gd_update *u, const float *w, size_t lo, size_t n, float *g);

/* Checks that loss (the step's loss sum) and sumsq (the squared norm of the whole mean
 * gradient) are finite, else returns the divergence and leaves w alone; then clips g by
 * the norm, adds this slice's share of the gradient noise for step `step` (0-based: the
 * optimizer steps taken before this one) and takes the optimizer step on w[lo, lo + n). */
gd_divergence gd_update_step(gd_update *u, float *w, size_t lo, size_t n, float *g,
                             double loss, double sumsq, double lr, long step);

/* The first pass over [lo, lo + n), g holding that slice of the gradient sum over count
 * (> 0) samples: divides it by count (as g * (1/count) in float), adds the penalties
 * (their loss per sample in *penalty) and returns the squared norm of the result. */
double gd_update_prepare(const gd_update *u, const float *w, size_t lo, size_t n, float *g,
                         double count, double *penalty);

/* The whole pipeline on [lo, lo + n), g holding that slice of the gradient sum over count
 * (> 0) samples and *loss the step's loss sum: divides g by count, adds the penalties
 * (their loss, times count, to *loss), and steps: two passes over the slice when neither
 * clipping nor noise is on (gd_update_prepare, then the optimizer). The penalty loss and the
 * squared norm are summed over `peers`, the owners of the other slices (MPI_COMM_NULL:
 * there are none), so that clipping and the divergence check see the whole gradient. */
gd_divergence gd_update_apply(gd_update *u, float *w, size_t lo, size_t n, float *g,
                              double *loss, double count, double lr, long step, MPI_Comm peers);
/* Gradient noise (Neelakantan et al. 2015) from a stream of this rank's own, for a strategy
 * whose ranks apply their own updates (local-sgd, easgd, hogwild): with the shared stream
 * they would all add the same noise vector, perfectly correlated. The lock-step modes keep
 * the shared stream (one combined update, one draw). */
void gd_update_own_noise(gd_update *u, uint64_t seed, int rank);

/* Checkpoints (gdmpi/state.h): "update/noise_rng", per rank. */
void gd_update_declare(gd_update *u, gd_state *s);

#endif
