/* parallel.mode = ps: the synchronous parameter server (the protocol: ps.c). Servers and
 * workers run the trainer's loop step for step; a worker's step is one round trip to every
 * server, a server's step one update of its slice with the mean of all workers' gradients. */
#include "ps.h"

#include "gdmpi/error.h"
#include "gdmpi/watchdog.h"

#include <string.h>

/* Worker: gradient sums, loss and count to every server; the new slices and the step's
 * global sums come back. */
static void worker_step(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    double since = MPI_Wtime();
    for (int j = 0; j < s->S; j++) {
        ps_msg *m = w->push[j];
        m->h.loss = ctx->batch_loss;
        m->h.count = ctx->batch_count;
        memcpy(m->x, ctx->model->g + s->lo[j], s->len[j] * sizeof(float));
        ps_pair_add(&w->sent[j], m->x, s->len[j], ctx->batch_count);
        w->flags[j] = PS_PUSH | PS_FETCH;
    }
    w->steps++;
    gd_step_time(ctx, GD_T_COMM, &since);
    ps_worker_round(ctx, s);
    ctx->step_loss = w->reply[0]->h.loss;
    ctx->step_count = w->reply[0]->h.count;
}

/* Server: the pushes added in worker order (the same sums on every run) into g, the
 * gradient buffer's part for this slice. */
static void combine(gd_step_ctx *ctx, ps_state *s, float *g)
{
    ps_server *v = &s->s;
    const size_t len = s->len[s->me];
    ctx->step_loss = ctx->step_count = 0;
    for (int i = 0; i < s->W; i++) {
        const ps_msg *m = v->push[i];
        if (i == 0)
            memcpy(g, m->x, len * sizeof(float));
        else
            for (size_t k = 0; k < len; k++)
                g[k] += m->x[k];
        ctx->step_loss += m->h.loss;
        ctx->step_count += m->h.count;
        ps_pair_add(&v->applied[i], m->x, len, m->h.count);
        if (m->h.count > 0) { /* every gradient is applied on the model it was computed on */
            ps_stale_add(&v->stale, 0);
            ps_stale_add(&v->lag, 0);
        }
    }
}

static void reply_all(gd_step_ctx *ctx, ps_state *s)
{
    ps_server *v = &s->s;
    const size_t lo = s->lo[s->me], len = s->len[s->me];
    ps_msg *m = v->reply[0];
    m->h = (ps_header){.loss = ctx->step_loss, .count = ctx->step_count, .version = v->version,
                       .flags = PS_FETCH, .diverged = (int32_t)ctx->diverged};
    memcpy(m->x, ctx->model->w + lo, len * sizeof(float));
    MPI_Request *sends = v->req + s->W + 1;
    for (int i = 0; i < s->W; i++)
        MPI_Isend(m, (int)ps_msg_bytes(len), MPI_BYTE, ctx->nservers + i, PS_TAG_REPLY, ctx->comm,
                  &sends[i]);
    const size_t bytes = (size_t)s->W * ps_msg_bytes(len);
    ps_wire_sent(s, bytes, bytes);
    gd_watchdog_enter("replying to the workers", ctx->step);
    MPI_Waitall(s->W, sends, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
}

/* Server: waits for every worker's push, updates its slice, answers every worker. */
static void server_step(gd_step_ctx *ctx, ps_state *s)
{
    ps_server *v = &s->s;
    const size_t lo = s->lo[s->me], len = s->len[s->me];
    double since = MPI_Wtime(), start = since;
    for (int i = 0; i < s->W; i++)
        MPI_Irecv(v->push[i], (int)ps_msg_bytes(len), MPI_BYTE, ctx->nservers + i, PS_TAG_PUSH,
                  ctx->comm, &v->req[i]);
    gd_watchdog_enter("waiting for pushes", ctx->step);
    MPI_Waitall(s->W, v->req, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
    gd_wire_count(&s->wire, 0, (double)s->W * (double)ps_msg_bytes(len));
    gd_step_time(ctx, GD_T_WAIT, &since);
    v->idle_s += since - start;
    float *g = ctx->model->g + lo;
    combine(ctx, s, g);
    if (ctx->step_count > 0) { /* no rows anywhere (uneven shards' tail): no step, as allreduce */
        const double t0 = MPI_Wtime();
        double loss = ctx->step_loss;
        gd_step_diverge(ctx, gd_update_apply(ctx->update, ctx->model->w, lo, len, g, &loss,
                                             ctx->step_count, ctx->lr, ctx->step,
                                             s->S > 1 ? ctx->role_comm : MPI_COMM_NULL));
        ctx->step_loss = loss;
        gd_step_span(ctx, "apply", t0, MPI_Wtime()); /* output.trace: the server's own phase */
        v->version++;
    }
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    reply_all(ctx, s);
    gd_step_time(ctx, GD_T_COMM, &since);
}

static int sync_check(const gd_config *c, int size) { return ps_check(c, size, 0); }

static int sync_setup(gd_step_ctx *ctx) { return ps_setup(ctx, 0); }

static int sync_step(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (ctx->serving)
        server_step(ctx, s);
    else
        worker_step(ctx, s);
    return GD_OK;
}

static int sync_state(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    return ps_declare(ctx, st, use, 1);
}

const gd_strategy_ops gd_strategy_ps = {
    .name = "ps",
    .lockstep = 1,
    .has_servers = 1,
    .check = sync_check,
    .setup = sync_setup,
    .step = sync_step,
    .finish = ps_finish,
    .summary = ps_summary,
    .state = sync_state,
    .resumed = ps_sync_resumed,
    .destroy = ps_destroy,
};
