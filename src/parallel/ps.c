/* Parameter servers: parallel.mode = ps (synchronous) and ps-async (Downpour SGD,
 * Hogwild-style updates). This file holds what both share; ps_sync.c and ps_async.c hold
 * the steps. The protocol:
 *
 * Roles. Ranks 0..S-1 (S = parallel.servers) are servers, the other W ranks are workers.
 * Server j owns the slice [lo_j, lo_j + len_j) of the flat parameter vector (n/S floats
 * each, the first n mod S one more) and the optimizer state of that slice. Workers hold the
 * training rows (the trainer loads them over the workers' communicator, so they are split
 * among the workers only) and a full copy of the parameters; servers hold no data.
 *
 * Setup. Everything that can fail (config, data, model, buffers) is agreed over all ranks
 * (gd_agree on ctx->comm) before the first message: a bad file on one worker ends every rank
 * with its message, and no rank is ever left in a receive.
 *
 * Messages, on ctx->comm, as MPI_BYTE: a ps_header, then floats.
 *   PS_TAG_PUSH   worker -> server j: the gradient sums of slice j (flag PS_PUSH), or the
 *                 header alone (a fetch without a push). PS_FETCH asks for the slice back;
 *                 PS_DONE marks the worker's last message.
 *   PS_TAG_REPLY  server j -> worker: version, clock, stop and divergence (ps: also the
 *                 step's global loss and count), then the slice when PS_FETCH was asked.
 *   PS_TAG_ROW    lead worker (rank S) -> rank 0, ps-async: one metrics.csv row.
 *   PS_TAG_STATE  lead worker -> rank 0, at the end: the model's non-trained state (the
 *                 batch-norm running statistics, which only workers compute).
 * Each worker message gets exactly one reply, and a worker sends again only once the
 * replies to its last message are in: at most one message per worker and server is in
 * flight, so a server needs one receive buffer per worker and nothing is left unreceived.
 * A worker posts its receives and sends to all servers at once (MPI_Irecv, MPI_Isend) and
 * waits for them together (MPI_Waitall): the servers work in parallel.
 *
 * ps (synchronous). Servers and workers run the trainer's loop step for step. At each step
 * every worker sends its gradient sums, loss and sample count to every server and waits. A
 * server waits for all W pushes, adds them in worker order (reproducible), divides by the
 * global count and runs the update pipeline (gd_update_apply) on its slice; the penalty loss and the
 * squared gradient norm are summed over the servers (one MPI_Allreduce on the servers'
 * communicator, S > 1 only), so clipping uses the global norm and all servers agree on
 * divergence. It answers each worker with its new slice and the global sums. This is the
 * allreduce's step, so the trajectory is the same to float rounding. Epoch ends,
 * evaluation and stopping are the trainer's collectives over all ranks (servers add no
 * rows to the sums).
 *
 * ps-async. Workers never wait for each other. A worker adds each step's gradient sums
 * into its push buffers; every parallel.push_every steps it pushes them, and every
 * parallel.fetch_every steps it asks for the parameters back. Each server runs a loop
 * (ps_async.c) blocked in MPI_Waitany on one receive per worker: it applies every push as
 * it arrives with its own optimizer on its slice (no barrier, no lock across workers) and
 * answers at once with its current slice, or its header alone.
 *   Staleness: a server's version counts the updates it applied; a push carries the
 *   version the worker had read when its accumulation began; staleness = version at apply
 *   - that version, in updates (Zhang et al. 2016; staleness_lr = inverse divides that
 *   update's lr by max(1, staleness)).
 *   Bounded staleness (SSP, Ho et al. 2013): a server's clock is the least number of
 *   pushes it received from a worker still running. With parallel.staleness = s >= 0, a
 *   worker that has pushed c times computes only on parameters read when the server's
 *   clock was at least c - s: its push asks for the slice, with need = c - s, whenever its
 *   copy is older, and the server holds that reply until its clock reaches need. The
 *   slowest worker is never held (its own pushes are the clock), so nothing deadlocks; the
 *   clock lag (c - clock at the read) of every gradient is at most s; s = 0 is lock-step.
 *   Evaluation: at the end of each of its epochs the lead worker fetches every slice,
 *   evaluates on the whole data.val (it alone reads it) and sends the row to rank 0, which
 *   fills in the servers' figures (step = its version, samples applied, the training loss
 *   of the pushes since the last row, lr) and writes metrics.csv: the same columns as in
 *   every mode. Other workers never stop for it.
 *   Stopping: a worker stops after train.epochs epochs or on its own train.max_seconds
 *   budget; the servers decide train.max_steps (on their version), train.tol (rank 0, from
 *   the rows) and divergence, and say so in their next reply to each worker.
 *
 * Termination. In ps-async a worker ends with a push flagged PS_DONE that carries the
 * gradient accumulated since its last push (so every gradient computed is applied) and
 * waits for the reply; a server leaves its loop once every worker is done and rank 0 has
 * every row the lead reported. Then all ranks meet in ps_finish: the slices are gathered to
 * rank 0, which writes model.h5 once, and the per-pair counts are gathered for the
 * conservation check (pushes, samples and gradient sums sent = applied). A rank that fails
 * mid-run calls gd_abort (MPI_Abort), which ends every rank: no server waits forever. */
