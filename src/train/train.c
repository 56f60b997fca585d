/* The training loop, readable top to bottom:
 *   setup: load shards, check labels, build model, optimizer, strategy, schedule (agreed)
 *   per epoch: order the shard (shuffle, sequential or curriculum)
 *              -> for each step: lr from the schedule -> gather batch -> loss_grad
 *                 -> strategy step (which calls the update pipeline) -> divergence check
 *   per epoch: evaluate, log a line, rewrite metrics.csv, keep the best parameters,
 *              agree on whether to stop (epochs, max_steps, max_seconds, tol, patience)
 *   end: strategy finish, restore the best epoch (early stopping), model.h5, summary.json.
 *
 * Uneven shards: every rank runs steps_per_epoch = max over ranks of ceil(rows / batch)
 * steps. A rank whose shard is used up contributes an empty batch (zero sums, zero
 * count), so all ranks end the epoch together and every row is used exactly once.
 *
 * Roles (parameter servers, src/parallel/ps.c): ranks 0..S-1 serve and hold no data; the
 * workers load and shard the data among themselves (role_comm). In ps the servers run this
 * loop too, step for step, with empty batches: their step is the update of their slice.
 * In ps-async the servers run the strategy's serve() instead, and the workers run the
 * epochs with no collective (agree_comm = MPI_COMM_SELF): each decides its own stop, and
 * the lead worker reports each epoch's row to rank 0. */
#include "trainer.h"

#include "ckpt.h"
#include "gdmpi/compress.h"
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/watchdog.h"
#include "gdmpi/inject.h"
#include "gdmpi/signals.h"
#include "gdmpi/trace.h"
#include "rundir.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_trainer *gd_trainer_of(gd_step_ctx *ctx)
{
    return (gd_trainer *)((char *)ctx - offsetof(gd_trainer, ctx));
}

/* ---- the host services a strategy calls (gd_step_host) ---------------------------------- */

/* output.trace: the span just timed, or a strategy's named phase */
static void host_span(gd_step_ctx *ctx, int kind, const char *name, double t0, double t1)
{
    if (name)
        gd_trace_span(name, t0, t1);
    else
        gd_trace_timer(kind, ctx->step, t0, t1);
}

static gd_stop_reason host_accept_row(gd_step_ctx *ctx, const gd_metrics_row *row)
{
    return gd_accept_row(gd_trainer_of(ctx), row);
}

static void host_server_progress(gd_step_ctx *ctx, int row)
{
    gd_checkpoint_server_progress(gd_trainer_of(ctx), row);
}

static void evaluate(gd_trainer *t, double *loss, double *acc);
static void host_evaluate(gd_step_ctx *ctx, double *loss, double *acc)
{
    evaluate(gd_trainer_of(ctx), loss, acc);
}

static const gd_step_host trainer_host = {.span = host_span,
                                          .accept_row = host_accept_row,
                                          .server_progress = host_server_progress,
                                          .signal_pending = gd_signal_pending,
                                          .evaluate = host_evaluate};

/* A strategy op that failed in the middle of training: the other ranks are in their step
 * or exchange and cannot be told, so the job ends (docs/design.md, rule 4). */
static void or_abort(const gd_trainer *t, int rc)
{
    if (rc)
        gd_abort(t->comm, rc);
}

/* Who reads data.val: the workers, sharded as the training rows; in an asynchronous job
 * the lead worker alone reads all of it (it evaluates for everyone); servers read nothing. */
static MPI_Comm val_readers(const gd_trainer *t)
{
    if (t->ctx.serving || (t->strategy->async && t->rank != t->ctx.lead))
        return MPI_COMM_NULL;
    return t->strategy->async ? MPI_COMM_SELF : t->ctx.role_comm;
}

/* Workers read their shards over role_comm (servers hold no rows); has_val says whether the
 * run has validation data, also on ranks that hold none of it. */
static int load_data(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    double since = MPI_Wtime();
    MPI_Comm val_comm = val_readers(t);
    if (gd_model_without_data(c)) { /* no data: an epoch is GD_TESTFN_ROWS placeholder rows */
        t->has_val = 0;
        return t->ctx.serving ? GD_OK : gd_data_placeholder(&t->train, GD_TESTFN_ROWS, t->ctx.role_comm);
    }
    int rc = gd_data_use_io(c->data.io);
    if (rc)
        return rc;
    rc = t->ctx.serving ? GD_OK : gd_stream_load(t); /* in memory, or streamed (data.stream) */
    t->has_val = c->data.val[0] != '\0';
    if (rc || !t->has_val || val_comm == MPI_COMM_NULL) {
        gd_step_time(&t->ctx, GD_T_IO, &since);
        return rc;
    }
    rc = gd_data_load(&t->val, c->data.val, c->data.features, c->data.labels, c->data.scale,
                      val_comm);
    if (!rc && t->val.cols != t->train.cols)
        rc = gd_fail(GD_ERR, "%s: %zu features, but the training data %s has %zu", t->val.path,
                     t->val.cols, t->train.path, t->train.cols);
    gd_step_time(&t->ctx, GD_T_IO, &since);
    return rc;
}

