/* parallel.mode = easgd and easgd-async: elastic averaging SGD (Zhang, Choromanska & LeCun
 * 2015, "Deep learning with elastic averaging SGD").
 *
 * Each of the p workers keeps its own parameters x_i and steps them with its own gradient
 * and optimizer state; a center variable x~ holds the consensus, and an elastic force of
 * moving rate alpha (parallel.alpha) pulls each worker and the center toward each other.
 * The exchange happens when tau = parallel.tau divides the worker's step count t (0, tau,
 * 2 tau, ...), on the x_i that the step's gradient was computed on.
 *
 * easgd, synchronous (the paper's equations (5) and (6) with communication period tau):
 *   x_i <- x_i - alpha (x_i - x~)                    on every worker at once
 *   x~  <- x~ + alpha sum_i (x_i - x~)  =  (1 - beta) x~ + beta mean_i x_i,   beta = p alpha
 * both from the values before the exchange, then the step's own update
 *   x_i <- x_i - opt(g_i / n_i)
 * One MPI_Allreduce (the sum of the x_i) per exchange; every rank then computes the same x~,
 * so every rank holds the center. A rank that diverges holds it back until the next
 * exchange, which carries the divergence flags (local_sgd.h); after a step at which the
 * loop may end before the next exchange, the ranks trade the flags alone, so that every
 * rank stops at the same step. beta must be at most 1, or the center overshoots the
 * workers' mean (a config error); alpha = 0 (the default) picks beta = 0.9, the paper's.
 *
 * easgd-async (the paper's Algorithm 1), on the parameter-server machinery of ps.c: ranks
 * 0..S-1 (parallel.servers) hold the center in slices and run ps-async's server loop; the
 * others are workers. At an exchange a worker sends every server its slice of x_i and the
 * server applies, alone and at once,
 *   e = alpha (x_i - x~),   x~ <- x~ + e
 * then answers with the new x~, from which the worker recovers the same e,
 *   e = alpha / (1 - alpha) (x_i - x~_new)          since x_i - x~_new = (1 - alpha)(x_i - x~),
 * and moves x_i <- x_i - e. One round trip per exchange; the read-modify-write of x~ is
 * atomic at the server, and workers never wait for one another. Other workers' exchanges
 * in between move x~: ps's staleness histogram counts them. Rows, stopping, termination and
 * conservation are ps-async's: train.max_steps counts the servers' exchanges; a worker's last
 * message (PS_DONE) is one more exchange. alpha = 0 picks 0.9 / workers.
 *
 * Both: each epoch's row and model.h5 describe the center x~, as the paper evaluates it.
 * The local steps use optimizer.type with this rank's own state (nesterov comes close to
 * the paper's EAMSGD, whose local steps use Nesterov momentum). Each local step is one rank's gradient, so the
 * linear scaling rule counts one worker per step. */
#include "local_sgd.h"
#include "ps.h"

#include "gdmpi/error.h"
#include "gdmpi/real.h"
#include "gdmpi/watchdog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct easgd_state {
    double alpha;
    long tau, steps, exchanges;
    double samples;             /* this rank's, for the rows (sync) */
    double acc_loss, acc_count; /* async worker: sums since the last exchange */
    float *center;              /* x~ (async worker: as of its last exchange or fetch) */
    float *sum;                 /* sync: sum of the x_i, then LOCAL_FLAGS divergence flags */
    gd_divergence held;         /* sync: this rank's divergence, until the ranks agree on it */
    float *own;                 /* ctx->model->w while the center stands in for it */
} easgd_state;

static double resolve_alpha(const gd_config *c, int workers)
{
    return c->parallel.alpha > 0 ? c->parallel.alpha : 0.9 / workers;
}

static easgd_state *new_state(gd_step_ctx *ctx, int workers)
{
    easgd_state *e = gd_alloc(1, sizeof *e, "easgd state");
    if (!e)
        return NULL;
    local_own_noise(ctx); /* each worker's local steps draw their own gradient noise */
    e->alpha = resolve_alpha(ctx->cfg, workers);
    e->tau = ctx->cfg->parallel.tau;
    e->center = gd_alloc(ctx->model->nparams, sizeof(float), "easgd center");
    if (e->center)
        memcpy(e->center, ctx->model->w, ctx->model->nparams * sizeof(float)); /* x~ = x_i at start */
    ctx->workers_per_step = 1;
    return e;
}

static void free_state(gd_step_ctx *ctx, easgd_state *e)
{
    if (!e)
        return;
    if (e->own)
        ctx->model->w = e->own; /* the model frees its own buffer */
    free(e->center);
    free(e->sum);
    free(e);
}

