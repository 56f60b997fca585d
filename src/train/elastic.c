/* Elastic resume: a checkpoint that P ranks wrote, resumed by Q (docs/checkpoints.md).
 *
 * The state engine carries each component's fields by the rule the component declared
 * (gdmpi/state.h, GD_EL_*): parameters and optimizer state held whole or sliced load as
 * they are (a server's slice is cut for the new server count), figures that every rank
 * shares come from rank 0, local models and error-feedback residuals are averaged, each
 * within its role (servers, workers).
 * What is left is the epoch in progress, which this file owns.
 *
 * Every checkpoint of a synchronous job records which rows of the training set the epoch
 * has used so far: one bit per row ("batcher/used", OR-ed over the ranks; a row's number is
 * its place in the file, gd_batcher_row_id). A resume on another rank count loads the new
 * shards as any run does; the rows whose bit is clear are the rest of the epoch. Numbered
 * in file order over the workers, they are dealt out in equal shares (gd_data_reshard: each
 * worker ends with ceil or floor of U / Q), walked in data.order's way, and take the last
 * ceil(share / batch) steps of the epoch, so that the epoch ends where the new shards'
 * epochs end and every later epoch is an ordinary one. Every row is used exactly once in
 * the interrupted epoch. The batches after the resume are not those an uninterrupted run
 * would have drawn (they cannot be: the shards differ), and a checkpoint taken in such a
 * remainder epoch is resumed the same way, from its bits, at any rank count. */
#include "ckpt.h"

#include "gdmpi/error.h"

#include <stdlib.h>
#include <string.h>

uint64_t gd_batcher_row_id(const gd_trainer *t, size_t r)
{
    return t->batch.ids ? t->batch.ids[r] : (uint64_t)t->train.first_row + r;
}

static void mark(uint64_t *bits, uint64_t id) { bits[id / 64] |= 1ULL << (id % 64); }

static int marked(const uint64_t *bits, uint64_t id) { return (bits[id / 64] >> (id % 64)) & 1; }

int gd_elastic_setup(gd_trainer *t)
{
    gd_batcher *b = &t->batch;
    uint64_t n = t->ctx.serving ? 0 : t->train.total_rows;
    MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_UINT64_T, MPI_MAX, t->comm);
    b->total_rows = n;
    b->used_words = (size_t)(n / 64 + 1);
    b->rest_from = -1;
    b->used = gd_alloc(b->used_words, sizeof *b->used, "epoch row bits");
    b->used_save = gd_alloc(b->used_words, sizeof *b->used_save, "epoch row bits");
    return b->used && b->used_save ? GD_OK : GD_ERR;
}

/* This worker's rows used so far in the epoch (pos steps taken), into bits. */
static void mark_used(const gd_trainer *t, uint64_t *bits)
{
    const gd_batcher *b = &t->batch;
    const long pos = t->ckpt->pos;
    if (pos <= 0 || pos >= t->ctx.steps_per_epoch || t->ctx.serving || b->streaming)
        return; /* an epoch's end: nothing of the next one is used (a stream: not elastic) */
    if (b->rest_from >= 0) {
        size_t n = (size_t)(pos - b->rest_from) * b->rows;
        for (size_t i = 0; i < n && i < b->rest.rows; i++)
            mark(bits, b->rest_ids[b->rest_order[i]]);
        return;
    }
    for (size_t i = 0; i < (size_t)pos * b->rows && i < t->train.rows; i++) {
        uint64_t id = gd_batcher_row_id(t, b->order[i]);
        if (id < b->total_rows)
            mark(bits, id);
    }
}

int gd_elastic_in_remainder(const gd_trainer *t)
{
    const long pos = t->ckpt->pos;
    return t->batch.rest_from >= 0 && pos > 0 && pos < t->ctx.steps_per_epoch;
}

void gd_elastic_declare(gd_trainer *t, gd_state *s, gd_state_use use)
{
    gd_batcher *b = &t->batch;
    uint64_t *bits = use == GD_STATE_LOAD ? b->used : b->used_save;
    if (use != GD_STATE_LOAD) {
        if (gd_elastic_in_remainder(t)) /* the rows used before the resume stay used */
            memcpy(bits, b->used, b->used_words * sizeof *bits);
        else
            memset(bits, 0, b->used_words * sizeof *bits);
        mark_used(t, bits);
        if (use == GD_STATE_SAVE) /* collective: the file holds every rank's */
            MPI_Allreduce(MPI_IN_PLACE, bits, (int)b->used_words, MPI_UINT64_T, MPI_BOR, t->comm);
    }
    gd_state_add(s, GD_STATE_U64, GD_SHARED, bits, b->used_words, "batcher/used");
}

int gd_elastic_refusal(const gd_trainer *t, long ranks_then, long servers_then)
{
    const gd_config *c = t->cfg;
    if (t->strategy->not_elastic)
        return gd_fail(GD_ECONFIG, "it was written by %ld ranks, this run has %d: parallel.mode "
                       "= %s cannot change the rank count (%s)", ranks_then, t->size,
                       c->parallel.mode, t->strategy->not_elastic);
    if (servers_then != t->ctx.nservers && !t->strategy->has_servers)
        return gd_fail(GD_ERR, "it has %ld servers, this mode none: the file is damaged",
                       servers_then);
    if (t->batch.streaming)
        return gd_fail(GD_ECONFIG, "it was written by %ld ranks, this run has %d: a streamed "
                       "shard (data.stream) cannot change the rank count: its chunk plan and "
                       "draw are the worker's, and the epoch's rest is dealt out from rows "
                       "held in memory", ranks_then,
                       t->size);
    if (strstr(c->data.train, "{rank}"))
        return gd_fail(GD_ECONFIG, "it was written by %ld ranks, this run has %d: with "
                       "{rank} in data.train each rank's file is its shard, so another rank "
                       "count reads other files", ranks_then, t->size);
    if (!strcmp(c->data.partition, "label-skew"))
        return gd_fail(GD_ECONFIG, "it was written by %ld ranks, this run has %d: "
                       "data.partition = label-skew draws each worker's classes for that "
                       "worker count", ranks_then, t->size);
    return GD_OK;
}