/* Outputs per row and label checks follow from the model's task. */
static int model_outputs(gd_trainer *t, const gd_model_ops *ops, size_t *outputs)
{
    const gd_config *c = t->cfg;
    long classes = 1;
    if (ops->task == GD_TASK_BINARY)
        classes = 2;
    else if (ops->task == GD_TASK_CLASSES)
        classes = c->model.classes ? c->model.classes : gd_data_count_classes(&t->train, t->comm);
    if (ops->task == GD_TASK_CLASSES && classes < 2)
        return gd_fail(GD_ERR, "%s: softmax needs at least 2 classes; the labels give %ld "
                       "(set model.classes)", t->train.path, classes);
    if (ops->task == GD_TASK_CLASSES && classes > 100000)
        return gd_fail(GD_ERR, "%s: the largest label implies %ld classes; set model.classes or "
                       "check the labels", t->train.path, classes);
    int rc = GD_OK;
    if (ops->task != GD_TASK_REGRESSION) {
        rc = gd_data_check_labels(&t->train, classes, t->comm);
        if (!rc && t->has_val)
            rc = gd_data_check_labels(&t->val, classes, t->comm);
    }
    *outputs = ops->task == GD_TASK_CLASSES ? (size_t)classes : 1;
    return rc;
}

/* The optimizer's numbers from [optimizer]. hp.lr (AdamW's alpha) is set once the
 * schedule knows the scaled base lr (plan_schedule). */
static gd_optim_hparams optim_hparams(const gd_config *c)
{
    return (gd_optim_hparams){.momentum = c->optimizer.momentum,
                              .beta1 = c->optimizer.beta1,
                              .beta2 = c->optimizer.beta2,
                              .eps = c->optimizer.eps,
                              .rho = c->optimizer.rho,
                              .decay = c->optimizer.decay,
                              .weight_decay = c->optimizer.weight_decay};
}

static int build_model(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    size_t outputs = 1;
    int rc = model_outputs(t, gd_model_find_config(c), &outputs);
    if (rc)
        return rc;
    /* servers never run the model on data: one row of scratch is enough */
    size_t max_batch = t->batch.rows ? t->batch.rows : 1;
    rc = gd_model_create(&t->model, c->model.type, t->train.cols, outputs, max_batch, c);
    if (rc)
        return rc;
    if (c->model.sync_bn && t->model.ops->lockstep && !t->strategy->sync_bn)
        return gd_fail(GD_ECONFIG, "model.sync_bn = true needs parallel.mode = allreduce "
                       "(the batch statistics are reduced inside every step)");
    t->model.l2 = c->model.l2;
    t->model.comm = t->ctx.role_comm; /* sync batch norm: over the ranks that hold data */
    gd_model_init(&t->model, c);
    gd_optim_hparams hp = optim_hparams(c);
    gd_update_init(&t->update, &t->optim, t->model.nparams,
                   t->model.ops->weight_count(&t->model), c);
    return gd_optim_create(&t->optim, c->optimizer.type, &hp, t->model.nparams);
}

gd_order gd_order_from_config(const gd_config *c)
{
    if (!strcmp(c->data.order, "curriculum"))
        return GD_ORDER_CURRICULUM;
    /* train.shuffle = false is the older spelling of data.order = sequential */
    if (!strcmp(c->data.order, "sequential") || !c->train.shuffle)
        return GD_ORDER_SEQUENTIAL;
    return GD_ORDER_SHUFFLE;
}

/* Collective: servers (no rows) learn the workers' width and steps per epoch here. */
static int plan_batches(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    size_t rows = (size_t)gd_stream_epoch_rows_max(t);
    t->batch.rows = c->train.batch_size == 0 || (size_t)c->train.batch_size > rows
                        ? rows : (size_t)c->train.batch_size;
    /* steps per epoch, width, and the banner's rows per worker: max, and -min (a server
     * holds no rows and is no worker: it stays out of the min); a stream's chunk and buffer */
    long plan[6] = {rows ? (long)((rows + t->batch.rows - 1) / t->batch.rows) : 0,
                    (long)t->train.cols, (long)rows, t->ctx.serving ? LONG_MIN : -(long)rows,
                    (long)t->batch.spec.chunk_rows, (long)t->batch.spec.buffer_rows};
    MPI_Allreduce(MPI_IN_PLACE, plan, 6, MPI_LONG, MPI_MAX, t->comm);
    t->console.stream_chunk = plan[4]; /* data.stream: the banner's figures */
    t->console.stream_buffer = plan[5];
    t->batch.streaming = plan[4] > 0; /* servers too: they declare the same checkpoint state */
    t->ctx.steps_per_epoch = t->ctx.updates_per_epoch = plan[0];
    t->train.cols = (size_t)plan[1];
    t->console.rows_max = plan[2];
    t->console.rows_min = -plan[3];
    t->batch.kind = gd_order_from_config(c);
    if (t->ctx.serving)
        return GD_OK;
    if (t->batch.streaming) /* the stream orders the rows; its buffers come with it */
        rows = 0;
    t->batch.order = rows ? gd_alloc(rows, sizeof(size_t), "shard order") : NULL;
    t->batch.bx = gd_alloc(t->batch.rows, t->train.cols * sizeof(float), "batch features");
    t->batch.by = gd_alloc(t->batch.rows, sizeof(float), "batch labels");
    if ((rows && !t->batch.order) || !t->batch.bx || !t->batch.by)
        return GD_ERR;
    if (t->batch.kind == GD_ORDER_CURRICULUM &&
        !(t->batch.scores = gd_alloc(rows, sizeof *t->batch.scores, "curriculum scores")))
        return GD_ERR;
    for (size_t i = 0; i < rows; i++)
        t->batch.order[i] = i;
    gd_rng_seed(&t->batch.shuffle_rng, (uint64_t)c->train.seed, (uint64_t)t->data_rank,
                GD_RNG_SHUFFLE);
    return GD_OK;
}

