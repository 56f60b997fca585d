/* checkpoint.h5: the orchestration. Every component declares its own state (gdmpi/state.h:
 * the strategy its parameters, optimizer state and own fields; the model, the update
 * pipeline, the batcher, the stopping rules, the metrics and the progress below theirs),
 * and the state engine gathers, writes and reads them; this file adds the identity that a
 * resume checks, the temporary name and the rename, and what a resume does with the
 * position. Layout (h5dump shows it; docs/outputs.md and docs/checkpoints.md):
 *
 *   attributes   format = "gdmpi-checkpoint", version, model_type, features, outputs,
 *                nparams, nstate, optimizer, state_slots, ranks, servers, train_rows,
 *                remainder, mode, config (the
 *                checked keys, "section.key = value" a line), config_hash (FNV-1a, hex)
 *   model/       params (as the strategy holds them), state and rng (per rank)
 *   optimizer/   state (slots x parameters, as the parameters), t (per rank)
 *   update/      noise_rng (per rank)
 *   batcher/     order (each rank's shard order), rng (per rank)
 *   stopping/    tol_prev, tol_calm, early_best, early_best_epoch, early_stale,
 *                best_params (the best epoch's), best_state (per rank)
 *   metrics/     rows (metrics.csv's rows so far, a compound record each)
 *   steps/       sums (the loss and samples since steps.csv's last row), bytes (its length)
 *   progress/    position (per rank: epoch, step, steps taken in the epoch, 0 once it is
 *                over), sums (per rank: the epoch's loss and count, samples, lr), timers
 *                (per rank), wall (seconds of training so far)
 *   <mode>/      the strategy's own (easgd's center, local-sgd's last average, ...)
 */
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
#define CK_VERSION 5
#define CK_CONFIG_MAX 65536

enum { POS_EPOCH, POS_STEP, POS_TAKEN };
enum { SUM_EPOCH_LOSS, SUM_EPOCH_COUNT, SUM_SAMPLES, SUM_LR };

/* ---- the progress, and every component's declaration ------------------------------------ */

static void declare_progress(gd_trainer *t, gd_state *s)
{
    gd_ckpt *k = t->ckpt;
    /* elastic: the position is the same on every rank of a synchronous job; the sums are
       carried by elastic_sums; a rank's timers and bytes stay its own */
    gd_state_add(s, GD_STATE_I64, GD_PER_RANK, k->position, CK_POSITION, "progress/position")
        ->elastic = GD_EL_FIRST;
    gd_state_add(s, GD_STATE_F64, GD_PER_RANK, k->sums, CK_SUMS, "progress/sums")->elastic =
        GD_EL_SKIP;
    gd_state_add(s, GD_STATE_F64, GD_PER_RANK, t->ctx.timers, GD_T_COUNT, "progress/timers")
        ->elastic = GD_EL_OWN;
    gd_state_add(s, GD_STATE_F64, GD_PER_RANK, t->ctx.wire, GD_WIRE_COUNT, "progress/wire")
        ->elastic = GD_EL_OWN;
    gd_state_add(s, GD_STATE_F64, GD_SHARED, &k->wall, 1, "progress/wall");
    gd_state_field *h = gd_state_add(s, GD_STATE_I64, GD_SHARED, k->resumes, CK_RESUME_FIELDS,
                                     "progress/resumes");
    h->rows = CK_RESUMES;
    h->count = &k->nresumes;
}

/* The whole run's state, each component declaring its own. */
static int declare_run(gd_trainer *t, gd_state *s, gd_state_use use)
{
    memset(s, 0, sizeof *s);
    int rc = t->strategy->state(&t->ctx, s, use);
    if (rc)
        return rc;
    gd_model_declare(&t->model, s);
    gd_update_declare(&t->update, s);
    gd_batcher_declare(t, s);
    gd_elastic_declare(t, s, use);
    gd_stopping_declare(t, s);
    gd_metrics_declare(t, s, &t->ckpt->metrics_rows);
    gd_steps_declare(t, s);
    declare_progress(t, s);
    return GD_OK;
}

/* ps-async: a lead worker stopped in mid-epoch already reported that epoch's partial row;
 * the resumed run reports the whole epoch, so the checkpoint leaves the partial row out.
 * Collective (the lead's position goes to rank 0). */
static long rows_to_save(gd_trainer *t)
{
    long lead[2] = {t->ctx.epoch, t->ckpt->pos}, n = t->metrics.nrows;
    if (!t->strategy->async)
        return n;
    MPI_Bcast(lead, 2, MPI_LONG, t->ctx.lead, t->comm);
    return n > 0 && lead[1] > 0 && t->metrics.rows[n - 1].epoch == lead[0] ? n - 1 : n;
}

