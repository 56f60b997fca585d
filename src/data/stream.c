/* Streaming a training shard (include/gdmpi/stream.h, docs/data.md "Streaming").
 *
 * Two threads. The reader walks the epochs' chunk plans (deterministic: the same function
 * of (seed, worker, epoch) the step loop assumes) and fills the ring's slots in order; it
 * opens the file itself with the default (sec2) driver and reads each chunk with one
 * independent hyperslab read of X and one of y, holding gd_h5_lock for each HDF5 call. It
 * never calls MPI. The step loop (the main thread) takes the slots in the same order. A
 * failure of the reader is recorded with its message and reported to the main thread when it
 * next waits for a chunk; the main thread then fails through the trainer's usual path.
 *
 * Shuffled orders draw rows through a buffer of buffer_rows rows, as tf.data's shuffle does:
 * filled at the epoch's start, each row out is a uniform draw from the buffer, whose place the
 * next row of the stream takes (once the stream is dry, the buffer's last row). */
#include "gdmpi/stream.h"

#include "gdmpi/data.h"
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/rng.h"
#include "gdmpi/thread.h"

#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct slot {
    unsigned char *x; /* chunk_rows stored rows (bytes or floats) */
    float *y;
    uint64_t start;   /* the chunk's first row in the file */
    size_t count;
    int full;
} slot;

/* The reader's open file. */
typedef struct reader_file {
    hid_t f, xset, yset;
} reader_file;

struct gd_stream {
    gd_stream_spec spec;
    size_t rowb;                 /* bytes of one stored row of X */
    slot ring[GD_STREAM_SLOTS];
    pthread_t thread;
    int running;
    pthread_mutex_t mu;          /* guards the ring's flags, quit, failed, err */
    pthread_cond_t cv;
    int quit, failed;
    char err[1400];
    long read_epoch;             /* the reader's first epoch */
    uint64_t *read_order;        /* the reader's chunk plan of the epoch it reads */
    size_t produced, consumed;   /* slots filled and released, in order */
    /* the step loop's side */
    uint64_t *plan;              /* the epoch's chunks (to count its rows) */
    slot *cur;                   /* the slot being drained, at row pos */
    size_t pos;
    uint64_t src_left;           /* rows of the epoch not yet taken from the ring */
    long next_epoch;             /* the epoch the ring is positioned at (-1: none) */
    unsigned char *bx;           /* the shuffle buffer: nbuf rows, labels, numbers */
    float *by;
    uint64_t *bid;
    size_t nbuf;
    gd_rng pick;
};

/* ---- the chunk plan ----------------------------------------------------------------------- */

static uint64_t domain_first(const gd_stream_spec *s) { return s->global ? 0 : s->first; }
static uint64_t domain_rows(const gd_stream_spec *s) { return s->global ? s->file_rows : s->rows; }

static size_t domain_chunks(const gd_stream_spec *s)
{
    return (size_t)((domain_rows(s) + s->chunk_rows - 1) / s->chunk_rows);
}

size_t gd_stream_chunk_count(const gd_stream_spec *s, uint64_t start)
{
    const uint64_t end = domain_first(s) + domain_rows(s);
    return (size_t)(end - start < s->chunk_rows ? end - start : s->chunk_rows);
}

size_t gd_stream_max_chunks(const gd_stream_spec *s)
{
    const size_t n = domain_chunks(s), w = (size_t)s->workers;
    return s->global ? (n + w - 1) / w : n;
}

uint64_t gd_stream_max_rows(const gd_stream_spec *s)
{
    const uint64_t most = (uint64_t)gd_stream_max_chunks(s) * s->chunk_rows;
    return most < domain_rows(s) ? most : domain_rows(s);
}

/* A key per epoch, the same on every worker (global) or mixed with its number (shuffle). */
static uint64_t epoch_seed(const gd_stream_spec *s, long epoch)
{
    return s->seed * 0x9e3779b97f4a7c15ULL + 0xd1b54a32d192ed03ULL * (uint64_t)epoch;
}

