/* checkpoint.h5: gathering the run's state to rank 0, writing it, and reading it back on
 * every rank. Layout (h5dump shows it; docs/outputs.md and docs/checkpoints.md):
 *
 *   attributes       format = "gdmpi-checkpoint", version, model_type, features, outputs,
 *                    nparams, nstate, optimizer, state_slots, ranks, servers, mode,
 *                    config (the checked keys, "section.key = value" a line), config_hash
 *                    (FNV-1a of config, hex), tol_prev, tol_calm, early_best,
 *                    early_best_epoch, early_stale, wall_s, metrics_rows
 *   params           float32 [nparams]            the parameters
 *   optimizer_state  float32 [slots x nparams]    slot k of parameter i at [k][i]
 *   best_params      float32 [nparams]            train.patience: the best epoch's
 *   metrics          float64 [rows x 12]          metrics.csv's rows so far, its columns
 *   rank_position    int64   [ranks x 7]          epoch, step, steps taken in that epoch
 *                                                 (0: it is over), shard rows, optimizer
 *                                                 t, owned slice offset and length
 *   rank_rng         uint64  [ranks x 12]         shuffle, model (dropout, testfn noise)
 *                                                 and gradient-noise streams, 4 words each
 *   rank_sums        float64 [ranks x 9]          epoch loss and count so far, samples
 *                                                 seen, lr, timers (compute .. eval)
 *   rank_order       uint64  [total rows]         each rank's shard order, rank by rank
 *   rank_state       float32 [ranks x nstate]     model state (batch-norm running stats)
 *   rank_best_state  float32 [ranks x nstate]     the best epoch's model state
 *
 * Who owns what: the parameters and optimizer state come from their owners (rank 0 in
 * allreduce, where every replica is the same; each server's slice with parameter
 * servers), everything per rank from every rank, the rest from rank 0. */
#include "ckpt.h"

#include "gdmpi/checkpoint.h"
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/watchdog.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CK_FORMAT "gdmpi-checkpoint"
#define CK_VERSION 1
#define CK_CONFIG_MAX 65536
#define CK_METRICS_COLS 12

enum { P_EPOCH, P_STEP, P_POS, P_ROWS, P_OPTIM_T, P_LO, P_LEN, P_N };
enum { R_SHUFFLE = 0, R_MODEL = 4, R_NOISE = 8, R_N = 12 };
enum { S_EPOCH_LOSS, S_EPOCH_COUNT, S_SAMPLES, S_LR, S_TIMERS, S_N = S_TIMERS + GD_T_COUNT };

_Static_assert(sizeof(size_t) == sizeof(uint64_t), "shard orders are stored as uint64");

/* What rank 0 gathers; every rank fills its own record first. */
typedef struct ck_image {
    int64_t own_pos[P_N];
    uint64_t own_rng[R_N];
    double own_sums[S_N];
    int64_t *pos;    /* rank 0: ranks x P_N */
    uint64_t *rng;   /* rank 0: ranks x R_N */
    double *sums;    /* rank 0: ranks x S_N */
    float *params, *optim, *best, *state, *best_state;
    uint64_t *order;
    size_t order_len;
    long nrows;      /* metrics rows to save */
} ck_image;

/* ---- the run's own figures --------------------------------------------------------- */

/* The parameters (and their optimizer state) this rank is the authority for. */
static void owned_slice(const gd_trainer *t, size_t *lo, size_t *len)
{
    *lo = *len = 0;
    if (t->ctx.nservers && t->ctx.serving)
        gd_shard_range(t->model.nparams, t->ctx.nservers, t->rank, lo, len);
    else if (!t->ctx.nservers && t->rank == 0)
        *len = t->model.nparams;
}

/* The parameters this rank's optimizer covers: everything in allreduce, a server's slice,
 * nothing on a parameter-server worker. */
static size_t optim_offset(const gd_trainer *t)
{
    size_t lo, len;
    owned_slice(t, &lo, &len); /* its lo: a server's slice, else 0 */
    return lo;
}

static gd_rng *model_rng(gd_trainer *t)
{
    return t->model.ops && t->model.ops->rng ? t->model.ops->rng(&t->model) : NULL;
}

