/* The training loop, readable top to bottom:
 *   setup: load shards, check labels, build model, optimizer and strategy (all agreed)
 *   per epoch: shuffle -> for each step: gather batch -> loss_grad -> strategy step
 *   per epoch: evaluate, log a line, rewrite metrics.csv
 *   end: strategy finish, model.h5 and summary.json.
 *
 * Uneven shards: every rank runs steps_per_epoch = max over ranks of ceil(rows / batch)
 * steps. A rank whose shard is used up contributes an empty batch (zero sums, zero
 * count), so all ranks end the epoch together and every row is used exactly once. */
#include "gdmpi/train.h"

#include "gdmpi/error.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gd_timer_add(gd_trainer *t, gd_timer_kind k, double *since)
{
    double now = MPI_Wtime();
    t->timers[k] += now - *since;
    *since = now;
}

static int load_data(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    double since = MPI_Wtime();
    int rc = gd_data_load(&t->train, c->data.train, c->data.features, c->data.labels,
                          c->data.scale, t->comm);
    if (rc || !c->data.val[0]) {
        gd_timer_add(t, GD_T_IO, &since);
        return rc;
    }
    rc = gd_data_load(&t->val, c->data.val, c->data.features, c->data.labels, c->data.scale,
                      t->comm);
    t->has_val = rc == GD_OK;
    if (!rc && t->val.cols != t->train.cols)
        rc = gd_fail(GD_ERR, "%s: %zu features, but the training data %s has %zu", t->val.path,
                     t->val.cols, t->train.path, t->train.cols);
    gd_timer_add(t, GD_T_IO, &since);
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

static int build_model(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    size_t outputs = 1;
    int rc = model_outputs(t, gd_model_find(c->model.type), &outputs);
    if (rc)
        return rc;
    rc = gd_model_create(&t->model, c->model.type, t->train.cols, outputs, t->batch_rows, c);
    if (rc)
        return rc;
    t->model.l2 = c->model.l2;
    t->model.comm = t->comm;
    gd_model_init(&t->model, c);
    gd_optim_hparams hp = {0};
    return gd_optim_create(&t->optim, c->optimizer.type, &hp, t->model.nparams);
}

static int plan_batches(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    size_t rows = t->train.rows;
    t->batch_rows = c->train.batch_size == 0 || (size_t)c->train.batch_size > rows
                        ? rows : (size_t)c->train.batch_size;
    long steps = (long)((rows + t->batch_rows - 1) / t->batch_rows);
    MPI_Allreduce(MPI_IN_PLACE, &steps, 1, MPI_LONG, MPI_MAX, t->comm);
    t->steps_per_epoch = steps;
    t->order = gd_alloc(rows, sizeof(size_t), "shard order");
    t->bx = gd_alloc(t->batch_rows, t->train.cols * sizeof(float), "batch features");
    t->by = gd_alloc(t->batch_rows, sizeof(float), "batch labels");
    if (!t->order || !t->bx || !t->by)
        return GD_ERR;
    for (size_t i = 0; i < rows; i++)
        t->order[i] = i;
    gd_rng_seed(&t->shuffle_rng, (uint64_t)c->train.seed, (uint64_t)t->rank, GD_RNG_SHUFFLE);
    return GD_OK;
}

static int setup(gd_trainer *t)
{
    int rc = load_data(t);
    if (!rc)
        rc = gd_agree(t->comm, plan_batches(t));
    if (!rc)
        rc = gd_agree(t->comm, build_model(t));
    if (!rc) {
        t->strategy = gd_strategy_find(t->cfg->parallel.mode);
        rc = gd_agree(t->comm, t->strategy->setup(t));
    }
    t->lr = t->cfg->optimizer.lr;
    return rc;
}

/* Points *x, *y at the rows of step s: straight into the shard when they are contiguous
 * in order (no shuffle), else gathered into the batch buffers. Returns the row count. */
static size_t gather_batch(gd_trainer *t, long s, const float **x, const float **y)
{
    const size_t cols = t->train.cols, start = (size_t)s * t->batch_rows;
    if (start >= t->train.rows)
        return 0;
    size_t n = t->train.rows - start < t->batch_rows ? t->train.rows - start : t->batch_rows;
    if (!t->cfg->train.shuffle || n == t->train.rows) {
        *x = t->train.x + start * cols;
        *y = t->train.y + start;
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = t->order[start + i];
        memcpy(t->bx + i * cols, t->train.x + r * cols, cols * sizeof(float));
        t->by[i] = t->train.y[r];
    }
    *x = t->bx;
    *y = t->by;
    return n;
}

static void check_finite_step(gd_trainer *t)
{
    if (isfinite(t->step_loss))
        return;
    gd_fail(GD_EDIVERGED, "training diverged: non-finite loss at epoch %ld, step %ld "
            "(lower optimizer.lr?); the last good model was kept", t->epoch, t->step);
}

/* One optimizer step. Returns non-zero when training must stop (divergence). */
static int train_step(gd_trainer *t, long s)
{
    double since = MPI_Wtime();
    const float *x = NULL, *y = NULL;
    size_t n = gather_batch(t, s, &x, &y);
    memset(t->model.g, 0, (t->model.nparams + GD_GRAD_EXTRA) * sizeof(float));
    t->batch_loss = n ? t->model.ops->loss_grad(&t->model, x, y, n, t->model.g, NULL) : 0;
    t->batch_count = (double)n;
    gd_timer_add(t, GD_T_COMPUTE, &since);
    t->strategy->step(t);
    t->step++;
    t->epoch_loss += t->step_loss;
    t->epoch_count += t->step_count;
    t->samples_seen += t->step_count;
    check_finite_step(t);
    return isfinite(t->step_loss) ? GD_OK : GD_EDIVERGED;
}

static int steps_exhausted(const gd_trainer *t)
{
    return t->cfg->train.max_steps && t->step >= t->cfg->train.max_steps;
}

static void log_progress(const gd_trainer *t, long s)
{
    long every = t->cfg->train.log_every;
    if (t->rank == 0 && every && t->step % every == 0)
        printf("  epoch %ld step %ld/%ld  loss %.6f\n", t->epoch, s + 1, t->steps_per_epoch,
               t->epoch_count ? t->epoch_loss / t->epoch_count : 0.0);
}

static int run_epoch(gd_trainer *t)
{
    if (t->cfg->train.shuffle && t->batch_rows < t->train.rows)
        gd_rng_permute(&t->shuffle_rng, t->order, t->train.rows);
    t->epoch_loss = t->epoch_count = 0;
    for (long s = 0; s < t->steps_per_epoch && !steps_exhausted(t); s++) {
        int rc = train_step(t, s);
        if (rc)
            return rc;
        log_progress(t, s);
    }
    return GD_OK;
}

/* Validation loss and accuracy, reduced over ranks (NaN when there is no val file). */
static void evaluate(gd_trainer *t, double *loss, double *acc)
{
    double since = MPI_Wtime();
    *loss = *acc = NAN;
    if (t->has_val) {
        size_t correct = 0;
        double sums[3] = {gd_model_evaluate(&t->model, t->val.x, t->val.y, t->val.rows, &correct),
                          (double)correct, (double)t->val.rows};
        MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_DOUBLE, MPI_SUM, t->comm);
        *loss = sums[0] / sums[2];
        if (t->model.ops->task != GD_TASK_REGRESSION)
            *acc = sums[1] / sums[2];
    }
    gd_timer_add(t, GD_T_EVAL, &since);
}

