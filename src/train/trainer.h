/* The trainer, private to src/train/: one struct per concern, each used by the file that
 * owns that concern (train.c: the loop and batches; stopping.c; output.c: metrics and
 * summary; checkpoint*.c; trajectory.c). What the strategy sees is the step context ctx;
 * every field the strategy reads or writes lives there and nowhere else. */
#ifndef GDMPI_TRAIN_TRAINER_H
#define GDMPI_TRAIN_TRAINER_H

#include "gdmpi/config.h"
#include "gdmpi/data.h"
#include "gdmpi/meter.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/parallel.h"
#include "gdmpi/rng.h"
#include "gdmpi/schedule.h"
#include "gdmpi/step.h"
#include "gdmpi/stopping.h"
#include "gdmpi/stream.h"
#include "gdmpi/train.h"
#include "gdmpi/update.h"

#include <mpi.h>
#include <stdio.h>

typedef struct gd_trainer gd_trainer;

/* How each rank walks its shard every epoch (data.order). */
typedef enum { GD_ORDER_SHUFFLE, GD_ORDER_SEQUENTIAL, GD_ORDER_CURRICULUM } gd_order;

/* A row and its curriculum score: the row's loss under the model at the epoch's start. */
typedef struct gd_scored_row {
    float score;
    size_t row;
} gd_scored_row;

/* model.type = testfn has no data; each rank gets this many placeholder rows per epoch. */
#define GD_TESTFN_ROWS 100

/* The batcher: how this rank walks its shard. */
typedef struct gd_batcher {
    size_t rows;           /* rows per step on this rank (the shard for full batch) */
    size_t *order;         /* this rank's permutation of its shard */
    float *bx, *by;        /* the gathered batch */
    gd_rng shuffle_rng;
    gd_order kind;
    gd_scored_row *scores; /* curriculum only: rows by increasing loss */
    int global;            /* data.shuffle = global */
    uint64_t *ids;         /* global: each held row's number in the whole data set */
    uint64_t *starts;      /* global: per worker, where its rows start in an epoch's
                              permutation (workers + 1 entries: the last is the total) */
    /* Elastic resume (elastic.c): the rows of the training set used in the current epoch,
     * one bit each (used: as loaded, the rows used before the resume; save: what a
     * checkpoint writes); and the remainder epoch: the epoch's unused rows, this worker's
     * share, walked in rest_order from step rest_from of the epoch (-1: no remainder). */
    uint64_t *used, *used_save;
    size_t used_words;
    uint64_t total_rows;   /* rows in the training set (every rank knows it) */
    gd_dataset rest;
    uint64_t *rest_ids;
    size_t *rest_order;
    long rest_from;
    int streaming;         /* data.stream: the rows come from stream, not from the shard */
    gd_stream_spec spec;   /* streaming: the plan */
    gd_stream *stream;     /* streaming: open on workers from setup to the end of training */
    uint64_t *bid;         /* streaming: the batch's global row numbers */
    uint64_t stream_plan[3]; /* streaming: chunk rows, buffer rows, shard rows (checkpointed:
                                a resume must replay the same draw) */
    FILE *rowlog;          /* GDMPI_ROW_LOG: every trained row's number, else NULL */
} gd_batcher;

/* The clock: wall time, the time budget and the step limits. */
typedef struct gd_clock {
    double t_job, t_train;          /* job start, training seconds (ctx.t_start: training start) */
    double epoch_end_s;             /* the longest evaluate + metrics write so far */
    long step_limit;                /* stop at this step: max_steps or the time budget */
    long next_budget_check;         /* the step of the next time-budget agreement */
} gd_clock;

/* The stopping rules' state and the verdict. */
typedef struct gd_stopping {
    gd_tol_rule tol;
    gd_early_stop early;
    float *best_w;                  /* the best epoch's parameters and model state (patience) */
    gd_stop_reason reason;
} gd_stopping;

/* metrics.csv's rows so far (rank 0 writes them). */
typedef struct gd_metrics {
    gd_metrics_row *rows;
    long nrows;
} gd_metrics;

/* steps.csv (steps.c): rank 0's rows not yet written, and what a checkpoint keeps. */
#define GD_STEPS_BUFFER 256

typedef struct gd_step_row {
    long step, epoch;
    double wall, samples, train_loss, lr, grad_norm;
} gd_step_row;

