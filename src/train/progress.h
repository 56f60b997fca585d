/* The console of a training run (rank 0): the start-up banner, and on a terminal a
 * progress line that redraws within the epoch. Private to src/train/; the formatting is
 * apart from the trainer so that a unit test can pin it without a terminal. */
#ifndef GDMPI_TRAIN_PROGRESS_H
#define GDMPI_TRAIN_PROGRESS_H

#include <stddef.h>

/* What the progress line shows. */
typedef struct gd_progress_figures {
    long epoch, epochs;          /* the epoch in progress (from 1), and train.epochs */
    long step, steps;            /* steps of this epoch done, and steps per epoch */
    double elapsed_s;            /* training seconds so far (a resumed run's included) */
    double samples_per_s;        /* over this process's training so far */
    double eta_s;                /* seconds to the planned last step (NaN: not known yet) */
} gd_progress_figures;

/* "epoch 3/10  step 120/313  elapsed 4s  1520 samples/s  ETA 1m06s" into buf (len bytes,
 * cut to fit); returns the length written. */
size_t gd_progress_format(char *buf, size_t len, const gd_progress_figures *p);

/* Seconds as a person reads them: "42s", "3m07s", "2h05m" ("?" when NaN or negative). */
void gd_progress_duration(char *buf, size_t len, double s);

#endif