/* The steps the run will take if nothing stops it early: cosine's horizon. */
static long planned_steps(const gd_trainer *t)
{
    long max = t->cfg->train.max_steps;
    long epochs = t->cfg->train.epochs, per_epoch = t->ctx.updates_per_epoch;
    long steps = epochs > LONG_MAX / per_epoch ? LONG_MAX : epochs * per_epoch;
    return max && max < steps ? max : steps;
}

/* optimizer.lr = 0 means "the optimizer's default"; gd_config_check resolves it too. */
static double base_lr(const gd_trainer *t)
{
    return t->cfg->optimizer.lr > 0 ? t->cfg->optimizer.lr : t->optim.ops->default_lr;
}

static int plan_schedule(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    double workers = c->schedule.scale_with_workers ? t->ctx.workers_per_step : 1; /* Goyal et al. */
    gd_schedule_params p = {.lr = base_lr(t) * workers,
                            .gamma = c->schedule.gamma,
                            .step_epochs = c->schedule.step_epochs,
                            .decay = c->schedule.decay,
                            .min_lr = c->schedule.min_lr * workers,
                            .warmup_epochs = c->schedule.warmup_epochs,
                            .steps_per_epoch = t->ctx.updates_per_epoch,
                            .total_steps = planned_steps(t)};
    t->optim.hp.lr = p.lr; /* AdamW's alpha: the lr that the schedule multiplies */
    t->ctx.lr = p.lr;
    return gd_schedule_create(&t->schedule, c->schedule.type, &p);
}

/* The step at which train.max_steps stops this rank. An asynchronous worker's own steps
 * do not count: the servers count their updates and tell it when to stop. */
static long step_cap(const gd_trainer *t)
{
    long max = t->cfg->train.max_steps;
    return max && !t->strategy->async ? max : LONG_MAX;
}

/* Stopping rules, the time budget, the best-epoch copy and the shared noise stream. */
static int plan_stopping(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    gd_tol_init(&t->stopping.tol, c->train.tol, c->train.tol_epochs);
    gd_early_stop_init(&t->stopping.early, c->train.patience);
    t->clock.step_limit = step_cap(t);
    t->clock.next_budget_check = 1;
    if (c->train.patience > 0 && !(t->stopping.best_w = gd_alloc(t->model.nparams + t->model.nstate,
                                                         sizeof(float), "best parameters")))
        return GD_ERR;
    return GD_OK;
}

/* Checks that need only the config, before any data is read. */
static int check_controls(const gd_config *c)
{
    if (c->train.patience > 0 && !c->data.val[0])
        return gd_fail(GD_ECONFIG, "train.patience = %ld: early stopping needs validation data "
                       "(set data.val)", c->train.patience);
    return GD_OK;
}

/* The strategy and the ranks' roles, before any data is read. With parameter servers,
 * ranks 0..S-1 serve and the others work; role_comm joins the ranks of one role, so the
 * workers load and shard the data among themselves. The checks give the same verdict on
 * every rank, so nobody is left in the split. */
static int plan_roles(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    t->strategy = gd_strategy_find(c->parallel.mode);
    int rc = t->strategy->check ? t->strategy->check(c, t->size) : GD_OK;
    if (!rc && gd_compress_enabled(c) && !t->strategy->compresses)
        rc = gd_fail(GD_ECONFIG, "parallel.compress = %s: parallel.mode = %s does not compress "
                     "(allreduce and ps-async do)", c->parallel.compress, c->parallel.mode);
    if (!rc && t->strategy->async && c->train.patience > 0)
        rc = gd_fail(GD_ECONFIG, "train.patience = %ld: early stopping needs a synchronous mode "
                     "(allreduce, ps, local-sgd, easgd); %s has no common best epoch",
                     c->train.patience, c->parallel.mode);
    if (!rc && t->strategy->async && c->output.log_every > 0)
        rc = gd_fail(GD_ECONFIG, "output.log_every = %ld: steps.csv needs a synchronous mode "
                     "(allreduce, ps, local-sgd, easgd); in %s no rank sees every step",
                     c->output.log_every, c->parallel.mode);
    if (!rc && t->strategy->async && !t->strategy->has_servers)
        t->agree_comm = MPI_COMM_SELF; /* hogwild: no rank waits for another in training */
    if (rc || !t->strategy->has_servers)
        return rc;
    t->ctx.nservers = (int)c->parallel.servers;
    t->ctx.serving = t->rank < t->ctx.nservers;
    t->ctx.lead = t->ctx.nservers;
    MPI_Comm_split(t->comm, t->ctx.serving, t->rank, &t->ctx.role_comm);
    MPI_Comm_rank(t->ctx.role_comm, &t->data_rank);
    MPI_Comm_size(t->ctx.role_comm, &t->data_size);
    if (t->strategy->async && !t->ctx.serving)
        t->agree_comm = MPI_COMM_SELF;
    return GD_OK;
}

static int setup(gd_trainer *t)
{
    int rc = check_controls(t->cfg);
    if (!rc)
        rc = gd_inject_setup(t->cfg, t->rank, t->size); /* slow_ranks, delay_us */
    if (!rc)
        rc = plan_roles(t);
    if (!rc)
        rc = gd_agree(t->comm, load_data(t));
    if (!rc) /* data.partition = label-skew: the shards change size before batches are planned */
        rc = gd_agree(t->comm, gd_partition_setup(t));
    if (!rc)
        rc = gd_agree(t->comm, plan_batches(t));
    if (!rc) /* data.shuffle = global: the rows' numbers (and the async modes' one move) */
        rc = gd_agree(t->comm, gd_global_shuffle_setup(t));
    if (!rc) /* the bits of the rows an epoch has used, for a resume on another rank count */
        rc = gd_agree(t->comm, gd_elastic_setup(t));
    if (!rc)
        rc = gd_agree(t->comm, build_model(t));
    if (!rc) /* data.stream: the labels are checked; the stream's buffers; GDMPI_ROW_LOG */
        rc = gd_agree(t->comm, gd_stream_start(t) || gd_rowlog_open(t));
    if (!rc) {
        t->ctx.workers_per_step = t->size - t->ctx.nservers;
        rc = gd_agree(t->comm, t->strategy->setup(&t->ctx));
    }
    if (!rc)
        rc = gd_agree(t->comm, plan_schedule(t));
    if (!rc)
        rc = gd_agree(t->comm, plan_stopping(t));
    if (!rc) /* checkpoints (checkpoint.c) and the SIGTERM / SIGINT handler */
        rc = gd_agree(t->comm, gd_checkpoint_setup(t));
    return rc;
}