/* The trainer's figures into the declared buffers, before a save. */
static void stage(gd_trainer *t, long rows)
{
    gd_ckpt *k = t->ckpt;
    k->position[POS_EPOCH] = t->ctx.epoch;
    k->position[POS_STEP] = t->ctx.step;
    k->position[POS_TAKEN] = k->pos < t->ctx.steps_per_epoch ? k->pos : 0; /* whole: over */
    k->sums[SUM_EPOCH_LOSS] = t->ctx.epoch_loss;
    k->sums[SUM_EPOCH_COUNT] = t->ctx.epoch_count;
    k->sums[SUM_SAMPLES] = t->ctx.samples_seen;
    k->sums[SUM_LR] = t->ctx.lr;
    k->wall = MPI_Wtime() - t->ctx.t_start;
    k->metrics_rows = rows;
    gd_steps_flush(t, 1); /* steps.csv on disk up to here: its length goes in the file */
}

/* ---- writing ----------------------------------------------------------------------------- */

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
    /* the training set's rows, which batcher/used numbers (agreed at setup: servers know) */
    rc = rc ? rc : gd_h5_attr_long(f, "train_rows", (long)t->batch.total_rows);
    /* written in an elastic resume's remainder epoch: only its row bits describe the epoch */
    rc = rc ? rc : gd_h5_attr_long(f, "remainder", gd_elastic_in_remainder(t));
    rc = rc ? rc : gd_h5_attr_string(f, "mode", t->cfg->parallel.mode);
    rc = rc ? rc : gd_h5_attr_string(f, "config", text);
    rc = rc ? rc : gd_h5_attr_string(f, "config_hash", hash);
    free(text);
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

/* Rank 0: the identity, then (after the fields) the fault hook, then the commit. */
static hid_t open_tmp(const gd_trainer *t)
{
    gd_h5_quiet();
    hid_t f = gd_h5_create_tmp(t->ckpt->path);
    if (f >= 0 && write_identity(t, f)) {
        gd_h5_discard(f, t->ckpt->path);
        return -1;
    }
    return f;
}

static int close_tmp(const gd_trainer *t, hid_t f, int rc)
{
    const gd_ckpt *k = t->ckpt;
    if (!rc)
        maybe_crash(f, k->written + 1);
    if (rc) {
        gd_h5_discard(f, k->path);
        return gd_h5_blame_file(k->path, rc);
    }
    return gd_h5_commit(f, k->path); /* fsync, rename, fsync of the directory */
}

/* Around every use of HDF5 here: the stream's reader thread must not use HDF5 at the same
 * time (gdmpi/stream.h), and the row log must hold every row the checkpoint counts. */
static void h5_enter(const gd_trainer *t)
{
    if (t->batch.rowlog)
        fflush(t->batch.rowlog);
    gd_h5_lock();
}

static int write_collective(gd_trainer *t)
{
    gd_state *s = gd_alloc(1, sizeof *s, "checkpoint state");
    int rc = gd_agree(t->comm, s ? GD_OK : GD_ERR);
    if (rc)
        return rc;
    rc = gd_agree(t->comm, declare_run(t, s, GD_STATE_SAVE));
    stage(t, rc ? 0 : rows_to_save(t));
    hid_t f = -1;
    if (!rc && t->rank == 0)
        f = open_tmp(t);
    rc = rc ? rc : gd_agree(t->comm, t->rank == 0 && f < 0 ? GD_ERR : GD_OK);
    if (!rc) {
        rc = gd_state_save(t->comm, s, f);
        if (t->rank == 0)
            rc = close_tmp(t, f, rc);
    } else if (f >= 0) {
        gd_h5_discard(f, t->ckpt->path);
    }
    free(s);
    gd_watchdog_enter_peer("waiting for the checkpoint's write", t->ctx.step, 0);
    rc = gd_agree(t->comm, rc);
    gd_watchdog_leave();
    return rc;
}

/* Asynchronous modes, rank 0 alone while the other ranks run on: what rank 0 can see (the
 * strategy assembles the parameters), its own record, and the other ranks' records marked
 * unknown: a resume starts them afresh (fresh_record). */
static int write_lone(gd_trainer *t)
{
    gd_state *s = gd_alloc(1, sizeof *s, "checkpoint state");
    int rc = s ? declare_run(t, s, GD_STATE_SAVE_LONE) : GD_ERR;
    stage(t, t->metrics.nrows);
    hid_t f = rc ? -1 : open_tmp(t);
    if (!rc && f < 0)
        rc = GD_ERR;
    if (!rc)
        rc = close_tmp(t, f, gd_state_save_lone(s, f, t->size));
    free(s);
    return rc;
}

int ckpt_write(gd_trainer *t)
{
    h5_enter(t);
    int rc = write_collective(t);
    gd_h5_unlock();
    return rc;
}

int ckpt_write_lone(gd_trainer *t)
{
    h5_enter(t);
    int rc = write_lone(t);
    gd_h5_unlock();
    return rc;
}

