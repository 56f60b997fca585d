/* Synchronous data parallelism: the ranks sum their gradient sums, loss sums and sample
 * counts; every rank divides by the global count and takes the same optimizer step, so the
 * replicas stay identical.
 *
 * Plain (parallel.overlap = false): one MPI_Allreduce after backward moves the gradient and
 * the two sums together (the gradient buffer has two spare floats for them).
 *
 * Overlapped (parallel.overlap = true; auto = on for lockstep models, the mlp): the gradient
 * is cut into buckets of parallel.bucket_kb. The model reports each gradient slice as soon
 * as backward has made it final (gd_model.grad_ready, last layer first); a bucket's
 * MPI_Iallreduce starts the moment all of its floats are final, and every report also drives
 * the requests in flight with MPI_Testsome, so they progress during the rest of backward.
 * Buckets start in the order backward finishes them, which is the same on every rank.
 * step() starts whatever the model did not report (models that never call grad_ready),
 * reduces the two sums, and waits for everything before the optimizer step. Sums are
 * elementwise, so the result equals the plain allreduce up to the order of float additions.
 *
 * Compressed (parallel.compress other than none; never with overlap): the gradient sum goes
 * through a compressor with its error-feedback memory (gdmpi/compress.h, GRACE's split),
 * whose exchange leaves the sum over the ranks of the decompressed messages in g; the loss
 * and count sums travel beside it uncompressed. docs/parallel-modes.md.
 *
 * Timing: the communication that was in flight during backward is hidden behind compute;
 * the wait in step() is exposed and goes to the comm timer. summary.json reports both.
 * Bytes: every path counts its traffic into ctx->wire (compress.h's accounting). */
#include "gdmpi/error.h"
#include "gdmpi/watchdog.h"
#include "gdmpi/parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ar_bucket {
    size_t lo, hi;  /* gradient floats [lo, hi) */
    size_t ready;   /* floats reported final in this step */
} ar_bucket;

typedef struct ar_state {
    int overlap;
    MPI_Comm comm;        /* a duplicate: bucket reductions never meet the model's collectives */
    float *g;
    size_t nbuckets;
    size_t bucket_floats;
    ar_bucket *bucket;
    MPI_Request *req;     /* nbuckets + 1: the last one moves the loss and count sums */
    double sums[2];       /* the step's loss and sample count, reduced as doubles: a float
                             count is exact only to 2^24, and a large finite loss sum would
                             overflow to inf and read as divergence */
    int *done;            /* MPI_Testsome's index list */
    int active;           /* requests in flight */
    double inflight_since;
    double hidden_s, exposed_s; /* this rank's totals, then (after finish) means over ranks */
    int reduced;
    int compressed;       /* parallel.compress other than none */
    gd_compressor comp;
    gd_wire wire;
} ar_state;

/* Collective: every node has a core beyond its ranks. Overlap needs one: the requests in
 * flight progress only inside MPI calls, and with every core computing, backward's GEMMs and
 * the reduction take turns instead of overlapping (make bench, 2 cores, np=2, the mlp: 0.78 s
 * an epoch with overlap, 0.50 s without; docs/benchmarks.md). Agreed by MIN, so that every
 * rank takes the same kind of step. */
static int spare_core(MPI_Comm comm)
{
    MPI_Comm node;
    int ranks_here = 1;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &ranks_here);
    MPI_Comm_free(&node);
    int spare = sysconf(_SC_NPROCESSORS_ONLN) > ranks_here;
    MPI_Allreduce(MPI_IN_PLACE, &spare, 1, MPI_INT, MPI_MIN, comm);
    return spare;
}

/* parallel.overlap: auto means on for models that report their gradient slices, on nodes
 * with a core to spare (collective). */
static int wants_overlap(const gd_step_ctx *ctx)
{
    const char *v = ctx->cfg->parallel.overlap;
#ifdef GDMPI_SIM
    if (!strcmp(v, "auto"))
        return 0; /* SMPI's non-blocking allreduce is linear (src/pmpi/wrap.c); true is refused */
#endif
    if (!strcmp(v, "auto")) /* a compressor needs the whole gradient: plain */
        return spare_core(ctx->comm) && ctx->model->ops->lockstep && !gd_compress_enabled(ctx->cfg);
    return !strcmp(v, "true");
}