static void fill_own(gd_trainer *t, ck_image *im)
{
    const gd_ckpt *k = t->ckpt;
    size_t lo, len;
    owned_slice(t, &lo, &len);
    int64_t pos[P_N] = {t->ctx.epoch, t->ctx.step, k->pos, (int64_t)t->train.rows, t->optim.t,
                        (int64_t)lo, (int64_t)len};
    memcpy(im->own_pos, pos, sizeof pos);
    memcpy(im->own_rng + R_SHUFFLE, t->batch.shuffle_rng.s, sizeof t->batch.shuffle_rng.s);
    gd_rng *mr = model_rng(t);
    if (mr)
        memcpy(im->own_rng + R_MODEL, mr->s, sizeof mr->s);
    memcpy(im->own_rng + R_NOISE, t->update.noise_rng.s, sizeof t->update.noise_rng.s);
    double sums[S_TIMERS] = {t->ctx.epoch_loss, t->ctx.epoch_count, t->ctx.samples_seen, t->ctx.lr};
    memcpy(im->own_sums, sums, sizeof sums);
    memcpy(im->own_sums + S_TIMERS, t->ctx.timers, sizeof t->ctx.timers);
}

/* ---- gathering (collective) --------------------------------------------------------- */

static int alloc_records(const gd_trainer *t, ck_image *im)
{
    if (t->rank != 0)
        return GD_OK;
    const size_t n = (size_t)t->size;
    im->pos = gd_alloc(n, P_N * sizeof *im->pos, "checkpoint");
    im->rng = gd_alloc(n, R_N * sizeof *im->rng, "checkpoint");
    im->sums = gd_alloc(n, S_N * sizeof *im->sums, "checkpoint");
    return im->pos && im->rng && im->sums ? GD_OK : GD_ERR;
}

static int alloc_data(const gd_trainer *t, ck_image *im)
{
    if (t->rank != 0)
        return GD_OK;
    const size_t n = t->model.nparams, ranks = (size_t)t->size, nstate = t->model.nstate;
    for (int r = 0; r < t->size; r++)
        im->order_len += (size_t)im->pos[r * P_N + P_ROWS];
    im->params = gd_alloc(n, sizeof(float), "checkpoint parameters");
    im->optim = gd_alloc(n, t->optim.ops->state_slots * sizeof(float),
                         "checkpoint optimizer state");
    im->best = gd_alloc(t->stopping.best_w ? n : 0, sizeof(float), "checkpoint best parameters");
    im->state = gd_alloc(ranks, nstate * sizeof(float), "checkpoint model state");
    im->best_state = gd_alloc(ranks, nstate * sizeof(float), "checkpoint model state");
    im->order = gd_alloc(im->order_len, sizeof(uint64_t), "checkpoint shard orders");
    if (!im->params || !im->optim || !im->best || !im->state || !im->best_state || !im->order)
        return GD_ERR;
    return GD_OK;
}

static void free_image(ck_image *im)
{
    free(im->pos);
    free(im->rng);
    free(im->sums);
    free(im->params);
    free(im->optim);
    free(im->best);
    free(im->state);
    free(im->best_state);
    free(im->order);
}

/* Rank 0: MPI's counts and displacements from one column pair of the records (int: the
 * setup refused anything larger). lo_col < 0: displacements are the running sum. */
static void counts_from(const ck_image *im, int size, int len_col, int lo_col, int *counts,
                        int *displs)
{
    int64_t at = 0;
    for (int r = 0; r < size; r++) {
        counts[r] = (int)im->pos[r * P_N + len_col];
        displs[r] = (int)(lo_col < 0 ? at : im->pos[r * P_N + lo_col]);
        at += counts[r];
    }
}

/* The owners' slices of the parameters, of each optimizer slot and of the best copy. */
static void gather_slices(gd_trainer *t, ck_image *im, int *counts, int *displs)
{
    const int len = (int)im->own_pos[P_LEN];
    const size_t lo = (size_t)im->own_pos[P_LO], n = t->model.nparams;
    const size_t slots = t->optim.ops->state_slots;
    if (t->rank == 0)
        counts_from(im, t->size, P_LEN, P_LO, counts, displs);
    MPI_Gatherv(t->model.w + lo, len, MPI_FLOAT, im->params, counts, displs, MPI_FLOAT, 0,
                t->comm);
    for (size_t k = 0; k < slots && n; k++) {
        const float *mine = len ? t->optim.state + k * t->optim.n : NULL;
        MPI_Gatherv(mine, len, MPI_FLOAT, im->optim ? im->optim + k * n : NULL, counts, displs,
                    MPI_FLOAT, 0, t->comm);
    }
    if (t->stopping.best_w)
        MPI_Gatherv(t->stopping.best_w + lo, len, MPI_FLOAT, im->best, counts, displs, MPI_FLOAT, 0,
                    t->comm);
}

