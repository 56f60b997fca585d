/* parallel.mode = gossip: decentralized parallel SGD, D-PSGD (Lian et al. 2017, "Can
 * decentralized algorithms outperform centralized algorithms?", Alg. 1).
 *
 * Each rank i keeps its own copy x_i and, every step, takes a local step with its own mean
 * gradient and its own optimizer, then averages with its neighbours N(i) in a fixed
 * topology (parallel.topology):
 *   x_i^{1/2} = x_i - opt(g_i / n_i)                                    (local step)
 *   x_i      <- sum_{j in N(i) + i} W_ij x_j^{1/2},   W_ij = 1 / (|N(i)| + 1)
 * Lian et al. write the mixing on x_k and the gradient step beside it (x_{k+1} = x_k W -
 * gamma grad); mixing after the local step ("adapt then combine") is the variant most
 * implementations run and needs one exchange a step all the same. Every topology here is
 * vertex-transitive (ring, torus, exponential, complete), so every rank has the same number
 * of neighbours and the uniform W is symmetric and doubly stochastic, as the paper's
 * convergence needs. The exchange is non-blocking point-to-point (MPI_Isend and MPI_Irecv
 * to and from each neighbour, then MPI_Waitall): no collective in the step, except on a
 * step after which the loop may end, where the divergence flags are agreed (local_sgd.h).
 * The sum runs over the ranks in rank order, so with the complete topology every rank
 * computes the same average, to the bit: gossip then equals allreduce on the parameters.
 *
 * Each epoch's row describes the average model x^ = (1/P) sum_i x_i (as the paper
 * evaluates), computed for the row, not adopted; the consensus distance (1/P) sum_i
 * ||x_i - x^||^2 and rank 0's own model's validation loss and accuracy go to summary.json's
 * "gossip" member. That takes an allreduce of the parameters, one of a double and a
 * broadcast of rank 0's parameters per evaluation, none per step. finish() averages once
 * more, so model.h5 is the average. Bytes: exactly the neighbours' messages. */
#include "local_sgd.h"

#include "gdmpi/error.h"
#include "gdmpi/watchdog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gossip_state {
    MPI_Comm comm;        /* a duplicate: the neighbours' messages meet nothing else */
    gd_wire wire;         /* counts into ctx->wire */
    int nnb;              /* neighbours */
    int *nb;              /* their ranks, ascending */
    float **recv;         /* nnb buffers of nparams floats */
    MPI_Request *req;     /* 2 nnb */
    float *eval, *own;    /* the average a row describes; the parameters this rank trains */
    float *rank0;         /* rank 0's parameters, for their evaluation */
    double samples;
    long steps;
    gd_divergence held;
    long epochs, recorded; /* per-epoch figures: room for, and taken */
    double *consensus, *rank0_loss, *rank0_acc;
} gossip_state;

/* ---- topologies: offsets of the neighbours, deduplicated, without self ------------------ */

static int add_neighbour(gossip_state *s, int size, int rank, int other)
{
    other = ((other % size) + size) % size;
    if (other == rank)
        return 0;
    for (int k = 0; k < s->nnb; k++)
        if (s->nb[k] == other)
            return 0;
    s->nb[s->nnb++] = other;
    return 1;
}

/* The grid of a torus: the most square rows x cols = size (a prime size is a ring). */
static int torus_rows(int size)
{
    int rows = 1;
    for (int d = 1; d * d <= size; d++)
        if (size % d == 0)
            rows = d;
    return rows;
}

static void plan_neighbours(gossip_state *s, const char *topology, int size, int rank)
{
    if (!strcmp(topology, "complete")) {
        for (int j = 0; j < size; j++)
            add_neighbour(s, size, rank, j);
    } else if (!strcmp(topology, "exponential")) { /* +-2^i, as in Assran et al. 2019 */
        for (long hop = 1; hop < size; hop *= 2) {
            add_neighbour(s, size, rank, rank + (int)hop);
            add_neighbour(s, size, rank, rank - (int)hop);
        }
    } else if (!strcmp(topology, "torus")) {
        int cols = size / torus_rows(size), row = rank / cols, col = rank % cols;
        add_neighbour(s, size, rank, row * cols + (col + 1) % cols);
        add_neighbour(s, size, rank, row * cols + (col + cols - 1) % cols);
        add_neighbour(s, size, rank, (rank + cols) % size);
        add_neighbour(s, size, rank, (rank - cols + size) % size);
    } else { /* ring */
        add_neighbour(s, size, rank, rank + 1);
        add_neighbour(s, size, rank, rank - 1);
    }
}

