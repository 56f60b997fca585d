/* Checkpoints: when the trainer writes them, how a run resumes, and how a signal stops the
 * ranks together (see gdmpi/checkpoint.h; the file itself: checkpoint_file.c).
 *
 * When. checkpoint_every = N: after the end of every Nth epoch (its metrics row and stop
 * verdict are in). Ns: after every Nth optimizer step, wherever in the epoch it falls. A
 * run that checkpoints also writes one when it stops: after its last epoch, or at the step
 * where a time budget or max_steps cuts an epoch short, before that epoch's partial row.
 *
 * Mid-epoch. A checkpoint after step s of epoch E records that s + 1 steps of E are done,
 * with every rank's shard order for E and the epoch's loss sums: the resumed run skips
 * drawing E's order and goes on from step s + 1, so it takes exactly the same batches.
 *
 * Signals. In allreduce and ps every rank runs the same steps, so after each step every
 * rank starts an MPI_Iallreduce (MAX) of its pending signal and completes it after the
 * next step: all ranks learn at the same step that some rank was signalled, at the cost of
 * one 4-byte reduction in flight beside the step (no extra synchronisation). They then
 * write a checkpoint at that step and stop; the epoch gets its partial row, every output
 * is written, and the run exits with GD_EXIT_SIGNAL. In ps-async the workers never meet:
 * each one stops after its current step, the servers stop on their own signal and tell
 * the workers in their next answers, and the checkpoint is written once all ranks have
 * met in the strategy's finish. */
#include "gdmpi/checkpoint.h"

#include "ckpt.h"
#include "gdmpi/error.h"
#include "gdmpi/signals.h"
#include "gdmpi/watchdog.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the config ------------------------------------------------------------------------ */

int gd_checkpoint_key_may_change(const char *section, const char *name)
{
    static const char *const keys[] = {
        "train.epochs", "train.max_steps", "train.max_seconds", "train.resume",
        "train.threads", "data.train", "data.val", "data.io", "parallel.stall_timeout",
        "parallel.slow_ranks", "parallel.slow_factor", "parallel.delay_us",
        "parallel.servers" /* checked as the "servers" attribute: ps may change it (elastic) */};
    char full[2 * GD_NAME_MAX];
    if (!strcmp(section, "output"))
        return 1;
    snprintf(full, sizeof full, "%s.%s", section, name);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(full, keys[i]))
            return 1;
    return 0;
}

size_t gd_checkpoint_config_text(const gd_config *c, char *buf, size_t len)
{
    size_t at = 0;
    char value[GD_PATH_MAX + 32];
    buf[0] = '\0';
    for (size_t i = 0; i < gd_nkeys && at < len; i++) {
        const gd_key *k = &gd_keys[i];
        if (gd_checkpoint_key_may_change(k->section, k->name))
            continue;
        gd_config_format(c, k, value, sizeof value);
        int n = snprintf(buf + at, len - at, "%s.%s = %s\n", k->section, k->name, value);
        at += n > 0 ? (size_t)n : 0;
    }
    return at < len ? at : len - 1;
}