#include "ps.h"

#include "gdmpi/error.h"
#include "gdmpi/real.h"
#include "gdmpi/watchdog.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ps_msg_bytes(size_t floats) { return sizeof(ps_msg) + floats * sizeof(float); }

/* Checks that need only the config and the rank count (the same verdict on every rank). */
int ps_check(const gd_config *c, int size, int async)
{
    if (c->parallel.servers >= size)
        return gd_fail(GD_ECONFIG, "parallel.servers = %ld: %s needs at least one worker besides "
                       "the servers, so at least %ld ranks (this job has %d)", c->parallel.servers,
                       c->parallel.mode, c->parallel.servers + 1, size);
    if (!async && (c->parallel.fetch_every != 1 || c->parallel.push_every != 1))
        return gd_fail(GD_ECONFIG, "parallel.fetch_every and parallel.push_every apply to "
                       "ps-async; parallel.mode = ps pushes and fetches at every step");
    return GD_OK;
}

void ps_free_msgs(ps_msg **m, int count)
{
    for (int i = 0; m && i < count; i++)
        free(m[i]);
    free(m);
}

ps_msg **ps_alloc_msgs(int count, const size_t *lens, size_t floats)
{
    ps_msg **m = gd_alloc((size_t)count, sizeof *m, "ps messages");
    for (int i = 0; m && i < count; i++)
        if (!(m[i] = gd_alloc(1, ps_msg_bytes(lens ? lens[i] : floats), "ps message"))) {
            ps_free_msgs(m, i);
            return NULL;
        }
    return m;
}

static int worker_alloc(ps_state *s)
{
    ps_worker *w = &s->w;
    const size_t S = (size_t)s->S;
    w->push = ps_alloc_msgs(s->S, s->len, 0);
    w->reply = ps_alloc_msgs(s->S, s->len, 0);
    w->req = gd_alloc(2 * S, sizeof *w->req, "ps requests");
    w->flags = gd_alloc(S, sizeof *w->flags, "ps flags");
    w->sent = gd_alloc(S, sizeof *w->sent, "ps counts");
    w->read_version = gd_alloc(4 * S, sizeof(int64_t), "ps versions");
    w->acc_vsum = gd_alloc(S, sizeof(double), "ps versions");
    w->grad_version = gd_alloc(S, sizeof(int64_t), "ps versions");
    w->row_req = MPI_REQUEST_NULL;
    if (!w->push || !w->reply || !w->req || !w->flags || !w->sent || !w->read_version ||
        !w->acc_vsum || !w->grad_version)
        return GD_ERR;
    w->read_clock = w->read_version + S; /* one block: version, clock, and their acc_ copies */
    w->acc_version = w->read_version + 2 * S;
    w->acc_clock = w->read_version + 3 * S;
    return GD_OK;
}