typedef struct gd_steps {
    gd_step_row *buf;      /* rank 0 with output.log_every: GD_STEPS_BUFFER rows */
    int nbuf;
    FILE *file;            /* steps.csv, open for appending (NULL: no rows here) */
    double sums[2];        /* the loss sum and samples since the last row (checkpointed) */
    long bytes;            /* steps.csv's length after the last flush (checkpointed) */
} gd_steps;

/* The console (progress.c): rank 0's banner and, on a terminal, the in-epoch line. */
typedef struct gd_console {
    gd_meter meter;          /* the in-epoch line: on for rank 0 on a terminal; its clock
                                is MPI_Wtime() */
    double t0, samples0;     /* this process's training start, and the samples seen then */
    long step0;
    long rows_min, rows_max; /* rows per worker (plan_batches) */
    long stream_chunk, stream_buffer; /* data.stream: rows per chunk and in the buffer (0:
                                         in memory) */
} gd_console;

struct gd_trainer {
    const gd_config *cfg;
    MPI_Comm comm;
    int rank, size;
    gd_step_ctx ctx;       /* what the strategy sees: roles, model, optimizer, the step */
    int data_rank, data_size; /* this worker's place among the workers (its shard, its
                              shuffle stream, `{rank}` in file names) */
    MPI_Comm agree_comm;   /* the ranks that take each training decision together (time
                              budget, stop, validation sums): comm, or MPI_COMM_SELF for an
                              asynchronous worker, which meets nobody */
    gd_dataset train, val;
    int has_val;
    gd_model model;
    gd_optim optim;
    gd_update update;
    gd_schedule schedule;
    const gd_strategy_ops *strategy;
    FILE *trajectory;      /* testfn on rank 0: trajectory.csv being written (else NULL) */

    gd_batcher batch;
    gd_clock clock;
    gd_stopping stopping;
    gd_metrics metrics;
    gd_steps steps;
    gd_console console;

    /* Checkpoints (checkpoint.c). After a resume the loop starts in first_epoch (0: 1), of
     * which the checkpoint had taken first_step steps (0: a fresh epoch, else its order and
     * sums are restored, not redrawn). */
    long first_epoch, first_step;
    struct gd_ckpt *ckpt;
};

/* The trainer that holds step context ctx (the host callbacks get only ctx). */
gd_trainer *gd_trainer_of(gd_step_ctx *x);

/* A stop the strategy decided (ctx.stop) becomes the run's, unless it has one already. */
static inline void gd_take_stop(gd_trainer *t)
{
    if (t->ctx.stop != GD_STOP_NONE && t->stopping.reason == GD_STOP_NONE)
        t->stopping.reason = t->ctx.stop;
}

/* Rank 0 of an asynchronous job: appends a row that the lead worker measured and the
 * servers completed, prints it, rewrites metrics.csv; returns GD_STOP_TOL when train.tol
 * says stop, else GD_STOP_NONE. */
gd_stop_reason gd_accept_row(gd_trainer *t, const gd_metrics_row *row);

/* Writes summary.json's stopping members: stop_reason, best_epoch and best_val_loss (the
 * lowest validation loss and its epoch; null without validation data) and restored_best
 * (model.h5 holds that epoch's parameters: early stopping), each line `  "name": value,`. */
void gd_json_stopping(const gd_trainer *t, FILE *f);

/* trajectory.csv for testfn runs (rank 0): step, x, y, f after every step. */
int gd_trajectory_open(gd_trainer *t);
void gd_trajectory_record(gd_trainer *t);
/* Commits it; with `failed` set and no step recorded, drops it instead (the earlier file stays). */
int gd_trajectory_close(gd_trainer *t, int failed);

/* Checkpoints (gdmpi/state.h): each concern declares its own state. batcher: "batcher/order"
 * and "batcher/rng" (train.c); stopping: the rules' figures and the best epoch's copy, held
 * as the strategy holds "model/params" (one copy when every rank trains its own: the row's
 * model is the same on all) (stopping.c); metrics: "metrics/rows", of which *rows are saved
 * and which a load sets (output.c). */
void gd_batcher_declare(gd_trainer *t, gd_state *s);
/* data.shuffle = global (global_shuffle.c), on workers, collective over the workers: setup
 * numbers the rows (and, in an asynchronous mode, redistributes them once); each epoch of
 * a synchronous mode redistributes them by that epoch's permutation. */