static void start_request(ar_state *s, float *buf, size_t count, size_t slot)
{
    if (s->active++ == 0)
        s->inflight_since = MPI_Wtime();
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, s->comm, &s->req[slot]);
}

/* Lets MPI move the requests in flight; a run of in-flight time that ends here was hidden. */
static void drive(ar_state *s)
{
    int count = 0;
    if (s->active == 0)
        return;
    MPI_Testsome((int)s->nbuckets + 1, s->req, &count, s->done, MPI_STATUSES_IGNORE);
    if (count == MPI_UNDEFINED || count == 0)
        return;
    s->active -= count;
    if (s->active == 0)
        s->hidden_s += MPI_Wtime() - s->inflight_since;
}

/* gd_model.grad_ready: counts the floats of [offset, offset+len) into their buckets and
 * starts each bucket that is now complete. */
static void on_grad_ready(void *ctx, size_t offset, size_t len)
{
    ar_state *s = ctx;
    const size_t end = offset + len;
    for (size_t b = offset / s->bucket_floats; len && b < s->nbuckets; b++) {
        ar_bucket *k = &s->bucket[b];
        if (k->lo >= end)
            break;
        k->ready += (end < k->hi ? end : k->hi) - (offset > k->lo ? offset : k->lo);
        if (k->ready == k->hi - k->lo)
            start_request(s, s->g + k->lo, k->hi - k->lo, b);
    }
    drive(s);
}

static int plan_buckets(gd_step_ctx *ctx, ar_state *s)
{
    const size_t n = ctx->model->nparams;
    s->bucket_floats = (size_t)ctx->cfg->parallel.bucket_kb * 1024 / sizeof(float);
    s->nbuckets = (n + s->bucket_floats - 1) / s->bucket_floats;
    s->bucket = gd_alloc(s->nbuckets, sizeof *s->bucket, "allreduce buckets");
    s->req = gd_alloc(s->nbuckets + 1, sizeof *s->req, "allreduce requests");
    s->done = gd_alloc(s->nbuckets + 1, sizeof *s->done, "allreduce requests");
    if (!s->bucket || !s->req || !s->done)
        return GD_ERR;
    for (size_t b = 0; b < s->nbuckets; b++) {
        s->bucket[b].lo = b * s->bucket_floats;
        s->bucket[b].hi = b + 1 < s->nbuckets ? (b + 1) * s->bucket_floats : n;
    }
    for (size_t r = 0; r <= s->nbuckets; r++)
        s->req[r] = MPI_REQUEST_NULL;
    return GD_OK;
}

/* The compressor's parameters: the config's, with the model's weight matrices (PowerSGD). */
static gd_compress_params compress_params(const gd_step_ctx *ctx)
{
    gd_compress_params p = gd_compress_config(ctx->cfg, ctx->rank);
    gd_model_layer layers[GD_MODEL_MAX_LAYERS];
    size_t nl = gd_model_layers(ctx->model, layers);
    for (size_t i = 0; i < nl && p.nmatrices < GD_COMPRESS_MAX_MATRICES; i++)
        if (layers[i].W) /* a pool layer has no weights */
            p.matrix[p.nmatrices++] = (gd_matrix_view){
                .offset = (size_t)(layers[i].W - ctx->model->w), .rows = layers[i].out,
                .cols = layers[i].in};
    return p;
}

