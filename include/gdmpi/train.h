/* The training loop: batches -> loss_grad -> strategy step -> metrics. */
#ifndef GDMPI_TRAIN_H
#define GDMPI_TRAIN_H

#include "gdmpi/config.h"
#include "gdmpi/data.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/parallel.h"
#include "gdmpi/rng.h"
#include "gdmpi/schedule.h"

#include <mpi.h>
#include <stdio.h>

/* Where each rank's time goes; the fractions in metrics.csv are of the training time. */
typedef enum { GD_T_COMPUTE, GD_T_COMM, GD_T_WAIT, GD_T_IO, GD_T_EVAL, GD_T_COUNT } gd_timer_kind;

typedef struct gd_metrics_row {
    long epoch, step;
    double wall, samples, train_loss, val_loss, val_acc, lr, samples_per_s;
    double compute_frac, comm_frac, wait_frac;
} gd_metrics_row;

/* Why a run ended: summary.json's stop_reason. */
typedef enum {
    GD_STOP_NONE,        /* still running */
    GD_STOP_EPOCHS,      /* train.epochs done */
    GD_STOP_MAX_STEPS,   /* train.max_steps reached */
    GD_STOP_MAX_SECONDS, /* train.max_seconds would run out before the next step */
    GD_STOP_TOL,         /* the training loss stopped changing (train.tol) */
    GD_STOP_EARLY,       /* train.patience epochs without a better validation loss */
    GD_STOP_SIGNAL,      /* SIGTERM or SIGINT: checkpoint, outputs, exit status 5 */
    GD_STOP_DIVERGED,    /* non-finite loss or gradient (the highest: ranks agree by MAX) */
    GD_STOP_COUNT
} gd_stop_reason;

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

/* Writes summary.json's stopping members: stop_reason, best_epoch and best_val_loss (the
 * lowest validation loss and its epoch; null without validation data) and restored_best
 * (model.h5 holds that epoch's parameters: early stopping), each line `  "name": value,`. */
void gd_json_stopping(const gd_trainer *t, FILE *f);

/* How each rank walks its shard every epoch (data.order). */
typedef enum { GD_ORDER_SHUFFLE, GD_ORDER_SEQUENTIAL, GD_ORDER_CURRICULUM } gd_order;

/* A row and its curriculum score: the row's loss under the model at the epoch's start. */
typedef struct gd_scored_row {
    float score;
    size_t row;
} gd_scored_row;

/* model.type = testfn has no data; each rank gets this many placeholder rows per epoch. */
#define GD_TESTFN_ROWS 100

/* trajectory.csv for testfn runs (rank 0): step, x, y, f after every step. */
int gd_trajectory_open(gd_trainer *t);
void gd_trajectory_record(gd_trainer *t);
/* Commits it; with `failed` set and no step recorded, drops it instead (the earlier file stays). */
int gd_trajectory_close(gd_trainer *t, int failed);

struct gd_trainer {
    const gd_config *cfg;
    MPI_Comm comm;
    int rank, size;
    /* Roles. With parameter servers (gd_strategy_ops.has_servers), ranks 0..nservers-1
     * serve and hold no data; the others are workers. Without, every rank is a worker. */
    int nservers;
    int serving;           /* this rank is a server */
    FILE *trajectory;      /* testfn on rank 0: trajectory.csv being written (else NULL) */
    int lead;              /* the first worker's rank: its timers give metrics.csv's
                              fractions, and in an asynchronous job it evaluates */
    MPI_Comm role_comm;    /* the ranks of this rank's role: the workers (the data is loaded
                              and sharded over them) or the servers; comm without servers */
    int data_rank, data_size; /* this worker's place among the workers (its shard, its
                              shuffle stream, `{rank}` in file names) */
    MPI_Comm agree_comm;   /* the ranks that take each training decision together (time
                              budget, stop, validation sums): comm, or MPI_COMM_SELF for an
                              asynchronous worker, which meets nobody */
    gd_dataset train, val;
    int has_val;
    gd_model model;
    gd_optim optim;
    const gd_strategy_ops *strategy;
    void *strategy_state;

    size_t batch_rows;     /* rows per step on this rank (the shard for full batch) */
    long steps_per_epoch;  /* the same on every rank: max over ranks of ceil(rows / batch) */
    long updates_per_epoch; /* optimizer steps per epoch, for the schedule: steps_per_epoch,
                               or every worker's pushes (a ps-async server's updates) */
    size_t *order;         /* this rank's permutation of its shard */
    float *bx, *by;        /* the gathered batch */
    gd_rng shuffle_rng;
    gd_order order_kind;
    gd_scored_row *scores; /* curriculum only: rows by increasing loss */