static int server_alloc(ps_state *s)
{
    ps_server *v = &s->s;
    const size_t len = s->len[s->me];
    v->push = ps_alloc_msgs(s->W, NULL, ps_push_floats(s, s->me)); /* a code may exceed len */
    v->reply = ps_alloc_msgs(s->async ? s->W : 1, NULL, len); /* ps sends one reply to all */
    v->req = gd_alloc(2 * (size_t)s->W + 1, sizeof *v->req, "ps requests");
    v->applied = gd_alloc((size_t)s->W, sizeof *v->applied, "ps counts");
    v->clock = gd_alloc(2 * (size_t)s->W, sizeof(int64_t), "ps clocks");
    if (!v->push || !v->reply || !v->req || !v->applied || !v->clock)
        return GD_ERR;
    v->need = v->clock + s->W;
    for (int i = 0; i < 2 * s->W + 1; i++)
        v->req[i] = MPI_REQUEST_NULL;
    for (int i = 0; i < s->W; i++)
        v->need[i] = -1;
    v->live = s->W;
    return GD_OK;
}

/* Servers keep the optimizer state of their slice only; workers take no optimizer steps. */
static int slice_optimizer(gd_step_ctx *ctx, size_t n)
{
    gd_optim_hparams hp = ctx->optim->hp;
    gd_optim_destroy(ctx->optim);
    return gd_optim_create(ctx->optim, ctx->cfg->optimizer.type, &hp, n);
}

static int plan_slices(gd_step_ctx *ctx, ps_state *s)
{
    s->lo = gd_alloc((size_t)s->S, sizeof *s->lo, "ps slices");
    s->len = gd_alloc((size_t)s->S, sizeof *s->len, "ps slices");
    if (!s->lo || !s->len)
        return GD_ERR;
    for (int j = 0; j < s->S; j++)
        gd_shard_range(ctx->model->nparams, s->S, j, &s->lo[j], &s->len[j]);
    if (ps_msg_bytes(s->len[0]) > INT_MAX) /* MPI counts are ints; slice 0 is the largest */
        return gd_fail(GD_ECONFIG, "parameter servers: a slice of %zu parameters does not fit "
                       "in one MPI message; raise parallel.servers", s->len[0]);
    return GD_OK;
}

int ps_setup(gd_step_ctx *ctx, int async)
{
    const gd_config *c = ctx->cfg;
    ps_state *s = gd_alloc(1, sizeof *s, "ps state");
    if (!s)
        return GD_ERR;
    ctx->state = s;
    s->async = async;
    s->S = ctx->nservers;
    s->W = ctx->size - ctx->nservers;
    s->me = ctx->serving ? ctx->rank : ctx->rank - ctx->nservers;
    s->bound = async ? c->parallel.staleness : -1;
    s->inverse_lr = async && !strcmp(c->parallel.staleness_lr, "inverse");
    s->wire = (gd_wire){.comm = ctx->comm, .size = ctx->size, .bytes = ctx->wire};
    /* ps: rank 0's rows count server 0's bytes; ps-async: the lead worker's (its report) */
    ctx->counts_wire = 1;
    int rc = plan_slices(ctx, s);
    if (!rc)
        rc = slice_optimizer(ctx, ctx->serving ? s->len[s->me] : 0);
    if (!rc)
        rc = ps_zip_setup(ctx, s);
    if (!rc)
        rc = ctx->serving ? server_alloc(s) : worker_alloc(s);
    if (!rc)
        rc = ps_snap_setup(ctx, s);
    return rc;
}

void ps_pair_add(ps_pair *p, const float *x, size_t n, double count)
{
    if (count <= 0)
        return;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    p->pushes += 1;
    p->samples += count;
    p->gsum += sum;
}

void ps_wire_sent(ps_state *s, size_t bytes, size_t dense)
{
    gd_wire_count(&s->wire, (double)bytes, 0);
    s->wire.bytes[GD_WIRE_DENSE] += (double)dense;
}

void ps_stale_add(ps_stale *st, int64_t v)
{
    st->hist[v < PS_HIST - 1 ? (v < 0 ? 0 : v) : PS_HIST - 1] += 1;
    st->sum += (double)v;
    st->count += 1;
    if ((double)v > st->max)
        st->max = (double)v;
}

/* A reply's parameters, stop and divergence. */
static void take_reply(gd_step_ctx *ctx, ps_state *s, int j)
{
    ps_worker *w = &s->w;
    const ps_header *h = &w->reply[j]->h;
    gd_wire_count(&s->wire, 0, (double)ps_msg_bytes(h->flags & PS_FETCH ? s->len[j] : 0));
    if (h->flags & PS_FETCH) {
        memcpy(ctx->model->w + s->lo[j], w->reply[j]->x, s->len[j] * sizeof(float));
        w->read_version[j] = h->version;
        w->read_clock[j] = h->clock;
    }
    if (h->diverged)
        gd_step_diverge(ctx, (gd_divergence)h->diverged);
    if (h->stop)
        gd_step_stop(ctx, (gd_stop_reason)h->stop);
}