uint64_t gd_checkpoint_hash(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bits */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

/* ---- setup and resume ------------------------------------------------------------------ */

/* Collective. MPI counts are ints: the gathers of the parameters and the shard orders need
 * them. */
static int sizes_fit(const gd_trainer *t, unsigned long long *rows)
{
    *rows = t->train.rows;
    MPI_Allreduce(MPI_IN_PLACE, rows, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, t->comm);
    return t->model.nparams <= INT_MAX && *rows <= INT_MAX;
}

int gd_checkpoint_setup(gd_trainer *t)
{
    const gd_config *c = t->cfg;
    int enabled = t->strategy->state != NULL;
    int asked = c->output.checkpoint_epochs || c->output.checkpoint_steps ||
                strcmp(c->train.resume, "never");
    if (!enabled && asked)
        return gd_fail(GD_ECONFIG, "output.checkpoint_every and train.resume: parallel.mode = %s "
                       "cannot checkpoint (these can: %s)", c->parallel.mode, gd_strategy_checkpointing());
    int rc = GD_OK;
    unsigned long long rows = 0;
    if (enabled && !sizes_fit(t, &rows)) { /* the same branch on every rank */
        enabled = 0; /* a run that asked for nothing trains on, without checkpoint on signal */
        if (asked)
            rc = gd_fail(GD_ECONFIG, "checkpoints: %zu parameters and %llu training rows; both "
                         "must stay below 2^31 (MPI counts)", t->model.nparams, rows);
    }
    gd_ckpt *k = rc ? NULL : gd_alloc(1, sizeof *k, "checkpoint state");
    if (!k)
        return rc ? rc : GD_ERR;
    t->ckpt = k;
    k->enabled = enabled;
    k->every_epochs = c->output.checkpoint_epochs;
    k->every_steps = c->output.checkpoint_steps;
    k->written_step = -1;
    k->check_every = 1;
    k->req = MPI_REQUEST_NULL;
    snprintf(k->path, sizeof k->path, "%s/" GD_CHECKPOINT_FILE, c->output.dir);
    return enabled ? gd_signals_install() : GD_OK;
}

/* Which file train.resume names: "" for a fresh start. auto: the run's own checkpoint when
 * rank 0 sees one (one view, so that the ranks cannot disagree). */
static int resume_path(const gd_trainer *t, char *path, size_t len)
{
    const char *r = t->cfg->train.resume;
    path[0] = '\0';
    if (!strcmp(r, "never"))
        return GD_OK;
    int exists = access(!strcmp(r, "auto") ? t->ckpt->path : r, R_OK) == 0;
    MPI_Bcast(&exists, 1, MPI_INT, 0, t->comm);
    if (!strcmp(r, "auto")) {
        if (exists)
            snprintf(path, len, "%s", t->ckpt->path);
        return GD_OK;
    }
    if (!exists)
        return gd_fail(GD_ECONFIG, "train.resume = '%s': no such checkpoint (auto, never, or the "
                       "path of a checkpoint.h5)", r);
    snprintf(path, len, "%s", r);
    return GD_OK;
}

/* A run resumed at an epoch's end stops at once if the checkpoint's run had nothing left
 * to do under this config (it was the last epoch, or a rule had already said stop). */
static gd_stop_reason stop_at_resume(const gd_trainer *t)
{
    const gd_config *c = t->cfg;
    if (t->ckpt->pos > 0 || t->ctx.serving)
        return GD_STOP_NONE; /* in mid-epoch the epoch's end decides, as it did before */
    if (t->ctx.epoch >= c->train.epochs)
        return GD_STOP_EPOCHS;
    if (c->train.max_steps && t->ctx.step >= c->train.max_steps && !t->strategy->async)
        return GD_STOP_MAX_STEPS;
    if (t->stopping.early.patience > 0 && t->stopping.early.stale >= t->stopping.early.patience)
        return GD_STOP_EARLY;
    if (t->stopping.tol.tol > 0 && t->stopping.tol.calm >= t->stopping.tol.epochs)
        return GD_STOP_TOL;
    return GD_STOP_NONE;
}

void gd_checkpoint_describe_start(const gd_trainer *t, char *buf, size_t len)
{
    const gd_ckpt *k = t->ckpt;
    if (!k || !k->resumed_from[0])
        snprintf(buf, len, "a fresh run (train.resume = %s)", t->cfg->train.resume);
    else if (k->elastic && k->pos > 0)
        snprintf(buf, len, "resuming from %s (written by %ld ranks): epoch %ld, step %ld, its "
                 "unused rows dealt out to the last %ld of its %ld steps", k->resumed_from,
                 k->ranks_then, t->ctx.epoch, t->ctx.step, t->ctx.steps_per_epoch - k->pos,
                 t->ctx.steps_per_epoch);
    else if (k->pos > 0)
        snprintf(buf, len, "resuming from %s: epoch %ld, step %ld (%ld of the epoch's %ld steps "
                 "done)", k->resumed_from, t->ctx.epoch, t->ctx.step, k->pos,
                 t->ctx.steps_per_epoch);
    else if (k->elastic)
        snprintf(buf, len, "resuming from %s (written by %ld ranks): after epoch %ld, step %ld",
                 k->resumed_from, k->ranks_then, t->ctx.epoch, t->ctx.step);
    else
        snprintf(buf, len, "resuming from %s: after epoch %ld, step %ld", k->resumed_from,
                 t->ctx.epoch, t->ctx.step);
}

/* Collective: in a synchronous mode every rank must resume at the same epoch and step, or
 * their collectives would not meet (a damaged file). */
static int same_position(const gd_trainer *t, const char *path)
{
    long v[4] = {t->ctx.epoch, t->ctx.step, -t->ctx.epoch, -t->ctx.step};
    MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_LONG, MPI_MAX, t->comm);
    if (v[0] == -v[2] && v[1] == -v[3])
        return GD_OK;
    return gd_fail(GD_ERR, "%s: the ranks' positions differ (epochs %ld..%ld, steps %ld..%ld): "
                   "the file is damaged", path, -v[2], v[0], -v[3], v[1]);
}

