/* parallel.mode = hogwild: Hogwild! (Niu, Recht, Re & Wright 2011) on shared memory.
 *
 * Groups. The ranks of one node (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)), or groups of
 * parallel.group_size of them, share one parameter vector: group rank 0 allocates it with
 * MPI_Win_allocate_shared and every rank of the group points ctx->model->w at it. Each rank
 * reads it (its gradient is computed on whatever the vector holds at that moment, other
 * ranks' writes half applied included) and adds its own update to it without a lock:
 *   w <- w - lr g_k / n_k                      (sgd)
 *   v_k <- mu v_k + lr g_k / n_k,  w <- w - v_k  (momentum; nesterov alike)
 * with this rank's own optimizer state v_k, component-wise and only where the change is
 * non-zero (sparse_step). Concurrent read-modify-writes of one float may lose an update,
 * which is Hogwild!'s bargain: no lock, no wait. The ranks never meet during
 * training (an asynchronous strategy without servers): a straggler slows only itself.
 *
 * Several groups (several nodes, or group_size > 0): every parallel.average_every = H steps
 * the group leaders (group rank 0) average the groups' copies in a round: an
 * MPI_Iallreduce that the leader posts and then leaves in flight, training on, testing it
 * once a step. A leader sends its group's change d_g = w_g - r since the last average r
 * (the same in every group), and when the round completes adds back
 *   w_g <- w_g + mean(d) - d_g,   r <- r + mean(d)
 * so that the updates its group wrote while the round was in flight are kept (the mean is
 * over the groups that applied updates in the period, so a group that has finished does
 * not pull the others back). So no group waits for another: a round completes when the
 * slowest leader has posted it, and until then the faster groups keep stepping; a round
 * that falls due while the last is in flight is posted as soon as that one completes (a
 * straggler lowers how often the fast groups average, not how fast they step). Leaders
 * that have finished keep taking part in rounds, then waiting for each, until every
 * leader has finished (a flag in the message), so that no leader waits forever for a
 * round. The message also carries stop reasons, which reach the other groups this way.
 *
 * Memory model: the window is locked once (MPI_Win_lock_all) for the run; MPI_Win_sync
 * around each barrier makes the writes before it visible after it. Loads and stores in
 * training are plain, by design.
 *
 * The stall watchdog (parallel.stall_timeout) watches none of this (as an asynchronous
 * strategy's, its calls are unwatched until the run's end): a rank that has done its
 * epochs waits in finish for its group's straggler, and a leader's round waits for a
 * leader that waits so, for as long as the straggler trains, which is no stall.
 *
 * Rows and stopping (asynchronous, as ps-async's workers): every rank runs its epochs;
 * rank 0 (the lead) snapshots its group's vector for each epoch's evaluation, and completes
 * the row with its group's figures, which every rank keeps in its slot of the shared
 * segment (cumulative loss, samples and updates, written by that rank alone): step = updates
 * applied to the group's vector, samples = the group's samples, train_loss = their mean loss
 * since the last row. train.max_steps counts those updates; train.tol (rank 0), max_steps and
 * a divergence set the group's stop flag, which every rank of the group reads at each step. */
#include "local_sgd.h"

#include "gdmpi/error.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One rank's running figures in the shared segment (written by that rank alone). */
typedef struct hw_slot {
    _Atomic double loss, samples, updates;
} hw_slot;

enum { HW_HEAD = 64, HW_ALIGN = 64 }; /* the stop flag's cache line; the vector's alignment */