/* Points *x, *y at the rows of step s: straight into the shard when they are contiguous
 * (sequential order, or one batch holds the shard) and held as floats, else gathered into
 * the batch buffers (bytes converted to floats on the way). In an elastic resume's
 * remainder epoch the rows are the remainder's, from its step on. Returns the row count. */
static size_t gather_batch(gd_trainer *t, long s, const float **x, const float **y)
{
    const gd_batcher *b = &t->batch;
    if (b->stream)
        return gd_stream_batch(t, x, y);
    const int rest = b->rest_from >= 0;
    const gd_dataset *d = rest ? &b->rest : &t->train;
    const size_t *order = rest ? b->rest_order : b->order;
    const size_t cols = t->train.cols, start = (size_t)(s - (rest ? b->rest_from : 0)) * b->rows;
    if (start >= d->rows)
        return 0;
    size_t n = d->rows - start < b->rows ? d->rows - start : b->rows;
    const int contiguous = b->kind == GD_ORDER_SEQUENTIAL || n == d->rows;
    for (size_t i = 0; b->rowlog && i < n; i++) { /* GDMPI_ROW_LOG */
        const size_t r = contiguous ? start + i : order[start + i];
        gd_rowlog(t, rest ? b->rest_ids[r] : gd_batcher_row_id(t, r));
    }
    if (contiguous && d->x) {
        *x = d->x + start * cols;
        *y = d->y + start;
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = contiguous ? start + i : order[start + i];
        gd_data_copy_row(d, r, t->batch.bx + i * cols);
        t->batch.by[i] = d->y[r];
    }
    *x = t->batch.bx;
    *y = t->batch.by;
    return n;
}

static int check_finite_step(gd_trainer *t)
{
    if (!t->ctx.diverged && isfinite(t->ctx.step_loss))
        return GD_OK;
    t->stopping.reason = GD_STOP_DIVERGED;
    return gd_fail(GD_EDIVERGED, "training diverged at epoch %ld, step %ld: non-finite %s "
                   "(lower optimizer.lr or set train.clip_norm); model.h5 was not written, so "
                   "an earlier one is kept", t->ctx.epoch, t->ctx.step,
                   t->ctx.diverged ? gd_divergence_name(t->ctx.diverged) : "loss");
}

/* 1 when the loop may end after the step about to be taken: the epoch's last step, the
 * step limit, or a time-budget check (whose agreement may lower the limit). */
static int may_stop_after(const gd_trainer *t)
{
    const long next = t->ctx.step + 1;
    return next % t->ctx.steps_per_epoch == 0 || next >= t->clock.step_limit ||
           (t->cfg->train.max_seconds > 0 && next >= t->clock.next_budget_check);
}

/* One optimizer step. Returns GD_EDIVERGED when the loss or gradient is not finite. */
static int train_step(gd_trainer *t, long s)
{
    double since = MPI_Wtime();
    const float *x = NULL, *y = NULL;
    size_t n = gather_batch(t, s, &x, &y);
    t->ctx.lr = gd_schedule_lr(&t->schedule, t->ctx.step);
    memset(t->model.g, 0, (t->model.nparams + GD_GRAD_EXTRA) * sizeof(float));
    /* lockstep models communicate inside loss_grad, so every worker calls it every step */
    t->ctx.batch_loss = n || (t->model.ops->lockstep && !t->ctx.serving)
                        ? t->model.ops->loss_grad(&t->model, x, y, n, t->model.g, NULL) : 0;
    t->ctx.batch_count = (double)n;
    gd_inject_slow(MPI_Wtime() - since); /* parallel.slow_ranks: compute slow_factor x slower */
    gd_step_time(&t->ctx, GD_T_COMPUTE, &since);
    t->ctx.may_stop = may_stop_after(t);
    or_abort(t, t->strategy->step(&t->ctx));
    gd_take_stop(t);
    t->ctx.step++;
    gd_trajectory_record(t);
    t->ctx.epoch_loss += t->ctx.step_loss;
    t->ctx.epoch_count += t->ctx.step_count;
    t->ctx.samples_seen += t->ctx.step_count;
    return check_finite_step(t);
}

/* Collective over agree_comm: the ranks agree (the slowest rank's figures) on the step at
 * which the time budget says stop, leaving time for the last evaluation and the outputs. */
static void agree_deadline(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    double now = MPI_Wtime();
    /* elapsed, seconds per step (10% headroom), reserve: 5% of the budget + 2 epoch ends */
    double f[3] = {now - t->clock.t_job, 1.1 * (now - t->ctx.t_start) / (double)(t->ctx.step ? t->ctx.step : 1),
                   0.05 * c->train.max_seconds + 2 * t->clock.epoch_end_s};
    gd_watchdog_enter("agreeing on the time budget", t->ctx.step);
    MPI_Allreduce(MPI_IN_PLACE, f, 3, MPI_DOUBLE, MPI_MAX, t->agree_comm);
    gd_watchdog_leave();
    long limit = gd_deadline_step(c->train.max_seconds, f[0], t->ctx.step ? f[1] : 0, f[2], t->ctx.step);
    long max_steps = step_cap(t);
    t->clock.step_limit = limit < max_steps ? limit : max_steps;
}