/* Collective, after an elastic load (elastic.c). The step count goes on in the new
 * epochs' steps: the epoch in progress resumes at the step where its remainder starts,
 * so that epoch ends, the schedule (which counts epochs as steps / steps_per_epoch) and
 * the checkpoints stay aligned with the new shards. An asynchronous job's workers start
 * the next epoch afresh, as on any resume of it. */
static int resume_elastic(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    const long per_epoch = t->ctx.steps_per_epoch;
    if (t->strategy->async)
        return GD_OK;
    if (k->pos <= 0) {
        t->ctx.step = t->ctx.epoch * per_epoch;
        return GD_OK;
    }
    long from = 0;
    int rc = gd_elastic_remainder(t, &from);
    t->first_epoch = t->ctx.epoch;
    t->first_step = k->pos = from;
    t->ctx.step = (t->ctx.epoch - 1) * per_epoch + from;
    return rc;
}

/* summary.json's resume history: this resume appended. */
static void record_resume(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    if (k->nresumes >= CK_RESUMES)
        return;
    int64_t *r = k->resumes[k->nresumes++];
    r[0] = k->ranks_then;
    r[1] = t->size;
    r[2] = t->ctx.epoch;
    r[3] = t->ctx.step;
    r[4] = k->elastic;
}

int gd_checkpoint_resume(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    char path[GD_PATH_MAX + 32];
    if (!k || !k->enabled)
        return GD_OK;
    int rc = gd_agree(t->comm, resume_path(t, path, sizeof path));
    if (rc || !path[0])
        return rc;
    rc = gd_agree(t->comm, ckpt_read(t, path));
    if (!rc && k->elastic)
        rc = gd_agree(t->comm, resume_elastic(t));
    if (!rc && !t->strategy->async)
        rc = gd_agree(t->comm, same_position(t, path));
    /* metrics.csv as of the checkpoint: rows a crashed run wrote after it must go */
    if (!rc)
        rc = gd_agree(t->comm, t->rank == 0 ? gd_write_metrics(t) : GD_OK);
    if (rc)
        return rc;
    snprintf(k->resumed_from, sizeof k->resumed_from, "%s", path);
    record_resume(t);
    t->stopping.reason = stop_at_resume(t);
    /* no agreement here: a ps-async worker's resumed() is a round trip with the servers */
    return t->strategy->resumed ? t->strategy->resumed(&t->ctx) : GD_OK;
}

/* ---- during training ------------------------------------------------------------------- */

/* Synchronous modes, every k->check_every steps (the same steps on every rank): the signal
 * reduction started at the last check completes now, and the next one starts (see the top
 * of this file). Returns the agreed signal, or 0. */