/* Puts the center in ctx->model->w for an evaluation (on = 1), or the rank's own x_i back. */
static void show_center(gd_step_ctx *ctx, easgd_state *e, int on)
{
    if (on && !e->own) {
        e->own = ctx->model->w;
        ctx->model->w = e->center;
    } else if (!on && e->own) {
        ctx->model->w = e->own;
        e->own = NULL;
    }
}

/* The final model is the center, unless early stopping restored the best epoch's center. */
static void center_as_model(gd_step_ctx *ctx, easgd_state *e)
{
    if (!ctx->best_kept)
        memcpy(ctx->model->w, e->center, ctx->model->nparams * sizeof(float));
}

/* summary.json's "easgd" member; exchanges: those rank 0 took part in (async: applied). */
static void json_easgd(FILE *f, const char *variant, const easgd_state *e, int workers,
                       double exchanges)
{
    fprintf(f, "  \"easgd\": {\"variant\": \"%s\", \"tau\": %ld, \"alpha\": %s, \"beta\": "
               "%s, \"workers\": %d, \"exchanges\": %.0f},\n",
            variant, e->tau, gd_real(e->alpha).text, gd_real(e->alpha * workers).text, workers, exchanges);
}

/* ---- easgd (synchronous) ------------------------------------------------------------ */

static int sync_check(const gd_config *c, int size)
{
    if (c->parallel.alpha * size > 1)
        return gd_fail(GD_ECONFIG, "parallel.alpha = %s with %d ranks: the center would move "
                       "beta = ranks x alpha = %s of the way to the ranks' mean at each exchange; "
                       "above 1 it overshoots (lower alpha; 0 picks beta = 0.9)",
                       gd_real(c->parallel.alpha).text, size, gd_real(c->parallel.alpha * size).text);
    return GD_OK;
}

static int sync_setup(gd_step_ctx *ctx)
{
    easgd_state *e = new_state(ctx, ctx->size);
    ctx->state = e;
    if (!e || !e->center || !(e->sum = gd_alloc(ctx->model->nparams + LOCAL_FLAGS, sizeof(float),
                                                     "easgd sum")))
        return GD_ERR;
    return GD_OK;
}

/* Equations (5) and (6): every rank moves its x_i and the center by the same rule. */
static void sync_exchange(gd_step_ctx *ctx, easgd_state *e)
{
    double since = MPI_Wtime();
    const size_t n = ctx->model->nparams;
    float *x = ctx->model->w, *c = e->center;
    memcpy(e->sum, x, n * sizeof(float));
    local_flags_put(e->held, e->sum + n);
    gd_watchdog_enter("the elastic exchange", ctx->step);
    MPI_Allreduce(MPI_IN_PLACE, e->sum, (int)(n + LOCAL_FLAGS), MPI_FLOAT, MPI_SUM, ctx->comm);
    gd_watchdog_leave();
    gd_step_time(ctx, GD_T_COMM, &since);
    local_flags_take(ctx, e->sum + n);
    const double a = e->alpha, p = ctx->size;
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i], ci = c[i];
        x[i] = (float)(xi - a * (xi - ci));
        c[i] = (float)(ci + a * (e->sum[i] - p * ci));
    }
    e->exchanges++;
    gd_step_time(ctx, GD_T_COMPUTE, &since);
}

static int sync_step(gd_step_ctx *ctx)
{
    easgd_state *e = ctx->state;
    if (e->steps++ % e->tau == 0)
        sync_exchange(ctx, e); /* carries the divergence flags */
    local_step_held(ctx, &e->held);
    e->samples += ctx->step_count;
    if (ctx->may_stop)
        local_agree_diverged(ctx, e->held);
    return GD_OK;
}

static int sync_epoch_row(gd_step_ctx *ctx, int begin)
{
    easgd_state *e = ctx->state;
    if (begin)
        local_epoch_sums(ctx, e->samples, e->held);
    show_center(ctx, e, begin);
    return GD_OK;
}

static int sync_finish(gd_step_ctx *ctx)
{
    center_as_model(ctx, ctx->state);
    return GD_OK;
}

static void sync_summary(const gd_step_ctx *ctx, FILE *f)
{
    const easgd_state *e = ctx->state;
    if (e)
        json_easgd(f, "sync", e, ctx->size, (double)e->exchanges);
}

static void sync_destroy(gd_step_ctx *ctx)
{
    free_state(ctx, ctx->state);
    ctx->state = NULL;
}

/* Each rank's x_i, optimizer, step count and samples, and the center (the same on every
 * rank). Resumes exactly. */
