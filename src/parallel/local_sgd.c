/* parallel.mode = local-sgd: periodic model averaging (Zinkevich et al. 2010; Stich 2019;
 * Lin et al. 2020, "Don't use large mini-batches, use local SGD").
 *
 * Every rank steps its own copy x_k with its own mean gradient and its own optimizer:
 *   x_k <- x_k - opt(g_k / n_k)                        (each step, no communication)
 * and every H = parallel.average_every steps the copies are averaged, weighted by the
 * samples n_k each rank used since the last average x^ (the same on every rank):
 *   x^ <- x^ + sum_k n_k (x_k - x^) / sum_k n_k,   x_k <- x^      (one allreduce)
 * With equal batches this is the plain mean (1/P) sum_k x_k. The weights make H = 1 the
 * allreduce step exactly, for uneven shards too: sum_k n_k (x^ - lr g_k / n_k) / N =
 * x^ - lr sum_k g_k / N. Averaging the differences from x^ rather than the copies keeps
 * float rounding at the scale of the updates. parallel.average_state = true also averages
 * the optimizer state with the same weights, so that momentum and nesterov at H = 1 equal
 * allreduce too (their velocity is linear in the gradient); Adam's moments are not.
 *
 * Each epoch's row describes the average (computed for the row, not adopted: training
 * continues from the ranks' own copies), with the epoch's loss and samples summed over
 * the ranks; finish() averages once more, so model.h5 is the average.
 *
 * A rank that diverges holds it back until the next average, whose allreduce carries the
 * divergence flags (local_sgd.h); the steps after which the loop may end without another
 * average exchange the flags alone, so that every rank stops at the same step. */
#include "local_sgd.h"

#include "gdmpi/error.h"
#include "gdmpi/watchdog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct lsgd_state {
    long every;       /* H */
    int with_state;   /* parallel.average_state */
    size_t nstate;    /* optimizer state floats averaged (0 unless with_state) */
    float *ref;       /* x^: the parameters at the last average, the same on every rank */
    float *buf;       /* nparams + nstate + 1 + LOCAL_FLAGS floats: weighted differences,
                         states, samples, divergence flags */
    float *eval;      /* the average that an epoch's row describes */
    float *own;       /* ctx->model->w while eval stands in for it */
    double period;    /* samples since the last average, this rank */
    double samples;   /* samples so far, this rank */
    long steps, averages;
    gd_divergence held; /* this rank's divergence, until the ranks agree on it */
} lsgd_state;

void local_step(gd_step_ctx *ctx)
{
    double since = MPI_Wtime();
    float *g = ctx->model->g;
    ctx->step_loss = ctx->batch_loss;
    ctx->step_count = ctx->batch_count;
    if (ctx->step_count > 0)
        gd_step_update(ctx, g); /* divides by the count in its first pass */
    gd_step_time(ctx, GD_T_COMPUTE, &since);
}

void local_step_held(gd_step_ctx *ctx, gd_divergence *held)
{
    if (ctx->diverged || *held) { /* no update: the parameters stay the last finite ones */
        ctx->step_loss = ctx->step_count = 0;
        return;
    }
    local_step(ctx);
    if (ctx->diverged || !isfinite(ctx->step_loss)) {
        *held = ctx->diverged ? ctx->diverged : GD_DIV_LOSS;
        ctx->diverged = GD_DIV_NONE; /* until the ranks agree: then every rank stops at once */
        ctx->step_loss = ctx->step_count = 0;
    }
}

void local_own_noise(gd_step_ctx *ctx)
{
    gd_update_own_noise(ctx->update, (uint64_t)ctx->cfg->train.seed, ctx->rank);
}

void local_declare(gd_step_ctx *ctx, gd_state *s, const char *group, long *steps,
                   double *samples, gd_divergence *held)
{
    _Static_assert(sizeof(gd_divergence) == sizeof(int32_t), "saved as int32");
    gd_step_declare(ctx, s, GD_PER_RANK, 0, ctx->model->nparams);
    gd_state_add(s, GD_STATE_I64, GD_PER_RANK, steps, 1, "%s/steps", group)->elastic = GD_EL_FIRST;
    gd_state_add(s, GD_STATE_F64, GD_PER_RANK, samples, 1, "%s/samples", group)->elastic =
        GD_EL_SPREAD;
    gd_state_add(s, GD_STATE_I32, GD_PER_RANK, held, 1, "%s/held", group)->elastic = GD_EL_FIRST;
}