typedef struct hw_state {
    MPI_Comm group, leaders; /* leaders: MPI_COMM_NULL except on group rank 0 */
    int grank, gsize, ngroups, gindex;
    MPI_Win win;
    atomic_int *stop;        /* a gd_stop_reason for the whole group (0: none) */
    hw_slot *slots;          /* gsize */
    float *shared;           /* the group's parameter vector */
    float *own;              /* the model's own buffer: each step's working copy, the
                                lead's evaluation snapshot, and the final model */
    float *read;             /* the shared vector as a step read it */
    float *ref, *send, *recv; /* leaders with several groups: r, and the round's messages */
    MPI_Request round;       /* the leader's round in flight */
    int round_posted;        /* a round is posted and not yet applied (the request alone
                                cannot say: gdmpi-sim's wrapper completes it at once) */
    int round_due;           /* a round fell due while the last was in flight */
    long every, steps, rounds;
    double last_updates;     /* leader: the group's updates at the last round */
    double loss, samples, updates; /* this rank's, cumulative */
    double row_loss, row_samples;  /* the lead: the group's sums at the last row */
    double *report;          /* rank 0 after finish: per rank updates, samples, group */
    double totals[5];        /* checkpoints: rank 0's group's loss, samples and updates,
                                and the lead's row_loss and row_samples */
} hw_state;

static int hw_check(const gd_config *c, int size)
{
    (void)size;
    const char *o = c->optimizer.type;
    if (strcmp(o, "sgd") && strcmp(o, "momentum") && strcmp(o, "nesterov"))
        return gd_fail(GD_ECONFIG, "optimizer.type = %s: hogwild takes plain SGD or momentum "
                       "steps (sgd, momentum, nesterov; the velocity is per rank)", o);
    return GD_OK;
}

/* ---- setup -------------------------------------------------------------------------- */

/* The shared-memory groups and their leaders' communicator. */
static void open_groups(gd_step_ctx *ctx, hw_state *s)
{
    MPI_Comm node;
    int nrank;
    MPI_Comm_split_type(ctx->comm, MPI_COMM_TYPE_SHARED, ctx->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &nrank);
    long per = ctx->cfg->parallel.group_size;
    if (per > 0) {
        MPI_Comm_split(node, (int)(nrank / per), nrank, &s->group);
        MPI_Comm_free(&node);
    } else {
        s->group = node;
    }
    MPI_Comm_rank(s->group, &s->grank);
    MPI_Comm_size(s->group, &s->gsize);
    MPI_Comm_split(ctx->comm, s->grank == 0 ? 0 : MPI_UNDEFINED, ctx->rank, &s->leaders);
    int g[2] = {0, 0};
    if (s->leaders != MPI_COMM_NULL) {
        MPI_Comm_size(s->leaders, &g[0]);
        MPI_Comm_rank(s->leaders, &g[1]);
    }
    MPI_Bcast(g, 2, MPI_INT, 0, s->group);
    s->ngroups = g[0];
    s->gindex = g[1];
}

static size_t params_offset(const hw_state *s)
{
    size_t off = HW_HEAD + (size_t)s->gsize * sizeof(hw_slot);
    return (off + HW_ALIGN - 1) / HW_ALIGN * HW_ALIGN;
}

/* Makes the writes of every rank of the group before this call visible to all after it. */
static void group_sync(hw_state *s)
{
    MPI_Win_sync(s->win);
    MPI_Barrier(s->group);
    MPI_Win_sync(s->win);
}

/* Group rank 0 allocates the segment and fills it with the initial parameters (the same on
 * every rank); the others map it. */
static void open_window(gd_step_ctx *ctx, hw_state *s)
{
    const size_t n = ctx->model->nparams, off = params_offset(s);
    const MPI_Aint bytes = s->grank == 0 ? (MPI_Aint)(off + n * sizeof(float)) : 0;
    char *base;
    MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, s->group, &base, &s->win);
    MPI_Aint size;
    int unit;
    MPI_Win_shared_query(s->win, 0, &size, &unit, &base);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    s->stop = (atomic_int *)(void *)base;
    s->slots = (hw_slot *)(void *)(base + HW_HEAD);
    s->shared = (float *)(void *)(base + off);
    if (s->grank == 0) {
        atomic_init(s->stop, 0);
        for (int r = 0; r < s->gsize; r++) {
            atomic_init(&s->slots[r].loss, 0.0);
            atomic_init(&s->slots[r].samples, 0.0);
            atomic_init(&s->slots[r].updates, 0.0);
        }
        memcpy(s->shared, ctx->model->w, n * sizeof(float));
    }
    group_sync(s);
}