/* Every rank's shard order and model state. */
static void gather_ranks(gd_trainer *t, ck_image *im, int *counts, int *displs)
{
    const int nstate = (int)t->model.nstate;
    if (t->rank == 0)
        counts_from(im, t->size, P_ROWS, -1, counts, displs);
    MPI_Gatherv(t->batch.order, (int)t->train.rows, MPI_UINT64_T, im->order, counts, displs,
                MPI_UINT64_T, 0, t->comm);
    if (!nstate)
        return;
    MPI_Gather(t->model.state, nstate, MPI_FLOAT, im->state, nstate, MPI_FLOAT, 0, t->comm);
    if (t->stopping.best_w)
        MPI_Gather(t->stopping.best_w + t->model.nparams, nstate, MPI_FLOAT, im->best_state, nstate,
                   MPI_FLOAT, 0, t->comm);
}

/* Collective: the whole image on rank 0 (allocation failures agreed before each gather). */
static int gather_image(gd_trainer *t, ck_image *im)
{
    fill_own(t, im);
    int rc = gd_agree(t->comm, alloc_records(t, im));
    if (rc)
        return rc;
    MPI_Gather(im->own_pos, P_N, MPI_INT64_T, im->pos, P_N, MPI_INT64_T, 0, t->comm);
    MPI_Gather(im->own_rng, R_N, MPI_UINT64_T, im->rng, R_N, MPI_UINT64_T, 0, t->comm);
    MPI_Gather(im->own_sums, S_N, MPI_DOUBLE, im->sums, S_N, MPI_DOUBLE, 0, t->comm);
    int *counts = t->rank == 0 ? gd_alloc((size_t)t->size, 2 * sizeof(int), "checkpoint") : NULL;
    rc = gd_agree(t->comm, alloc_data(t, im) || (t->rank == 0 && !counts) ? GD_ERR : GD_OK);
    if (!rc) {
        gather_slices(t, im, counts, counts ? counts + t->size : NULL);
        gather_ranks(t, im, counts, counts ? counts + t->size : NULL);
    }
    free(counts);
    return rc;
}

/* ---- writing (rank 0) ----------------------------------------------------------------- */

