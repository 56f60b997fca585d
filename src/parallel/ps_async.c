/* parallel.mode = ps-async: Downpour SGD's asynchronous parameter servers, with
 * Hogwild-style updates (each push applied on arrival, no lock across workers), bounded
 * staleness (SSP) and staleness-aware learning rates. The protocol: ps.c.
 *
 * Workers run the trainer's epoch loop with no collective: step() adds the gradient into
 * the push buffers and, when a push or a fetch is due, makes one round trip to the
 * servers. Servers do not run the loop: serve() answers messages until every worker is
 * done. */
#include "ps.h"

#include "gdmpi/error.h"
#include "gdmpi/watchdog.h"

#include <math.h>
#include <string.h>

/* ---- worker ---------------------------------------------------------------------- */

/* Each gradient's staleness stamp: the version of the copy it was computed on (the last
 * read from server j), weighted by its samples; a push's stamp is their mean, so that its
 * staleness at the server is the mean staleness of the gradients it carries. */
static void stamp(gd_step_ctx *ctx, ps_state *s, const int64_t *versions)
{
    ps_worker *w = &s->w;
    for (int j = 0; j < s->S; j++)
        w->acc_vsum[j] += ctx->batch_count * (double)versions[j];
}

/* The push buffers are the accumulators: gradient sums since the last push. */
static void accumulate(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    stamp(ctx, s, w->read_version);
    for (int j = 0; j < s->S; j++) {
        float *acc = w->push[j]->x;
        const float *g = ctx->model->g + s->lo[j];
        for (size_t k = 0; k < s->len[j]; k++)
            acc[k] += g[k];
    }
    w->acc_loss += ctx->batch_loss;
    w->acc_count += ctx->batch_count;
}

/* Each server's header for a push: the sums (the loss with the whole penalty at this
 * worker's parameters, which no single server can compute), the read the accumulation
 * began on, and the squared norm of the mean gradient outside that server's slice. */
static void prepare_push(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    const double count = w->acc_count;
    const double penalty = gd_update_penalties(ctx->update, ctx->model->w, 0, ctx->model->nparams, NULL);
    double total = 0;
    ps_zip_encode(s); /* compressed: the norms and counts below are of what is sent */
    for (int j = 0; j < s->S; j++) {
        w->push[j]->h.sumsq_other = gd_sumsq(w->push[j]->x, s->len[j]);
        total += w->push[j]->h.sumsq_other;
    }
    /* |sum / count|^2; downpour's push is a sum of mean gradients already */
    const double inv2 = s->downpour ? 1.0 : count > 0 ? 1.0 / (count * count) : 0;
    for (int j = 0; j < s->S; j++) {
        ps_header *h = &w->push[j]->h;
        h->sumsq_other = (total - h->sumsq_other) * inv2;
        h->loss = w->acc_loss + count * penalty;
        h->count = count;
        h->version = count > 0 ? (int64_t)floor(w->acc_vsum[j] / count) : w->acc_version[j];
        h->clock = w->acc_clock[j];
        ps_pair_add(&w->sent[j], w->push[j]->x, s->len[j], count);
    }
}

/* After a push: empty accumulators, and the next accumulation starts on the last read. */
static void after_push(ps_state *s)
{
    ps_worker *w = &s->w;
    for (int j = 0; j < s->S; j++) {
        memset(w->push[j]->x, 0, s->len[j] * sizeof(float));
        w->acc_version[j] = w->read_version[j];
        w->acc_clock[j] = w->read_clock[j];
        w->acc_vsum[j] = 0;
    }
    w->acc_loss = w->acc_count = 0;
    w->clock++;
}

/* One round trip: a push and/or a fetch, or the last message (done). With a staleness
 * bound s, a worker about to have pushed c times needs parameters read at a server clock
 * of at least c - s: it fetches from every server whose copy is older (SSP). */
