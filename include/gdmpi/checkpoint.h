/* Checkpoints and resume: output.checkpoint_every, train.resume, and the stop on SIGTERM /
 * SIGINT.
 *
 * checkpoint.h5 (in output.dir) holds everything the run's future depends on: the
 * parameters, the optimizer state and its step count, the best epoch's parameters (early
 * stopping), the metrics rows so far, the stopping rules' state, and per rank its
 * position (epoch, step, the step within the epoch), its shard order, its random streams
 * (shuffle, the model's own such as dropout, gradient noise), its model state (batch-norm
 * running statistics) and its timers; each component declares its own part (gdmpi/state.h).
 * With it, the synchronous modes resume bit for bit: the same model.h5 as a run that was
 * never stopped; the asynchronous ones from what rank 0 saw. It is written by rank 0 to a temporary
 * name, fsynced and renamed, so a crash leaves the previous checkpoint whole. The layout
 * and what is exact in each mode: docs/outputs.md (layout) and docs/checkpoints.md.
 *
 * The trainer calls the hooks below; every one is collective over t->comm except where
 * said. A strategy without a state op cannot checkpoint: asking for it is a config error,
 * and such a run keeps the default SIGTERM behaviour. */
#ifndef GDMPI_CHECKPOINT_H
#define GDMPI_CHECKPOINT_H

#include "gdmpi/config.h"

#include <stdint.h>
#include <stdio.h>

typedef struct gd_trainer gd_trainer;

#define GD_CHECKPOINT_FILE "checkpoint.h5"

/* 1 for the keys that may change between a checkpoint and its resume (they are left out
 * of the config hash): train.epochs, max_steps, max_seconds, resume, log_every, threads,
 * data.train and data.val (paths: the data may move; rows and width are checked instead),
 * parallel.stall_timeout and the straggler / delay injection keys, and all of [output]. */
int gd_checkpoint_key_may_change(const char *section, const char *name);
/* The checked keys as "section.key = value" lines, and their 64-bit FNV-1a hash. */
size_t gd_checkpoint_config_text(const gd_config *c, char *buf, size_t len);
uint64_t gd_checkpoint_hash(const char *text);

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
/* Rank 0, summary.json: `  "checkpoint": {...},` (what was written and resumed). */
void gd_checkpoint_json(const gd_trainer *t, FILE *f);
void gd_checkpoint_destroy(gd_trainer *t);

#endif