/* Looks at the time budget at steps 1, 2, 4, 8, ...: the same steps on every rank, so the
 * collective in agree_deadline matches up, and only log2(steps) of them. */
static void check_time_budget(gd_trainer *t)
{
    if (t->cfg->train.max_seconds <= 0 || t->ctx.step < t->clock.next_budget_check)
        return;
    t->clock.next_budget_check = 2 * t->ctx.step;
    agree_deadline(t);
}

static int by_score(const void *a, const void *b)
{
    const gd_scored_row *x = a, *y = b;
    if (x->score < y->score)
        return -1;
    if (x->score > y->score)
        return 1;
    return (x->row > y->row) - (x->row < y->row); /* ties keep row order: reproducible */
}

/* Curriculum: easy to hard by each row's loss under the model as the epoch starts (the
 * first epoch: the initial model, whose equal losses keep the file's order). */
static void order_by_loss(gd_trainer *t)
{
    for (size_t r = 0; r < t->train.rows; r++) {
        gd_data_copy_row(&t->train, r, t->batch.bx); /* the batch buffer holds one row or more */
        double loss = t->model.ops->loss_grad(&t->model, t->batch.bx, t->train.y + r, 1,
                                              NULL, NULL);
        t->batch.scores[r] = (gd_scored_row){.score = (float)loss, .row = r};
    }
    qsort(t->batch.scores, t->train.rows, sizeof *t->batch.scores, by_score);
    for (size_t r = 0; r < t->train.rows; r++)
        t->batch.order[r] = t->batch.scores[r].row;
}

static void order_epoch(gd_trainer *t)
{
    double since = MPI_Wtime();
    if (t->batch.rows >= t->train.rows || t->batch.streaming)
        return; /* one batch holds the whole shard: the order changes nothing; or the stream
                   orders the rows as it reads them */
    if (t->batch.kind == GD_ORDER_SHUFFLE)
        gd_rng_permute(&t->batch.shuffle_rng, t->batch.order, t->train.rows);
    else if (t->batch.kind == GD_ORDER_CURRICULUM)
        order_by_loss(t);
    gd_step_time(&t->ctx, GD_T_COMPUTE, &since);
}

static int run_epoch(gd_trainer *t)
{
    long first = t->first_step; /* resumed in mid-epoch: its order and sums are restored */
    t->first_step = 0;
    if (t->batch.global && !t->strategy->async && !t->ctx.serving && !t->batch.streaming)
        /* also when resumed: the restored order is of this epoch's rows */
        or_abort(t, gd_global_shuffle_epoch(t, t->ctx.epoch));
    if (t->batch.stream) { /* resumed: the epoch's draw replayed up to the checkpoint */
        or_abort(t, gd_stream_plan_check(t));
        or_abort(t, gd_stream_epoch(t->batch.stream, t->ctx.epoch, (size_t)first * t->batch.rows));
    }
    if (!first) {
        order_epoch(t);
        t->ctx.epoch_loss = t->ctx.epoch_count = 0;
    }
    /* stop_reason: an asynchronous worker's servers may say stop in the middle of an epoch */
    for (long s = first; s < t->ctx.steps_per_epoch && t->ctx.step < t->clock.step_limit &&
                         t->stopping.reason == GD_STOP_NONE; s++) {
        int rc = train_step(t, s);
        if (rc)
            return rc;
        gd_steps_record(t); /* output.log_every: steps.csv */
        gd_console_step(t, s); /* on a terminal: the progress line */
        check_time_budget(t);
        if ((rc = gd_checkpoint_after_step(t, s))) /* checkpoint_every = Ns, signals */
            return rc;
    }
    if (t->stopping.reason == GD_STOP_NONE && t->ctx.step < t->clock.step_limit)
        gd_elastic_end(t); /* a remainder epoch is over: the shard's epochs go on */
    return GD_OK;
}

/* Validation loss and accuracy, reduced over agree_comm (NaN when there is no val file). */
static void evaluate(gd_trainer *t, double *loss, double *acc)
{
    double since = MPI_Wtime();
    *loss = *acc = NAN;
    if (t->has_val) {
        size_t correct = 0;
        double sums[3] = {gd_model_evaluate(&t->model, t->val.x, t->val.y, t->val.rows, &correct),
                          (double)correct, (double)t->val.rows};
        gd_watchdog_enter("validation sums", t->ctx.step);
        MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_DOUBLE, MPI_SUM, t->agree_comm);
        gd_watchdog_leave();
        *loss = sums[0] / sums[2];
        if (t->model.ops->task != GD_TASK_REGRESSION)
            *acc = sums[1] / sums[2];
    }
    gd_step_time(&t->ctx, GD_T_EVAL, &since);
}

/* The timers behind metrics.csv's fractions: the lead worker's (a server's would show only
 * its waiting for pushes), broadcast in a synchronous job with servers. */
static void lead_timers(const gd_trainer *t, double *timers)
{
    memcpy(timers, t->ctx.timers, sizeof t->ctx.timers);
    if (t->ctx.nservers && !t->strategy->async) {
        gd_watchdog_enter("sharing the epoch's timers", t->ctx.step);
        MPI_Bcast(timers, GD_T_COUNT, MPI_DOUBLE, t->ctx.lead, t->comm);
        gd_watchdog_leave();
    }
}

