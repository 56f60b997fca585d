/* Parameter servers' checkpoints: what ps and ps-async (and easgd-async, which runs on
 * ps-async's servers) declare, and how rank 0 assembles every server's slice in the middle
 * of an asynchronous run.
 *
 * ps and ps-async hold the parameters and the optimizer state in slices, one per server
 * (GD_SLICED); workers own none. A ps worker gets its copy back from the servers after a
 * resume (one broadcast per slice); a ps-async worker fetches it in its first round trip.
 *
 * Rank 0 alone (ps-async with checkpoint_every, GD_STATE_SAVE_LONE, while the workers and
 * the other servers run on): it asks each other server for its slice, its optimizer state,
 * its version and optimizer step (PS_TAG_SNAP), and each answers from its loop at once
 * (PS_TAG_SNAP_REPLY): rank 0 then holds every slice as it was when that server answered;
 * the slices are not of one instant (no server waits for another, by design), which is what
 * an asynchronous run is anyway. So that no request is left unanswered, a server other than
 * rank 0 stays in its loop until rank 0, done with its own, releases it (PS_SNAP_END). */
#include "ps.h"

#include "gdmpi/error.h"

#include <stdlib.h>
#include <string.h>

enum { SNAP_TAKE = 1, SNAP_END = 2 };

/* The floats of a snapshot reply from server j: its slice, then each optimizer slot's. */
static size_t snap_floats(const gd_step_ctx *ctx, const ps_state *s, int j)
{
    return s->len[j] * (1 + ctx->optim->ops->state_slots);
}

static int snap_alloc(gd_step_ctx *ctx, ps_state *s)
{
    const size_t n = ctx->model->nparams, slots = ctx->optim->ops->state_slots;
    if (s->snap)
        return GD_OK;
    s->snap = gd_alloc(1, ps_msg_bytes(snap_floats(ctx, s, 0)), "ps snapshot");
    s->snap_optim = gd_alloc(slots * n + 1, sizeof(float), "ps snapshot");
    return s->snap && s->snap_optim ? GD_OK : GD_ERR;
}

/* Rank 0: every server's slice into ctx->model->w (rank 0 uses only its own slice of it),
 * their optimizer state into s->snap_optim, their versions and steps into s->versions. */
static int snapshot(gd_step_ctx *ctx, ps_state *s)
{
    const size_t n = ctx->model->nparams, slots = ctx->optim->ops->state_slots;
    int rc = snap_alloc(ctx, s);
    if (rc)
        return rc;
    s->versions[0] = s->s.version;
    s->optim_t[0] = ctx->optim->t;
    for (size_t k = 0; k < slots; k++)
        memcpy(s->snap_optim + k * n, ctx->optim->state + k * s->len[0], s->len[0] * sizeof(float));
    for (int j = 1; j < s->S; j++) {
        const ps_header ask = {.flags = SNAP_TAKE};
        MPI_Send(&ask, (int)sizeof ask, MPI_BYTE, j, PS_TAG_SNAP, ctx->comm);
        MPI_Recv(s->snap, (int)ps_msg_bytes(snap_floats(ctx, s, j)), MPI_BYTE, j, PS_TAG_SNAP_REPLY,
                 ctx->comm, MPI_STATUS_IGNORE);
        s->versions[j] = s->snap->h.version;
        s->optim_t[j] = s->snap->h.clock;
        memcpy(ctx->model->w + s->lo[j], s->snap->x, s->len[j] * sizeof(float));
        for (size_t k = 0; k < slots; k++)
            memcpy(s->snap_optim + k * n + s->lo[j], s->snap->x + (k + 1) * s->len[j],
                   s->len[j] * sizeof(float));
    }
    return GD_OK;
}

void ps_snap_post(gd_step_ctx *ctx, ps_state *s)
{
    MPI_Irecv(&s->s.snap_ask, (int)sizeof s->s.snap_ask, MPI_BYTE, 0, PS_TAG_SNAP, ctx->comm,
              &s->s.req[s->W]);
}

void ps_snap_answer(gd_step_ctx *ctx, ps_state *s)
{
    if (s->s.snap_ask.flags & SNAP_END) {
        s->s.released = 1;
        return;
    }
    const size_t len = s->len[s->me], slots = ctx->optim->ops->state_slots;
    ps_msg *r = s->snap;
    r->h = (ps_header){.version = s->s.version, .clock = ctx->optim->t};
    memcpy(r->x, ctx->model->w + s->lo[s->me], len * sizeof(float));
    for (size_t k = 0; k < slots; k++)
        memcpy(r->x + (k + 1) * len, ctx->optim->state + k * len, len * sizeof(float));
    MPI_Send(r, (int)ps_msg_bytes(snap_floats(ctx, s, s->me)), MPI_BYTE, 0, PS_TAG_SNAP_REPLY,
             ctx->comm);
    ps_snap_post(ctx, s);
}

