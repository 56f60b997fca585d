/* Private to src/parallel/: what the strategies whose ranks take steps on their own
 * parameters share (local-sgd, easgd, easgd-async's workers, hogwild). */
#ifndef GDMPI_PARALLEL_LOCAL_SGD_H
#define GDMPI_PARALLEL_LOCAL_SGD_H

#include "gdmpi/train.h"

/* One step with this rank's own mean gradient (t->model.g / t->batch_count) through
 * gd_apply_update (penalties, divergence check, clipping, noise, optimizer), on whatever
 * t->model.w points at. An empty batch takes no step. Sets t->step_loss and t->step_count
 * to this rank's sums; timed as compute. */
void local_step(gd_trainer *t);

/* Divergence in the synchronous modes whose ranks step on their own (local-sgd, easgd).
 * A non-finite loss or gradient shows on one rank only, and the trainer ends a rank's
 * training at the step where t->diverged is set: alone, it would leave the other ranks in
 * their next collective with nobody to match it. So that rank holds the divergence back in
 * *held ("loss" or "gradient"), takes no more updates (its parameters stay the last finite
 * ones) and goes on taking part in the exchanges, each of which carries LOCAL_FLAGS floats
 * of flags; the exchange that carries one sets t->diverged on every rank at the same step,
 * so that every rank stops there with the usual divergence outcome. Once t->diverged is
 * set (agreed) no rank updates or exchanges flags any more. */
#define LOCAL_FLAGS 2

/* local_step, unless this rank holds a divergence or the ranks agreed on one (then no
 * update: t->step_loss and t->step_count 0); a divergence of this step goes into *held. */
void local_step_held(gd_trainer *t, const char **held);
/* This rank's flags into f[0 .. LOCAL_FLAGS), for an exchange that sums them. */
void local_flags_put(const char *held, float *f);
/* The summed flags of an exchange: sets t->diverged when some rank had diverged. */
void local_flags_take(gd_trainer *t, const float *f);
/* 1 when the training loop may end after the step being taken (the epoch's last step, the
 * step limit, or a time-budget check), with no exchange before it: the strategy must then
 * exchange the flags in the step (local_agree_diverged), the same step on every rank. */
int local_may_stop(const gd_trainer *t);
/* Collective over t->comm, unless t->diverged is set already (on every rank, then): an
 * exchange of the flags alone. */
void local_agree_diverged(gd_trainer *t, const char *held);

/* epoch_row's sums, collective over t->comm: the epoch's loss and sample sums and the
 * samples seen so far (`samples`: this rank's) become the sums over all ranks. They carry
 * the divergence flags too (`held`: see above). */
void local_epoch_sums(gd_trainer *t, double samples, const char *held);

#endif