void local_flags_put(gd_divergence held, float *f)
{
    f[0] = held == GD_DIV_LOSS ? 1.0f : 0.0f;
    f[1] = held == GD_DIV_GRADIENT ? 1.0f : 0.0f;
}

void local_flags_take(gd_step_ctx *ctx, const float *f)
{
    if (!ctx->diverged && (f[0] > 0 || f[1] > 0))
        ctx->diverged = f[0] > 0 ? GD_DIV_LOSS : GD_DIV_GRADIENT;
}

void local_agree_diverged(gd_step_ctx *ctx, gd_divergence held)
{
    if (ctx->diverged)
        return;
    double since = MPI_Wtime();
    float f[LOCAL_FLAGS];
    local_flags_put(held, f);
    gd_watchdog_enter("the divergence flags", ctx->step);
    MPI_Allreduce(MPI_IN_PLACE, f, LOCAL_FLAGS, MPI_FLOAT, MPI_SUM, ctx->comm);
    gd_watchdog_leave();
    local_flags_take(ctx, f);
    gd_step_time(ctx, GD_T_COMM, &since);
}

void local_epoch_sums(gd_step_ctx *ctx, double samples, gd_divergence held)
{
    double since = MPI_Wtime();
    float f[LOCAL_FLAGS];
    local_flags_put(held, f);
    double sums[3 + LOCAL_FLAGS] = {ctx->epoch_loss, ctx->epoch_count, samples};
    for (int i = 0; i < LOCAL_FLAGS; i++)
        sums[3 + i] = f[i];
    gd_watchdog_enter("the epoch's sums", ctx->step);
    MPI_Allreduce(MPI_IN_PLACE, sums, 3 + LOCAL_FLAGS, MPI_DOUBLE, MPI_SUM, ctx->comm);
    gd_watchdog_leave();
    ctx->epoch_loss = sums[0];
    ctx->epoch_count = sums[1];
    ctx->samples_seen = sums[2];
    for (int i = 0; i < LOCAL_FLAGS; i++)
        f[i] = (float)sums[3 + i];
    local_flags_take(ctx, f); /* a next step (if any) stops every rank */
    gd_step_time(ctx, GD_T_EVAL, &since);
}

static int lsgd_setup(gd_step_ctx *ctx)
{
    const size_t n = ctx->model->nparams;
    lsgd_state *s = gd_alloc(1, sizeof *s, "local-sgd state");
    if (!s)
        return GD_ERR;
    ctx->state = s;
    local_own_noise(ctx);
    s->every = ctx->cfg->parallel.average_every;
    s->with_state = ctx->cfg->parallel.average_state;
    s->nstate = s->with_state ? gd_optim_state_len(ctx->optim) : 0;
    s->ref = gd_alloc(n, sizeof(float), "local-sgd average");
    s->eval = gd_alloc(n, sizeof(float), "local-sgd average");
    s->buf = gd_alloc(n + s->nstate + 1 + LOCAL_FLAGS, sizeof(float), "local-sgd buffer");
    if (!s->ref || !s->eval || !s->buf)
        return GD_ERR;
    memcpy(s->ref, ctx->model->w, n * sizeof(float)); /* every rank starts from the same init */
    return GD_OK;
}

/* Collective: dst <- x^ + the sample-weighted mean difference of the copies from x^ (and,
 * when `state`, the optimizer state <- its weighted mean). Returns the samples averaged
 * over; with none (nobody moved since the last average), dst is x^ and the state stays.
 * The divergence flags ride along (local_sgd.h). */
