/* Checkpoints, private to src/train/: the hooks the trainer calls and their state
 * (checkpoint.c), and the file (checkpoint_file.c). The public side, gdmpi/checkpoint.h,
 * holds the file's name and the config hash.
 *
 * checkpoint.h5 (in output.dir) holds everything the run's future depends on, each
 * component declaring its own part (gdmpi/state.h): the parameters, the optimizer state,
 * the best epoch's copy, the metrics rows, the stopping rules, and per rank its position,
 * shard order, random streams, model state and timers. The synchronous modes resume bit for
 * bit; the asynchronous ones from what rank 0 saw. Rank 0 writes it to a temporary name,
 * fsyncs and renames it, so a crash leaves the previous checkpoint whole.
 *
 * The hooks below are collective over t->comm except where said. A strategy without a
 * state op cannot checkpoint: asking for it is a config error, and such a run keeps the
 * default SIGTERM behaviour. */
#ifndef GDMPI_TRAIN_CKPT_H
#define GDMPI_TRAIN_CKPT_H

#include "trainer.h"

#include "gdmpi/checkpoint.h"

#include <stdio.h>

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
    /* The run's resumes so far (the first CK_RESUMES): ranks before, ranks after, the
     * epoch and the step at which it resumed, and whether it was elastic. */
#define CK_RESUMES 64
#define CK_RESUME_FIELDS 5
    int64_t resumes[CK_RESUMES][CK_RESUME_FIELDS];
    long nresumes;
    int elastic;       /* the resume was elastic (another rank count, or a remainder epoch) */
    long ranks_then;   /* the rank count that wrote the checkpoint resumed */
} gd_ckpt;

/* Setup, last: checks that the mode can checkpoint when asked to, and installs the signal
 * handler when it can. */
int gd_checkpoint_setup(gd_trainer *t);
/* Before the first step: train.resume. Restores the checkpoint (or starts afresh) and sets
 * t->first_epoch and t->first_step; a checkpoint that does not match the run is an error
 * that names the difference. Agreed over all ranks. */
int gd_checkpoint_resume(gd_trainer *t);
/* After step s (0-based) of the current epoch: checkpoint_every = Ns, the agreement on a
 * signal (the stop), and a stop in mid-epoch (time budget, max_steps) write a checkpoint. */
int gd_checkpoint_after_step(gd_trainer *t, long s);
/* After an epoch's end (its row and the stop verdict): checkpoint_every = N, and the last
 * epoch of a run that checkpoints. */
int gd_checkpoint_after_epoch(gd_trainer *t);
/* Asynchronous modes, rank 0 alone, no collective: after each update it applied as a
 * server (row = 0) and each metrics row it accepted (row = 1). Writes the periodic
 * checkpoint from what rank 0 sees: every N rows or N updates. The other ranks are not in
 * it: a resume starts each at the epoch after the last row. A failed write ends the job
 * (gd_abort). */
void gd_checkpoint_server_progress(gd_trainer *t, int row);
/* After the strategy's finish: completes the signal agreement, and in ps-async, where the
 * ranks only meet here, writes the checkpoint of the servers' final state. Returns rc, or
 * the error of that write. */
int gd_checkpoint_end(gd_trainer *t, int rc);
/* After the outputs are written: a run that a signal stopped exits with GD_EXIT_SIGNAL
 * and a message (rc stays when it is already an error). */
int gd_checkpoint_exit_status(gd_trainer *t, int rc);
/* How the run starts, for the banner: "a fresh run (...)" or "resuming from PATH: ..." (after
 * gd_checkpoint_resume, before the first step). */
void gd_checkpoint_describe_start(const gd_trainer *t, char *buf, size_t len);
/* Rank 0, summary.json: `  "checkpoint": {...},` (what was written and resumed). */
void gd_checkpoint_json(const gd_trainer *t, FILE *f);
void gd_checkpoint_destroy(gd_trainer *t);

/* Collective over t->comm: gathers the run's state to rank 0, which writes it to k->path
 * (temporary name, fsync, rename). Returns the agreed status. */
int ckpt_write(gd_trainer *t);
/* Rank 0 alone in an asynchronous job, in mid-run: what it sees (see checkpoint_file.c). */
int ckpt_write_lone(gd_trainer *t);
/* Every rank on its own: checks the checkpoint at path against this run (a mismatch is
 * GD_ECONFIG naming it) and restores this rank's part. The caller agrees on the status. */
int ckpt_read(gd_trainer *t, const char *path);

#endif
