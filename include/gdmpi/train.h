/* The training loop: batches -> loss_grad -> strategy step -> metrics. */
#ifndef GDMPI_TRAIN_H
#define GDMPI_TRAIN_H

#include "gdmpi/config.h"
#include "gdmpi/data.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/parallel.h"
#include "gdmpi/rng.h"

#include <mpi.h>

/* Where each rank's time goes; the fractions in metrics.csv are of the training time. */
typedef enum { GD_T_COMPUTE, GD_T_COMM, GD_T_WAIT, GD_T_IO, GD_T_EVAL, GD_T_COUNT } gd_timer_kind;

typedef struct gd_metrics_row {
    long epoch, step;
    double wall, samples, train_loss, val_loss, val_acc, lr, samples_per_s;
    double compute_frac, comm_frac, wait_frac;
} gd_metrics_row;

struct gd_trainer {
    const gd_config *cfg;
    MPI_Comm comm;
    int rank, size;
    gd_dataset train, val;
    int has_val;
    gd_model model;
    gd_optim optim;
    const gd_strategy_ops *strategy;
    void *strategy_state;

    size_t batch_rows;     /* rows per step on this rank (the shard for full batch) */
    long steps_per_epoch;  /* the same on every rank: max over ranks of ceil(rows / batch) */
    size_t *order;         /* this rank's permutation of its shard */
    float *bx, *by;        /* the gathered batch */
    gd_rng shuffle_rng;

    long epoch, step;      /* epoch counts from 1; step counts optimizer steps taken */
    double lr;
    double batch_loss, batch_count; /* this rank's sums for the current step */
    double step_loss, step_count;   /* the sums the strategy's step used */
    double epoch_loss, epoch_count;
    double samples_seen;            /* global samples that made steps */

    double t_start, t_train;
    double timers[GD_T_COUNT];

    gd_metrics_row *rows;
    long nrows;
};

/* Runs a whole training job, collectively over comm. Returns the exit status. */
int gd_train(const gd_config *cfg, MPI_Comm comm);

/* Adds the seconds since *since to timer k and resets *since to now. */
void gd_timer_add(gd_trainer *t, gd_timer_kind k, double *since);

/* Outputs (rank 0 writes; every file goes to a temporary name, then rename). */
int gd_write_metrics(const gd_trainer *t);
int gd_write_summary(const gd_trainer *t, int status, const char *message);
/* Creates dir and its parents; 0 on success. */
int gd_mkdir_p(const char *dir);
/* Renames tmp over path after an fsync, so readers see the old file or the whole new one. */
int gd_commit_file(const char *tmp, const char *path);

/* Version line pieces for --version and summary.json. */
void gd_versions(char *mpi, size_t mpi_len, char *blas, size_t blas_len, char *hdf5,
                 size_t hdf5_len);

#define GDMPI_VERSION "0.1.0"

#endif