static int attr_double(hid_t f, const char *name, double v)
{
    return gd_h5_attr_scalar(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* What the run is: a resume checks each of these against its own run. */
static int write_identity(const gd_trainer *t, hid_t f)
{
    char *text = gd_alloc(CK_CONFIG_MAX, 1, "checkpoint config");
    if (!text)
        return GD_ERR;
    gd_checkpoint_config_text(t->cfg, text, CK_CONFIG_MAX);
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, gd_checkpoint_hash(text));
    int rc = gd_h5_attr_string(f, "format", CK_FORMAT);
    rc = rc ? rc : gd_h5_attr_long(f, "version", CK_VERSION);
    rc = rc ? rc : gd_h5_attr_string(f, "model_type", t->model.ops->name);
    rc = rc ? rc : gd_h5_attr_long(f, "features", (long)t->model.features);
    rc = rc ? rc : gd_h5_attr_long(f, "outputs", (long)t->model.outputs);
    rc = rc ? rc : gd_h5_attr_long(f, "nparams", (long)t->model.nparams);
    rc = rc ? rc : gd_h5_attr_long(f, "nstate", (long)t->model.nstate);
    rc = rc ? rc : gd_h5_attr_string(f, "optimizer", t->optim.ops->name);
    rc = rc ? rc : gd_h5_attr_long(f, "state_slots", (long)t->optim.ops->state_slots);
    rc = rc ? rc : gd_h5_attr_long(f, "ranks", t->size);
    rc = rc ? rc : gd_h5_attr_long(f, "servers", t->ctx.nservers);
    rc = rc ? rc : gd_h5_attr_string(f, "mode", t->cfg->parallel.mode);
    rc = rc ? rc : gd_h5_attr_string(f, "config", text);
    rc = rc ? rc : gd_h5_attr_string(f, "config_hash", hash);
    free(text);
    return rc;
}

/* The stopping rules and the clock, from rank 0. */
static int write_progress(const gd_trainer *t, const ck_image *im, hid_t f)
{
    int rc = attr_double(f, "tol_prev", t->stopping.tol.prev);
    rc = rc ? rc : gd_h5_attr_long(f, "tol_calm", t->stopping.tol.calm);
    rc = rc ? rc : attr_double(f, "early_best", t->stopping.early.best);
    rc = rc ? rc : gd_h5_attr_long(f, "early_best_epoch", t->stopping.early.best_epoch);
    rc = rc ? rc : gd_h5_attr_long(f, "early_stale", t->stopping.early.stale);
    rc = rc ? rc : attr_double(f, "wall_s", MPI_Wtime() - t->ctx.t_start);
    rc = rc ? rc : gd_h5_attr_long(f, "metrics_rows", im->nrows);
    return rc;
}

static void row_to_doubles(const gd_metrics_row *r, double *v)
{
    double x[CK_METRICS_COLS] = {(double)r->epoch, (double)r->step, r->wall, r->samples,
                                 r->train_loss, r->val_loss, r->val_acc, r->lr,
                                 r->samples_per_s, r->compute_frac, r->comm_frac, r->wait_frac};
    memcpy(v, x, sizeof x);
}

static void doubles_to_row(const double *v, gd_metrics_row *r)
{
    *r = (gd_metrics_row){.epoch = (long)v[0], .step = (long)v[1], .wall = v[2],
                          .samples = v[3], .train_loss = v[4], .val_loss = v[5],
                          .val_acc = v[6], .lr = v[7], .samples_per_s = v[8],
                          .compute_frac = v[9], .comm_frac = v[10], .wait_frac = v[11]};
}

static int write_metrics(const gd_trainer *t, const ck_image *im, hid_t f)
{
    if (im->nrows == 0)
        return GD_OK;
    double *v = gd_alloc((size_t)im->nrows, CK_METRICS_COLS * sizeof(double), "checkpoint");
    if (!v)
        return GD_ERR;
    for (long i = 0; i < im->nrows; i++)
        row_to_doubles(&t->metrics.rows[i], v + i * CK_METRICS_COLS);
    int rc = gd_h5_write(f, "metrics", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, (size_t)im->nrows,
                         CK_METRICS_COLS);
    free(v);
    return rc;
}

static int write_global(const gd_trainer *t, const ck_image *im, hid_t f)
{
    const size_t n = t->model.nparams, slots = t->optim.ops->state_slots;
    int rc = gd_h5_write(f, "params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, im->params, n, 0);
    if (!rc && slots)
        rc = gd_h5_write(f, "optimizer_state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, im->optim, slots,
                         n);
    if (!rc && t->stopping.best_w)
        rc = gd_h5_write(f, "best_params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, im->best, n, 0);
    return rc ? rc : write_metrics(t, im, f);
}

static int write_ranks(const gd_trainer *t, const ck_image *im, hid_t f)
{
    const size_t ranks = (size_t)t->size, nstate = t->model.nstate;
    int rc = gd_h5_write(f, "rank_position", H5T_STD_I64LE, H5T_NATIVE_INT64, im->pos, ranks, P_N);
    rc = rc ? rc : gd_h5_write(f, "rank_rng", H5T_STD_U64LE, H5T_NATIVE_UINT64, im->rng, ranks, R_N);
    rc = rc ? rc : gd_h5_write(f, "rank_sums", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, im->sums, ranks,
                               S_N);
    if (!rc && im->order_len)
        rc = gd_h5_write(f, "rank_order", H5T_STD_U64LE, H5T_NATIVE_UINT64, im->order,
                         im->order_len, 0);
    if (!rc && nstate)
        rc = gd_h5_write(f, "rank_state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, im->state, ranks,
                         nstate);
    if (!rc && nstate && t->stopping.best_w)
        rc = gd_h5_write(f, "rank_best_state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, im->best_state,
                         ranks, nstate);
    return rc;
}

/* GDMPI_FAULT=checkpoint-write[:N]: rank 0 dies by SIGKILL, as a crashed node would,
 * halfway through writing this run's Nth checkpoint (default the first): the temporary
 * file holds the parameters and nothing else, and checkpoint.h5 must stay the last one. */
static void maybe_crash(hid_t f, long nth)
{
    const char *fault = getenv("GDMPI_FAULT");
    if (!fault || strncmp(fault, "checkpoint-write", 16) != 0)
        return;
    long want = fault[16] == ':' ? strtol(fault + 17, NULL, 10) : 1;
    if (want != nth)
        return;
    H5Fflush(f, H5F_SCOPE_GLOBAL); /* a half-written file on disk, as a real crash leaves */
    fprintf(stderr, "gdmpi: GDMPI_FAULT=%s: rank 0 killed halfway through writing checkpoint "
                    "%ld\n", fault, nth);
    fflush(stderr);
    raise(SIGKILL);
}

static int save_image(const gd_trainer *t, const ck_image *im)
{
    const gd_ckpt *k = t->ckpt;
    gd_h5_quiet();
    hid_t f = gd_h5_create_tmp(k->path);
    if (f < 0)
        return GD_ERR;
    int rc = write_identity(t, f);
    rc = rc ? rc : write_global(t, im, f);
    if (!rc)
        maybe_crash(f, k->written + 1);
    rc = rc ? rc : write_progress(t, im, f);
    rc = rc ? rc : write_ranks(t, im, f);
    if (rc) {
        gd_h5_discard(f, k->path);
        return gd_h5_blame_file(k->path, rc);
    }
    return gd_h5_commit(f, k->path); /* fsync, rename, fsync of the directory */
}

/* ps-async: a lead worker stopped in mid-epoch already reported that epoch's partial row;
 * the resumed run reports the whole epoch, so the checkpoint leaves the partial row out. */
static long rows_to_save(const gd_trainer *t, const ck_image *im)
{
    long n = t->metrics.nrows;
    if (!t->strategy->async || n == 0)
        return n;
    const int64_t *lead = im->pos + (size_t)t->ctx.lead * P_N;
    return lead[P_POS] > 0 && t->metrics.rows[n - 1].epoch == lead[P_EPOCH] ? n - 1 : n;
}

/* ps-async with one server, on rank 0 alone (no other rank takes part): the server's
 * parameters, optimizer state and streams, rank 0's rows; the other ranks' records say
 * "unknown" (epoch -1), and a resume starts them afresh (fresh_record). */
int ckpt_write_local(gd_trainer *t)
{
    ck_image im = {0};
    const size_t n = t->model.nparams, slots = t->optim.ops->state_slots;
    fill_own(t, &im);
    int rc = alloc_records(t, &im);
    for (int r = 0; !rc && r < t->size; r++) {
        memcpy(im.pos + r * P_N, im.own_pos, sizeof im.own_pos);
        memcpy(im.rng + r * R_N, im.own_rng, sizeof im.own_rng);
        memcpy(im.sums + r * S_N, im.own_sums, sizeof im.own_sums);
        if (r) /* unknown, and owning nothing */
            im.pos[r * P_N + P_EPOCH] = -1, im.pos[r * P_N + P_LEN] = 0;
    }
    rc = rc ? rc : alloc_data(t, &im);
    if (!rc) {
        memcpy(im.params, t->model.w, n * sizeof(float));
        memcpy(im.optim, t->optim.state, n * slots * sizeof(float));
        im.nrows = t->metrics.nrows;
        rc = save_image(t, &im);
    }
    free_image(&im);
    return rc;
}

int ckpt_write(gd_trainer *t)
{
    ck_image im = {0};
    int rc = gather_image(t, &im);
    if (!rc && t->rank == 0) {
        im.nrows = rows_to_save(t, &im);
        rc = save_image(t, &im);
    }
    free_image(&im);
    gd_watchdog_enter_peer("waiting for the checkpoint's write", t->ctx.step, 0);
    rc = gd_agree(t->comm, rc);
    gd_watchdog_leave();
    return rc;
}

/* ---- reading (every rank) --------------------------------------------------------------- */

static int read_attr_double(hid_t f, const char *name, double *v)
{
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_DOUBLE, v);
    if (a >= 0)
        H5Aclose(a);
    return rc < 0 ? gd_fail(GD_ERR, "missing or bad attribute '%s'", name) : GD_OK;
}

/* count values from [row][off] of a 2-D dataset, or from [off] of a 1-D one (row 0). */
static int read_block(hid_t f, const char *name, hid_t memtype, hsize_t row, hsize_t off,
                      hsize_t count, void *buf)
{
    if (count == 0)
        return GD_OK;
    hid_t set = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t space = set < 0 ? -1 : H5Dget_space(set);
    hsize_t dims[2] = {0, 0};
    int nd = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, NULL);
    hsize_t start[2] = {row, off}, cnt[2] = {1, count};
    int ok = nd == 2 ? row < dims[0] && off + count <= dims[1]
                     : nd == 1 && row == 0 && off + count <= dims[0];
    if (ok && nd == 1) {
        start[0] = off;
        cnt[0] = count;
    }
    ok = ok && H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0;
    hid_t mem = ok ? H5Screate_simple(1, &count, NULL) : -1;
    ok = ok && mem >= 0 && H5Dread(set, memtype, mem, space, H5P_DEFAULT, buf) >= 0;
    if (mem >= 0)
        H5Sclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (set >= 0)
        H5Dclose(set);
    return ok ? GD_OK : gd_fail(GD_ERR, "missing or short dataset '%s'", name);
}

static int expect_long(hid_t f, const char *name, long want, const char *what)
{
    long have = 0;
    int rc = gd_h5_read_attr_long(f, name, &have);
    if (!rc && have != want)
        rc = gd_fail(GD_ECONFIG, "%s: it has %ld, this run %ld", what, have, want);
    return rc;
}

static int expect_string(hid_t f, const char *name, const char *want, const char *what)
{
    char have[GD_NAME_MAX + 16];
    int rc = gd_h5_read_attr_string(f, name, have, sizeof have);
    if (!rc && strcmp(have, want))
        rc = gd_fail(GD_ECONFIG, "%s: it has %s, this run %s", what, have, want);
    return rc;
}

static int check_model(const gd_trainer *t, hid_t f)
{
    const gd_model *m = &t->model;
    char type[GD_NAME_MAX];
    long features = 0, outputs = 0, nparams = 0;
    int rc = gd_h5_read_attr_string(f, "model_type", type, sizeof type);
    rc = rc ? rc : gd_h5_read_attr_long(f, "features", &features);
    rc = rc ? rc : gd_h5_read_attr_long(f, "outputs", &outputs);
    rc = rc ? rc : gd_h5_read_attr_long(f, "nparams", &nparams);
    if (!rc && (strcmp(type, m->ops->name) || (size_t)features != m->features ||
                (size_t)outputs != m->outputs || (size_t)nparams != m->nparams))
        rc = gd_fail(GD_ECONFIG, "the model differs: it holds a %s model with %ld features, %ld "
                     "outputs and %ld parameters; this run builds a %s model with %zu, %zu and "
                     "%zu", type, features, outputs, nparams, m->ops->name, m->features,
                     m->outputs, m->nparams);
    return rc ? rc : expect_long(f, "nstate", (long)m->nstate, "the model state differs");
}

/* The first line that differs between the checkpoint's config text and this run's. */
static int config_difference(const char *theirs, const char *ours)
{
    while (*theirs && *ours) {
        size_t a = strcspn(theirs, "\n"), b = strcspn(ours, "\n");
        if (a != b || strncmp(theirs, ours, a))
            return gd_fail(GD_ECONFIG, "the config differs: '%.*s' there, '%.*s' here (only the "
                           "keys in docs/checkpoints.md may change on resume)", (int)a, theirs,
                           (int)b, ours);
        theirs += a + (theirs[a] == '\n');
        ours += b + (ours[b] == '\n');
    }
    return gd_fail(GD_ECONFIG, "the config differs: '%.80s' is only %s", *theirs ? theirs : ours,
                   *theirs ? "there" : "here");
}

static int check_config(const gd_trainer *t, hid_t f)
{
    char *ours = gd_alloc(2, CK_CONFIG_MAX, "checkpoint config");
    if (!ours)
        return GD_ERR;
    char *theirs = ours + CK_CONFIG_MAX, hash[32], ours_hash[32];
    gd_checkpoint_config_text(t->cfg, ours, CK_CONFIG_MAX);
    snprintf(ours_hash, sizeof ours_hash, "%016" PRIx64, gd_checkpoint_hash(ours));
    int rc = gd_h5_read_attr_string(f, "config_hash", hash, sizeof hash);
    rc = rc ? rc : gd_h5_read_attr_string(f, "config", theirs, CK_CONFIG_MAX);
    if (!rc && strcmp(hash, ours_hash))
        rc = config_difference(theirs, ours);
    free(ours);
    return rc;
}

/* The checks in the order that names the most telling difference first. */
static int check_identity(const gd_trainer *t, hid_t f)
{
    int rc = expect_string(f, "format", CK_FORMAT, "not a gdmpi checkpoint");
    rc = rc ? rc : expect_long(f, "version", CK_VERSION, "an unknown checkpoint version");
    rc = rc ? rc : check_model(t, f);
    rc = rc ? rc : expect_string(f, "optimizer", t->optim.ops->name,
                                 "the optimizer differs (optimizer.type)");
    rc = rc ? rc : expect_long(f, "ranks", t->size, "the rank count differs (mpirun -np)");
    rc = rc ? rc : expect_string(f, "mode", t->cfg->parallel.mode,
                                 "the parallel mode differs (parallel.mode)");
    rc = rc ? rc : expect_long(f, "servers", t->ctx.nservers,
                               "the server count differs (parallel.servers)");
    return rc ? rc : check_config(t, f);
}

/* This rank's record; its shard must be the one the checkpoint ordered. */
static int read_record(const gd_trainer *t, hid_t f, int64_t *pos, uint64_t *rng, double *sums)
{
    const hsize_t r = (hsize_t)t->rank;
    int rc = read_block(f, "rank_position", H5T_NATIVE_INT64, r, 0, P_N, pos);
    rc = rc ? rc : read_block(f, "rank_rng", H5T_NATIVE_UINT64, r, 0, R_N, rng);
    rc = rc ? rc : read_block(f, "rank_sums", H5T_NATIVE_DOUBLE, r, 0, S_N, sums);
    if (!rc && pos[P_EPOCH] < 0 && t->strategy->async && !t->ctx.serving)
        return GD_OK; /* a worker that a server's own checkpoint knows nothing of */
    if (!rc && (pos[P_EPOCH] < 0 || pos[P_STEP] < 0 || pos[P_POS] < 0 ||
                pos[P_POS] > (int64_t)t->ctx.steps_per_epoch))
        rc = gd_fail(GD_ERR, "rank %d's position (epoch %lld, step %lld, %lld steps into the "
                     "epoch) is impossible: the file is damaged", t->rank,
                     (long long)pos[P_EPOCH], (long long)pos[P_STEP], (long long)pos[P_POS]);
    if (!rc && pos[P_ROWS] != (int64_t)t->train.rows)
        rc = gd_fail(GD_ECONFIG, "rank %d held %lld training rows, now %zu: the training data "
                     "differs", t->rank, (long long)pos[P_ROWS], t->train.rows);
    if (!rc && pos[P_EPOCH] > t->cfg->train.epochs)
        rc = gd_fail(GD_ECONFIG, "it is at epoch %lld, past train.epochs = %ld",
                     (long long)pos[P_EPOCH], t->cfg->train.epochs);
    return rc;
}

/* Where this rank's order starts in rank_order: the rows of the ranks before it. */
static int order_offset(const gd_trainer *t, hid_t f, hsize_t *off)
{
    *off = 0;
    for (int r = 0; r < t->rank; r++) {
        int64_t pos[P_N];
        int rc = read_block(f, "rank_position", H5T_NATIVE_INT64, (hsize_t)r, 0, P_N, pos);
        if (rc)
            return rc;
        *off += (hsize_t)pos[P_ROWS];
    }
    return GD_OK;
}

/* The parameters, this rank's optimizer slice, and the best copy. */
static int read_params(gd_trainer *t, hid_t f)
{
    const size_t n = t->model.nparams, lo = optim_offset(t);
    int rc = read_block(f, "params", H5T_NATIVE_FLOAT, 0, 0, n, t->model.w);
    for (size_t k = 0; !rc && k < t->optim.ops->state_slots; k++)
        rc = read_block(f, "optimizer_state", H5T_NATIVE_FLOAT, k, lo, t->optim.n,
                        t->optim.state + k * t->optim.n);
    if (!rc && t->stopping.best_w)
        rc = read_block(f, "best_params", H5T_NATIVE_FLOAT, 0, 0, n, t->stopping.best_w);
    return rc;
}

static int read_rank_data(gd_trainer *t, hid_t f, const int64_t *pos)
{
    const hsize_t r = (hsize_t)t->rank, nstate = t->model.nstate;
    hsize_t off = 0;
    if (pos[P_EPOCH] < 0)
        return GD_OK; /* unknown: its order and model state stay as setup made them */
    int rc = order_offset(t, f, &off);
    rc = rc ? rc : read_block(f, "rank_order", H5T_NATIVE_UINT64, 0, off, t->train.rows, t->batch.order);
    for (size_t i = 0; !rc && i < t->train.rows; i++) /* row indices: read unchecked they would
                                                         send the batch gather out of bounds */
        if (t->batch.order[i] >= t->train.rows)
            rc = gd_fail(GD_ERR, "rank %d's shard order names row %llu of %zu: the file is "
                         "damaged", t->rank, (unsigned long long)t->batch.order[i], t->train.rows);
    rc = rc ? rc : read_block(f, "rank_state", H5T_NATIVE_FLOAT, r, 0, nstate, t->model.state);
    if (!rc && t->stopping.best_w)
        rc = read_block(f, "rank_best_state", H5T_NATIVE_FLOAT, r, 0, nstate,
                        t->stopping.best_w + t->model.nparams);
    return rc;
}

static int read_progress(gd_trainer *t, hid_t f, double *wall)
{
    long calm = 0, best_epoch = 0, stale = 0, nrows = 0;
    int rc = read_attr_double(f, "tol_prev", &t->stopping.tol.prev);
    rc = rc ? rc : gd_h5_read_attr_long(f, "tol_calm", &calm);
    rc = rc ? rc : read_attr_double(f, "early_best", &t->stopping.early.best);
    rc = rc ? rc : gd_h5_read_attr_long(f, "early_best_epoch", &best_epoch);
    rc = rc ? rc : gd_h5_read_attr_long(f, "early_stale", &stale);
    rc = rc ? rc : read_attr_double(f, "wall_s", wall);
    rc = rc ? rc : gd_h5_read_attr_long(f, "metrics_rows", &nrows);
    if (!rc && (nrows < 0 || nrows > t->cfg->train.epochs))
        rc = gd_fail(GD_ECONFIG, "it has %ld metrics rows, more than train.epochs = %ld", nrows,
                     t->cfg->train.epochs);
    double *v = rc || !nrows ? NULL : gd_alloc((size_t)nrows, CK_METRICS_COLS * sizeof(double),
                                               "checkpoint metrics");
    if (!rc && nrows && !v)
        rc = GD_ERR;
    for (long i = 0; !rc && i < nrows; i++)
        rc = read_block(f, "metrics", H5T_NATIVE_DOUBLE, (hsize_t)i, 0, CK_METRICS_COLS,
                        v + i * CK_METRICS_COLS);
    for (long i = 0; !rc && i < nrows; i++)
        doubles_to_row(v + i * CK_METRICS_COLS, &t->metrics.rows[i]);
    free(v);
    t->stopping.tol.calm = calm;
    t->stopping.early.best_epoch = best_epoch;
    t->stopping.early.stale = stale;
    t->metrics.nrows = rc ? 0 : nrows;
    return rc;
}

/* Puts this rank's record into the trainer: position, streams, sums, timers. */
static void restore_record(gd_trainer *t, const int64_t *pos, const uint64_t *rng,
                           const double *sums, double wall)
{
    gd_ckpt *k = t->ckpt;
    t->ctx.epoch = (long)pos[P_EPOCH];
    t->ctx.step = (long)pos[P_STEP];
    k->pos = (long)pos[P_POS];
    t->first_epoch = k->pos ? t->ctx.epoch : t->ctx.epoch + 1;
    t->first_step = k->pos;
    t->optim.t = (long)pos[P_OPTIM_T];
    memcpy(t->batch.shuffle_rng.s, rng + R_SHUFFLE, sizeof t->batch.shuffle_rng.s);
    gd_rng *mr = model_rng(t);
    if (mr)
        memcpy(mr->s, rng + R_MODEL, sizeof mr->s);
    memcpy(t->update.noise_rng.s, rng + R_NOISE, sizeof t->update.noise_rng.s);
    t->ctx.epoch_loss = sums[S_EPOCH_LOSS];
    t->ctx.epoch_count = sums[S_EPOCH_COUNT];
    t->ctx.samples_seen = sums[S_SAMPLES];
    t->ctx.lr = sums[S_LR];
    memcpy(t->ctx.timers, sums + S_TIMERS, sizeof t->ctx.timers);
    t->ctx.t_start -= wall; /* wall_s and the time per step go on from the checkpoint's */
}

/* A ps-async worker that the checkpoint does not describe (written by the lone server in
 * mid-run, when the workers were wherever they were): it starts the epoch after the last
 * reported one, with streams drawn afresh for that epoch, so that it does not replay the
 * orders of the epochs before. The servers' state is exact; the workers' is not. */
static void fresh_record(gd_trainer *t, double wall)
{
    const uint64_t seed = (uint64_t)t->cfg->train.seed + 0x9e3779b97f4a7c15ULL * (uint64_t)t->metrics.nrows;
    gd_ckpt *k = t->ckpt;
    t->ctx.epoch = t->metrics.nrows;
    t->first_epoch = t->ctx.epoch + 1;
    t->first_step = k->pos = 0;
    gd_rng_seed(&t->batch.shuffle_rng, seed, (uint64_t)t->data_rank, GD_RNG_SHUFFLE);
    gd_rng *mr = model_rng(t);
    if (mr)
        gd_rng_seed(mr, seed, (uint64_t)t->data_rank, GD_RNG_DROPOUT);
    t->ctx.t_start -= wall;
}

int ckpt_read(gd_trainer *t, const char *path)
{
    gd_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open checkpoint (not HDF5, or truncated)", path);
    int64_t pos[P_N];
    uint64_t rng[R_N];
    double sums[S_N], wall = 0;
    int rc = check_identity(t, f);
    rc = rc ? rc : read_record(t, f, pos, rng, sums);
    rc = rc ? rc : read_params(t, f);
    rc = rc ? rc : read_rank_data(t, f, pos);
    rc = rc ? rc : read_progress(t, f, &wall);
    H5Fclose(f);
    if (rc)
        return gd_h5_blame_file(path, rc);
    if (pos[P_EPOCH] < 0)
        fresh_record(t, wall);
    else
        restore_record(t, pos, rng, sums, wall);
    return GD_OK;
}
