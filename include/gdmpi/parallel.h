/* Parallel strategies: how the ranks' gradient sums become one optimizer step. */
#ifndef GDMPI_PARALLEL_H
#define GDMPI_PARALLEL_H

#include "gdmpi/config.h"
#include "gdmpi/step.h"

#include <stdio.h>

/* A strategy: an ops table (docs/design.md, "Writing a strategy"). Every op gets the step
 * context; those that can fail return GD_OK or an error code with gd_fail's message. setup
 * is agreed over all ranks; a failure of step, epoch_row, refresh or report, in the middle
 * of training where the other ranks cannot be told, ends the job (gd_abort). */
typedef struct gd_strategy_ops {
    const char *name;
    /* Capabilities: what the trainer and the other components may rely on. */
    /* 1: ranks 0..parallel.servers-1 are servers: they hold no data (x->serving) and the
     * workers' data is split among the other ranks (x->role_comm). */
    int has_servers;
    /* 1: workers never meet between setup and finish (no collective): each one decides
     * its own stop, the servers run serve(), and the lead worker reports the epochs' rows
     * through refresh() and report(). Without servers (hogwild) the lead is rank 0, whose
     * report() hands the row to x->host->accept_row itself. */
    int async;
        /* 1: every worker holds the same parameters after each step and all of them take part
     * in every step (model.sync_bn's reductions then line up). */
    int lockstep;
    /* 1: model.sync_bn works: the model's batch-norm reductions over the workers line up
     * with every step (allreduce). */
    int sync_bn;
    /* 1: parallel.compress works: the strategy exchanges its gradients through a compressor
     * (gdmpi/compress.h) and counts the bytes on the wire. */
    int compresses;
    /* Why a checkpoint of another rank count cannot resume in this mode (elastic resume,
     * docs/checkpoints.md), or NULL: it can. */
    const char *not_elastic;
    /* Optional: checks that need only the config and the rank count, before any data is
     * read (GD_ECONFIG with a message). */
    int (*check)(const gd_config *c, int size);
    /* Called once, collectively, after the model and optimizer exist. */
    int (*setup)(gd_step_ctx *x);
    /* Takes this rank's gradient sums in x->model->g with x->batch_loss and x->batch_count,
     * and leaves x->model->w ready for the next batch. Sets x->step_loss and x->step_count to
     * the sums that the step used (global for synchronous strategies); a refused step sets
     * x->diverged, a stop decided elsewhere x->stop. */
    int (*step)(gd_step_ctx *x);
    /* Async: a server's whole training in place of the epoch loop; returns when every
     * worker is done, with the run's status (x->stop: how it ended). */
    int (*serve)(gd_step_ctx *x);
    /* Async, lead worker: brings x->model->w up to the servers' current parameters. */
    int (*refresh)(gd_step_ctx *x);
    /* Async, lead worker: hands an epoch's row to rank 0, which accepts it. */
    int (*report)(gd_step_ctx *x, const gd_metrics_row *row);
    /* Optional, synchronous strategies whose ranks train different parameters and count
     * only their own samples (easgd, local-sgd). Collective over x->comm; the trainer calls
     * it at each epoch's end with begin = 1 before the row is recorded: the strategy sums
     * the epoch's loss and samples over the ranks (x->epoch_loss, epoch_count, samples_seen)
     * and puts the model that the row describes (the average, the center variable) in
     * x->model->w; and with begin = 0 once the epoch's decisions are taken (the best epoch
     * kept), to put back the parameters it trains. */
    int (*epoch_row)(gd_step_ctx *x, int begin);
    /* Called once after the last step, collectively; leaves the final model in x->model->w
     * (on rank 0 at least: it writes model.h5). x->best_kept says whether early stopping
     * already restored the best epoch's parameters there. */
    int (*finish)(gd_step_ctx *x);
    /* Optional, rank 0 only: writes strategy-specific members into summary.json, each line
     * `  "name": value,` (e.g. the allreduce's hidden and exposed communication time). */
    void (*summary)(const gd_step_ctx *x, FILE *f);
    /* Checkpoints (optional: a strategy without it cannot checkpoint): declares the
     * parameters it trains ("model/params"), the optimizer state and its own fields
     * (gdmpi/state.h; gd_step_declare covers the usual case), for use: GD_STATE_SAVE on every rank, collectively (it may communicate first);
     * GD_STATE_SAVE_LONE on rank 0 alone while the other ranks run on (asynchronous
     * strategies): what rank 0 can see, whole (it may first ask the other servers for their
     * slices); GD_STATE_LOAD on each rank, without communication. */
    int (*state)(gd_step_ctx *x, gd_state *s, gd_state_use use);
    /* Optional: called on every rank after a checkpoint was restored (x->step, the
     * parameters and the optimizer state are the checkpoint's), before training goes on. */
    int (*resumed)(gd_step_ctx *x);
    void (*destroy)(gd_step_ctx *x);
} gd_strategy_ops;

const gd_strategy_ops *gd_strategy_find(const char *name);
/* "allreduce|ps|...": the registry's names, for the config's name check. */
const char *gd_strategy_names(void);
/* "allreduce, ps, ...": the strategies that declare their state (can checkpoint), for messages. */
const char *gd_strategy_checkpointing(void);

#endif