/* This worker's rows not yet used in the epoch, as shard indices (count in *n). */
static size_t *unused_rows(const gd_trainer *t, size_t *n)
{
    size_t *rows = gd_alloc(t->train.rows + 1, sizeof *rows, "remainder rows");
    *n = 0;
    for (size_t r = 0; rows && r < t->train.rows; r++)
        if (!marked(t->batch.used, gd_batcher_row_id(t, r)))
            rows[(*n)++] = r;
    return rows;
}

/* The unused rows into b->rest and b->rest_ids, this worker's as they are. */
static int take_unused(gd_trainer *t, uint64_t *mine)
{
    gd_batcher *b = &t->batch;
    size_t n = 0;
    size_t *rows = unused_rows(t, &n);
    int rc = rows ? gd_data_subset(&t->train, rows, n, &b->rest) : GD_ERR;
    b->rest_ids = rc ? NULL : gd_alloc(n + 1, sizeof *b->rest_ids, "remainder rows");
    for (size_t i = 0; b->rest_ids && i < n; i++)
        b->rest_ids[i] = gd_batcher_row_id(t, rows[i]);
    free(rows);
    *mine = n;
    return b->rest_ids ? GD_OK : GD_ERR;
}

/* Collective over the workers: equal shares, the k-th unused row (in worker order) going
 * to the worker whose share of 0..total holds k. */
static int deal_out(gd_trainer *t, uint64_t mine, uint64_t total)
{
    gd_batcher *b = &t->batch;
    uint64_t first = 0;
    MPI_Exscan(&mine, &first, 1, MPI_UINT64_T, MPI_SUM, t->ctx.role_comm);
    if (t->data_rank == 0)
        first = 0; /* MPI_Exscan leaves rank 0's undefined */
    int *dest = gd_alloc(mine + 1, sizeof *dest, "remainder plan");
    uint64_t *pos = gd_alloc(mine + 1, sizeof *pos, "remainder plan");
    int rc = gd_agree(t->ctx.role_comm, dest && pos ? GD_OK : GD_ERR);
    for (uint64_t i = 0, w = 0; !rc && i < mine; i++) {
        size_t lo, n;
        for (gd_shard_range(total, t->data_size, (int)w, &lo, &n); first + i >= lo + n;
             gd_shard_range(total, t->data_size, (int)++w, &lo, &n))
            ;
        dest[i] = (int)w;
        pos[i] = first + i - lo;
    }
    size_t lo, share;
    gd_shard_range(total, t->data_size, t->data_rank, &lo, &share);
    rc = rc ? rc : gd_data_reshard(&b->rest, &b->rest_ids, dest, pos, share, t->ctx.role_comm);
    free(dest);
    free(pos);
    return rc;
}

/* The remainder's order: data.order's way (curriculum's too is a shuffle here: its scores
 * are of the shard's rows at the epoch's start, which this run never saw). */
static int order_rest(gd_trainer *t)
{
    gd_batcher *b = &t->batch;
    b->rest_order = gd_alloc(b->rest.rows + 1, sizeof *b->rest_order, "remainder order");
    if (!b->rest_order)
        return GD_ERR;
    for (size_t i = 0; i < b->rest.rows; i++)
        b->rest_order[i] = i;
    if (b->kind != GD_ORDER_SEQUENTIAL)
        gd_rng_permute(&b->shuffle_rng, b->rest_order, b->rest.rows);
    return GD_OK;
}

int gd_elastic_remainder(gd_trainer *t, long *from)
{
    gd_batcher *b = &t->batch;
    uint64_t mine = 0, total = 0;
    int rc = gd_agree(t->comm, t->ctx.serving ? GD_OK : take_unused(t, &mine));
    if (rc)
        return rc;
    total = mine;
    MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_UINT64_T, MPI_SUM, t->comm);
    if (!t->ctx.serving)
        rc = deal_out(t, mine, total);
    rc = gd_agree(t->comm, rc ? rc : t->ctx.serving ? GD_OK : order_rest(t));
    long steps = t->ctx.serving || !b->rows ? 0 : (long)((b->rest.rows + b->rows - 1) / b->rows);
    MPI_Allreduce(MPI_IN_PLACE, &steps, 1, MPI_LONG, MPI_MAX, t->comm);
    if (!rc && steps > t->ctx.steps_per_epoch) /* a share is at most a shard: never, unless damaged */
        return gd_fail(GD_ERR, "the epoch's %ld unused rows need %ld steps, more than its %ld",
                       (long)total, steps, t->ctx.steps_per_epoch);
    b->rest_from = *from = t->ctx.steps_per_epoch - steps;
    return rc;
}

void gd_elastic_end(gd_trainer *t)
{
    gd_batcher *b = &t->batch;
    if (b->rest_from < 0)
        return;
    gd_data_free(&b->rest);
    free(b->rest_ids);
    free(b->rest_order);
    b->rest_ids = NULL;
    b->rest_order = NULL;
    b->rest_from = -1;
}