int gd_global_shuffle_setup(gd_trainer *t);
/* data.partition = label-skew (partition.c), on workers, collective over the workers, after
 * the data is read and before the batches are planned: moves the rows to their skewed
 * shards. */
int gd_partition_setup(gd_trainer *t);
int gd_global_shuffle_epoch(gd_trainer *t, long epoch);
/* Elastic resume (elastic.c). setup: collective over t->comm after plan_batches (the row
 * bitmaps). declare: "batcher/used" (a save first gathers, collectively, the rows the epoch
 * has used). refusal: why this run cannot resume a checkpoint of ranks_then ranks (a
 * message, GD_ECONFIG) or GD_OK. remainder: collective over t->comm after an elastic load
 * in mid-epoch: deals the epoch's unused rows out to the workers and returns, agreed, the
 * step of the epoch at which they start (*from). end: after the epoch, back to the shard. */
int gd_elastic_setup(gd_trainer *t);
void gd_elastic_declare(gd_trainer *t, gd_state *s, gd_state_use use);
int gd_elastic_refusal(const gd_trainer *t, long ranks_then, long servers_then);
int gd_elastic_remainder(gd_trainer *t, long *from);
void gd_elastic_end(gd_trainer *t);
/* A save now falls inside an elastic resume's remainder epoch (not at its end). */
int gd_elastic_in_remainder(const gd_trainer *t);
/* The global number of the shard's row r (its place in the file). */
uint64_t gd_batcher_row_id(const gd_trainer *t, size_t r);
void gd_stopping_declare(gd_trainer *t, gd_state *s);

/* data.stream (streaming.c). load: the training shard into memory, or (streaming: data.stream
 * = true, or auto above data.memory_mb) its shape and labels and the stream's plan (collective
 * over the workers). epoch_rows_max: the most rows a worker gets in an epoch. start: after the
 * label checks, frees the labels and opens the stream. plan_check: the plan a resume loaded must be
 * this run's (checked as each epoch starts: a mismatch ends the job). batch: the next batch from the stream (ends the job when
 * the reader failed). close_all: the stream, the batch numbers and the row log. */
gd_order gd_order_from_config(const gd_config *c);
int gd_stream_load(gd_trainer *t);
uint64_t gd_stream_epoch_rows_max(const gd_trainer *t);
int gd_stream_start(gd_trainer *t);
int gd_stream_plan_check(const gd_trainer *t);
size_t gd_stream_batch(gd_trainer *t, const float **x, const float **y);
void gd_stream_close_all(gd_trainer *t);
/* GDMPI_ROW_LOG=<dir>: each worker appends "epoch step row" for every row it trains on to
 * <dir>/rows.<rank> (buffered; flushed before each checkpoint). Off: rowlog stays NULL. */
int gd_rowlog_open(gd_trainer *t);
void gd_rowlog(const gd_trainer *t, uint64_t row);
void gd_metrics_declare(gd_trainer *t, gd_state *s, long *rows);

/* steps.csv (steps.c), rank 0 with output.log_every (elsewhere these do nothing). open:
 * after the resume, a fresh file or the resumed one's prefix; record: after every step
 * (a row every log_every steps); flush: the buffered rows (durable: fsynced, before a
 * checkpoint records the length); close: the last rows. A failed write ends the job.
 * declare: "steps/sums" and "steps/bytes" (rank 0's, as GD_SHARED). */
int gd_steps_open(gd_trainer *t);
void gd_steps_record(gd_trainer *t);
void gd_steps_flush(gd_trainer *t, int durable);
void gd_steps_close(gd_trainer *t);
void gd_steps_declare(gd_trainer *t, gd_state *s);

/* The console (progress.c). banner: rank 0 prints version, ranks and roles, mode, model,
 * rows per worker, steps per epoch, output dir and how the run starts (after the resume);
 * step: after step s of the epoch, on a terminal, redraws the progress line (a few times a
 * second at most); clear: wipes that line before a whole line is printed. */
void gd_console_banner(gd_trainer *t);
void gd_console_step(gd_trainer *t, long s);
void gd_console_clear(gd_trainer *t);

/* Outputs (rank 0 writes; every file goes to a temporary name, then rename). */
int gd_write_metrics(const gd_trainer *t);
int gd_write_summary(const gd_trainer *t, int status, const char *message);

#endif
