/* The trainer's side of data.stream (gdmpi/stream.h): whether to stream, the stream's plan,
 * its batches, and the row log (GDMPI_ROW_LOG) that tests count row uses with.
 *
 * A streamed shard is read at setup for its shape and labels only (the label checks and the
 * class count need every label once); the labels are freed before training, and the
 * features never enter memory but through the stream's chunks. Resuming in mid-epoch
 * replays the epoch's deterministic draw (chunk order and buffer draws are functions of
 * train.seed, the worker and the epoch) and drops the rows the checkpoint had trained on: no
 * stream state is saved but its plan, which must match. */
#include "trainer.h"

#include "gdmpi/config_check.h"
#include "gdmpi/error.h"

#include <stdlib.h>
#include <string.h>

/* MiB the shard's features would take in memory (bytes stay bytes, as the compact load
 * keeps them). */
static double shard_mb(const gd_dataset *ds)
{
    return (double)ds->rows * (double)ds->cols * (ds->stored_u8 ? 1 : sizeof(float)) /
           1048576.0;
}

/* data.stream = auto: streams when some worker's shard exceeds data.memory_mb. */
static int decide(gd_trainer *t, int *stream)
{
    const gd_config *c = t->cfg;
    double mb = shard_mb(&t->train);
    MPI_Allreduce(MPI_IN_PLACE, &mb, 1, MPI_DOUBLE, MPI_MAX, t->ctx.role_comm);
    *stream = !strcmp(c->data.stream, "true") || mb > (double)c->data.memory_mb;
    if (!*stream || strcmp(c->data.stream, "auto"))
        return GD_OK;
    char why[160];
    snprintf(why, sizeof why, "data.stream = auto and a shard of %.0f MiB above data.memory_mb "
             "= %ld", mb, c->data.memory_mb);
    return gd_stream_check(c, why);
}

/* The stream's plan: this worker's rows of the file, chunk and buffer sizes. */
static int plan(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    const gd_dataset *ds = &t->train;
    const int per_rank = strstr(c->data.train, "{rank}") != NULL;
    gd_stream_spec *sp = &t->batch.spec;
    *sp = (gd_stream_spec){.path = ds->path, .xname = c->data.features, .yname = c->data.labels,
                           .cols = ds->cols, .bytes = ds->stored_u8, .scale = (float)c->data.scale,
                           .file_rows = per_rank ? ds->rows : ds->total_rows,
                           .first = per_rank ? 0 : ds->first_row, .rows = ds->rows,
                           .id_base = per_rank ? ds->first_row : 0,
                           .shuffle = gd_order_from_config(c) == GD_ORDER_SHUFFLE,
                           .global = !strcmp(c->data.shuffle, "global"),
                           .worker = t->data_rank, .workers = t->data_size,
                           .seed = (uint64_t)c->train.seed};
    int rc = gd_stream_size(ds->cols, ds->stored_u8, c->data.memory_mb, c->data.shuffle_buffer,
                            sp->shuffle, &sp->chunk_rows, &sp->buffer_rows);
    /* no larger than a worker's rows: a global deal then gives every worker a chunk or more
     * each epoch (the file has a row per worker at least), and no buffer is bigger than
     * what it could hold */
    const uint64_t most = sp->global ? sp->file_rows / (uint64_t)sp->workers : sp->rows;
    if (rc)
        return rc;
    if (sp->chunk_rows > most)
        sp->chunk_rows = (size_t)most;
    if (sp->buffer_rows > gd_stream_max_rows(sp))
        sp->buffer_rows = (size_t)gd_stream_max_rows(sp);
    t->batch.stream_plan[0] = sp->chunk_rows;
    t->batch.stream_plan[1] = sp->buffer_rows;
    t->batch.stream_plan[2] = sp->rows;
    return rc;
}