static int allreduce_setup(gd_step_ctx *ctx)
{
    ar_state *s = gd_alloc(1, sizeof *s, "allreduce state");
    if (!s)
        return GD_ERR;
    ctx->state = s;
    s->comm = MPI_COMM_NULL;
    s->wire = (gd_wire){.comm = ctx->comm, .size = ctx->size, .bytes = ctx->wire};
    ctx->counts_wire = 1;
    s->compressed = gd_compress_enabled(ctx->cfg);
    if (s->compressed) {
        gd_compress_params p = compress_params(ctx);
        return gd_compressor_create(&s->comp, ctx->cfg->parallel.compress, &p,
                                    ctx->model->nparams, ctx->size);
    }
    /* One rank has nothing to overlap with: buckets would only cut the first layer's
     * weight gradient into smaller GEMMs and poll requests that move nothing. */
    s->overlap = ctx->size > 1 && wants_overlap(ctx);
    if (!s->overlap)
        return GD_OK;
    s->g = ctx->model->g;
    MPI_Comm_dup(ctx->comm, &s->comm);
    int rc = plan_buckets(ctx, s);
    if (rc)
        return rc;
    ctx->model->grad_ready = on_grad_ready;
    ctx->model->grad_ready_ctx = s;
    return GD_OK;
}

/* Starts the buckets nobody reported (in index order, the same on every rank), reduces the
 * loss and count sums, and waits for all of it. */
static void finish_reduction(gd_step_ctx *ctx, ar_state *s)
{
    double now = MPI_Wtime();
    if (s->active)
        s->hidden_s += now - s->inflight_since;
    for (size_t b = 0; b < s->nbuckets; b++) {
        ar_bucket *k = &s->bucket[b];
        if (k->ready != k->hi - k->lo)
            start_request(s, s->g + k->lo, k->hi - k->lo, b);
        k->ready = 0;
    }
    if (s->active++ == 0)
        s->inflight_since = MPI_Wtime();
    MPI_Iallreduce(MPI_IN_PLACE, s->sums, 2, MPI_DOUBLE, MPI_SUM, s->comm, &s->req[s->nbuckets]);
    gd_watchdog_enter("allreduce of gradient buckets", ctx->step);
    MPI_Waitall((int)s->nbuckets + 1, s->req, MPI_STATUSES_IGNORE);
    gd_watchdog_leave();
    s->active = 0;
    s->exposed_s += MPI_Wtime() - now;
}

/* The gradient through the compressor (in place), the two sums beside it. */
static void compressed_reduction(gd_step_ctx *ctx, ar_state *s)
{
    double since = MPI_Wtime();
    MPI_Request sums;
    gd_watchdog_enter("compressed exchange of gradients", ctx->step);
    MPI_Iallreduce(MPI_IN_PLACE, s->sums, 2, MPI_DOUBLE, MPI_SUM, ctx->comm, &sums);
    gd_compressor_exchange(&s->comp, &s->wire, ctx->model->g, ctx->model->g);
    MPI_Wait(&sums, MPI_STATUS_IGNORE);
    gd_watchdog_leave();
    s->exposed_s += MPI_Wtime() - since;
}

static int allreduce_step(gd_step_ctx *ctx)
{
    ar_state *s = ctx->state;
    const size_t n = ctx->model->nparams;
    float *g = ctx->model->g;
    s->sums[0] = ctx->batch_loss;
    s->sums[1] = ctx->batch_count;
    double since = MPI_Wtime();
    gd_wire_count_allreduce(&s->wire, sizeof s->sums, 1);
    if (!s->compressed) /* the compressor counts its own */
        gd_wire_count_allreduce(&s->wire, (double)n * sizeof *g, 1);
    if (s->compressed) {
        compressed_reduction(ctx, s);
    } else if (s->overlap) {
        finish_reduction(ctx, s);
    } else { /* the sums travel beside the gradient, not after it */
        MPI_Request sums;
        gd_watchdog_enter("allreduce of gradients", ctx->step);
        MPI_Iallreduce(MPI_IN_PLACE, s->sums, 2, MPI_DOUBLE, MPI_SUM, ctx->comm, &sums);
        MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, ctx->comm);
        MPI_Wait(&sums, MPI_STATUS_IGNORE);
        gd_watchdog_leave();
        s->exposed_s += MPI_Wtime() - since;
    }
    gd_step_time(ctx, GD_T_COMM, &since);
    ctx->step_loss = s->sums[0];
    ctx->step_count = s->sums[1];
    if (ctx->step_count <= 0)
        return GD_OK;
    gd_step_update(ctx, g); /* divides by the count in its first pass */
    gd_step_time(ctx, GD_T_COMPUTE, &since);
    return GD_OK;
}

