/* The step context: everything a parallel strategy sees of a training run, and the only
 * header of the training layer that a strategy includes (docs/design.md, "Layers").
 *
 * The trainer owns one gd_step_ctx per rank. Each field says who writes it: the trainer
 * (before the strategy's setup, or before each step), or the strategy (in setup, in step,
 * or at an epoch's end). A strategy never sees the trainer itself; what it needs from the
 * trainer beyond these fields (metrics rows, checkpoint progress, trace spans, signals) it
 * asks through ctx->host. A strategy keeps its own state in ctx->state, and where it trains
 * parameters of its own (a shared window, a local copy, the center variable) it points
 * ctx->model->w at them, and back at the model's own buffer in destroy. */
#ifndef GDMPI_STEP_H
#define GDMPI_STEP_H

#include "gdmpi/compress.h"
#include "gdmpi/config.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/schedule.h"
#include "gdmpi/update.h"

#include <mpi.h>

/* Where each rank's time goes; the fractions in metrics.csv are of the training time. */
typedef enum { GD_T_COMPUTE, GD_T_COMM, GD_T_WAIT, GD_T_IO, GD_T_EVAL, GD_T_COUNT } gd_timer_kind;

typedef struct gd_metrics_row {
    long epoch, step;
    double wall, samples, train_loss, val_loss, val_acc, lr, samples_per_s;
    double compute_frac, comm_frac, wait_frac;
    double bytes_sent, bytes_recv, bytes_dense; /* this epoch's, the lead's (NaN: not counted) */
    double eval_s; /* the seconds this row's validation took (outside the training timers) */
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

typedef struct gd_step_ctx gd_step_ctx;

/* The trainer's services. Every member may be NULL (a test driving a strategy alone). */
typedef struct gd_step_host {
    /* output.trace: a span of timer kind k, or a named phase (name != NULL). */
    void (*span)(gd_step_ctx *ctx, int kind, const char *name, double t0, double t1);
    /* Rank 0 of an asynchronous job: appends a row that the lead worker measured and the
     * servers completed, prints it, rewrites metrics.csv; GD_STOP_TOL when train.tol says
     * stop, else GD_STOP_NONE. Sets ctx->epoch to the row's epoch. */
    gd_stop_reason (*accept_row)(gd_step_ctx *ctx, const gd_metrics_row *row);
    /* An asynchronous job's servers, on rank 0: after each update it applied (row = 0), for
     * output.checkpoint_every = Ns (rank 0 writes alone; the rows' cadence is accept_row's). */
    void (*server_progress)(gd_step_ctx *ctx, int row);
    /* 1 once SIGTERM, SIGINT or SIGUSR1 arrived on this rank. */
    int (*signal_pending)(void);
    /* Synchronous modes, collective over the ranks that hold validation data: the mean
     * validation loss and the accuracy of the parameters in ctx->model->w (NaN without
     * data.val; accuracy NaN for regression), timed as eval. Gossip evaluates rank 0's own
     * parameters with it beside the average that the row describes. */
    void (*evaluate)(gd_step_ctx *ctx, double *loss, double *acc);
} gd_step_host;

struct gd_step_ctx {
    /* ---- the run: written by the trainer before setup ---- */
    const gd_config *cfg;
    MPI_Comm comm;          /* every rank of the job */
    int rank, size;
    /* Roles. With parameter servers (gd_strategy_ops.has_servers), ranks 0..nservers-1
     * serve and hold no data; the others are workers. Without, every rank is a worker. */
    int nservers, serving;
    int lead;               /* the first worker: its timers give metrics.csv's fractions,
                               and in an asynchronous job it evaluates */
    MPI_Comm role_comm;     /* the ranks of this rank's role (comm without servers) */
    long steps_per_epoch;   /* the same on every rank */
    gd_model *model;        /* w, g (nparams + GD_GRAD_EXTRA floats), state */
    gd_optim *optim;        /* a strategy may recreate it for its slice (servers) */
    gd_update *update;      /* the update pipeline; update->optim is optim */
    const gd_schedule *schedule;
    const gd_step_host *host;
    double t_start;         /* MPI_Wtime() when training started */

    /* ---- written by the strategy's setup (the trainer's defaults are in brackets) ---- */
    void *state;            /* the strategy's own */
    int workers_per_step;   /* ranks whose gradients make one step: the linear scaling
                               rule's factor [size - nservers] */
    long updates_per_epoch; /* optimizer steps per epoch, for the schedule [steps_per_epoch] */

    /* ---- each step: written by the trainer before step() ---- */
    long epoch, step;       /* epoch from 1; optimizer steps taken before this one */
    double lr;              /* from the schedule */
    double batch_loss, batch_count; /* this rank's sums; its gradient sums are in model->g */
    int may_stop;           /* 1: the loop may end after this step (the epoch's last step,
                               a step limit, or a time-budget check), so a strategy whose
                               ranks hold divergence news of their own must share it now */

    /* ---- each step: written by the strategy ---- */
    double step_loss, step_count;   /* the sums the step used (global when synchronous) */
    gd_divergence diverged;         /* the step was refused: not finite */
    gd_stop_reason stop;            /* a stop decided elsewhere (servers, the group) */
    double samples_seen;            /* global samples that made steps: the trainer adds
                                       step_count; an asynchronous server counts its own */

    /* ---- each epoch's end (epoch_row): the trainer's sums, which a strategy whose ranks
     * count only their own samples replaces with the global ones ---- */
    double epoch_loss, epoch_count;
    int best_kept;          /* before finish: early stopping kept a best epoch, restored
                               into the model */

    double timers[GD_T_COUNT];
    /* Bytes on the wire, this rank's running totals (gdmpi/compress.h: GD_WIRE_SENT, RECV,
     * DENSE), kept by a strategy that sets counts_wire in setup (metrics.csv's bytes). */
    double wire[GD_WIRE_COUNT];
    int counts_wire;
};

/* Checkpoints: the usual declaration of the parameters the strategy trains and of their
 * optimizer state, both held as scope says: GD_SHARED (the same on every rank; len is what
 * this rank loads, nparams or 0), GD_PER_RANK (each rank its own copy), GD_SLICED (this
 * rank owns [lo, lo + len), a parameter server). */
static inline void gd_step_declare(gd_step_ctx *ctx, gd_state *s, gd_state_scope scope, size_t lo,
                                   size_t len)
{
    const size_t n = ctx->model->nparams, at = scope == GD_SLICED ? lo : 0;
    gd_state_field *p = gd_state_add_slice(s, GD_STATE_F32, ctx->model->w + at, 1, at, len,
                                           scope == GD_SLICED ? n : len, "model/params");
    p->scope = scope;
    p->elastic = GD_EL_MEAN; /* each rank's own copy (local modes): a resume averages them */
    gd_optim_declare(ctx->optim, s, scope, at, n);
}

/* Adds the seconds since *since to timer k and resets *since to now. */
static inline void gd_step_time(gd_step_ctx *ctx, gd_timer_kind k, double *since)
{
    double now = MPI_Wtime();
    ctx->timers[k] += now - *since;
    if (ctx->host && ctx->host->span)
        ctx->host->span(ctx, (int)k, NULL, *since, now);
    *since = now;
}

/* output.trace: a named phase of this rank (a server's "apply"). */
static inline void gd_step_span(gd_step_ctx *ctx, const char *name, double t0, double t1)
{
    if (ctx->host && ctx->host->span)
        ctx->host->span(ctx, -1, name, t0, t1);
}

/* Records a divergence (the first one sticks). */
static inline void gd_step_diverge(gd_step_ctx *ctx, gd_divergence d)
{
    if (ctx->diverged == GD_DIV_NONE)
        ctx->diverged = d;
}

/* Records a stop decided elsewhere (the first one sticks). */
static inline void gd_step_stop(gd_step_ctx *ctx, gd_stop_reason why)
{
    if (ctx->stop == GD_STOP_NONE)
        ctx->stop = why;
}

/* The whole pipeline on the full vector: ctx->model->w, g the gradient sum over
 * ctx->step_count (> 0) samples, ctx->step_loss (the
 * penalties' loss is added), ctx->lr and ctx->step. Records a divergence. */
static inline void gd_step_update(gd_step_ctx *ctx, float *g)
{
    double loss = ctx->step_loss;
    gd_step_diverge(ctx, gd_update_apply(ctx->update, ctx->model->w, 0, ctx->model->nparams, g, &loss,
                                       ctx->step_count, ctx->lr, ctx->step, MPI_COMM_NULL));
    ctx->step_loss = loss;
}

#endif