/* Leaders of several groups: r and the round's messages (the change, then the weight, the
 * done flag and one count per stop reason). */
static int alloc_rounds(gd_step_ctx *ctx, hw_state *s)
{
    const size_t n = ctx->model->nparams, len = n + 2 + GD_STOP_COUNT;
    if (s->leaders == MPI_COMM_NULL || s->ngroups < 2)
        return GD_OK;
    s->ref = gd_alloc(n, sizeof(float), "hogwild average");
    s->send = gd_alloc(len, sizeof(float), "hogwild round");
    s->recv = gd_alloc(len, sizeof(float), "hogwild round");
    if (!s->ref || !s->send || !s->recv)
        return GD_ERR;
    memcpy(s->ref, s->shared, n * sizeof(float));
    return GD_OK;
}

static int hw_setup(gd_step_ctx *ctx)
{
    hw_state *s = gd_alloc(1, sizeof *s, "hogwild state");
    ctx->state = s;
    if (s) {
        s->group = s->leaders = MPI_COMM_NULL;
        s->win = MPI_WIN_NULL;
        s->round = MPI_REQUEST_NULL;
    }
    /* every rank must reach the collectives below, or none */
    int rc = gd_agree(ctx->comm, s ? GD_OK : GD_ERR);
    if (rc)
        return rc;
    s->every = ctx->cfg->parallel.average_every;
    local_own_noise(ctx); /* P ranks adding one shared noise vector would be one correlated draw */
    open_groups(ctx, s);
    open_window(ctx, s);
    s->own = ctx->model->w;
    ctx->model->w = s->shared;
    if (!(s->read = gd_alloc(ctx->model->nparams, sizeof(float), "hogwild read")))
        return GD_ERR;
    ctx->workers_per_step = 1; /* each update is one rank's gradient */
    return alloc_rounds(ctx, s);
}

/* ---- training ------------------------------------------------------------------------ */

static void set_stop(hw_state *s, int why)
{
    int none = 0;
    atomic_compare_exchange_strong(s->stop, &none, why);
}

/* The group's figures, summed over its ranks' slots. */
static void group_sums(const hw_state *s, double *loss, double *samples, double *updates)
{
    *loss = *samples = *updates = 0;
    for (int r = 0; r < s->gsize; r++) {
        *loss += atomic_load_explicit(&s->slots[r].loss, memory_order_relaxed);
        *samples += atomic_load_explicit(&s->slots[r].samples, memory_order_relaxed);
        *updates += atomic_load_explicit(&s->slots[r].updates, memory_order_relaxed);
    }
}

static void publish(gd_step_ctx *ctx, hw_state *s)
{
    hw_slot *me = &s->slots[s->grank];
    s->loss += ctx->step_loss;
    s->samples += ctx->step_count;
    s->updates += ctx->step_count > 0 && !ctx->diverged;
    atomic_store_explicit(&me->loss, s->loss, memory_order_relaxed);
    atomic_store_explicit(&me->samples, s->samples, memory_order_relaxed);
    atomic_store_explicit(&me->updates, s->updates, memory_order_relaxed);
}

/* Divergence and train.max_steps stop the group; any stop set in the group stops this rank. */
static void check_stop(gd_step_ctx *ctx, hw_state *s)
{
    const long max = ctx->cfg->train.max_steps;
    double loss, samples, updates;
    if (ctx->diverged)
        set_stop(s, GD_STOP_DIVERGED);
    if (max) {
        group_sums(s, &loss, &samples, &updates);
        if (updates >= (double)max)
            set_stop(s, GD_STOP_MAX_STEPS);
    }
    int why = atomic_load(s->stop);
    if (why)
        gd_step_stop(ctx, (gd_stop_reason)why);
}