/* Collective: the hidden and exposed seconds become means over the ranks for the summary. */
static int allreduce_finish(gd_step_ctx *ctx)
{
    ar_state *s = ctx->state;
    double sums[2] = {s->hidden_s, s->exposed_s};
    MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, ctx->comm);
    s->hidden_s = sums[0] / ctx->size;
    s->exposed_s = sums[1] / ctx->size;
    s->reduced = 1;
    return GD_OK;
}

static void allreduce_summary(const gd_step_ctx *ctx, FILE *f)
{
    const ar_state *s = ctx->state;
    if (!s)
        return;
    double total = s->hidden_s + s->exposed_s;
    fprintf(f, "  \"allreduce\": {\"overlap\": %s, \"buckets\": %zu, \"bucket_kb\": %ld, "
               "\"comm_hidden_s\": %.6f, \"comm_exposed_s\": %.6f, \"hidden_frac\": %.4f, "
               "\"mean_of_ranks\": %s},\n",
            s->overlap ? "true" : "false", s->nbuckets, ctx->cfg->parallel.bucket_kb, s->hidden_s,
            s->exposed_s, total > 0 ? s->hidden_s / total : 0.0,
            s->reduced ? "true" : "false");
    const double *w = ctx->wire;
    fprintf(f, "  \"compress\": {\"compressor\": \"%s\", \"error_feedback\": %s, "
               "\"momentum_correction\": %g, "
               "\"bytes_sent\": %.0f, \"bytes_recv\": %.0f, \"bytes_dense\": %.0f, "
               "\"ratio\": ",
            ctx->cfg->parallel.compress, s->compressed && s->comp.p.feedback ? "true" : "false",
            s->compressed ? s->comp.p.momentum : 0.0, w[GD_WIRE_SENT], w[GD_WIRE_RECV],
            w[GD_WIRE_DENSE]);
    if (w[GD_WIRE_SENT] > 0)
        fprintf(f, "%.2f},\n", w[GD_WIRE_DENSE] / w[GD_WIRE_SENT]);
    else
        fprintf(f, "null},\n");
}

static void allreduce_destroy(gd_step_ctx *ctx)
{
    ar_state *s = ctx->state;
    if (!s)
        return;
    if (s->comm != MPI_COMM_NULL)
        MPI_Comm_free(&s->comm);
    free(s->bucket);
    free(s->req);
    free(s->done);
    gd_compressor_destroy(&s->comp);
    free(s);
    ctx->state = NULL;
    ctx->model->grad_ready = NULL;
    ctx->model->grad_ready_ctx = NULL;
}

/* Every rank holds the same parameters and optimizer state: rank 0's are saved. */
static int allreduce_state(gd_step_ctx *ctx, gd_state *s, gd_state_use use)
{
    (void)use;
    ar_state *a = ctx->state;
    gd_step_declare(ctx, s, GD_SHARED, 0, ctx->model->nparams);
    if (a && a->compressed)
        gd_compressor_declare(&a->comp, s);
    return GD_OK;
}

/* A compressor needs the whole gradient: overlap reduces slices as backward makes them. */
static int allreduce_check(const gd_config *c, int size)
{
    (void)size;
    if (gd_compress_enabled(c) && !strcmp(c->parallel.overlap, "true"))
        return gd_fail(GD_ECONFIG, "parallel.compress = %s: not with parallel.overlap = true "
                       "(a compressor needs the whole gradient; set overlap = auto or false)",
                       c->parallel.compress);
    return GD_OK;
}

const gd_strategy_ops gd_strategy_allreduce = {
    .name = "allreduce",
    .lockstep = 1,
    .sync_bn = 1,
    .compresses = 1,
    .check = allreduce_check,
    .setup = allreduce_setup,
    .step = allreduce_step,
    .finish = allreduce_finish,
    .summary = allreduce_summary,
    .state = allreduce_state,
    .destroy = allreduce_destroy,
};