static int sync_state(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    (void)use;
    easgd_state *e = ctx->state;
    local_declare(ctx, st, "easgd", &e->steps, &e->samples, &e->held);
    gd_state_add(st, GD_STATE_F32, GD_SHARED, e->center, ctx->model->nparams, "easgd/center");
    gd_state_add(st, GD_STATE_I64, GD_PER_RANK, &e->exchanges, 1, "easgd/exchanges");
    return GD_OK;
}

const gd_strategy_ops gd_strategy_easgd = {
    .name = "easgd",
    .not_elastic = "a worker's local variable is tied to the center by the elastic force; the paper gives a new worker no value but the center at the start",
    .state = sync_state,
    .check = sync_check,
    .setup = sync_setup,
    .step = sync_step,
    .epoch_row = sync_epoch_row,
    .finish = sync_finish,
    .summary = sync_summary,
    .destroy = sync_destroy,
};

/* ---- easgd-async: servers hold the center ------------------------------------------ */

static int async_check(const gd_config *c, int size)
{
    if (c->parallel.fetch_every != 1 || c->parallel.push_every != 1 || c->parallel.staleness != -1)
        return gd_fail(GD_ECONFIG, "parallel.fetch_every, push_every and staleness apply to "
                       "ps-async; easgd-async exchanges with the servers every parallel.tau steps");
    return ps_check(c, size, 1);
}

/* Server: the elastic move of its slice of the center toward the worker's x (in place). */
static gd_divergence elastic_update(gd_step_ctx *ctx, ps_state *s, float *x, const ps_header *h,
                          int64_t stale)
{
    (void)stale;
    const size_t len = s->len[s->me];
    float *c = ctx->model->w + s->lo[s->me];
    const double a = resolve_alpha(ctx->cfg, s->W), sumsq = gd_sumsq(x, len);
    if (!isfinite(h->loss) || !isfinite(sumsq)) {
        return isfinite(h->loss) ? GD_DIV_GRADIENT : GD_DIV_LOSS;
    }
    for (size_t k = 0; k < len; k++)
        c[k] = (float)(c[k] + a * ((double)x[k] - c[k]));
    return GD_DIV_NONE;
}

/* Worker: the move x_i <- x_i - e, e recovered from the center the server answered with. */
static void pull(gd_step_ctx *ctx, const easgd_state *e)
{
    const double k = e->alpha / (1 - e->alpha);
    float *x = ctx->model->w;
    for (size_t i = 0; i < ctx->model->nparams; i++)
        x[i] = (float)(x[i] - k * ((double)x[i] - e->center[i]));
}

/* Fills each server's message: with PS_PUSH this worker's slice of x_i and its sums since
 * the last exchange. */
static void prepare(gd_step_ctx *ctx, ps_state *s, easgd_state *e, int flags)
{
    ps_worker *w = &s->w;
    const int push = flags & PS_PUSH;
    for (int j = 0; j < s->S; j++) {
        ps_msg *m = w->push[j];
        m->h = (ps_header){.loss = e->acc_loss, .count = push ? e->acc_count : 0,
                           .version = w->read_version[j], .clock = w->read_clock[j],
                           .need = INT64_MIN, .rows = w->rows_sent,
                           .diverged = (int32_t)ctx->diverged};
        if (push) {
            memcpy(m->x, ctx->model->w + s->lo[j], s->len[j] * sizeof(float));
            ps_pair_add(&w->sent[j], m->x, s->len[j], e->acc_count);
        }
        w->flags[j] = flags;
    }
}

/* One round trip with every server: an exchange (PS_PUSH | PS_FETCH), a fetch of the center
 * (PS_FETCH), or the last message (PS_DONE). The answers land in e->center. */
static void async_round(gd_step_ctx *ctx, ps_state *s, int flags)
{
    easgd_state *e = s->ext;
    double since = MPI_Wtime();
    prepare(ctx, s, e, flags);
    gd_step_time(ctx, GD_T_COMM, &since);
    float *mine = ctx->model->w;
    ctx->model->w = e->center; /* ps_worker_round puts the slices it fetches in ctx->model->w */
    ps_worker_round(ctx, s);
    ctx->model->w = mine;
    since = MPI_Wtime();
    if ((flags & PS_PUSH) && (flags & PS_FETCH))
        pull(ctx, e); /* unconditional, as in the paper: samples or none, the server moved */
    if (flags & PS_PUSH) {
        e->acc_loss = e->acc_count = 0;
        e->exchanges++;
        s->w.clock++;
    }
    gd_step_time(ctx, GD_T_COMPUTE, &since);
}

