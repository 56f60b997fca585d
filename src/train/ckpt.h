/* Checkpoints, private to src/train/: the hooks' state (checkpoint.c) and the file format
 * (checkpoint_file.c). The public side is gdmpi/checkpoint.h. */
#ifndef GDMPI_TRAIN_CKPT_H
#define GDMPI_TRAIN_CKPT_H

#include "trainer.h"

typedef struct gd_ckpt {
    long every_epochs, every_steps; /* output.checkpoint_every (0: that cadence is off) */
    int enabled;                    /* the mode can checkpoint (and hears signals) */
    char path[GD_PATH_MAX + 32];    /* output.dir/checkpoint.h5 */
    char resumed_from[GD_PATH_MAX + 32]; /* the checkpoint this run started from ("": none) */
    long pos;                       /* steps taken in the current epoch; 0 once it is over */
    long written, written_step;     /* checkpoints this run wrote; the step of the last (-1) */
    int signal;                     /* the signal the ranks agreed to stop on (0: none) */
    int flag;                       /* the signal number in the reduction in flight */
    MPI_Request req;                /* that reduction (synchronous modes) */
    long check_every;               /* look for a signal every this many steps */
    long steps_timed;               /* steps of this epoch so far, from t0 */
    double t0;
    /* The trainer's figures as the checkpoint holds them (filled before a save, read back
     * after a load): checkpoint_file.c's progress group and the metrics rows saved. */
#define CK_POSITION 3
#define CK_SUMS 4
    int64_t position[CK_POSITION];
    double sums[CK_SUMS], wall;
    long metrics_rows;
} gd_ckpt;

/* Collective over t->comm: gathers the run's state to rank 0, which writes it to k->path
 * (temporary name, fsync, rename). Returns the agreed status. */
int ckpt_write(gd_trainer *t);
/* Rank 0 alone in an asynchronous job, in mid-run: what it sees (see checkpoint_file.c). */
int ckpt_write_lone(gd_trainer *t);
/* Every rank on its own: checks the checkpoint at path against this run (a mismatch is
 * GD_ECONFIG naming it) and restores this rank's part. The caller agrees on the status. */
int ckpt_read(gd_trainer *t, const char *path);

#endif