/* The epoch's bytes on the wire: the running totals less the earlier rows' (so a resumed
 * run, whose rows and totals come back from the checkpoint, goes on counting). Strategies
 * that do not count them leave them NaN; so does an asynchronous lead worker, whose rows
 * are not in its own table: its strategy's report fills them (ps-async). */
static void record_wire(const gd_trainer *t, gd_metrics_row *r)
{
    r->bytes_sent = r->bytes_recv = r->bytes_dense = NAN;
    if (!t->ctx.counts_wire || t->strategy->async)
        return;
    double before[GD_WIRE_COUNT] = {0};
    const gd_metrics_row *end = t->metrics.rows + t->metrics.nrows;
    for (const gd_metrics_row *p = t->metrics.rows; p < r && p < end; p++) {
        before[GD_WIRE_SENT] += p->bytes_sent;
        before[GD_WIRE_RECV] += p->bytes_recv;
        before[GD_WIRE_DENSE] += p->bytes_dense;
    }
    const double *w = t->ctx.wire;
    r->bytes_sent = w[GD_WIRE_SENT] - before[GD_WIRE_SENT];
    r->bytes_recv = w[GD_WIRE_RECV] - before[GD_WIRE_RECV];
    r->bytes_dense = w[GD_WIRE_DENSE] - before[GD_WIRE_DENSE];
}

static void record_epoch(gd_trainer *t, gd_metrics_row *r)
{
    double wall = MPI_Wtime() - t->ctx.t_start, timers[GD_T_COUNT];
    lead_timers(t, timers);
    double busy = timers[GD_T_COMPUTE] + timers[GD_T_COMM] + timers[GD_T_WAIT];
    r->epoch = t->ctx.epoch;
    r->step = t->ctx.step;
    r->wall = wall;
    r->samples = t->ctx.samples_seen;
    r->train_loss = t->ctx.epoch_count ? t->ctx.epoch_loss / t->ctx.epoch_count : NAN;
    double eval_start = MPI_Wtime();
    evaluate(t, &r->val_loss, &r->val_acc);
    r->eval_s = MPI_Wtime() - eval_start;
    r->lr = t->ctx.lr;
    r->samples_per_s = t->ctx.samples_seen / (busy > 0 ? busy : 1e-9);
    r->compute_frac = busy > 0 ? timers[GD_T_COMPUTE] / busy : 0;
    r->comm_frac = busy > 0 ? timers[GD_T_COMM] / busy : 0;
    r->wait_frac = busy > 0 ? timers[GD_T_WAIT] / busy : 0;
    record_wire(t, r);
}

static void print_epoch(gd_trainer *t)
{
    const gd_metrics_row *r = &t->metrics.rows[t->metrics.nrows - 1];
    if (t->rank != 0)
        return;
    gd_console_clear(t);
    printf("epoch %3ld  step %7ld  train_loss %.6f", r->epoch, r->step, r->train_loss);
    if (t->has_val)
        printf("  val_loss %.6f", r->val_loss);
    if (t->has_val && !isnan(r->val_acc))
        printf("  val_acc %.4f", r->val_acc);
    printf("  lr %.4g  %.0f samples/s  comm %.1f%%\n", r->lr, r->samples_per_s,
           100.0 * r->comm_frac);
    fflush(stdout);
}

/* The best epoch's copy holds the parameters, then the model's non-trained state
 * (batch-norm running statistics), which model.h5 also saves. */
static void keep_best(gd_trainer *t)
{
    const gd_model *m = &t->model;
    memcpy(t->stopping.best_w, m->w, m->nparams * sizeof(float));
    if (m->nstate)
        memcpy(t->stopping.best_w + m->nparams, m->state, m->nstate * sizeof(float));
}

static void restore_best(gd_trainer *t)
{
    gd_model *m = &t->model;
    memcpy(m->w, t->stopping.best_w, m->nparams * sizeof(float));
    if (m->nstate)
        memcpy(m->state, t->stopping.best_w + m->nparams, m->nstate * sizeof(float));
}

/* Feeds the epoch's validation loss to early stopping and keeps the best parameters. */
static int early_stop_says_stop(gd_trainer *t, double val_loss)
{
    if (!t->has_val)
        return 0;
    gd_early_verdict v = gd_early_stop_update(&t->stopping.early, t->ctx.epoch, val_loss);
    if (v == GD_ES_BETTER && t->stopping.best_w)
        keep_best(t);
    return v == GD_ES_STOP;
}

/* This rank's verdict after an epoch; the limits that end an epoch early come first. */
static gd_stop_reason stop_verdict(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    const gd_metrics_row *r = &t->metrics.rows[t->metrics.nrows - 1];
    int early = early_stop_says_stop(t, r->val_loss); /* always fed: it tracks the best epoch */
    int calm = gd_tol_update(&t->stopping.tol, r->train_loss);
    if (t->stopping.reason == GD_STOP_SIGNAL) /* agreed by every rank in mid-epoch */
        return GD_STOP_SIGNAL;
    if (c->train.max_steps && t->ctx.step >= c->train.max_steps)
        return GD_STOP_MAX_STEPS;
    if (t->ctx.step >= t->clock.step_limit)
        return GD_STOP_MAX_SECONDS;
    if (early)
        return GD_STOP_EARLY;
    if (calm)
        return GD_STOP_TOL;
    return t->ctx.epoch >= c->train.epochs ? GD_STOP_EPOCHS : GD_STOP_NONE;
}

/* Collective: the rows, the metrics file, and one verdict every rank shares (a strategy
 * whose ranks see different losses must still stop them together). */