static int by_start(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* global: the chunks whose place in the epoch's permutation falls in this worker's share,
 * in place order. */
static size_t dealt_chunks(const gd_stream_spec *s, long epoch, uint64_t *out)
{
    const size_t n = domain_chunks(s);
    size_t lo, count;
    gd_shard_range(n, s->workers, s->worker, &lo, &count);
    const uint64_t key = epoch_seed(s, epoch) + (uint64_t)GD_RNG_CHUNKS;
    for (size_t c = 0; c < n; c++) {
        const uint64_t p = gd_permute(c, n, key);
        if (p >= lo && p < lo + count)
            out[p - lo] = (uint64_t)c * s->chunk_rows;
    }
    if (!s->shuffle) /* sequential: this epoch's chunks in file order */
        qsort(out, count, sizeof *out, by_start);
    return count;
}

size_t gd_stream_epoch_chunks(const gd_stream_spec *s, long epoch, uint64_t *out)
{
    if (s->global)
        return dealt_chunks(s, epoch, out);
    const size_t n = domain_chunks(s);
    _Static_assert(sizeof(size_t) == sizeof(uint64_t), "chunk starts are permuted as size_t");
    size_t *idx = (size_t *)out;
    for (size_t c = 0; c < n; c++)
        idx[c] = c;
    if (s->shuffle) {
        gd_rng r;
        gd_rng_seed(&r, epoch_seed(s, epoch), (uint64_t)s->worker, GD_RNG_CHUNKS);
        gd_rng_permute(&r, idx, n);
    }
    for (size_t c = 0; c < n; c++)
        out[c] = s->first + (uint64_t)idx[c] * s->chunk_rows;
    return n;
}

size_t gd_stream_bytes(const gd_stream_spec *s)
{
    const size_t row = s->cols * (s->bytes ? 1 : sizeof(float)) + sizeof(float);
    return GD_STREAM_SLOTS * s->chunk_rows * row + s->buffer_rows * (row + sizeof(uint64_t));
}

int gd_stream_size(size_t cols, int bytes, long memory_mb, long shuffle_buffer, int shuffle,
                   size_t *chunk_rows, size_t *buffer_rows)
{
    /* a stored row, its label and (in the buffer) its number */
    const double row = (double)cols * (bytes ? 1 : sizeof(float)) + sizeof(float),
                 budget = (double)memory_mb * 1048576.0;
    double buf = !shuffle ? 0 : shuffle_buffer > 0 ? (double)shuffle_buffer
                                                   : floor(budget / 2 / (row + 8));
    double chunk = floor((budget - buf * (row + 8)) / (GD_STREAM_SLOTS * row));
    if (chunk < 1)
        return gd_fail(GD_ECONFIG, "data.shuffle_buffer = %.0f rows of %zu features take %.1f "
                       "MiB of data.memory_mb = %ld: no room is left for the reader's %d chunks "
                       "(lower data.shuffle_buffer or raise data.memory_mb)", buf, cols,
                       buf * (row + 8) / 1048576.0, memory_mb, GD_STREAM_SLOTS);
    if (shuffle && buf < 1)
        buf = 1;
    *chunk_rows = (size_t)chunk;
    *buffer_rows = (size_t)buf;
    return GD_OK;
}

/* ---- the reader thread -------------------------------------------------------------------- */

static void reader_fail(gd_stream *s, const char *fmt, unsigned long long a, unsigned long long b,
                        const char *name)
{
    char what[600];
    snprintf(what, sizeof what, fmt, a, b, name);
    pthread_mutex_lock(&s->mu);
    if (!s->failed)
        snprintf(s->err, sizeof s->err, "%s: %s", s->spec.path, what);
    s->failed = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* 1 when the file still holds the bytes of rows [start, start + count) of set: a file cut
 * short reads back as zeros through the sec2 driver, not as an error. Contiguous data ends
 * at its offset plus the rows; a chunked set's chunks are looked up one by one. */
static int rows_on_disk(hid_t set, uint64_t start, size_t count, off_t size)
{
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    const size_t tsize = H5Tget_size(type);
    hsize_t dims[2] = {0, 1}, cdims[2] = {1, 1};
    const int nd = H5Sget_simple_extent_dims(space, dims, NULL);
    H5Tclose(type);
    H5Sclose(space);
    const haddr_t off = H5Dget_offset(set);
    if (off != HADDR_UNDEF)
        return off + (start + count) * (nd == 2 ? dims[1] : 1) * tsize <= (uint64_t)size;
    hid_t dcpl = H5Dget_create_plist(set);
    const int cnd = H5Pget_layout(dcpl) == H5D_CHUNKED ? H5Pget_chunk(dcpl, 2, cdims) : 0;
    H5Pclose(dcpl);
    for (hsize_t r = start - start % cdims[0]; cnd > 0 && r < start + count; r += cdims[0])
        for (hsize_t c = 0; c < (nd == 2 ? dims[1] : 1); c += (cnd == 2 ? cdims[1] : 1)) {
            hsize_t at[2] = {r, c}, bytes = 0;
            haddr_t addr = HADDR_UNDEF;
            unsigned mask = 0;
            if (H5Dget_chunk_info_by_coord(set, at, &mask, &addr, &bytes) < 0)
                return 0;
            if (addr != HADDR_UNDEF && addr + bytes > (uint64_t)size)
                return 0;
        }
    return 1;
}

/* Rows [start, start + count) of one dataset (1 or 2 dimensions) as mtype into out. */
static herr_t read_slab(hid_t set, uint64_t start, size_t count, size_t cols, hid_t mtype,
                        void *out)
{
    hid_t fspace = H5Dget_space(set);
    const int nd = H5Sget_simple_extent_ndims(fspace);
    hsize_t at[2] = {start, 0}, cnt[2] = {count, nd == 2 ? cols : 1};
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, at, NULL, cnt, NULL);
    hid_t mspace = H5Screate_simple(nd, cnt, NULL);
    herr_t rc = H5Dread(set, mtype, mspace, fspace, H5P_DEFAULT, out);
    H5Sclose(mspace);
    H5Sclose(fspace);
    return rc;
}

/* The first row of the chunk (from start) whose scaled features or label are not finite,
 * or SIZE_MAX: the in-memory load refuses them at setup; a stream meets them as it reads. */
static size_t first_nonfinite(const gd_stream *s, const slot *sl, int *in_labels)
{
    const gd_stream_spec *p = &s->spec;
    for (size_t i = 0; i < sl->count; i++) {
        if (!isfinite(sl->y[i])) {
            *in_labels = 1;
            return i;
        }
        if (p->bytes)
            continue; /* a byte times data.scale (at most 1e18 in size) stays finite */
        const float *row = (const float *)sl->x + i * p->cols;
        for (size_t j = 0; j < p->cols; j++)
            if (!isfinite(row[j] * p->scale))
                return i;
    }
    return SIZE_MAX;
}

static int read_chunk(gd_stream *s, const reader_file *rf, slot *sl)
{
    const gd_stream_spec *p = &s->spec;
    const unsigned long long a = sl->start, b = sl->start + sl->count;
    struct stat st;
    gd_h5_lock();
    herr_t rc = read_slab(rf->xset, sl->start, sl->count, p->cols,
                          p->bytes ? H5T_NATIVE_UCHAR : H5T_NATIVE_FLOAT, sl->x);
    if (rc >= 0)
        rc = read_slab(rf->yset, sl->start, sl->count, 1, H5T_NATIVE_FLOAT, sl->y);
    const int whole = rc >= 0 && stat(p->path, &st) == 0 &&
                      rows_on_disk(rf->xset, sl->start, sl->count, st.st_size) &&
                      rows_on_disk(rf->yset, sl->start, sl->count, st.st_size);
    gd_h5_unlock();
    if (rc < 0) {
        reader_fail(s, "cannot read rows %llu..%llu of '%s' (an unreadable chunk or a "
                    "truncated file)", a, b, p->xname);
        return GD_ERR;
    }
    if (!whole) {
        reader_fail(s, "rows %llu..%llu of '%s' lie beyond the end of the file (truncated while "
                    "training?)", a, b, p->xname);
        return GD_ERR;
    }
    int in_labels = 0;
    size_t bad = first_nonfinite(s, sl, &in_labels);
    if (bad != SIZE_MAX)
        reader_fail(s, "non-finite value (NaN or Inf) at row %llu (chunk ..%llu) of '%s'",
                    a + bad, b, in_labels ? p->yname : p->xname);
    return bad == SIZE_MAX ? GD_OK : GD_ERR;
}

static int open_file(gd_stream *s, reader_file *rf)
{
    const gd_stream_spec *p = &s->spec;
    gd_h5_lock();
    gd_h5_quiet();
    rf->f = H5Fopen(p->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    rf->xset = rf->f < 0 ? -1 : H5Dopen2(rf->f, p->xname, H5P_DEFAULT);
    rf->yset = rf->xset < 0 ? -1 : H5Dopen2(rf->f, p->yname, H5P_DEFAULT);
    gd_h5_unlock();
    if (rf->yset < 0)
        reader_fail(s, "cannot open the file or its datasets to stream rows %llu..%llu (%s)",
                    p->first, p->first + p->rows, "removed or truncated?");
    return rf->yset < 0 ? GD_ERR : GD_OK;
}

static void close_file(reader_file *rf)
{
    gd_h5_lock();
    if (rf->yset >= 0)
        H5Dclose(rf->yset);
    if (rf->xset >= 0)
        H5Dclose(rf->xset);
    if (rf->f >= 0)
        H5Fclose(rf->f);
    gd_h5_unlock();
}

/* Waits for the next slot to be free; NULL when told to quit. */
static slot *free_slot(gd_stream *s)
{
    slot *sl = &s->ring[s->produced % GD_STREAM_SLOTS];
    pthread_mutex_lock(&s->mu);
    while (sl->full && !s->quit)
        pthread_cond_wait(&s->cv, &s->mu);
    const int quit = s->quit;
    pthread_mutex_unlock(&s->mu);
    return quit ? NULL : sl;
}

static void publish(gd_stream *s, slot *sl)
{
    pthread_mutex_lock(&s->mu);
    sl->full = 1;
    s->produced++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Epoch after epoch until told to quit or a read fails. */
static void *reader_main(void *arg)
{
    gd_stream *s = arg;
    reader_file rf = {-1, -1, -1};
    int rc = open_file(s, &rf);
    for (long e = s->read_epoch; !rc; e++) {
        const size_t n = gd_stream_epoch_chunks(&s->spec, e, s->read_order);
        if (!n) /* a worker with no chunks (the trainer's plan gives none such) reads none */
            break;
        for (size_t i = 0; i < n && !rc; i++) {
            slot *sl = free_slot(s);
            if (!sl)
                rc = GD_ERR; /* quit */
            else {
                sl->start = s->read_order[i];
                sl->count = gd_stream_chunk_count(&s->spec, sl->start);
                rc = read_chunk(s, &rf, sl);
            }
            if (!rc)
                publish(s, sl);
        }
    }
    close_file(&rf);
    return NULL;
}

static void stop_reader(gd_stream *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = 0;
}

/* (Re)positions the ring at the start of epoch e. */
static int start_reader(gd_stream *s, long epoch)
{
    stop_reader(s);
    for (int i = 0; i < GD_STREAM_SLOTS; i++)
        s->ring[i].full = 0;
    s->produced = s->consumed = 0;
    s->quit = s->failed = 0;
    s->cur = NULL;
    s->read_epoch = epoch;
    if (gd_thread_start(&s->thread, reader_main, s)) /* signals stay with the main thread */
        return gd_fail(GD_ERR, "%s: cannot start the reader thread", s->spec.path);
    s->running = 1;
    return GD_OK;
}

/* ---- the step loop's side ------------------------------------------------------------------ */

/* The next row of the epoch's chunks, in the ring (its slot stays held until advance). */
static int take(gd_stream *s, const unsigned char **x, float *y, uint64_t *id)
{
    if (!s->cur) {
        slot *sl = &s->ring[s->consumed % GD_STREAM_SLOTS];
        pthread_mutex_lock(&s->mu);
        while (!sl->full && !s->failed)
            pthread_cond_wait(&s->cv, &s->mu);
        const int ready = sl->full;
        pthread_mutex_unlock(&s->mu);
        if (!ready) /* the reader stopped on an error before this chunk */
            return gd_fail(GD_ERR, "%s", s->err);
        s->cur = sl;
        s->pos = 0;
    }
    *x = s->cur->x + s->pos * s->rowb;
    *y = s->cur->y[s->pos];
    *id = s->spec.id_base + s->cur->start + s->pos;
    return GD_OK;
}

/* Past the row take gave; a drained slot goes back to the reader at once. */
static void advance(gd_stream *s)
{
    s->src_left--;
    if (++s->pos < s->cur->count)
        return;
    pthread_mutex_lock(&s->mu);
    s->cur->full = 0;
    s->consumed++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    s->cur = NULL;
}

/* One stored row as scaled floats: the values the in-memory load would hold. */
static void emit(const gd_stream *s, const unsigned char *row, float *out)
{
    const size_t cols = s->spec.cols;
    const float scale = s->spec.scale;
    if (s->spec.bytes)
        for (size_t j = 0; j < cols; j++)
            out[j] = (float)row[j] * scale;
    else
        for (size_t j = 0; j < cols; j++)
            out[j] = ((const float *)row)[j] * scale;
}

/* Moves the next row of the ring into buffer place j. */
static int refill(gd_stream *s, size_t j)
{
    const unsigned char *x = NULL;
    int rc = take(s, &x, &s->by[j], &s->bid[j]);
    if (rc)
        return rc;
    memcpy(s->bx + j * s->rowb, x, s->rowb);
    advance(s);
    return GD_OK;
}

/* The next row out through the shuffle buffer into out (NULL: dropped); 0: none left. */
static int next_shuffled(gd_stream *s, float *out, float *y, uint64_t *id, int *rc)
{
    if (!s->nbuf)
        return 0;
    const size_t j = (size_t)(gd_rng_uniform(&s->pick) * (double)s->nbuf);
    if (out)
        emit(s, s->bx + j * s->rowb, out);
    *y = s->by[j];
    *id = s->bid[j];
    if (s->src_left) {
        *rc = refill(s, j);
        return 1;
    }
    const size_t last = --s->nbuf; /* the stream is dry: the last row takes place j */
    memcpy(s->bx + j * s->rowb, s->bx + last * s->rowb, s->rowb);
    s->by[j] = s->by[last];
    s->bid[j] = s->bid[last];
    return 1;
}

/* The next row out in the chunks' own order. */
static int next_in_order(gd_stream *s, float *out, float *y, uint64_t *id, int *rc)
{
    if (!s->src_left)
        return 0;
    const unsigned char *x = NULL;
    if ((*rc = take(s, &x, y, id)))
        return 0;
    if (out)
        emit(s, x, out);
    advance(s);
    return 1;
}

static int next_row(gd_stream *s, float *out, float *y, uint64_t *id, int *rc)
{
    return s->spec.buffer_rows ? next_shuffled(s, out, y, id, rc)
                               : next_in_order(s, out, y, id, rc);
}

size_t gd_stream_next(gd_stream *s, size_t n, float *x, float *y, uint64_t *ids, int *rc)
{
    size_t i = 0;
    *rc = GD_OK;
    while (i < n && !*rc && next_row(s, x + i * s->spec.cols, y + i, ids + i, rc))
        i++;
    return *rc ? 0 : i;
}

static uint64_t epoch_rows(gd_stream *s, long epoch)
{
    const size_t n = gd_stream_epoch_chunks(&s->spec, epoch, s->plan);
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++)
        rows += gd_stream_chunk_count(&s->spec, s->plan[i]);
    return rows;
}

int gd_stream_epoch(gd_stream *s, long epoch, size_t skip)
{
    int rc = GD_OK;
    /* the ring runs on from the last epoch when that one was drained to its end */
    if (!s->running || s->next_epoch != epoch || s->src_left || s->nbuf)
        rc = start_reader(s, epoch);
    s->next_epoch = epoch + 1;
    s->src_left = epoch_rows(s, epoch);
    s->nbuf = 0;
    gd_rng_seed(&s->pick, epoch_seed(&s->spec, epoch), (uint64_t)s->spec.worker, GD_RNG_BUFFER);
    while (!rc && s->nbuf < s->spec.buffer_rows && s->src_left)
        rc = refill(s, s->nbuf++);
    float y;
    uint64_t id;
    for (size_t i = 0; !rc && i < skip && next_row(s, NULL, &y, &id, &rc); i++)
        ;
    return rc;
}

int gd_stream_open(gd_stream **out, const gd_stream_spec *spec)
{
    gd_stream *s = gd_alloc(1, sizeof *s, "stream");
    *out = s;
    if (!s)
        return GD_ERR;
    s->spec = *spec;
    s->rowb = spec->cols * (spec->bytes ? 1 : sizeof(float));
    s->next_epoch = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    const size_t chunks = gd_stream_max_chunks(spec) + 1, b = spec->buffer_rows + 1;
    int ok = (s->read_order = gd_alloc(chunks, sizeof(uint64_t), "stream plan")) &&
             (s->plan = gd_alloc(chunks, sizeof(uint64_t), "stream plan")) &&
             (s->bx = gd_alloc(b, s->rowb, "shuffle buffer")) &&
             (s->by = gd_alloc(b, sizeof(float), "shuffle buffer")) &&
             (s->bid = gd_alloc(b, sizeof(uint64_t), "shuffle buffer"));
    for (int i = 0; ok && i < GD_STREAM_SLOTS; i++)
        ok = (s->ring[i].x = gd_alloc(spec->chunk_rows, s->rowb, "stream chunk")) &&
             (s->ring[i].y = gd_alloc(spec->chunk_rows, sizeof(float), "stream chunk"));
    return ok ? GD_OK : GD_ERR;
}

void gd_stream_close(gd_stream *s)
{
    if (!s)
        return;
    stop_reader(s);
    for (int i = 0; i < GD_STREAM_SLOTS; i++) {
        free(s->ring[i].x);
        free(s->ring[i].y);
    }
    free(s->read_order);
    free(s->plan);
    free(s->bx);
    free(s->by);
    free(s->bid);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