/* ---- reading (every rank) --------------------------------------------------------------- */

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

/* The rank and server counts may differ where the mode and the data allow (elastic.c);
 * *elastic then says the resume is elastic: another rank count, or a checkpoint taken in an
 * elastic resume's remainder epoch. */
static int check_ranks(const gd_trainer *t, hid_t f, long *ranks_then, long *servers_then,
                       int *elastic)
{
    long remainder = 0;
    int rc = gd_h5_read_attr_long(f, "ranks", ranks_then);
    rc = rc ? rc : gd_h5_read_attr_long(f, "servers", servers_then);
    rc = rc ? rc : gd_h5_read_attr_long(f, "remainder", &remainder);
    if (rc)
        return rc;
    const long servers = *servers_then;
    *elastic = *ranks_then != t->size || servers != t->ctx.nservers || remainder;
    if (*ranks_then < 1 || servers < 0 || servers >= *ranks_then)
        return gd_fail(GD_ERR, "%ld ranks and %ld servers: the file is damaged", *ranks_then,
                       servers);
    long rows = 0; /* at the same rank count each rank's own record checks its shard */
    if (*elastic && (rc = gd_h5_read_attr_long(f, "train_rows", &rows)))
        return rc;
    if (*elastic && (uint64_t)rows != t->batch.total_rows)
        return gd_fail(GD_ECONFIG, "it was written for a training set of %ld rows, data.train "
                       "has %llu: another rank count can resume only the same data", rows,
                       (unsigned long long)t->batch.total_rows);
    return *elastic ? gd_elastic_refusal(t, *ranks_then, servers) : GD_OK;
}

/* The checks in the order that names the most telling difference first. */
static int check_identity(const gd_trainer *t, hid_t f, long *ranks_then, long *servers_then,
                          int *elastic)
{
    int rc = expect_string(f, "format", CK_FORMAT, "not a gdmpi checkpoint");
    rc = rc ? rc : expect_long(f, "version", CK_VERSION, "an unknown checkpoint version");
    rc = rc ? rc : check_model(t, f);
    rc = rc ? rc : expect_string(f, "optimizer", t->optim.ops->name,
                                 "the optimizer differs (optimizer.type)");
    rc = rc ? rc : expect_string(f, "mode", t->cfg->parallel.mode,
                                 "the parallel mode differs (parallel.mode)");
    rc = rc ? rc : check_ranks(t, f, ranks_then, servers_then, elastic);
    return rc ? rc : check_config(t, f);
}

/* This rank's position must be possible, and its shard order must name its own rows. */
static int check_record(const gd_trainer *t, int elastic)
{
    const int64_t *pos = t->ckpt->position;
    /* elastic: the steps taken are of the old rank count's epoch, and no order is loaded */
    if (pos[POS_EPOCH] < 0 || pos[POS_STEP] < 0 || pos[POS_TAKEN] < 0 ||
        (!elastic && pos[POS_TAKEN] > (int64_t)t->ctx.steps_per_epoch))
        return gd_fail(GD_ERR, "rank %d's position (epoch %lld, step %lld, %lld steps into the "
                       "epoch) is impossible: the file is damaged", t->rank,
                       (long long)pos[POS_EPOCH], (long long)pos[POS_STEP],
                       (long long)pos[POS_TAKEN]);
    if (pos[POS_EPOCH] > t->cfg->train.epochs)
        return gd_fail(GD_ECONFIG, "it is at epoch %lld, past train.epochs = %ld",
                       (long long)pos[POS_EPOCH], t->cfg->train.epochs);
    for (size_t i = 0; !elastic && t->batch.order && i < t->train.rows; i++) /* row indices: read
                            unchecked they would send the batch gather out of bounds (a stream
                            holds none) */
        if (t->batch.order[i] >= t->train.rows)
            return gd_fail(GD_ERR, "rank %d's shard order names row %llu of %zu: the file is "
                           "damaged", t->rank, (unsigned long long)t->batch.order[i],
                           t->train.rows);
    return GD_OK;
}

/* Puts this rank's record into the trainer: position, sums, the clock. */
static void restore_record(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    t->ctx.epoch = (long)k->position[POS_EPOCH];
    t->ctx.step = (long)k->position[POS_STEP];
    k->pos = (long)k->position[POS_TAKEN];
    t->first_epoch = k->pos ? t->ctx.epoch : t->ctx.epoch + 1;
    t->first_step = k->pos;
    t->ctx.epoch_loss = k->sums[SUM_EPOCH_LOSS];
    t->ctx.epoch_count = k->sums[SUM_EPOCH_COUNT];
    t->ctx.samples_seen = k->sums[SUM_SAMPLES];
    t->ctx.lr = k->sums[SUM_LR];
    t->ctx.t_start -= k->wall; /* wall and the time per step go on from the checkpoint's */
}