static void record_epoch(gd_trainer *t)
{
    gd_metrics_row *r = &t->rows[t->nrows++];
    double wall = MPI_Wtime() - t->t_start;
    double busy = t->timers[GD_T_COMPUTE] + t->timers[GD_T_COMM] + t->timers[GD_T_WAIT];
    r->epoch = t->epoch;
    r->step = t->step;
    r->wall = wall;
    r->samples = t->samples_seen;
    r->train_loss = t->epoch_count ? t->epoch_loss / t->epoch_count : NAN;
    evaluate(t, &r->val_loss, &r->val_acc);
    r->lr = t->lr;
    r->samples_per_s = t->samples_seen / (busy > 0 ? busy : 1e-9);
    r->compute_frac = busy > 0 ? t->timers[GD_T_COMPUTE] / busy : 0;
    r->comm_frac = busy > 0 ? t->timers[GD_T_COMM] / busy : 0;
    r->wait_frac = busy > 0 ? t->timers[GD_T_WAIT] / busy : 0;
}

static void print_epoch(const gd_trainer *t)
{
    const gd_metrics_row *r = &t->rows[t->nrows - 1];
    if (t->rank != 0)
        return;
    printf("epoch %3ld  step %7ld  train_loss %.6f", r->epoch, r->step, r->train_loss);
    if (t->has_val)
        printf("  val_loss %.6f", r->val_loss);
    if (t->has_val && !isnan(r->val_acc))
        printf("  val_acc %.4f", r->val_acc);
    printf("  lr %.4g  %.0f samples/s  comm %.1f%%\n", r->lr, r->samples_per_s,
           100.0 * r->comm_frac);
    fflush(stdout);
}

static int train_loop(gd_trainer *t)
{
    t->rows = gd_alloc((size_t)t->cfg->train.epochs, sizeof(gd_metrics_row), "metrics");
    if (!t->rows)
        return GD_ERR;
    t->t_start = MPI_Wtime();
    for (t->epoch = 1; t->epoch <= t->cfg->train.epochs && !steps_exhausted(t); t->epoch++) {
        int rc = run_epoch(t);
        if (rc)
            return rc;
        record_epoch(t);
        print_epoch(t);
        if (t->rank == 0 && gd_write_metrics(t))
            gd_abort(t->comm, GD_ERR);
    }
    t->epoch--;
    t->strategy->finish(t);
    t->t_train = MPI_Wtime() - t->t_start;
    return GD_OK;
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
        t->strategy->destroy(t);
    gd_optim_destroy(&t->optim);
    gd_model_destroy(&t->model);
    gd_data_free(&t->train);
    gd_data_free(&t->val);
    free(t->order);
    free(t->bx);
    free(t->by);
    free(t->rows);
}

int gd_train(const gd_config *cfg, MPI_Comm comm)
{
    gd_trainer t = {.cfg = cfg, .comm = comm};
    MPI_Comm_rank(comm, &t.rank);
    MPI_Comm_size(comm, &t.size);
    openblas_set_num_threads((int)cfg->train.threads);
    int rc = setup(&t);
    if (!rc)
        rc = prepare_output_dir(&t);
    if (!rc) {
        rc = train_loop(&t);
        /* A diverged run keeps whatever model.h5 was there: never overwrite it with NaN. */
        if (!rc)
            rc = save_model(&t);
        gd_write_summary(&t, rc, rc ? gd_errmsg() : "");
    }
    teardown(&t);
    return rc;
}