/* Leader: posts an averaging round among the leaders (see the top), `done` being this
 * one's finished flag, and leaves it in flight. */
static void post_round(gd_step_ctx *ctx, hw_state *s, int done)
{
    double since = MPI_Wtime(), loss, samples, updates;
    const size_t n = ctx->model->nparams, len = n + 2 + GD_STOP_COUNT;
    group_sums(s, &loss, &samples, &updates);
    const float weight = updates > s->last_updates ? 1.0f : 0.0f;
    s->last_updates = updates;
    float *d = s->send;
    for (size_t i = 0; i < n; i++)
        d[i] = weight * (s->shared[i] - s->ref[i]);
    memset(d + n, 0, (2 + GD_STOP_COUNT) * sizeof(float));
    d[n] = weight;
    d[n + 1] = (float)done;
    d[n + 2 + atomic_load(s->stop)] = 1;
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    MPI_Iallreduce(d, s->recv, (int)len, MPI_FLOAT, MPI_SUM, s->leaders, &s->round);
    s->round_posted = 1;
    gd_step_time(ctx, GD_T_COMM, &since);
}

/* Leader: applies the round that has completed. Returns how many leaders had finished. */
static int apply_round(gd_step_ctx *ctx, hw_state *s)
{
    double since = MPI_Wtime();
    const size_t n = ctx->model->nparams;
    const float *d = s->send, *sum = s->recv;
    s->round_posted = 0;
    if (sum[n] > 0) {
        const float inv = 1.0f / sum[n];
        for (size_t i = 0; i < n; i++) {
            const float mean = sum[i] * inv;
            s->shared[i] += mean - d[i]; /* keeps what the group wrote meanwhile */
            s->ref[i] += mean;
        }
    }
    for (int why = GD_STOP_COUNT - 1; why > GD_STOP_NONE; why--)
        if (sum[n + 2 + why] > 0) {
            set_stop(s, why);
            break;
        }
    s->rounds++;
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    return (int)sum[n + 1];
}

/* Leader, each step: progresses the round in flight and applies it once complete; posts
 * the next when one is due and none is in flight. Never waits. */
static void drive_rounds(gd_step_ctx *ctx, hw_state *s)
{
    if (s->round_posted) {
        double since = MPI_Wtime();
        /* null: gdmpi-sim's wrapper completed it at once (SMPI's MPI_Test says false then) */
        int complete = s->round == MPI_REQUEST_NULL;
        if (!complete)
            MPI_Test(&s->round, &complete, MPI_STATUS_IGNORE);
        gd_step_time(ctx, GD_T_COMM, &since);
        if (complete)
            apply_round(ctx, s);
    }
    s->round_due |= ++s->steps % s->every == 0;
    if (s->round_due && !s->round_posted) {
        post_round(ctx, s, 0);
        s->round_due = 0;
    }
}

/* Leader: waits for the round in flight, if any, and applies it. Returns how many leaders
 * had finished (0 when there was none). */
static int complete_round(gd_step_ctx *ctx, hw_state *s)
{
    if (!s->round_posted)
        return 0;
    double since = MPI_Wtime();
    MPI_Wait(&s->round, MPI_STATUS_IGNORE);
    gd_step_time(ctx, GD_T_WAIT, &since);
    return apply_round(ctx, s);
}

/* One lock-free update, as Hogwild!'s: read the shared vector, run this rank's update
 * pipeline on a private copy of it, and add the change to the shared vector coordinate by
 * coordinate, only where it is non-zero (the gradient's support for sgd). So a rank never
 * writes back a coordinate it did not change, which would undo another rank's write there
 * in the meantime (tests/mpi/mpi_hogwild_race.c), and each write adds to the value found
 * at that moment. Without a race the result is the in-place update, bit for bit: the
 * change d = new - old is exact (Sterbenz) and old + d = new. */