void ps_worker_post(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    const int S = s->S;
    double since = MPI_Wtime();
    for (int j = 0; j < S; j++) {
        MPI_Irecv(w->reply[j], (int)ps_msg_bytes(s->len[j]), MPI_BYTE, j, PS_TAG_REPLY, ctx->comm,
                  &w->req[j]);
        w->push[j]->h.flags = w->flags[j];
        const int push = w->flags[j] & PS_PUSH;
        const ps_msg *m = push && s->zip ? ps_zip_outgoing(s, j) : w->push[j];
        const size_t bytes = push ? ps_push_bytes(s, j) : ps_msg_bytes(0);
        MPI_Isend(m, (int)bytes, MPI_BYTE, j, PS_TAG_PUSH, ctx->comm, &w->req[S + j]);
        ps_wire_sent(s, bytes, ps_msg_bytes(push ? s->len[j] : 0));
    }
    gd_step_time(ctx, GD_T_COMM, &since);
}

void ps_worker_complete(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker *w = &s->w;
    const int S = s->S;
    double since = MPI_Wtime(), start = since;
    gd_watchdog_enter_peer("push and fetch", ctx->step, S == 1 ? 0 : -1);
    MPI_Waitall(2 * S, w->req, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
    gd_step_time(ctx, GD_T_WAIT, &since);
    w->wait_s += since - start;
    for (int j = 0; j < S; j++)
        take_reply(ctx, s, j);
    gd_step_time(ctx, GD_T_COMM, &since);
}

void ps_worker_round(gd_step_ctx *ctx, ps_state *s)
{
    ps_worker_post(ctx, s);
    ps_worker_complete(ctx, s);
}

/* Rank 0 assembles the model from the servers' slices (and the lead worker's model state). */
static void assemble_model(gd_step_ctx *ctx, ps_state *s)
{
    if (ctx->serving) {
        int *counts = gd_alloc(2 * (size_t)s->S, sizeof(int), "ps gather");
        if (!counts)
            gd_abort(ctx->comm, GD_ERR);
        for (int j = 0; j < s->S; j++) {
            counts[j] = (int)s->len[j];
            counts[s->S + j] = (int)s->lo[j];
        }
        float *mine = ctx->model->w + s->lo[s->me];
        MPI_Gatherv(ctx->rank == 0 ? MPI_IN_PLACE : mine, counts[s->me], MPI_FLOAT, ctx->model->w,
                    counts, counts + s->S, MPI_FLOAT, 0, ctx->role_comm);
        free(counts);
    }
    if (!ctx->model->nstate)
        return;
    if (ctx->rank == ctx->lead)
        MPI_Send(ctx->model->state, (int)ctx->model->nstate, MPI_FLOAT, 0, PS_TAG_STATE, ctx->comm);
    else if (ctx->rank == 0)
        MPI_Recv(ctx->model->state, (int)ctx->model->nstate, MPI_FLOAT, ctx->lead, PS_TAG_STATE, ctx->comm,
                 MPI_STATUS_IGNORE);
}

/* Each rank's figures as one record of doubles: role, updates or steps, wait or idle
 * seconds, its pairs (3 each), its two staleness tallies. */
enum { REC_HEAD = 3, REC_STALE = PS_HIST + 3 };

static size_t record_len(const ps_state *s)
{
    return REC_HEAD + 3 * (size_t)(s->S > s->W ? s->S : s->W) + 2 * REC_STALE;
}

static double *pack_stale(double *p, const ps_stale *st)
{
    memcpy(p, st->hist, sizeof st->hist);
    p[PS_HIST] = st->sum;
    p[PS_HIST + 1] = st->count;
    p[PS_HIST + 2] = st->max;
    return p + REC_STALE;
}

static const double *merge_stale(const double *p, ps_stale *st)
{
    for (int b = 0; b < PS_HIST; b++)
        st->hist[b] += p[b];
    st->sum += p[PS_HIST];
    st->count += p[PS_HIST + 1];
    st->max = st->max > p[PS_HIST + 2] ? st->max : p[PS_HIST + 2];
    return p + REC_STALE;
}

static void pack_record(const gd_step_ctx *ctx, const ps_state *s, double *rec)
{
    const ps_pair *pairs = ctx->serving ? s->s.applied : s->w.sent;
    const int npairs = ctx->serving ? s->W : s->S;
    rec[0] = ctx->serving;
    rec[1] = ctx->serving ? (double)s->s.version : (double)s->w.steps;
    rec[2] = ctx->serving ? s->s.idle_s : s->w.wait_s;
    memcpy(rec + REC_HEAD, pairs, (size_t)npairs * sizeof *pairs);
    double *p = rec + REC_HEAD + 3 * (size_t)(s->S > s->W ? s->S : s->W);
    pack_stale(pack_stale(p, &s->s.stale), &s->s.lag);
}

/* The pair at p in a record (memcpy: the record is an array of doubles). */
static ps_pair pair_at(const double *p)
{
    ps_pair x;
    memcpy(&x, p, sizeof x);
    return x;
}

/* Exactly equal; a gradient sum that went NaN on both ends (a diverged run) is equal too. */
static int same_pair(const ps_pair *a, const ps_pair *b)
{
    int same_sum = a->gsum == b->gsum || (isnan(a->gsum) && isnan(b->gsum));
    return a->pushes == b->pushes && a->samples == b->samples && same_sum;
}

static void add_pair(ps_pair *total, const ps_pair *p)
{
    total->pushes += p->pushes;
    total->samples += p->samples;
    total->gsum += p->gsum;
}

/* Rank 0: the gathered records into the report; worker i's pair j must equal server j's
 * pair i exactly (the same floats added in the same order on both ends). */
static void read_records(ps_state *s, const double *all, size_t len)
{
    ps_report *r = &s->rep;
    const size_t pairs_len = 3 * (size_t)(s->S > s->W ? s->S : s->W);
    r->conserved = 1;
    for (int j = 0; j < s->S; j++) {
        const double *rec = all + (size_t)j * len;
        r->updates[j] = rec[1];
        r->idle_s[j] = rec[2];
        merge_stale(merge_stale(rec + REC_HEAD + pairs_len, &r->stale), &r->lag);
        for (int i = 0; i < s->W; i++) {
            ps_pair applied = pair_at(rec + REC_HEAD + 3 * (size_t)i);
            ps_pair sent = pair_at(all + (size_t)(s->S + i) * len + REC_HEAD + 3 * (size_t)j);
            r->conserved &= same_pair(&sent, &applied);
            add_pair(&r->sent, &sent);
            add_pair(&r->applied, &applied);
            if (j == 0)
                r->worker_updates[i] = applied.pushes;
        }
    }
    for (int i = 0; i < s->W; i++)
        r->wait_s[i] = all[(size_t)(s->S + i) * len + 2];
    r->ready = 1;
}

static void gather_report(gd_step_ctx *ctx, ps_state *s)
{
    const size_t len = record_len(s);
    double *rec = gd_alloc(len, sizeof *rec, "ps report");
    double *all = ctx->rank == 0 ? gd_alloc((size_t)ctx->size * len, sizeof *all, "ps report") : NULL;
    ps_report *r = &s->rep;
    if (ctx->rank == 0) {
        r->updates = gd_alloc(2 * (size_t)s->S + 2 * (size_t)s->W, sizeof(double), "ps report");
        if (!all || !r->updates)
            gd_abort(ctx->comm, GD_ERR);
        r->idle_s = r->updates + s->S;
        r->worker_updates = r->idle_s + s->S;
        r->wait_s = r->worker_updates + s->W;
    }
    if (!rec)
        gd_abort(ctx->comm, GD_ERR);
    pack_record(ctx, s, rec);
    MPI_Gather(rec, (int)len, MPI_DOUBLE, all, (int)len, MPI_DOUBLE, 0, ctx->comm);
    if (ctx->rank == 0)
        read_records(s, all, len);
    free(rec);
    free(all);
}

int ps_finish(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    assemble_model(ctx, s);
    gather_report(ctx, s);
    if (ctx->rank == 0 && !s->rep.conserved)
        fprintf(stderr, "gdmpi: warning: parameter servers: the gradients applied differ from "
                        "those pushed (%.0f pushes sent, %.0f applied)%s\n",
                s->rep.sent.pushes, s->rep.applied.pushes,
                ctx->diverged ? "; the run diverged, so the rest were not applied" : "");
    return GD_OK;
}

static void json_list(FILE *f, const char *name, const double *v, int n, const char *fmt)
{
    fprintf(f, "\"%s\": [", name);
    for (int i = 0; i < n; i++) {
        fprintf(f, i ? ", " : "");
        fprintf(f, fmt, v[i]);
    }
    fprintf(f, "]");
}

/* {"mean": m, "max": x, "histogram": [count of 0, of 1, ... up to the max]} */
static void json_stale(FILE *f, const char *name, const char *unit, const ps_stale *st)
{
    int bins = st->count > 0 ? (int)(st->max < PS_HIST - 1 ? st->max : PS_HIST - 1) + 1 : 0;
    fprintf(f, "\"%s\": {\"unit\": \"%s\", \"count\": %.0f, \"mean\": %s, \"max\": %.0f, ", name,
            unit, st->count, gd_real(st->count > 0 ? st->sum / st->count : 0.0).text, st->max);
    json_list(f, "histogram", st->hist, bins, "%.0f");
    fprintf(f, ", \"histogram_last_bin\": \">= %d\"}", PS_HIST - 1);
}

static void json_conservation(FILE *f, const ps_report *r)
{
    fprintf(f, "\"conservation\": {\"ok\": %s, \"pushes_sent\": %.0f, \"pushes_applied\": %.0f, "
               "\"samples_sent\": %.0f, \"samples_applied\": %.0f, \"gradient_sum_sent\": %s, "
               "\"gradient_sum_applied\": %s}",
            r->conserved ? "true" : "false", r->sent.pushes, r->applied.pushes, r->sent.samples,
            r->applied.samples, gd_real(r->sent.gsum).text, gd_real(r->applied.gsum).text);
}

void ps_summary(const gd_step_ctx *ctx, FILE *f)
{
    const ps_state *s = ctx->state;
    const gd_config *c = ctx->cfg;
    if (!s || !s->rep.ready)
        return;
    const ps_report *r = &s->rep;
    fprintf(f, "  \"ps\": {\"mode\": \"%s\", \"servers\": %d, \"workers\": %d, \"fetch_every\": "
               "%ld, \"push_every\": %ld, \"staleness_bound\": %ld, \"staleness_lr\": \"%s\",\n    ",
            c->parallel.mode, s->S, s->W, c->parallel.fetch_every, c->parallel.push_every,
            s->async ? c->parallel.staleness : 0L, s->async ? c->parallel.staleness_lr : "none");
    json_list(f, "updates_per_server", r->updates, s->S, "%.0f");
    fprintf(f, ",\n    ");
    json_list(f, "updates_per_worker", r->worker_updates, s->W, "%.0f");
    fprintf(f, ",\n    ");
    json_list(f, "worker_wait_s", r->wait_s, s->W, "%.6f");
    fprintf(f, ",\n    ");
    json_list(f, "server_idle_s", r->idle_s, s->S, "%.6f");
    fprintf(f, ",\n    ");
    json_stale(f, "staleness", "server updates", &r->stale);
    fprintf(f, ",\n    ");
    json_stale(f, "clock_lag", "pushes (SSP clocks)", &r->lag);
    fprintf(f, ",\n    ");
    json_conservation(f, r);
    fprintf(f, "},\n");
    if (s->zip)
        ps_zip_summary(ctx, s, f);
}

void ps_destroy(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    if (!s)
        return;
    ps_free_msgs(s->w.push, s->S);
    ps_free_msgs(s->w.reply, s->S);
    free(s->w.req);
    free(s->w.flags);
    free(s->w.sent);
    free(s->w.read_version);
    free(s->w.acc_vsum);
    free(s->w.grad_version);
    free(s->w.local);
    ps_free_msgs(s->s.push, s->W);
    ps_free_msgs(s->s.reply, s->async ? s->W : 1);
    free(s->s.req);
    free(s->s.applied);
    free(s->s.clock);
    free(s->rep.updates);
    free(s->snap);
    free(s->snap_optim);
    free(s->versions);
    ps_zip_destroy(s);
    free(s->lo);
    free(s->len);
    free(s);
    ctx->state = NULL;
}