int gd_stream_load(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    int rc = GD_OK, stream = 0;
    if (strcmp(c->data.stream, "false")) {
        rc = gd_data_load_labels(&t->train, c->data.train, c->data.features, c->data.labels,
                                 c->data.scale, t->ctx.role_comm);
        rc = rc ? rc : gd_agree(t->ctx.role_comm, decide(t, &stream));
        if (rc)
            return rc;
        if (stream) {
            t->batch.streaming = 1;
            return plan(t);
        }
        gd_data_free(&t->train);
    }
    /* compact: 8-bit features stay bytes, converted batch by batch (gather_batch) */
    return gd_data_load_compact(&t->train, c->data.train, c->data.features, c->data.labels,
                                c->data.scale, t->ctx.role_comm);
}

uint64_t gd_stream_epoch_rows_max(const gd_trainer *t)
{
    return t->batch.streaming ? gd_stream_max_rows(&t->batch.spec) : t->train.rows;
}

int gd_stream_start(gd_trainer *t)
{
    if (!t->batch.streaming || t->ctx.serving)
        return GD_OK;
    free(t->train.y); /* checked: from here on the labels come with their chunks */
    t->train.y = NULL;
    t->batch.bid = gd_alloc(t->batch.rows, sizeof *t->batch.bid, "batch row numbers");
    return t->batch.bid ? gd_stream_open(&t->batch.stream, &t->batch.spec) : GD_ERR;
}

int gd_stream_plan_check(const gd_trainer *t)
{
    const gd_stream_spec *sp = &t->batch.spec;
    const uint64_t *saved = t->batch.stream_plan, /* a resume loads it */
        now[3] = {sp->chunk_rows, sp->buffer_rows, sp->rows};
    if (!memcmp(saved, now, sizeof now))
        return GD_OK;
    return gd_fail(GD_ECONFIG, "rank %d: the checkpoint streamed %llu-row chunks through a "
                   "%llu-row buffer over %llu rows; this run would use %llu, %llu and %llu: "
                   "resume with the data.memory_mb, data.shuffle_buffer and data that wrote it",
                   t->rank, (unsigned long long)saved[0], (unsigned long long)saved[1],
                   (unsigned long long)saved[2], (unsigned long long)now[0],
                   (unsigned long long)now[1], (unsigned long long)now[2]);
}

size_t gd_stream_batch(gd_trainer *t, const float **x, const float **y)
{
    gd_batcher *b = &t->batch;
    int rc;
    size_t n = gd_stream_next(b->stream, b->rows, b->bx, b->by, b->bid, &rc);
    if (rc) { /* the reader failed (a truncated file, an unreadable chunk): end the job, its
                 thread joined first, so that no HDF5 call of its overlaps the exit's */
        gd_stream_close_all(t);
        gd_abort(t->comm, rc);
    }
    for (size_t i = 0; b->rowlog && i < n; i++)
        gd_rowlog(t, b->bid[i]);
    *x = b->bx;
    *y = b->by;
    return n;
}

/* ---- GDMPI_ROW_LOG ----------------------------------------------------------------------- */

int gd_rowlog_open(gd_trainer *t)
{
    const char *dir = getenv("GDMPI_ROW_LOG");
    if (!dir || !*dir || t->ctx.serving)
        return GD_OK;
    char path[GD_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/rows.%d", dir, t->rank);
    t->batch.rowlog = fopen(path, "a");
    if (!t->batch.rowlog)
        return gd_fail(GD_ERR, "GDMPI_ROW_LOG: cannot open %s for appending", path);
    setvbuf(t->batch.rowlog, NULL, _IOFBF, 1 << 16);
    return GD_OK;
}

void gd_rowlog(const gd_trainer *t, uint64_t row)
{
    fprintf(t->batch.rowlog, "%ld %ld %llu\n", t->ctx.epoch, t->ctx.step,
            (unsigned long long)row);
}

void gd_stream_close_all(gd_trainer *t)
{
    gd_stream_close(t->batch.stream);
    t->batch.stream = NULL;
    if (t->batch.rowlog)
        fclose(t->batch.rowlog);
    t->batch.rowlog = NULL;
    free(t->batch.bid);
    t->batch.bid = NULL;
}