static void round_trip(gd_step_ctx *ctx, ps_state *s, int push, int fetch, int done)
{
    ps_worker *w = &s->w;
    const int64_t need = s->bound >= 0 ? w->clock + (push != 0) - s->bound : INT64_MIN;
    if (push) {
        double since = MPI_Wtime();
        prepare_push(ctx, s);
        gd_step_time(ctx, GD_T_COMM, &since); /* the norms and the encoding: moving the gradient */
    }
    for (int j = 0; j < s->S; j++) {
        int get = !done && (fetch || w->read_clock[j] < need);
        w->flags[j] = (push ? PS_PUSH : 0) | (get ? PS_FETCH : 0) | (done ? PS_DONE : 0) |
                      (push && s->downpour ? PS_ACCRUED : 0);
        w->push[j]->h.need = need;
        w->push[j]->h.rows = w->rows_sent;
    }
    ps_worker_round(ctx, s);
    if (push)
        after_push(s);
}

static int async_step(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    ps_worker *w = &s->w;
    double since = MPI_Wtime();
    accumulate(ctx, s);
    ctx->step_loss = ctx->batch_loss; /* this worker's own sums: its epoch's training loss */
    ctx->step_count = ctx->batch_count;
    w->steps++;
    gd_step_time(ctx, GD_T_COMM, &since);
    int push = w->steps % ctx->cfg->parallel.push_every == 0;
    int fetch = w->steps % ctx->cfg->parallel.fetch_every == 0;
    if (push || fetch)
        round_trip(ctx, s, push, fetch, 0);
    return GD_OK;
}

/* Lead worker, before it evaluates: every slice as the servers hold it now. */
static int async_refresh(gd_step_ctx *ctx)
{
    round_trip(ctx, ctx->state, 0, 1, 0);
    return GD_OK;
}

/* Lead worker: one metrics row to rank 0 (the previous one has long arrived). */
int ps_async_report(gd_step_ctx *ctx, const gd_metrics_row *r)
{
    ps_worker *w = &((ps_state *)ctx->state)->w;
    gd_watchdog_enter_peer("sending a metrics row", ctx->step, 0);
    MPI_Wait(&w->row_req, MPI_STATUS_IGNORE);
    gd_watchdog_leave();
    w->row = *r;
    if (ctx->counts_wire) { /* the bytes since the last row (the trainer leaves them NaN) */
        w->row.bytes_sent = ctx->wire[GD_WIRE_SENT] - w->wire_at_row[GD_WIRE_SENT];
        w->row.bytes_recv = ctx->wire[GD_WIRE_RECV] - w->wire_at_row[GD_WIRE_RECV];
        w->row.bytes_dense = ctx->wire[GD_WIRE_DENSE] - w->wire_at_row[GD_WIRE_DENSE];
        memcpy(w->wire_at_row, ctx->wire, sizeof w->wire_at_row);
    }
    MPI_Isend(&w->row, (int)sizeof w->row, MPI_BYTE, 0, PS_TAG_ROW, ctx->comm, &w->row_req);
    w->rows_sent++;
    return GD_OK;
}

/* ---- server ---------------------------------------------------------------------- */

/* The server's clock: the fewest pushes received from a worker still running. */
static int64_t server_clock(const ps_state *s)
{
    int64_t c = INT64_MAX;
    for (int i = 0; i < s->W; i++)
        if (s->s.clock[i] < c)
            c = s->s.clock[i];
    return c;
}

static void post_push_recv(gd_step_ctx *ctx, ps_state *s, int i)
{
    MPI_Irecv(s->s.push[i], (int)ps_msg_bytes(ps_push_floats(s, s->me)), MPI_BYTE,
              ctx->nservers + i, PS_TAG_PUSH, ctx->comm, &s->s.req[i]);
}

static void post_row_recv(gd_step_ctx *ctx, ps_state *s)
{
    MPI_Irecv(&s->s.row, (int)sizeof s->s.row, MPI_BYTE, ctx->lead, PS_TAG_ROW, ctx->comm,
              &s->s.req[s->W]);
}