static int async_setup(gd_step_ctx *ctx)
{
    int rc = ps_setup(ctx, 1);
    ps_state *s = ctx->state;
    if (rc)
        return rc;
    s->update = elastic_update;
    s->exchange = 1;
    if (!(s->ext = new_state(ctx, s->W)) || !((easgd_state *)s->ext)->center)
        return GD_ERR;
    if (ctx->serving)
        return GD_OK;
    /* ps_setup gave workers no optimizer (Downpour's servers step); here they step */
    gd_optim_hparams hp = ctx->optim->hp;
    gd_optim_destroy(ctx->optim);
    return gd_optim_create(ctx->optim, ctx->cfg->optimizer.type, &hp, ctx->model->nparams);
}

static int async_step(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    easgd_state *e = s->ext;
    if (e->steps++ % e->tau == 0)
        async_round(ctx, s, PS_PUSH | PS_FETCH);
    local_step(ctx);
    e->acc_loss += ctx->step_loss;
    e->acc_count += ctx->step_count;
    s->w.steps++;
    return GD_OK;
}

/* Lead worker, before it evaluates: the servers' current center stands in for x_i until
 * the row is reported. */
static int async_refresh(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    async_round(ctx, s, PS_FETCH);
    show_center(ctx, s->ext, 1);
    return GD_OK;
}

static int async_report(gd_step_ctx *ctx, const gd_metrics_row *row)
{
    ps_state *s = ctx->state;
    show_center(ctx, s->ext, 0);
    return ps_async_report(ctx, row);
}

/* A worker's last message is one more exchange (after a divergence, its header says so
 * and the servers stop the other workers); then all ranks meet in ps_finish, which
 * gathers the center's slices into rank 0's model. */
static int async_finish(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (!ctx->serving) {
        async_round(ctx, s, PS_PUSH | PS_DONE);
        gd_watchdog_enter_peer("sending a metrics row", ctx->step, 0);
        MPI_Wait(&s->w.row_req, MPI_STATUS_IGNORE);
        gd_watchdog_leave();
    }
    return ps_finish(ctx);
}

/* The servers' center (in slices, as ps-async's parameters; rank 0 alone assembles it) and
 * each worker's x_i (model->w), optimizer and step count. A worker that the checkpoint does
 * not describe (rank 0 wrote it alone) starts from the center, as at the start of a run;
 * its steps (-1 until a load sets them) say so. */
static int async_state(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    ps_state *s = ctx->state;
    easgd_state *e = s->ext;
    const size_t own = ctx->serving ? 0 : ctx->model->nparams;
    int rc = ps_declare(ctx, st, use, 0);
    if (use == GD_STATE_LOAD)
        e->steps = -1;
    gd_state_add(st, GD_STATE_F32, GD_PER_RANK, ctx->serving ? NULL : ctx->model->w, own,
                 "easgd/local");
    gd_state_add(st, GD_STATE_I64, GD_PER_RANK, &e->steps, 1, "easgd/steps");
    gd_state_add(st, GD_STATE_I64, GD_PER_RANK, &e->exchanges, 1, "easgd/exchanges");
    return rc;
}

/* Servers: their version, as ps-async's. Workers: the center, fetched; a worker that the
 * checkpoint did not describe starts from it. */
static int async_resumed(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    easgd_state *e = s->ext;
    if (ctx->serving)
        return ps_resumed_server(ctx);
    async_round(ctx, s, PS_FETCH);
    if (e->steps < 0) {
        memcpy(ctx->model->w, e->center, ctx->model->nparams * sizeof(float));
        e->steps = e->exchanges = 0;
    }
    return GD_OK;
}

static void async_summary(const gd_step_ctx *ctx, FILE *f)
{
    const ps_state *s = ctx->state;
    if (!s || !s->ext || !s->rep.ready)
        return;
    ps_summary(ctx, f);
    json_easgd(f, "async", s->ext, s->W, s->rep.updates[0]);
}

static void async_destroy(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (s)
        free_state(ctx, s->ext);
    ps_destroy(ctx);
}

const gd_strategy_ops gd_strategy_easgd_async = {
    .name = "easgd-async",
    .not_elastic = "a worker's local variable is tied to the center by the elastic force; the paper gives a new worker no value but the center at the start",
    .state = async_state,
    .resumed = async_resumed,
    .has_servers = 1,
    .async = 1,
    .check = async_check,
    .setup = async_setup,
    .step = async_step,
    .serve = ps_async_serve,
    .refresh = async_refresh,
    .report = async_report,
    .finish = async_finish,
    .summary = async_summary,
    .destroy = async_destroy,
};