/* A rank of an asynchronous job that the checkpoint does not describe (rank 0 wrote it
 * alone, in mid-run, when the others were wherever they were): it starts the epoch after
 * the last reported one, with streams drawn afresh for that epoch, so that it does not
 * replay the orders of the epochs before. What rank 0 saw is exact; the rest is not. */
static void fresh_record(gd_trainer *t)
{
    const uint64_t seed = (uint64_t)t->cfg->train.seed +
                          0x9e3779b97f4a7c15ULL * (uint64_t)t->metrics.nrows;
    gd_ckpt *k = t->ckpt;
    t->ctx.epoch = t->metrics.nrows;
    t->first_epoch = t->ctx.epoch + 1;
    t->first_step = k->pos = 0;
    gd_rng_seed(&t->batch.shuffle_rng, seed, (uint64_t)t->data_rank, GD_RNG_SHUFFLE);
    gd_rng *mr = t->model.ops->rng ? t->model.ops->rng(&t->model) : NULL;
    if (mr)
        gd_rng_seed(mr, seed, (uint64_t)t->data_rank, GD_RNG_DROPOUT);
    t->ctx.t_start -= t->ckpt->wall;
}

/* Elastic: every rank's epoch sums, carried so that the epoch's totals stay whole. In a
 * lockstep mode they are the job's on every rank (rank 0's row); else each rank's own since
 * the epoch began: rank 0 takes their totals, the others start from nothing. */
static int elastic_sums(gd_trainer *t, hid_t f, long ranks_then)
{
    double *all = gd_alloc((size_t)ranks_then, CK_SUMS * sizeof(double), "checkpoint sums");
    int rc = all ? gd_state_read_rows(f, "progress/sums", GD_STATE_F64, (size_t)ranks_then,
                                      CK_SUMS, all)
                 : GD_ERR;
    if (rc) {
        free(all);
        return rc;
    }
    double *k = t->ckpt->sums;
    memcpy(k, all, CK_SUMS * sizeof *k);
    if (!t->strategy->lockstep) {
        double loss = 0, count = 0;
        for (long r = 0; r < ranks_then; r++) {
            loss += all[r * CK_SUMS + SUM_EPOCH_LOSS];
            count += all[r * CK_SUMS + SUM_EPOCH_COUNT];
        }
        const double before = all[SUM_SAMPLES] - all[SUM_EPOCH_COUNT]; /* at the epoch's start */
        k[SUM_EPOCH_LOSS] = t->rank == 0 ? loss : 0;
        k[SUM_EPOCH_COUNT] = t->rank == 0 ? count : 0;
        k[SUM_SAMPLES] = before + k[SUM_EPOCH_COUNT];
    }
    free(all);
    return GD_OK;
}

static int read_state(gd_trainer *t, hid_t f, long ranks_then, long servers_then, int elastic,
                      int *unknown)
{
    gd_state *s = gd_alloc(1, sizeof *s, "checkpoint state");
    int rc = s ? declare_run(t, s, GD_STATE_LOAD) : GD_ERR;
    const gd_state_ranks who = {.rank = t->rank, .then = (int)ranks_then, .now = t->size,
                                .servers_then = (int)servers_then,
                                .servers_now = t->ctx.nservers};
    if (!rc && elastic)
        rc = gd_state_load_elastic(s, f, &who, unknown);
    else if (!rc)
        rc = gd_state_load(s, f, t->rank, unknown);
    if (!rc && elastic && !*unknown)
        rc = elastic_sums(t, f, ranks_then);
    free(s);
    if (!rc && *unknown && !t->strategy->async)
        rc = gd_fail(GD_ERR, "it does not describe rank %d: the file is damaged", t->rank);
    return rc;
}

static int read_file(gd_trainer *t, const char *path)
{
    gd_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open checkpoint (not HDF5, or truncated)", path);
    int unknown = 0, elastic = 0;
    long ranks_then = t->size, servers_then = t->ctx.nservers;
    int rc = check_identity(t, f, &ranks_then, &servers_then, &elastic);
    rc = rc ? rc : read_state(t, f, ranks_then, servers_then, elastic, &unknown);
    rc = rc || unknown ? rc : check_record(t, elastic);
    H5Fclose(f);
    if (rc)
        return gd_h5_blame_file(path, rc);
    t->metrics.nrows = t->ckpt->metrics_rows;
    if (unknown)
        fresh_record(t);
    else
        restore_record(t);
    t->ckpt->elastic = elastic;
    t->ckpt->ranks_then = ranks_then;
    return GD_OK;
}

int ckpt_read(gd_trainer *t, const char *path)
{
    h5_enter(t);
    int rc = read_file(t, path);
    gd_h5_unlock();
    return rc;
}