static void end_epoch(gd_trainer *t)
{
    double since = MPI_Wtime();
    if (t->strategy->epoch_row) /* global sums, and the one model the row describes */
        or_abort(t, t->strategy->epoch_row(&t->ctx, 1));
    record_epoch(t, &t->metrics.rows[t->metrics.nrows++]);
    print_epoch(t);
    gd_steps_flush(t, 0);
    if (t->rank == 0 && gd_write_metrics(t))
        gd_abort(t->comm, GD_ERR);
    if (t->cfg->train.max_seconds > 0)
        agree_deadline(t);
    int reason = (int)stop_verdict(t);
    gd_watchdog_enter("the end-of-epoch verdict", t->ctx.step);
    MPI_Allreduce(MPI_IN_PLACE, &reason, 1, MPI_INT, MPI_MAX, t->comm);
    gd_watchdog_leave();
    t->stopping.reason = (gd_stop_reason)reason;
    if (t->strategy->epoch_row) /* back to the parameters this rank trains */
        or_abort(t, t->strategy->epoch_row(&t->ctx, 0));
    t->clock.epoch_end_s = fmax(t->clock.epoch_end_s, MPI_Wtime() - since);
}

/* An asynchronous worker's epoch end, with no collective: the lead worker evaluates the
 * servers' current model and sends the row to rank 0, which writes metrics.csv; then each
 * worker decides alone whether it is done (the servers may already have said so). */
static void end_epoch_async(gd_trainer *t)
{
    double since = MPI_Wtime();
    if (t->rank == t->ctx.lead) {
        gd_metrics_row row;
        if (t->has_val)
            or_abort(t, t->strategy->refresh(&t->ctx));
        record_epoch(t, &row); /* rank 0 keeps it once the strategy has completed it */
        or_abort(t, t->strategy->report(&t->ctx, &row));
        gd_take_stop(t);
    }
    if (t->cfg->train.max_seconds > 0)
        agree_deadline(t); /* over MPI_COMM_SELF: this worker's own budget */
    if (t->stopping.reason == GD_STOP_NONE && t->ctx.step >= t->clock.step_limit)
        t->stopping.reason = GD_STOP_MAX_SECONDS;
    else if (t->stopping.reason == GD_STOP_NONE && t->ctx.epoch >= t->cfg->train.epochs)
        t->stopping.reason = GD_STOP_EPOCHS;
    t->clock.epoch_end_s = fmax(t->clock.epoch_end_s, MPI_Wtime() - since);
}

gd_stop_reason gd_accept_row(gd_trainer *t, const gd_metrics_row *row)
{
    if (t->metrics.nrows >= t->cfg->train.epochs)
        return GD_STOP_NONE;
    t->metrics.rows[t->metrics.nrows++] = *row;
    t->ctx.epoch = row->epoch;
    print_epoch(t);
    if (gd_write_metrics(t))
        gd_abort(t->comm, GD_ERR);
    gd_stop_reason why = gd_tol_update(&t->stopping.tol, row->train_loss) ? GD_STOP_TOL
                                                                           : GD_STOP_NONE;
    gd_checkpoint_server_progress(t, 1); /* checkpoint_every = N: rank 0 writes alone */
    return why;
}

/* The epochs of every rank that trains (all but an asynchronous job's servers). */
static int run_epochs(gd_trainer *t)
{
    for (t->ctx.epoch = t->first_epoch > 0 ? t->first_epoch : 1; t->stopping.reason == GD_STOP_NONE;
         t->ctx.epoch++) {
        int rc = run_epoch(t);
        if (rc)
            return rc;
        if (t->strategy->async)
            end_epoch_async(t);
        else
            end_epoch(t);
        if ((rc = gd_checkpoint_after_epoch(t))) /* checkpoint_every = N */
            return rc;
    }
    t->ctx.epoch--;
    return GD_OK;
}

/* An asynchronous server's whole run; the row count is its epoch (rank 0 accepted them). */
static int serve(gd_trainer *t)
{
    int rc = t->strategy->serve(&t->ctx);
    t->ctx.epoch = t->metrics.nrows;
    t->stopping.reason = t->ctx.stop;
    return rc;
}

/* With servers or asynchronous workers, ranks learn how the run ended at different moments
 * (a server sees the divergence, a worker its own last epoch): they agree on the reason and
 * the status. */
static int agree_end(gd_trainer *t, int rc)
{
    int reason = (int)t->stopping.reason;
    MPI_Allreduce(MPI_IN_PLACE, &reason, 1, MPI_INT, MPI_MAX, t->comm);
    t->stopping.reason = (gd_stop_reason)reason;
    return gd_agree(t->comm, rc);
}

