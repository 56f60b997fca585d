/* Parallel strategies: how the ranks' gradient sums become one optimizer step. */
#ifndef GDMPI_PARALLEL_H
#define GDMPI_PARALLEL_H

#include "gdmpi/config.h"

#include <stdio.h>

typedef struct gd_trainer gd_trainer;
typedef struct gd_metrics_row gd_metrics_row;

typedef struct gd_strategy_ops {
    const char *name;
    /* 1: ranks 0..parallel.servers-1 are servers: they hold no data (t->serving) and the
     * workers' data is split among the other ranks (t->role_comm). */
    int has_servers;
    /* 1: workers never meet between setup and finish (no collective): each one decides
     * its own stop, the servers run serve(), and the lead worker reports the epochs' rows
     * through refresh() and report(). Without servers (hogwild) the lead is rank 0, whose
     * report() hands the row to gd_accept_row itself. */
    int async;
    /* Optional: checks that need only the config and the rank count, before any data is
     * read (GD_ECONFIG with a message). */
    int (*check)(const gd_config *c, int size);
    /* Called once, collectively, after the model and optimizer exist. */
    int (*setup)(gd_trainer *t);
    /* Takes this rank's gradient sums in t->model.g with t->batch_loss and t->batch_count,
     * and leaves t->model.w ready for the next batch. Sets t->step_loss and t->step_count to
     * the sums that the step used (global for synchronous strategies). */
    void (*step)(gd_trainer *t);
    /* Async: a server's whole training in place of the epoch loop; returns when every
     * worker is done, with the run's status. */
    int (*serve)(gd_trainer *t);
    /* Async, lead worker: brings t->model.w up to the servers' current parameters. */
    void (*refresh)(gd_trainer *t);
    /* Async, lead worker: hands an epoch's row to rank 0, which calls gd_accept_row. */
    void (*report)(gd_trainer *t, const gd_metrics_row *row);
    /* Optional, synchronous strategies whose ranks train different parameters and count
     * only their own samples (easgd, local-sgd). Collective over t->comm; the trainer calls
     * it at each epoch's end with begin = 1 before the row is recorded: the strategy sums
     * the epoch's loss and samples over the ranks and puts the model that the row describes
     * (the average, the center variable) in t->model.w; and with begin = 0 once the epoch's
     * decisions are taken (the best epoch kept), to put back the parameters it trains. */
    void (*epoch_row)(gd_trainer *t, int begin);
    /* Called once after the last step, collectively; leaves the final model in t->model.w
     * (on rank 0 at least: it writes model.h5). */
    void (*finish)(gd_trainer *t);
    /* Optional, rank 0 only: writes strategy-specific members into summary.json, each line
     * `  "name": value,` (e.g. the allreduce's hidden and exposed communication time). */
    void (*summary)(const gd_trainer *t, FILE *f);
    /* Optional: called on every rank after a checkpoint was restored (t->step, the
     * parameters and the optimizer state are the checkpoint's), before training goes on. */
    void (*resumed)(gd_trainer *t);
    void (*destroy)(gd_trainer *t);
} gd_strategy_ops;

const gd_strategy_ops *gd_strategy_find(const char *name);
/* "allreduce|ps|...": the registry's names, for the config's name check. */
const char *gd_strategy_names(void);

#endif