void ps_snap_release(gd_step_ctx *ctx, ps_state *s)
{
    const ps_header end = {.flags = SNAP_END};
    for (int j = 1; j < s->S; j++)
        MPI_Send(&end, (int)sizeof end, MPI_BYTE, j, PS_TAG_SNAP, ctx->comm);
}

int ps_snap_setup(gd_step_ctx *ctx, ps_state *s)
{
    const gd_config *c = ctx->cfg;
    s->snapshots = s->async && s->S > 1 && (c->output.checkpoint_epochs || c->output.checkpoint_steps);
    s->versions = gd_alloc(2 * (size_t)s->S, sizeof(int64_t), "ps versions");
    if (!s->versions)
        return GD_ERR;
    s->optim_t = s->versions + s->S;
    /* a server other than rank 0 answers from a buffer of its own */
    return s->snapshots && ctx->serving && ctx->rank > 0 ? snap_alloc(ctx, s) : GD_OK;
}

/* ---- the declarations ------------------------------------------------------------------- */

/* ps-async: every server's version and optimizer step, on rank 0 (collective). */
static void gather_versions(gd_step_ctx *ctx, ps_state *s)
{
    int64_t mine[2] = {ctx->serving ? s->s.version : 0, ctx->optim->t};
    int64_t *all = ctx->rank == 0 ? gd_alloc((size_t)ctx->size, sizeof mine, "ps versions") : NULL;
    MPI_Gather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, 0, ctx->comm);
    for (int j = 0; all && j < s->S; j++) {
        s->versions[j] = all[2 * j];
        s->optim_t[j] = all[2 * j + 1];
    }
    free(all);
}

int ps_declare(gd_step_ctx *ctx, gd_state *st, gd_state_use use, int with_optimizer)
{
    ps_state *s = ctx->state;
    const size_t n = ctx->model->nparams;
    if (use == GD_STATE_SAVE_LONE) {
        int rc = snapshot(ctx, s);
        if (rc)
            return rc;
        gd_state_add_slice(st, GD_STATE_F32, ctx->model->w, 1, 0, n, n, "model/params");
        if (with_optimizer && ctx->optim->ops->state_slots)
            gd_state_add_slice(st, GD_STATE_F32, s->snap_optim, ctx->optim->ops->state_slots, 0,
                               n, n, "optimizer/state");
        if (with_optimizer)
            gd_state_add(st, GD_STATE_I64, GD_PER_RANK, &ctx->optim->t, 1, "optimizer/t")->elastic =
                GD_EL_FIRST;
    } else {
        const size_t lo = ctx->serving ? s->lo[s->me] : 0, len = ctx->serving ? s->len[s->me] : 0;
        gd_state_add_slice(st, GD_STATE_F32, ctx->model->w + lo, 1, lo, len, n, "model/params");
        if (with_optimizer)
            gd_optim_declare(ctx->optim, st, GD_SLICED, lo, n);
        if (use == GD_STATE_SAVE && s->async)
            gather_versions(ctx, s);
    }
    if (!with_optimizer) /* easgd-async: each worker's own optimizer (servers move the center) */
        gd_optim_declare(ctx->optim, st, GD_PER_RANK, 0, n);
    ps_zip_declare(ctx, s, st, use); /* compressed pushes: each worker's residuals, streams */
    if (s->async) {
        /* every push reaches every server: their counts differ only by the pushes in
           flight, so new servers of an elastic resume all take server 0's */
        gd_state_add(st, GD_STATE_I64, GD_SHARED, s->versions, (size_t)s->S, "ps/versions")
            ->elastic = GD_EL_FIRST;
        gd_state_add(st, GD_STATE_I64, GD_SHARED, s->optim_t, (size_t)s->S, "ps/optim_t")
            ->elastic = GD_EL_FIRST;
    }
    return GD_OK;
}

/* ps: each worker's copy of the parameters, from the servers' slices. */
int ps_sync_resumed(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state;
    for (int j = 0; j < s->S; j++)
        MPI_Bcast(ctx->model->w + s->lo[j], (int)s->len[j], MPI_FLOAT, j, ctx->comm);
    return GD_OK;
}

int ps_resumed_server(gd_step_ctx *ctx)
{
    ps_state *s = ctx->state; /* the version and optimizer step the checkpoint saw */
    s->s.version = s->versions[s->me];
    ctx->optim->t = (long)s->optim_t[s->me];
    ctx->step = (long)s->s.version;
    return GD_OK;
}