static int ascending(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* ---- setup ----------------------------------------------------------------------------- */

static int alloc_buffers(gd_step_ctx *ctx, gossip_state *s)
{
    const size_t n = ctx->model->nparams;
    s->recv = gd_alloc((size_t)s->nnb + 1, sizeof *s->recv, "gossip buffers");
    s->req = gd_alloc(2 * (size_t)s->nnb + 1, sizeof *s->req, "gossip requests");
    s->eval = gd_alloc(n, sizeof(float), "gossip average");
    s->rank0 = gd_alloc(n, sizeof(float), "gossip rank 0's parameters");
    s->epochs = ctx->cfg->train.epochs;
    s->consensus = gd_alloc((size_t)s->epochs, sizeof(double), "gossip figures");
    s->rank0_loss = gd_alloc((size_t)s->epochs, sizeof(double), "gossip figures");
    s->rank0_acc = gd_alloc((size_t)s->epochs, sizeof(double), "gossip figures");
    if (!s->recv || !s->req || !s->eval || !s->rank0 || !s->consensus || !s->rank0_loss ||
        !s->rank0_acc)
        return GD_ERR;
    for (int k = 0; k < s->nnb; k++)
        if (!(s->recv[k] = gd_alloc(n, sizeof(float), "gossip buffers")))
            return GD_ERR;
    return GD_OK;
}

static int gossip_setup(gd_step_ctx *ctx)
{
    gossip_state *s = gd_alloc(1, sizeof *s, "gossip state");
    if (!s)
        return GD_ERR;
    ctx->state = s;
    s->comm = MPI_COMM_NULL;
    local_own_noise(ctx);
    s->nb = gd_alloc((size_t)ctx->size, sizeof *s->nb, "gossip neighbours");
    if (!s->nb)
        return GD_ERR;
    plan_neighbours(s, ctx->cfg->parallel.topology, ctx->size, ctx->rank);
    qsort(s->nb, (size_t)s->nnb, sizeof *s->nb, ascending);
    MPI_Comm_dup(ctx->comm, &s->comm);
    s->wire = (gd_wire){.comm = s->comm, .size = ctx->size, .bytes = ctx->wire};
    ctx->counts_wire = 1;
    return alloc_buffers(ctx, s);
}

/* ---- the step ---------------------------------------------------------------------------- */

/* x <- (x + sum of the neighbours' x) / (neighbours + 1), summed in rank order. */
static void mix(const gossip_state *s, int rank, float *w, size_t n)
{
    const float inv = 1.0f / (float)(s->nnb + 1);
    for (size_t i = 0; i < n; i++) {
        float sum = 0;
        int k = 0;
        for (; k < s->nnb && s->nb[k] < rank; k++)
            sum += s->recv[k][i];
        sum += w[i];
        for (; k < s->nnb; k++)
            sum += s->recv[k][i];
        w[i] = sum * inv;
    }
}

/* Sends this rank's parameters to every neighbour and receives theirs (non-blocking). */
static void exchange(gd_step_ctx *ctx, gossip_state *s)
{
    const size_t n = ctx->model->nparams;
    double since = MPI_Wtime();
    for (int k = 0; k < s->nnb; k++) {
        MPI_Irecv(s->recv[k], (int)n, MPI_FLOAT, s->nb[k], 0, s->comm, &s->req[2 * k]);
        MPI_Isend(ctx->model->w, (int)n, MPI_FLOAT, s->nb[k], 0, s->comm, &s->req[2 * k + 1]);
    }
    gd_watchdog_enter("gossip with the neighbours", ctx->step);
    MPI_Waitall(2 * s->nnb, s->req, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
    const double bytes = (double)s->nnb * (double)n * sizeof(float);
    gd_wire_count(&s->wire, bytes, bytes);
    gd_wire_count_allreduce(&s->wire, (double)n * sizeof(float), 0); /* allreduce's, for the ratio */
    gd_step_time(ctx, GD_T_COMM, &since);
    mix(s, ctx->rank, ctx->model->w, n);
    gd_step_time(ctx, GD_T_COMPUTE, &since);
}

static int gossip_step(gd_step_ctx *ctx)
{
    gossip_state *s = ctx->state;
    local_step_held(ctx, &s->held);
    s->samples += ctx->step_count;
    s->steps++;
    exchange(ctx, s);
    if (ctx->may_stop)
        local_agree_diverged(ctx, s->held);
    return GD_OK;
}

/* ---- the epoch's row: the average, its consensus distance, rank 0's own model ----------- */

/* Collective: dst = the mean of the ranks' parameters; returns the consensus distance
 * (1/P) sum_i ||x_i - mean||^2. */
static double average_into(gd_step_ctx *ctx, float *dst)
{
    const size_t n = ctx->model->nparams;
    const float *w = ctx->model->w;
    gd_watchdog_enter("averaging the gossip copies", ctx->step);
    MPI_Allreduce(w, dst, (int)n, MPI_FLOAT, MPI_SUM, ctx->comm);
    const float inv = 1.0f / (float)ctx->size;
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
        dst[i] *= inv;
        sq += ((double)w[i] - dst[i]) * ((double)w[i] - dst[i]);
    }
    MPI_Allreduce(MPI_IN_PLACE, &sq, 1, MPI_DOUBLE, MPI_SUM, ctx->comm);
    gd_watchdog_leave();
    return sq / ctx->size;
}

/* Collective: rank 0's own parameters on the validation data. */
static void evaluate_rank0(gd_step_ctx *ctx, gossip_state *s, double *loss, double *acc)
{
    *loss = *acc = NAN;
    if (!ctx->host || !ctx->host->evaluate)
        return;
    memcpy(s->rank0, ctx->model->w, ctx->model->nparams * sizeof(float));
    gd_watchdog_enter("sharing rank 0's parameters", ctx->step);
    MPI_Bcast(s->rank0, (int)ctx->model->nparams, MPI_FLOAT, 0, ctx->comm);
    gd_watchdog_leave();
    float *own = ctx->model->w;
    ctx->model->w = s->rank0;
    ctx->host->evaluate(ctx, loss, acc);
    ctx->model->w = own;
}

static int gossip_epoch_row(gd_step_ctx *ctx, int begin)
{
    gossip_state *s = ctx->state;
    if (!begin) {
        ctx->model->w = s->own;
        return GD_OK;
    }
    local_epoch_sums(ctx, s->samples, s->held);
    double since = MPI_Wtime(), loss, acc;
    evaluate_rank0(ctx, s, &loss, &acc);
    double consensus = average_into(ctx, s->eval);
    if (s->recorded < s->epochs) {
        s->consensus[s->recorded] = consensus;
        s->rank0_loss[s->recorded] = loss;
        s->rank0_acc[s->recorded++] = acc;
    }
    gd_step_time(ctx, GD_T_EVAL, &since);
    s->own = ctx->model->w;
    ctx->model->w = s->eval;
    return GD_OK;
}

/* model.h5 is the average; after early stopping every rank holds the best epoch's. */
static int gossip_finish(gd_step_ctx *ctx)
{
    gossip_state *s = ctx->state;
    if (!ctx->best_kept) {
        average_into(ctx, s->eval);
        memcpy(ctx->model->w, s->eval, ctx->model->nparams * sizeof(float));
    }
    return GD_OK;
}

static void json_series(FILE *f, const char *name, const double *v, long n)
{
    fprintf(f, ", \"%s\": [", name);
    for (long e = 0; e < n; e++)
        fprintf(f, isfinite(v[e]) ? "%s%.8g" : "%snull", e ? ", " : "", v[e]);
    fprintf(f, "]");
}

static void gossip_summary(const gd_step_ctx *ctx, FILE *f)
{
    const gossip_state *s = ctx->state;
    if (!s)
        return;
    fprintf(f, "  \"gossip\": {\"topology\": \"%s\", \"neighbours\": %d, \"weight\": %.8g",
            ctx->cfg->parallel.topology, s->nnb, 1.0 / (s->nnb + 1));
    json_series(f, "consensus_distance", s->consensus, s->recorded);
    json_series(f, "rank0_val_loss", s->rank0_loss, s->recorded);
    json_series(f, "rank0_val_acc", s->rank0_acc, s->recorded);
    fprintf(f, "},\n");
}

static void gossip_destroy(gd_step_ctx *ctx)
{
    gossip_state *s = ctx->state;
    if (!s)
        return;
    if (s->own && ctx->model->w == s->eval)
        ctx->model->w = s->own;
    if (s->comm != MPI_COMM_NULL)
        MPI_Comm_free(&s->comm);
    for (int k = 0; s->recv && k < s->nnb; k++)
        free(s->recv[k]);
    free(s->recv);
    free(s->req);
    free(s->nb);
    free(s->eval);
    free(s->rank0);
    free(s->consensus);
    free(s->rank0_loss);
    free(s->rank0_acc);
    free(s);
    ctx->state = NULL;
}

/* Each rank's copy, optimizer, steps, samples and held divergence; the per-epoch figures
 * (the same on every rank; their count is how many epochs were recorded). Resumes exactly. */
static int gossip_declare(gd_step_ctx *ctx, gd_state *st, gd_state_use use)
{
    (void)use;
    gossip_state *s = ctx->state;
    local_declare(ctx, st, "gossip", &s->steps, &s->samples, &s->held);
    /* the figures so far, one row an epoch: a resume may raise train.epochs (the room) */
    double *series[] = {s->consensus, s->rank0_loss, s->rank0_acc};
    const char *names[] = {"gossip/consensus", "gossip/rank0_loss", "gossip/rank0_acc"};
    for (int k = 0; k < 3; k++) {
        gd_state_field *f = gd_state_add(st, GD_STATE_F64, GD_SHARED, series[k], 1, "%s", names[k]);
        f->rows = (size_t)s->epochs;
        f->count = &s->recorded;
    }
    return GD_OK;
}

const gd_strategy_ops gd_strategy_gossip = {
    .name = "gossip",
    .state = gossip_declare,
    .setup = gossip_setup,
    .step = gossip_step,
    .epoch_row = gossip_epoch_row,
    .finish = gossip_finish,
    .summary = gossip_summary,
    .destroy = gossip_destroy,
};