static double average_into(gd_step_ctx *ctx, lsgd_state *s, float *dst, int state)
{
    double since = MPI_Wtime();
    const size_t n = ctx->model->nparams, ns = state ? s->nstate : 0;
    const float weight = (float)s->period, *w = ctx->model->w;
    float *b = s->buf;
    for (size_t i = 0; i < n; i++)
        b[i] = weight * (w[i] - s->ref[i]);
    for (size_t i = 0; i < ns; i++)
        b[n + i] = weight * ctx->optim->state[i];
    b[n + ns] = weight;
    local_flags_put(s->held, b + n + ns + 1);
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    gd_watchdog_enter("averaging the parameters", ctx->step);
    MPI_Allreduce(MPI_IN_PLACE, b, (int)(n + ns + 1 + LOCAL_FLAGS), MPI_FLOAT, MPI_SUM, ctx->comm);
    gd_watchdog_leave();
    gd_step_time(ctx, GD_T_COMM, &since);
    const double total = b[n + ns];
    const float inv = total > 0 ? (float)(1.0 / total) : 0.0f;
    for (size_t i = 0; i < n; i++)
        dst[i] = s->ref[i] + b[i] * inv;
    for (size_t i = 0; total > 0 && i < ns; i++)
        ctx->optim->state[i] = b[n + i] * inv;
    local_flags_take(ctx, b + n + ns + 1);
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    return total;
}

/* Every rank adopts the average: the next period starts from it. */
static void average(gd_step_ctx *ctx, lsgd_state *s)
{
    average_into(ctx, s, ctx->model->w, s->with_state);
    memcpy(s->ref, ctx->model->w, ctx->model->nparams * sizeof(float));
    s->period = 0;
    s->averages++;
}

static int lsgd_step(gd_step_ctx *ctx)
{
    lsgd_state *s = ctx->state;
    local_step_held(ctx, &s->held);
    s->period += ctx->step_count;
    s->samples += ctx->step_count;
    if (++s->steps % s->every == 0)
        average(ctx, s); /* carries the divergence flags */
    else if (ctx->may_stop)
        local_agree_diverged(ctx, s->held);
    return GD_OK;
}

/* The row describes the average of the copies, without adopting it. */
static int lsgd_epoch_row(gd_step_ctx *ctx, int begin)
{
    lsgd_state *s = ctx->state;
    if (!begin) {
        ctx->model->w = s->own;
        return GD_OK;
    }
    local_epoch_sums(ctx, s->samples, s->held);
    average_into(ctx, s, s->eval, 0);
    s->own = ctx->model->w;
    ctx->model->w = s->eval;
    return GD_OK;
}

/* The final model is the average; after early stopping every rank already holds the best
 * epoch's average (restore_best), which is the model. */
static int lsgd_finish(gd_step_ctx *ctx)
{
    lsgd_state *s = ctx->state;
    if (!ctx->best_kept)
        average(ctx, s);
    return GD_OK;
}

static void lsgd_summary(const gd_step_ctx *ctx, FILE *f)
{
    const lsgd_state *s = ctx->state;
    if (!s)
        return;
    fprintf(f, "  \"local_sgd\": {\"average_every\": %ld, \"average_state\": %s, "
               "\"averages\": %ld},\n",
            s->every, s->with_state ? "true" : "false", s->averages);
}

static void lsgd_destroy(gd_step_ctx *ctx)
{
    lsgd_state *s = ctx->state;
    if (!s)
        return;
    if (s->own && ctx->model->w == s->eval)
        ctx->model->w = s->own; /* the model frees its own buffer */
    free(s->ref);
    free(s->eval);
    free(s->buf);
    free(s);
    ctx->state = NULL;
}

/* Each rank's copy, optimizer, step count and samples; the last average x^ (the same on
 * every rank), and the samples since it. Resumes exactly. */
static int lsgd_declare(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    (void)use;
    lsgd_state *s = ctx->state;
    local_declare(ctx, st, "local_sgd", &s->steps, &s->samples, &s->held);
    gd_state_add(st, GD_STATE_F32, GD_SHARED, s->ref, ctx->model->nparams, "local_sgd/average");
    gd_state_add(st, GD_STATE_F64, GD_PER_RANK, &s->period, 1, "local_sgd/period_samples")->elastic =
        GD_EL_SPREAD;
    gd_state_add(st, GD_STATE_I64, GD_PER_RANK, &s->averages, 1, "local_sgd/averages")->elastic =
        GD_EL_FIRST;
    return GD_OK;
}

const gd_strategy_ops gd_strategy_local_sgd = {
    .name = "local-sgd",
    .state = lsgd_declare,
    .setup = lsgd_setup,
    .step = lsgd_step,
    .epoch_row = lsgd_epoch_row,
    .finish = lsgd_finish,
    .summary = lsgd_summary,
    .destroy = lsgd_destroy,
};