static int train_loop(gd_trainer *t)
{
    t->metrics.rows = gd_alloc((size_t)t->cfg->train.epochs, sizeof(gd_metrics_row), "metrics");
    if (gd_agree(t->comm, t->metrics.rows ? GD_OK : GD_ERR))
        return GD_ERR;
    t->ctx.t_start = MPI_Wtime();
    int rc = gd_checkpoint_resume(t); /* train.resume */
    if (!rc && t->cfg->output.log_every > 0) /* synchronous modes only: all ranks are here */
        rc = gd_agree(t->comm, gd_steps_open(t));
    if (rc)
        return rc;
    gd_console_banner(t);
    gd_inject_arm(1); /* parallel.delay_us: training's messages only */
    /* An asynchronous rank may wait long for the others without a stall (one that has done
     * its epochs waits in finish): the watchdog watches only its bracketed calls until the
     * ranks have agreed on the end. */
    gd_watchdog_watch_calls(!t->strategy->async);
    rc = t->ctx.serving && t->strategy->serve ? serve(t) : run_epochs(t);
    gd_stream_close(t->batch.stream); /* no reader thread from here on (model.h5, the end's
                                         checkpoint) */
    t->batch.stream = NULL;
    gd_steps_close(t);
    /* model.h5 gets the best epoch's parameters; restored before finish, which gathers a
     * parameter server's slice */
    t->ctx.best_kept = t->stopping.best_w && t->stopping.early.best_epoch > 0;
    if (!rc && t->ctx.best_kept)
        restore_best(t);
    int finish_rc = t->strategy->finish(&t->ctx); /* collective: every rank gets here */
    gd_take_stop(t);
    rc = rc ? rc : finish_rc;
    gd_inject_arm(0);
    if (t->ctx.nservers || t->strategy->async)
        rc = agree_end(t, rc);
    gd_watchdog_watch_calls(1);
    rc = gd_checkpoint_end(t, rc); /* ps-async: the servers' final state */
    t->clock.t_train = MPI_Wtime() - t->ctx.t_start;
    return rc;
}

static int prepare_output_dir(gd_trainer *t)
{
    int rc = GD_OK;
    if (t->rank == 0 && gd_mkdir_p(t->cfg->output.dir))
        rc = gd_fail(GD_ERR, "output.dir = '%s': cannot create directory", t->cfg->output.dir);
    return gd_agree(t->comm, rc);
}

static int save_model(gd_trainer *t)
{
    int rc = GD_OK;
    if (t->rank == 0) {
        char path[GD_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/model.h5", t->cfg->output.dir);
        rc = gd_model_save(&t->model, path);
    }
    return gd_agree(t->comm, rc);
}

static void teardown(gd_trainer *t)
{
    if (t->strategy && t->strategy->destroy)
        t->strategy->destroy(&t->ctx);
    gd_optim_destroy(&t->optim);
    gd_model_destroy(&t->model);
    gd_data_free(&t->train);
    gd_data_free(&t->val);
    gd_elastic_end(t);
    free(t->batch.used);
    free(t->batch.used_save);
    gd_stream_close_all(t);
    free(t->batch.order);
    free(t->batch.ids);
    free(t->batch.starts);
    free(t->batch.scores);
    free(t->batch.bx);
    free(t->batch.by);
    free(t->stopping.best_w);
    free(t->metrics.rows);
    gd_steps_close(t);
    gd_checkpoint_destroy(t);
    if (t->ctx.role_comm != t->comm && t->ctx.role_comm != MPI_COMM_NULL)
        MPI_Comm_free(&t->ctx.role_comm);
    gd_trace_close();
}

int gd_train(const gd_config *cfg, MPI_Comm comm)
{
    gd_trainer t = {.cfg = cfg, .comm = comm, .agree_comm = comm, .clock.t_job = MPI_Wtime(),
                    .batch.rest_from = -1};
    MPI_Comm_rank(comm, &t.rank);
    MPI_Comm_size(comm, &t.size);
    t.ctx = (gd_step_ctx){.cfg = cfg, .comm = comm, .rank = t.rank, .size = t.size,
                          .role_comm = comm, .model = &t.model, .optim = &t.optim,
                          .update = &t.update, .schedule = &t.schedule, .host = &trainer_host};
    t.data_rank = t.rank; /* plan_roles changes these when there are servers */
    t.data_size = t.size;
    openblas_set_num_threads((int)cfg->train.threads);
    gd_trace_open(cfg, comm);
    int rc = gd_rundir_claim(cfg, comm); /* output.overwrite: before any data is read */
    if (!rc)
        rc = setup(&t);
    /* parallel.stall_timeout: from here on a blocked communication cannot hang the job */
    if (!rc)
        rc = gd_agree(comm, gd_watchdog_start(cfg->parallel.stall_timeout, t.rank));
    if (!rc)
        rc = prepare_output_dir(&t);
    if (!rc)
        rc = gd_agree(comm, gd_trajectory_open(&t));
    if (!rc) {
        rc = train_loop(&t);
        int trajectory_rc = gd_agree(comm, gd_trajectory_close(&t, rc));
        rc = rc ? rc : trajectory_rc;
        /* A diverged run keeps whatever model.h5 was there: never overwrite it with NaN. */
        if (!rc)
            rc = save_model(&t);
        int trace_rc = gd_trace_write(comm, cfg->output.dir); /* output.trace: trace.json */
        rc = rc ? rc : trace_rc;
        rc = gd_checkpoint_exit_status(&t, rc); /* stopped by a signal: status 5 */
        gd_write_summary(&t, rc, rc ? gd_errmsg() : "");
    }
    gd_watchdog_stop();
    teardown(&t);
    return rc;
}

/* A stream saves no order: a resume replays the epoch's draw, which its plan determines. */
void gd_batcher_declare(gd_trainer *t, gd_state *s)
{
    _Static_assert(sizeof(size_t) == sizeof(uint64_t), "shard orders are saved as uint64");
    gd_state_field *f = t->batch.streaming
        ? gd_state_add(s, GD_STATE_U64, GD_PER_RANK, t->batch.stream_plan, 3, "batcher/stream")
        : gd_state_add(s, GD_STATE_U64, GD_PER_RANK, t->batch.order, t->train.rows,
                       "batcher/order");
    f->hint = "the training data (or data.stream) differs";
    f->elastic = GD_EL_SKIP; /* elastic.c deals out what the epoch has left (not streamed) */
    gd_state_add(s, GD_STATE_U64, GD_PER_RANK, t->batch.shuffle_rng.s, 4, "batcher/rng")->elastic =
        GD_EL_STREAM;
}