    long epoch, step;      /* epoch counts from 1; step counts optimizer steps taken */
    double lr;             /* the lr in force for the current step (from the schedule) */
    gd_schedule schedule;
    /* Ranks whose gradients make one optimizer step: the linear scaling rule multiplies
     * lr by it. The trainer sets t->size before the strategy's setup; a strategy whose
     * step combines fewer ranks (servers, asynchronous updates) lowers it there. */
    int workers_per_step;
    gd_rng noise_rng;      /* gradient noise: (seed, 0, GD_RNG_NOISE) on every rank */
    const char *diverged;  /* set by gd_apply_update: "loss" or "gradient" went non-finite */
    double batch_loss, batch_count; /* this rank's sums for the current step */
    double step_loss, step_count;   /* the sums the strategy's step used */
    double epoch_loss, epoch_count;
    double samples_seen;            /* global samples that made steps */

    double t_job, t_start, t_train; /* job start, training start, training seconds */
    double epoch_end_s;             /* the longest evaluate + metrics write so far */
    long step_limit;                /* stop at this step: max_steps or the time budget */
    long next_budget_check;         /* the step of the next time-budget agreement */

    gd_tol_rule tol;
    gd_early_stop early;
    float *best_w;                  /* the best epoch's parameters and model state (patience) */
    gd_stop_reason stop_reason;
    double timers[GD_T_COUNT];

    gd_metrics_row *rows;
    long nrows;

    /* Checkpoints (checkpoint.c). After a resume the loop starts in first_epoch (0: 1), of
     * which the checkpoint had taken first_step steps (0: a fresh epoch, else its order and
     * sums are restored, not redrawn). */
    long first_epoch, first_step;
    struct gd_ckpt *ckpt;
};

/* Runs a whole training job, collectively over comm. Returns the exit status. */
int gd_train(const gd_config *cfg, MPI_Comm comm);

/* Called by every strategy once the combined mean gradient is in g (nparams floats,
 * t->step_loss and t->step_count set): adds the l2 and l1 penalties (their loss into
 * t->step_loss), checks that loss and gradient are finite (else sets t->diverged and
 * leaves w alone), clips g to train.clip_norm, adds gradient noise, and takes the
 * optimizer step on t->model.w with t->lr. */
void gd_apply_update(gd_trainer *t, float *g);

/* The same on the slice [lo, lo + n) of the parameters, g holding that slice of the mean
 * gradient and t->optim that slice's optimizer (a parameter server's). The penalty loss and
 * the squared norm are summed over `peers`, the owners of the other slices (MPI_COMM_NULL:
 * there are none), so that clipping and the divergence check see the whole gradient. */
void gd_apply_update_slice(gd_trainer *t, size_t lo, size_t n, float *g, MPI_Comm peers);

/* gd_apply_update's parts, for a strategy that assembles the global figures itself.
 * Penalties: adds the l2 and l1 gradient of parameters [lo, lo + n) to g (unless g is
 * NULL) and returns their loss per sample. Step: checks t->step_loss and sumsq (the
 * squared norm of the whole gradient) are finite, else sets t->diverged and returns 0;
 * then clips g by the norm, adds this slice's share of the gradient noise and takes the
 * optimizer step on w[lo, lo + n) with lr; returns 1. */
double gd_update_penalties(gd_trainer *t, size_t lo, size_t n, float *g);
int gd_update_step(gd_trainer *t, size_t lo, size_t n, float *g, double sumsq, double lr);

/* Rank 0 of an asynchronous job: appends a row that the lead worker measured and the
 * servers completed, prints it, rewrites metrics.csv; returns GD_STOP_TOL when train.tol
 * says stop, else GD_STOP_NONE. */
gd_stop_reason gd_accept_row(gd_trainer *t, const gd_metrics_row *row);

/* Adds the seconds since *since to timer k and resets *since to now. */
void gd_timer_add(gd_trainer *t, gd_timer_kind k, double *since);

/* Outputs (rank 0 writes; every file goes to a temporary name, then rename). */
int gd_write_metrics(const gd_trainer *t);
int gd_write_summary(const gd_trainer *t, int status, const char *message);
#include "gdmpi/fs.h"

/* Version line pieces for --version and summary.json. */
void gd_versions(char *mpi, size_t mpi_len, char *blas, size_t blas_len, char *hdf5,
                 size_t hdf5_len);

#define GDMPI_VERSION "0.1.0"

#endif