static void sparse_step(gd_step_ctx *ctx, hw_state *s)
{
    const size_t n = ctx->model->nparams;
    memcpy(s->read, s->shared, n * sizeof(float));
    memcpy(s->own, s->read, n * sizeof(float));
    ctx->model->w = s->own;
    local_step(ctx);
    ctx->model->w = s->shared;
    for (size_t i = 0; i < n; i++) {
        const float d = s->own[i] - s->read[i];
        if (d != 0.0f)
            s->shared[i] += d;
    }
}

static int hw_step(gd_step_ctx *ctx)
{
    hw_state *s = ctx->state;
    sparse_step(ctx, s);
    publish(ctx, s);
    check_stop(ctx, s);
    if (s->ref)
        drive_rounds(ctx, s);
    return GD_OK;
}

/* The lead, before it evaluates: a snapshot of its group's vector stands in for it. */
static int hw_refresh(gd_step_ctx *ctx)
{
    hw_state *s = ctx->state;
    memcpy(s->own, s->shared, ctx->model->nparams * sizeof(float));
    ctx->model->w = s->own;
    return GD_OK;
}

/* The lead is rank 0: it completes the row it measured with its group's figures and hands
 * it to the trainer's accept_row, which appends it, prints and writes it. */
static int hw_report(gd_step_ctx *ctx, const gd_metrics_row *row)
{
    hw_state *s = ctx->state;
    gd_metrics_row r = *row;
    double loss, samples, updates;
    ctx->model->w = s->shared;
    group_sums(s, &loss, &samples, &updates);
    r.step = (long)updates;
    r.samples = samples;
    r.train_loss = samples > s->row_samples ? (loss - s->row_loss) / (samples - s->row_samples)
                                            : NAN;
    r.samples_per_s = r.wall > 0 ? samples / r.wall : 0;
    s->row_loss = loss;
    s->row_samples = samples;
    gd_stop_reason why = ctx->host->accept_row(ctx, &r);
    if (why != GD_STOP_NONE) {
        set_stop(s, why);
        check_stop(ctx, s);
    }
    return GD_OK;
}

/* ---- end ----------------------------------------------------------------------------- */

/* Collective: rank 0 gets each rank's updates, samples and group for the summary. */
static void gather_report(gd_step_ctx *ctx, hw_state *s)
{
    double mine[3] = {s->updates, s->samples, s->gindex};
    if (ctx->rank == 0 && !(s->report = gd_alloc((size_t)ctx->size, sizeof mine, "hogwild report")))
        gd_abort(ctx->comm, GD_ERR);
    MPI_Gather(mine, 3, MPI_DOUBLE, s->report, 3, MPI_DOUBLE, 0, ctx->comm);
}

/* Once the group has stopped writing, its leader averages with the others until every
 * leader is done (the groups' copies then agree); every rank takes the result as its model. */
static int hw_finish(gd_step_ctx *ctx)
{
    hw_state *s = ctx->state;
    group_sync(s);
    if (s->ref) {
        complete_round(ctx, s); /* posted in training: its done flag is 0 */
        do
            post_round(ctx, s, 1);
        while (complete_round(ctx, s) < s->ngroups);
    }
    group_sync(s);
    memcpy(s->own, s->shared, ctx->model->nparams * sizeof(float));
    ctx->model->w = s->own;
    gather_report(ctx, s);
    return GD_OK;
}

static void json_list(FILE *f, const char *name, const double *rep, int size, int k)
{
    fprintf(f, "\"%s\": [", name);
    for (int r = 0; r < size; r++)
        fprintf(f, "%s%.0f", r ? ", " : "", rep[3 * r + k]);
    fprintf(f, "]");
}