static void send_reply(gd_step_ctx *ctx, ps_state *s, int i, int with_params)
{
    ps_server *v = &s->s;
    const size_t lo = s->lo[s->me], len = with_params ? s->len[s->me] : 0;
    MPI_Request *req = &v->req[s->W + 1 + i];
    MPI_Wait(req, MPI_STATUS_IGNORE); /* the last reply to i: done, since i answered it */
    ps_msg *m = v->reply[i];
    m->h = (ps_header){.version = v->version, .clock = server_clock(s),
                       .flags = with_params ? PS_FETCH : 0, .stop = v->stop,
                       .diverged = (int32_t)ctx->diverged};
    memcpy(m->x, ctx->model->w + lo, len * sizeof(float));
    MPI_Isend(m, (int)ps_msg_bytes(len), MPI_BYTE, ctx->nservers + i, PS_TAG_REPLY, ctx->comm, req);
    ps_wire_sent(s, ps_msg_bytes(len), ps_msg_bytes(len));
}

/* Answers the fetches held for the bound (SSP) whose clock has now come. */
static void release_held(gd_step_ctx *ctx, ps_state *s)
{
    const int64_t clock = server_clock(s);
    for (int i = 0; i < s->W; i++)
        if (s->s.need[i] >= 0 && s->s.need[i] <= clock) {
            s->s.need[i] = -1;
            send_reply(ctx, s, i, 1);
        }
}

static void diverged(gd_step_ctx *ctx, ps_state *s)
{
    s->s.stop = GD_STOP_DIVERGED;
    gd_fail(GD_EDIVERGED, "training diverged at update %lld of server %d: non-finite %s (lower "
            "optimizer.lr or set train.clip_norm); model.h5 was not written, so an earlier one "
            "is kept", (long long)s->s.version + 1, s->me, gd_divergence_name(ctx->diverged));
}

/* A push through the optimizer of this server's slice: an averaged push's mean gradient
 * (ps-async), or a downpour push's accrued mean gradients as they are (Dean et al.'s
 * Algorithm 1: the server applies the accrued gradients). */
static gd_divergence downpour_update(gd_step_ctx *ctx, ps_state *s, float *x, const ps_header *h,
                           int64_t stale)
{
    const size_t lo = s->lo[s->me], len = s->len[s->me];
    /* an averaged push holds gradient sums (to their mean); a downpour push the accrued
       mean gradients, applied as they are */
    const double count = h->flags & PS_ACCRUED ? 1.0 : h->count;
    double penalty; /* unused: the penalties' loss came with the push */
    double sumsq = h->sumsq_other + gd_update_prepare(ctx->update, ctx->model->w, lo, len, x,
                                                      count, &penalty);
    double lr = s->inverse_lr && stale > 1 ? ctx->lr / (double)stale : ctx->lr;
    return gd_update_step(ctx->update, ctx->model->w, lo, len, x, ctx->step_loss, sumsq, lr,
                          ctx->step);
}

/* Applies one worker's push to this server's slice, as it arrives. */
static void apply_push(gd_step_ctx *ctx, ps_state *s, int i, const ps_header *h)
{
    ps_server *v = &s->s;
    const size_t len = s->len[s->me];
    if (h->diverged && !ctx->diverged) { /* a worker that steps itself (easgd-async) diverged */
        ctx->diverged = (gd_divergence)h->diverged;
        diverged(ctx, s);
    }
    if ((h->count <= 0 && !s->exchange) || ctx->diverged)
        return; /* an empty gradient push moves nothing; after divergence nothing more is
                   applied. An exchange (easgd-async) moves the center even without samples. */
    float *x = s->zip ? ps_zip_decode(s, v->push[i]) : v->push[i]->x;
    ps_pair_add(&v->applied[i], x, len, h->count);
    const int64_t stale = v->version - h->version;
    ps_stale_add(&v->stale, stale);
    ps_stale_add(&v->lag, v->clock[i] - h->clock);
    ctx->step_loss = h->loss;
    ctx->step_count = h->count;
    ctx->lr = gd_schedule_lr(ctx->schedule, ctx->step);
    const double t0 = MPI_Wtime();
    const gd_divergence d = (s->update ? s->update : downpour_update)(ctx, s, x, h, stale);
    gd_step_span(ctx, "apply", t0, MPI_Wtime()); /* output.trace: the server's own phase */
    if (d) {
        ctx->diverged = d;
        diverged(ctx, s);
        return;
    }
    ctx->step = ++v->version;
    if (ctx->host && ctx->host->server_progress) /* checkpoint_every = Ns (rank 0) */
        ctx->host->server_progress(ctx, 0);
    ctx->samples_seen += h->count;
    v->row_loss += h->loss;
    v->row_count += h->count;
    if (ctx->cfg->train.max_steps && v->version >= ctx->cfg->train.max_steps && !v->stop)
        v->stop = GD_STOP_MAX_STEPS;
}