static int agreed_signal(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    int sig = 0;
    if (k->steps_timed++ == 0)
        k->t0 = MPI_Wtime();
    if (t->ctx.step % k->check_every)
        return 0;
    if (k->req != MPI_REQUEST_NULL) {
        gd_watchdog_enter("signal agreement", t->ctx.step);
        MPI_Wait(&k->req, MPI_STATUS_IGNORE);
        gd_watchdog_leave();
        sig = k->flag;
    }
    if (!sig) {
        k->flag = gd_signal_pending();
        MPI_Iallreduce(MPI_IN_PLACE, &k->flag, 1, MPI_INT, MPI_MAX, t->comm, &k->req);
    }
    return sig;
}

static void stop_on_signal(gd_trainer *t, int sig)
{
    t->ckpt->signal = sig;
    if (t->stopping.reason == GD_STOP_NONE)
        t->stopping.reason = GD_STOP_SIGNAL;
}

static int write_now(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    int rc = ckpt_write(t);
    if (!rc) {
        k->written++;
        k->written_step = t->ctx.step;
    }
    return rc;
}

/* Rank 0 of an asynchronous job, alone: a failed write ends the job. */
static void write_lone(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    if (ckpt_write_lone(t))
        gd_abort(t->comm, GD_ERR);
    k->written++;
    k->written_step = t->ctx.step;
}

int gd_checkpoint_after_step(gd_trainer *t, long s)
{
    gd_ckpt *k = t->ckpt;
    if (!k || !k->enabled)
        return GD_OK;
    k->pos = s + 1;
    if (t->strategy->async) { /* no collective: this worker stops alone; finish writes */
        int sig = gd_signal_pending();
        if (sig)
            stop_on_signal(t, sig);
        if (t->rank == 0 && !t->ctx.serving && k->every_steps &&
            t->ctx.step % k->every_steps == 0) /* without servers, rank 0 is a worker */
            write_lone(t);
        return GD_OK;
    }
    int sig = agreed_signal(t);
    if (sig)
        stop_on_signal(t, sig);
    int due = k->every_steps && t->ctx.step % k->every_steps == 0;
    int cut = (k->every_steps || k->every_epochs) && s + 1 < t->ctx.steps_per_epoch &&
              (t->stopping.reason != GD_STOP_NONE || t->ctx.step >= t->clock.step_limit);
    return due || sig || cut ? write_now(t) : GD_OK;
}

/* A reduction at every step is noticeable when steps take microseconds: after each epoch
 * the ranks agree (the slowest one's time per step) to look for a signal every K steps, K
 * worth about SIGNAL_CHECK_S of training (1 to 64). */
#define SIGNAL_CHECK_S 0.02

static void plan_signal_checks(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    double per_step = k->steps_timed > 1 ? (MPI_Wtime() - k->t0) / (double)(k->steps_timed - 1)
                                         : 0;
    gd_watchdog_enter("planning the signal checks", t->ctx.step);
    MPI_Allreduce(MPI_IN_PLACE, &per_step, 1, MPI_DOUBLE, MPI_MAX, t->comm);
    gd_watchdog_leave();
    double every = per_step > 0 ? SIGNAL_CHECK_S / per_step : 1;
    k->check_every = every < 1 ? 1 : every > 64 ? 64 : (long)every;
    k->steps_timed = 0;
}

int gd_checkpoint_after_epoch(gd_trainer *t)
{
    gd_ckpt *k = t->ckpt;
    if (!k || !k->enabled)
        return GD_OK;
    if (!t->strategy->async)
        plan_signal_checks(t);
    if (k->pos >= t->ctx.steps_per_epoch)
        k->pos = 0; /* the epoch is whole: a checkpoint now resumes at the next one */
    if (t->strategy->async || k->pos > 0 || k->written_step == t->ctx.step)
        return GD_OK;
    int due = k->every_epochs && t->ctx.epoch % k->every_epochs == 0;
    int last = (k->every_epochs || k->every_steps) && t->stopping.reason != GD_STOP_NONE &&
               t->stopping.reason != GD_STOP_DIVERGED;
    return due || last ? write_now(t) : GD_OK;
}