static void hw_summary(const gd_step_ctx *ctx, FILE *f)
{
    const hw_state *s = ctx->state;
    if (!s || !s->report)
        return;
    double total = 0;
    for (int r = 0; r < ctx->size; r++)
        total += s->report[3 * r];
    fprintf(f, "  \"hogwild\": {\"groups\": %d, \"average_every\": %ld, \"averages\": %ld, "
               "\"updates_applied\": %.0f,\n    ",
            s->ngroups, s->every, s->rounds, total);
    json_list(f, "updates_per_rank", s->report, ctx->size, 0);
    fprintf(f, ",\n    ");
    json_list(f, "samples_per_rank", s->report, ctx->size, 1);
    fprintf(f, ",\n    ");
    json_list(f, "group_of_rank", s->report, ctx->size, 2);
    fprintf(f, "},\n");
}

/* Collective over each group (the window) and the world (the communicators). */
static void hw_destroy(gd_step_ctx *ctx)
{
    hw_state *s = ctx->state;
    if (!s)
        return;
    if (s->own)
        ctx->model->w = s->own; /* the model frees its own buffer */
    if (s->win != MPI_WIN_NULL) {
        MPI_Win_unlock_all(s->win);
        MPI_Win_free(&s->win);
    }
    if (s->leaders != MPI_COMM_NULL)
        MPI_Comm_free(&s->leaders);
    if (s->group != MPI_COMM_NULL)
        MPI_Comm_free(&s->group);
    free(s->read);
    free(s->ref);
    free(s->send);
    free(s->recv);
    free(s->report);
    free(s);
    ctx->state = NULL;
}

/* ---- checkpoints ----------------------------------------------------------------------- */

/* What rank 0 sees: its group's vector (saved from rank 0 and loaded by each group's leader
 * into its window, so every group resumes from rank 0's group's: as after an averaging
 * round), every rank's own velocity, and rank 0's group's totals, which the rows count on.
 * Written by rank 0 alone in mid-run (at a row, or every N of its steps), the vector is a
 * snapshot that other ranks' writes may reach half-way, as any Hogwild! read; the other
 * ranks' velocities are not in it (they start again from zero). */
static int hw_state_op(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    hw_state *s = ctx->state;
    const size_t n = ctx->model->nparams;
    if (use != GD_STATE_LOAD && ctx->rank == 0) {
        group_sums(s, &s->totals[0], &s->totals[1], &s->totals[2]);
        s->totals[3] = s->row_loss;
        s->totals[4] = s->row_samples;
    }
    gd_state_add(st, GD_STATE_F32, GD_SHARED, ctx->model->w, s->grank == 0 ? n : 0,
                 "model/params");
    gd_optim_declare(ctx->optim, st, GD_PER_RANK, 0, n);
    gd_state_add(st, GD_STATE_F64, GD_SHARED, s->totals, 5, "hogwild/totals");
    return GD_OK;
}

/* Every group's leader has loaded rank 0's vector into its window: the group sees it after
 * the barrier; the leaders' last average is that vector. Rank 0 goes on from its group's
 * totals, the other ranks from zero. */
static int hw_resumed(gd_step_ctx *ctx)
{
    hw_state *s = ctx->state;
    group_sync(s);
    if (s->ref)
        memcpy(s->ref, s->shared, ctx->model->nparams * sizeof(float));
    if (ctx->rank == 0) {
        s->loss = s->totals[0];
        s->samples = s->totals[1];
        s->updates = s->last_updates = s->totals[2];
        s->row_loss = s->totals[3];
        s->row_samples = s->totals[4];
        ctx->step_loss = ctx->step_count = 0;
        publish(ctx, s);
    }
    return GD_OK;
}

const gd_strategy_ops gd_strategy_hogwild = {
    .name = "hogwild",
    .not_elastic = "each node's shared window and the rounds between nodes are laid out for that rank count",
    .state = hw_state_op,
    .resumed = hw_resumed,
    .async = 1,
    .check = hw_check,
    .setup = hw_setup,
    .step = hw_step,
    .refresh = hw_refresh,
    .report = hw_report,
    .finish = hw_finish,
    .summary = hw_summary,
    .destroy = hw_destroy,
};