/* One message from worker i: apply it, then answer now or, for a fetch that the bound
 * holds back, once the clock has come. */
static void take_push(gd_step_ctx *ctx, ps_state *s, int i)
{
    ps_server *v = &s->s;
    const ps_header h = v->push[i]->h;
    const size_t bytes = h.flags & PS_PUSH ? ps_push_bytes(s, s->me) : ps_msg_bytes(0);
    gd_wire_count(&s->wire, 0, (double)bytes);
    if (h.flags & PS_PUSH) {
        apply_push(ctx, s, i, &h);
        v->clock[i]++;
    }
    if (h.flags & PS_DONE) {
        v->clock[i] = INT64_MAX; /* out of the clock: the others never wait for it */
        v->live--;
        if (i == 0)
            v->rows_expected = h.rows;
    } else {
        post_push_recv(ctx, s, i); /* i sends again only after our reply */
    }
    if ((h.flags & PS_FETCH) && h.need > server_clock(s))
        v->need[i] = h.need;
    else
        send_reply(ctx, s, i, h.flags & PS_FETCH);
}

/* Rank 0: the lead worker's row, completed with the servers' figures. */
static void take_row(gd_step_ctx *ctx, ps_state *s)
{
    ps_server *v = &s->s;
    gd_metrics_row r = v->row;
    v->rows_got++;
    r.wall = MPI_Wtime() - ctx->t_start;
    r.step = (long)v->version;
    r.samples = ctx->samples_seen;
    r.train_loss = v->row_count > 0 ? v->row_loss / v->row_count : NAN;
    r.lr = ctx->lr;
    r.samples_per_s = r.wall > 0 ? r.samples / r.wall : 0;
    v->row_loss = v->row_count = 0;
    gd_stop_reason why = ctx->host->accept_row(ctx, &r);
    if (why != GD_STOP_NONE && !v->stop)
        v->stop = why;
    if (v->rows_expected < 0 || v->rows_got < v->rows_expected)
        post_row_recv(ctx, s);
}

static int rows_pending(const gd_step_ctx *ctx, const ps_server *v)
{
    return ctx->rank == 0 && (v->rows_expected < 0 || v->rows_got < v->rows_expected);
}

/* The server's whole run: blocked in MPI_Waitany (no busy polling beyond MPI's own), one
 * message at a time, until every worker is done and rank 0 has every row. */
int ps_async_serve(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    ps_server *v = &s->s;
    v->rows_expected = -1;
    for (int i = 0; i < s->W; i++)
        post_push_recv(ctx, s, i);
    if (ctx->rank == 0)
        post_row_recv(ctx, s);
    else if (s->snapshots)
        ps_snap_post(ctx, s); /* rank 0's snapshot requests arrive in the row's slot */
    double since = MPI_Wtime();
    while (v->live > 0 || rows_pending(ctx, v) || (s->snapshots && ctx->rank > 0 && !v->released)) {
        int i = MPI_UNDEFINED;
        double start = since;
        gd_watchdog_enter("waiting for pushes", v->version);
        MPI_Waitany(s->W + 1, v->req, &i, MPI_STATUS_IGNORE);
        gd_watchdog_leave();
        gd_step_time(ctx, GD_T_WAIT, &since);
        v->idle_s += since - start;
        if (i == MPI_UNDEFINED)
            break;
        if (i == s->W && ctx->rank == 0)
            take_row(ctx, s);
        else if (i == s->W)
            ps_snap_answer(ctx, s);
        else
            take_push(ctx, s, i);
        release_held(ctx, s);
        if (!v->stop && ctx->host && ctx->host->signal_pending && ctx->host->signal_pending()) /* SIGTERM / SIGINT: every worker stops */
            v->stop = GD_STOP_SIGNAL;
        gd_step_time(ctx, GD_T_COMPUTE, &since);
    }
    if (ctx->rank == 0 && s->snapshots)
        ps_snap_release(ctx, s);
    MPI_Waitall(s->W, v->req + s->W + 1, MPI_STATUSES_IGNORE);
    if (v->req[s->W] != MPI_REQUEST_NULL) { /* rank 0's row receive that no row will match */
        MPI_Cancel(&v->req[s->W]);
        MPI_Wait(&v->req[s->W], MPI_STATUS_IGNORE);
    }
    gd_step_time(ctx, GD_T_COMM, &since);
    ctx->stop = (gd_stop_reason)v->stop;
    return ctx->diverged ? GD_EDIVERGED : GD_OK;
}

