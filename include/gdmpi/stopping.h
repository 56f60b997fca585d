/* The stopping rules (docs/optimizers.md, "Stopping"): train.tol, early stopping on the
 * validation loss, and the train.max_seconds deadline. Pure functions of their inputs, so
 * that tests pin each rule without a run. */
#ifndef GDMPI_STOPPING_H
#define GDMPI_STOPPING_H

#include "gdmpi/step.h"

const char *gd_stop_reason_name(gd_stop_reason r);

/* train.tol: stop once |L_e - L_(e-1)| / |L_(e-1)| < tol for `epochs` epochs in a row. */
typedef struct gd_tol_rule {
    double tol, prev; /* prev: the last epoch's loss (NaN before the first) */
    long epochs, calm; /* calm: consecutive epochs below tol so far */
} gd_tol_rule;

void gd_tol_init(gd_tol_rule *r, double tol, long epochs);
/* Feeds one epoch's training loss; returns 1 when the run should stop (never if tol = 0). */
int gd_tol_update(gd_tol_rule *r, double loss);

/* Early stopping on the validation loss; it also tracks the best epoch when patience = 0. */
typedef struct gd_early_stop {
    long patience;   /* 0: never stop */
    double best;     /* the lowest validation loss so far (+inf before the first) */
    long best_epoch; /* its epoch (0 before the first) */
    long stale;      /* epochs since the best */
} gd_early_stop;

typedef enum { GD_ES_WORSE, GD_ES_BETTER, GD_ES_STOP } gd_early_verdict;

void gd_early_stop_init(gd_early_stop *r, long patience);
/* Feeds one epoch's validation loss. BETTER: a new best (save the parameters); STOP:
 * patience epochs in a row without one. A non-finite loss is never better. */
gd_early_verdict gd_early_stop_update(gd_early_stop *r, long epoch, double val_loss);

/* train.max_seconds: the step count at which to stop so that the outputs are written in
 * time, given `step` steps done, `elapsed` of the budget used, `per_step` seconds per step
 * and `reserve` seconds kept for the evaluation and the outputs. Never below step. */
long gd_deadline_step(double max_seconds, double elapsed, double per_step, double reserve,
                      long step);

#endif
