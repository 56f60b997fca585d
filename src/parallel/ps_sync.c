/* parallel.mode = ps: the synchronous parameter server (the protocol: ps.c). Servers and
 * workers run the trainer's loop step for step; a worker's step is one round trip to every
 * server, a server's step one update of its slice with the mean of all workers' gradients. */
#include "ps.h"

#include "gdmpi/trace.h"
#include "gdmpi/watchdog.h"

#include <string.h>

/* Worker: gradient sums, loss and count to every server; the new slices and the step's
 * global sums come back. */
static void worker_step(gd_trainer *t, ps_state *s)
{
    ps_worker *w = &s->w;
    double since = MPI_Wtime();
    for (int j = 0; j < s->S; j++) {
        ps_msg *m = w->push[j];
        m->h.loss = t->batch_loss;
        m->h.count = t->batch_count;
        memcpy(m->x, t->model.g + s->lo[j], s->len[j] * sizeof(float));
        ps_pair_add(&w->sent[j], m->x, s->len[j], t->batch_count);
        w->flags[j] = PS_PUSH | PS_FETCH;
    }
    w->steps++;
    gd_timer_add(t, GD_T_COMM, &since);
    ps_worker_round(t, s);
    t->step_loss = w->reply[0]->h.loss;
    t->step_count = w->reply[0]->h.count;
}

/* Server: the pushes added in worker order (the same sums on every run) into g, the
 * gradient buffer's part for this slice. */
static void combine(gd_trainer *t, ps_state *s, float *g)
{
    ps_server *v = &s->s;
    const size_t len = s->len[s->me];
    t->step_loss = t->step_count = 0;
    for (int i = 0; i < s->W; i++) {
        const ps_msg *m = v->push[i];
        if (i == 0)
            memcpy(g, m->x, len * sizeof(float));
        else
            for (size_t k = 0; k < len; k++)
                g[k] += m->x[k];
        t->step_loss += m->h.loss;
        t->step_count += m->h.count;
        ps_pair_add(&v->applied[i], m->x, len, m->h.count);
        if (m->h.count > 0) { /* every gradient is applied on the model it was computed on */
            ps_stale_add(&v->stale, 0);
            ps_stale_add(&v->lag, 0);
        }
    }
}

static void reply_all(gd_trainer *t, ps_state *s)
{
    ps_server *v = &s->s;
    const size_t lo = s->lo[s->me], len = s->len[s->me];
    ps_msg *m = v->reply[0];
    m->h = (ps_header){.loss = t->step_loss, .count = t->step_count, .version = v->version,
                       .flags = PS_FETCH, .diverged = ps_diverged_code(t)};
    memcpy(m->x, t->model.w + lo, len * sizeof(float));
    MPI_Request *sends = v->req + s->W + 1;
    for (int i = 0; i < s->W; i++)
        MPI_Isend(m, (int)ps_msg_bytes(len), MPI_BYTE, t->nservers + i, PS_TAG_REPLY, t->comm,
                  &sends[i]);
    gd_watchdog_enter("replying to the workers", t->step);
    MPI_Waitall(s->W, sends, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
}

/* Server: waits for every worker's push, updates its slice, answers every worker. */
static void server_step(gd_trainer *t, ps_state *s)
{
    ps_server *v = &s->s;
    const size_t lo = s->lo[s->me], len = s->len[s->me];
    double since = MPI_Wtime(), start = since;
    for (int i = 0; i < s->W; i++)
        MPI_Irecv(v->push[i], (int)ps_msg_bytes(len), MPI_BYTE, t->nservers + i, PS_TAG_PUSH,
                  t->comm, &v->req[i]);
    gd_watchdog_enter("waiting for pushes", t->step);
    MPI_Waitall(s->W, v->req, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
    gd_timer_add(t, GD_T_WAIT, &since);
    v->idle_s += since - start;
    float *g = t->model.g + lo;
    combine(t, s, g);
    if (t->step_count > 0) { /* no rows anywhere (uneven shards' tail): no step, as allreduce */
        const float inv = 1.0f / (float)t->step_count;
        for (size_t k = 0; k < len; k++)
            g[k] *= inv;
        const double t0 = MPI_Wtime();
        gd_apply_update_slice(t, lo, len, g, s->S > 1 ? t->role_comm : MPI_COMM_NULL);
        gd_trace_span("apply", t0, MPI_Wtime()); /* output.trace: the server's own phase */
        v->version++;
    }
    gd_timer_add(t, GD_T_COMPUTE, &since);
    reply_all(t, s);
    gd_timer_add(t, GD_T_COMM, &since);
}

static int sync_setup(gd_trainer *t) { return ps_setup(t, 0); }

static void sync_step(gd_trainer *t)
{
    ps_state *s = t->strategy_state;
    if (t->serving)
        server_step(t, s);
    else
        worker_step(t, s);
}

const gd_strategy_ops gd_strategy_ps = {
    .name = "ps",
    .has_servers = 1,
    .check = ps_check,
    .setup = sync_setup,
    .step = sync_step,
    .finish = ps_finish,
    .summary = ps_summary,
    .destroy = ps_destroy,
};