/* ---- both -------------------------------------------------------------------------- */

static int async_check(const gd_config *c, int size)
{
    int rc = ps_check(c, size, 1);
    return rc ? rc : ps_zip_check(c);
}

static int async_setup(gd_step_ctx *ctx)
{
    int rc = ps_setup(ctx, 1);
    ps_state *s = ctx->state;
    long every = ctx->cfg->parallel.push_every;
    /* each update is one worker's gradient; an epoch of all workers is W pushes each */
    ctx->workers_per_step = 1;
    if (s)
        ctx->updates_per_epoch = (long)s->W * ((ctx->steps_per_epoch + every - 1) / every);
    return rc;
}

/* After a resume (checkpoint.c): a server goes on from its checkpointed version (ctx->step);
 * a worker reads every slice with its version before its first gradient, so that its first
 * push's staleness counts from the restored versions, not from 0. */
static int async_resumed(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (ctx->serving)
        return ps_resumed_server(ctx);
    ps_zip_resumed(ctx, s);
    memcpy(s->w.wire_at_row, ctx->wire, sizeof s->w.wire_at_row); /* rows count from here */
    round_trip(ctx, s, 0, 1, 0);
    for (int j = 0; j < s->S; j++) {
        s->w.acc_version[j] = s->w.read_version[j];
        s->w.acc_clock[j] = s->w.read_clock[j];
    }
    return GD_OK;
}

static int async_state(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    return ps_declare(ctx, st, use, 1);
}

/* A worker's last push carries what it accumulated since the one before, so every
 * gradient computed is applied; then every rank meets in ps_finish. */
static int async_finish(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (!ctx->serving) {
        round_trip(ctx, s, 1, 0, 1);
        MPI_Wait(&s->w.row_req, MPI_STATUS_IGNORE);
    }
    return ps_finish(ctx);
}

/* ---- downpour: Downpour SGD as published (Dean et al. 2012, Algorithm 1) ------------- */

/* The round in flight (posted by the last push or fetch): wait for it, take the fetched
 * parameters (they replace the local copy, as in the paper, when they arrive) and, after a
 * push, empty the accumulators it carried. */
static void downpour_complete(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    if (!w->pending)
        return;
    ps_worker_complete(ctx, s);
    if (w->pending_push)
        after_push(s);
    w->pending = w->pending_push = 0;
}

/* The local step on this worker's copy, plain SGD at the schedule's lr on the batch's mean
 * gradient, which is also accrued (the sum of the steps' mean gradients) for the push. */
static void downpour_local_step(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    const float inv = ctx->batch_count > 0 ? 1.0f / (float)ctx->batch_count : 0.0f;
    const float lr = (float)ctx->lr;
    for (int j = 0; j < s->S; j++) {
        float *restrict acc = w->push[j]->x, *restrict x = ctx->model->w + s->lo[j];
        const float *restrict g = ctx->model->g + s->lo[j];
        for (size_t k = 0; k < s->len[j]; k++) {
            const float mean = g[k] * inv;
            acc[k] += mean;
            x[k] -= lr * mean;
        }
    }
    stamp(ctx, s, w->grad_version);
    w->acc_loss += ctx->batch_loss;
    w->acc_count += ctx->batch_count;
    if (!isfinite(ctx->batch_loss))
        gd_step_diverge(ctx, GD_DIV_LOSS);
}

/* Every fetch_every steps a fetch, every push_every steps a push of the accrued gradients,
 * posted without waiting: the next gradient is computed while they travel. */
