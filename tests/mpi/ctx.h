/* Shared by the MPI test programs that drive a strategy alone: a step context as the
 * trainer sets one up for training (src/train/train.c), without data or a host, with a
 * constant schedule at lr (a server reads it at each update) (x.host = NULL: the strategies under test call no host service on these paths).
 *
 *   test_run r;
 *   test_run_init(&r, &cfg, MPI_COMM_WORLD, "linreg", features, outputs, max_batch, &hp, lr);
 *   test_run_servers(&r, S);          (parameter servers only, before setup)
 *   r.ops = gd_strategy_find("...");  r.ops->setup(&r.x); ... r.ops->step(&r.x); ...
 *   test_run_free(&r);                (destroys the strategy too)
 *
 * A test_run must not move after test_run_init: the context points at its members. */
#ifndef GDMPI_TESTS_MPI_CTX_H
#define GDMPI_TESTS_MPI_CTX_H

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/parallel.h"
#include "gdmpi/rng.h"
#include "gdmpi/schedule.h"
#include "gdmpi/step.h"
#include "gdmpi/update.h"

#include <mpi.h>
#include <string.h>

typedef struct test_run {
    gd_step_ctx x;
    gd_model model;
    gd_optim optim;
    gd_update update;
    gd_schedule schedule;
    const gd_strategy_ops *ops;
} test_run;

/* The model (type, features, outputs, rows per batch) with model.l2 from the config, the
 * optimizer (cfg->optimizer.type) with hp, and the update pipeline from the config as the
 * trainer builds it; the noise stream is seeded (42, 0, GD_RNG_NOISE), 42 being the default
 * train.seed. Every rank is a worker; lr is the lr in force at every step. Aborts the job
 * when the model or the optimizer cannot be created. */
static inline void test_run_init(test_run *r, const gd_config *c, MPI_Comm comm, const char *type,
                                 size_t features, size_t outputs, size_t max_batch,
                                 const gd_optim_hparams *hp, double lr)
{
    memset(r, 0, sizeof *r);
    r->x = (gd_step_ctx){.cfg = c, .comm = comm, .role_comm = comm, .model = &r->model,
                         .optim = &r->optim, .update = &r->update, .lr = lr,
                         .schedule = &r->schedule};
    const gd_schedule_params sp = {.lr = lr, .steps_per_epoch = 1, .total_steps = 1};
    MPI_Comm_rank(comm, &r->x.rank);
    MPI_Comm_size(comm, &r->x.size);
    if (gd_model_create(&r->model, type, features, outputs, max_batch, c) ||
        gd_optim_create(&r->optim, c->optimizer.type, hp, r->model.nparams) ||
        gd_schedule_create(&r->schedule, "constant", &sp))
        gd_abort(comm, GD_ERR);
    r->model.l2 = c->model.l2;
    gd_update_init(&r->update, &r->optim, r->model.nparams,
                   r->model.ops->weight_count(&r->model), c); /* noise: (train.seed, 0) */
    r->x.workers_per_step = r->x.size;
}

/* Parameter servers: ranks 0..servers-1 serve, the others work, the first worker leads;
 * role_comm joins the ranks of this rank's role (freed by test_run_free). */
static inline void test_run_servers(test_run *r, int servers)
{
    gd_step_ctx *x = &r->x;
    x->nservers = servers;
    x->serving = x->rank < servers;
    x->lead = servers;
    x->workers_per_step = x->size - servers;
    MPI_Comm_split(x->comm, x->serving, x->rank, &x->role_comm);
}

/* The strategy (if any), the role communicator, the optimizer and the model. */
static inline void test_run_free(test_run *r)
{
    if (r->ops && r->ops->destroy)
        r->ops->destroy(&r->x);
    if (r->x.role_comm != r->x.comm && r->x.role_comm != MPI_COMM_NULL)
        MPI_Comm_free(&r->x.role_comm);
    gd_optim_destroy(&r->optim);
    gd_model_destroy(&r->model);
}

#endif