void gd_checkpoint_server_progress(gd_trainer *t, int row)
{
    gd_ckpt *k = t->ckpt;
    if (!k || !k->enabled || t->rank != 0 || !t->strategy->async)
        return;
    int due = row ? k->every_epochs && t->metrics.nrows % k->every_epochs == 0
                  : k->every_steps && t->ctx.step % k->every_steps == 0;
    if (due)
        write_lone(t);
}

int gd_checkpoint_end(gd_trainer *t, int rc)
{
    gd_ckpt *k = t->ckpt;
    if (!k || !k->enabled)
        return rc;
    if (k->req != MPI_REQUEST_NULL) { /* the reduction after the last check: too late to stop */
        gd_watchdog_enter("signal agreement", t->ctx.step);
        MPI_Wait(&k->req, MPI_STATUS_IGNORE);
        gd_watchdog_leave();
    }
    if (!t->strategy->async)
        return rc;
    int sig = k->signal ? k->signal : gd_signal_pending(); /* a server's is only pending */
    MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, t->comm);
    k->signal = sig;
    if (rc || !(k->every_epochs || k->every_steps || sig))
        return rc;
    return write_now(t);
}

int gd_checkpoint_exit_status(gd_trainer *t, int rc)
{
    gd_ckpt *k = t->ckpt;
    if (rc || !k || t->stopping.reason != GD_STOP_SIGNAL)
        return rc;
    if (k->written == 0)
        return gd_fail(GD_EXIT_SIGNAL, "stopped by %s at epoch %ld, step %ld; no checkpoint was "
                       "written", gd_signal_name(k->signal), t->ctx.epoch, t->ctx.step);
    return gd_fail(GD_EXIT_SIGNAL, "stopped by %s at epoch %ld, step %ld; checkpoint written to "
                   "%s (continue with --set train.resume=auto)", gd_signal_name(k->signal),
                   t->ctx.epoch, t->ctx.step, k->path);
}

/* A JSON string, or null for "". */
/* A path, or null when there is none. */
static void json_path(FILE *f, const char *s)
{
    if (s[0])
        gd_json_string(f, s);
    else
        fprintf(f, "null");
}

void gd_checkpoint_json(const gd_trainer *t, FILE *f)
{
    const gd_ckpt *k = t->ckpt;
    if (!k)
        return;
    fprintf(f, "  \"checkpoint\": {\"every\": \"%s\", \"written\": %ld, \"last_step\": ",
            t->cfg->output.checkpoint_every, k->written);
    if (k->written)
        fprintf(f, "%ld", k->written_step);
    else
        fprintf(f, "null");
    fprintf(f, ", \"path\": ");
    json_path(f, k->written ? k->path : "");
    fprintf(f, ", \"resumed_from\": ");
    json_path(f, k->resumed_from);
    fprintf(f, ", \"resumes\": [");
    for (long i = 0; i < k->nresumes; i++) {
        const int64_t *r = k->resumes[i];
        fprintf(f, "%s{\"from_ranks\": %lld, \"to_ranks\": %lld, \"epoch\": %lld, \"step\": %lld, "
                "\"elastic\": %s}", i ? ", " : "", (long long)r[0], (long long)r[1],
                (long long)r[2], (long long)r[3], r[4] ? "true" : "false");
    }
    fprintf(f, "]},\n");
}

/* The handler stays until the process exits: a rank whose own SIGTERM arrives after the
 * others made it stop (a signal to every rank is never quite simultaneous) must not die
 * of it in MPI_Finalize and turn the job's status 5 into a kill. */
void gd_checkpoint_destroy(gd_trainer *t)
{
    free(t->ckpt);
    t->ckpt = NULL;
}