static int downpour_step(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    ps_worker *w = &s->w;
    double since = MPI_Wtime();
    /* the gradient was computed on the copy of the last read, before the round in flight
       brings a newer one */
    memcpy(w->grad_version, w->read_version, (size_t)s->S * sizeof(int64_t));
    downpour_complete(ctx, s);
    downpour_local_step(ctx, s);
    ctx->step_loss = ctx->batch_loss;
    ctx->step_count = ctx->batch_count;
    w->steps++;
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    const int push = w->steps % ctx->cfg->parallel.push_every == 0;
    const int fetch = w->steps % ctx->cfg->parallel.fetch_every == 0;
    if (!push && !fetch)
        return GD_OK;
    if (push)
        prepare_push(ctx, s);
    for (int j = 0; j < s->S; j++) {
        w->flags[j] = (push ? PS_PUSH | PS_ACCRUED : 0) | (fetch ? PS_FETCH : 0);
        w->push[j]->h.need = INT64_MIN;
        w->push[j]->h.rows = w->rows_sent;
    }
    ps_worker_post(ctx, s);
    w->pending = 1;
    w->pending_push = push;
    return GD_OK;
}

/* Lead worker, before it evaluates: the servers' parameters stand in for its own copy, which
 * report() puts back, so that evaluating does not change the worker's trajectory. */
static int downpour_refresh(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    downpour_complete(ctx, s);
    memcpy(s->w.local, ctx->model->w, ctx->model->nparams * sizeof(float));
    round_trip(ctx, s, 0, 1, 0);
    return GD_OK;
}

static int downpour_report(gd_step_ctx *ctx, const gd_metrics_row *r)
{
    ps_state *s = ctx->state;
    memcpy(ctx->model->w, s->w.local, ctx->model->nparams * sizeof(float));
    return ps_async_report(ctx, r);
}

/* The round in flight, then the last push (the gradients accrued since the one before). */
static int downpour_finish(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (!ctx->serving)
        downpour_complete(ctx, s);
    return async_finish(ctx);
}

static int downpour_check(const gd_config *c, int size)
{
    if (c->parallel.staleness >= 0)
        return gd_fail(GD_ECONFIG, "parallel.staleness = %ld: downpour never waits for the "
                       "servers (its pushes and fetches are posted and left to travel); the "
                       "staleness bound is ps-async's", c->parallel.staleness);
    if (c->model.l1 > 0 || c->model.l2 > 0)
        return gd_fail(GD_ECONFIG, "model.l1 and model.l2: downpour applies the accrued "
                       "gradients as the paper does, which has no penalty; use ps-async");
    return ps_check(c, size, 1);
}

static int downpour_setup(gd_step_ctx *ctx)
{
    int rc = async_setup(ctx);
    ps_state *s = ctx->state;
    if (rc || !s)
        return rc ? rc : GD_ERR;
    s->downpour = 1;
    if (ctx->rank == ctx->lead &&
        !(s->w.local = gd_alloc(ctx->model->nparams, sizeof(float), "downpour copy")))
        return GD_ERR;
    return GD_OK;
}

const gd_strategy_ops gd_strategy_ps_async = {
    .name = "ps-async",
    .has_servers = 1,
    .async = 1,
    .compresses = 1,
    .check = async_check,
    .setup = async_setup,
    .step = async_step,
    .serve = ps_async_serve,
    .refresh = async_refresh,
    .report = ps_async_report,
    .finish = async_finish,
    .summary = ps_summary,
    .state = async_state,
    .resumed = async_resumed,
    .destroy = ps_destroy,
};

/* Downpour as published: a local step on the worker's copy, accrued gradients pushed and
 * fetches posted without waiting. ps-async above keeps the averaged pushes. */
const gd_strategy_ops gd_strategy_downpour = {
    .name = "downpour",
    .has_servers = 1,
    .async = 1,
    .check = downpour_check,
    .setup = downpour_setup,
    .step = downpour_step,
    .serve = ps_async_serve,
    .refresh = downpour_refresh,
    .report = downpour_report,
    .finish = downpour_finish,
    .summary = ps_summary,
    .state = async_state,
    .resumed = async_resumed,
    .destroy = ps_destroy,
};
