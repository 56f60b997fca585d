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

/* epoch_row's sums, collective over t->comm: the epoch's loss and sample sums and the
 * samples seen so far (`samples`: this rank's) become the sums over all ranks. */
void local_epoch_sums(gd_trainer *t, double samples);

#endif
