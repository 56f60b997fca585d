/* Private to src/parallel/: what the strategies whose ranks take steps on their own
 * parameters share (local-sgd, easgd, easgd-async's workers, hogwild). */
#ifndef GDMPI_PARALLEL_LOCAL_SGD_H
#define GDMPI_PARALLEL_LOCAL_SGD_H

#include "gdmpi/parallel.h"

/* One step with this rank's own mean gradient (ctx->model->g / ctx->batch_count) through
 * gd_step_update (penalties, divergence check, clipping, noise, optimizer), on whatever
 * ctx->model->w points at. An empty batch takes no step. Sets ctx->step_loss and ctx->step_count
 * to this rank's sums; timed as compute. */
void local_step(gd_step_ctx *ctx);

/* Divergence in the synchronous modes whose ranks step on their own (local-sgd, easgd).
 * A non-finite loss or gradient shows on one rank only, and the trainer ends a rank's
 * training at the step where ctx->diverged is set: alone, it would leave the other ranks in
 * their next collective with nobody to match it. So that rank holds the divergence back in
 * *held, takes no more updates (its parameters stay the last finite
 * ones) and goes on taking part in the exchanges, each of which carries LOCAL_FLAGS floats
 * of flags; the exchange that carries one sets ctx->diverged on every rank at the same step,
 * so that every rank stops there with the usual divergence outcome. Once ctx->diverged is
 * set (agreed) no rank updates or exchanges flags any more. */
#define LOCAL_FLAGS 2

/* local_step, unless this rank holds a divergence or the ranks agreed on one (then no
 * update: ctx->step_loss and ctx->step_count 0); a divergence of this step goes into *held. */
void local_step_held(gd_step_ctx *ctx, gd_divergence *held);
/* This rank's flags into f[0 .. LOCAL_FLAGS), for an exchange that sums them. */
void local_flags_put(gd_divergence held, float *f);
/* The summed flags of an exchange: sets ctx->diverged when some rank had diverged. */
void local_flags_take(gd_step_ctx *ctx, const float *f);
/* Collective over ctx->comm, unless ctx->diverged is set already (on every rank, then): an
 * exchange of the flags alone. */
void local_agree_diverged(gd_step_ctx *ctx, gd_divergence held);

/* epoch_row's sums, collective over ctx->comm: the epoch's loss and sample sums and the
 * samples seen so far (`samples`: this rank's) become the sums over all ranks. They carry
 * the divergence flags too (`held`: see above). */
void local_epoch_sums(gd_step_ctx *ctx, double samples, gd_divergence held);
/* Checkpoints of a mode whose ranks train their own copies: the parameters and optimizer
 * state per rank, and under group/: this rank's steps and samples, and its held divergence. */
/* Each rank's own gradient-noise stream (its updates are its own). */
void local_own_noise(gd_step_ctx *ctx);
void local_declare(gd_step_ctx *ctx, gd_state *s, const char *group, long *steps,
                   double *samples, gd_divergence *held);

#endif
