/* steps.csv: a row every output.log_every optimizer steps, for studying the dynamics
 * within an epoch (docs/outputs.md). Rank 0 writes it in the synchronous modes, where it
 * sees the step every rank took; the asynchronous modes refuse the key (plan_roles).
 *
 * It is the one output that grows with the run's length, so it is appended to, not
 * rewritten: rows wait in a fixed buffer of GD_STEPS_BUFFER rows and are written when it
 * fills, at an epoch's end, before a checkpoint and at the end. The step itself only adds
 * two sums and, every N steps, fills a row: no allocation and no I/O per step.
 *
 * Resume: a checkpoint holds the sums since the last row and steps.csv's length when it
 * was written (the buffer is flushed first). A resumed run copies that many bytes of the
 * steps.csv beside its checkpoint, which drops the rows a crashed run appended after it,
 * and appends from there: the file equals an uninterrupted run's but for wall_s. */
#include "ckpt.h"
#include "gdmpi/error.h"
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEPS_FILE "steps.csv"
#define STEPS_HEADER "step,epoch,wall_s,samples,train_loss,lr,grad_norm\n"

enum { SUM_LOSS, SUM_COUNT };

/* Rank 0 writes when the run asks for rows; the other ranks only declare the state. */
static int writes_rows(const gd_trainer *t)
{
    return t->rank == 0 && t->cfg->output.log_every > 0;
}

/* NaN (no samples, no update) is an empty field, as in metrics.csv. */
static void csv_field(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (!isnan(v))
        fprintf(f, fmt, v);
}

static void write_row(FILE *f, const gd_step_row *r)
{
    fprintf(f, "%ld,%ld,%.4f,%.0f", r->step, r->epoch, r->wall, r->samples);
    csv_field(f, r->train_loss, "%.8g");
    csv_field(f, r->lr, "%.8g");
    csv_field(f, r->grad_norm, "%.8g");
    fputc('\n', f);
}

/* Writes the buffered rows; with `durable`, also to the disk (before a checkpoint that
 * records the length). A failed write ends the job: the file would no longer match. */
void gd_steps_flush(gd_trainer *t, int durable)
{
    gd_steps *st = &t->steps;
    if (!st->file)
        return;
    for (int i = 0; i < st->nbuf; i++)
        write_row(st->file, &st->buf[i]);
    st->nbuf = 0;
    long at = fflush(st->file) == 0 && !ferror(st->file) ? ftell(st->file) : -1;
    if (at >= 0 && durable && fsync(fileno(st->file)) != 0)
        at = -1;
    if (at < 0) {
        gd_fail(GD_ERR, "%s/%s: write failed: %s", t->cfg->output.dir, STEPS_FILE,
                strerror(errno));
        gd_abort(t->comm, GD_ERR);
    }
    st->bytes = at;
}

void gd_steps_record(gd_trainer *t)
{
    gd_steps *st = &t->steps;
    if (!st->file)
        return;
    st->sums[SUM_LOSS] += t->ctx.step_loss;
    st->sums[SUM_COUNT] += t->ctx.step_count;
    double sumsq = t->update.sumsq;
    t->update.sumsq = NAN; /* the next step's, if it makes an update */
    if (t->ctx.step % t->cfg->output.log_every)
        return;
    double n = st->sums[SUM_COUNT];
    st->buf[st->nbuf++] = (gd_step_row){.step = t->ctx.step,
                                        .epoch = t->ctx.epoch,
                                        .wall = MPI_Wtime() - t->ctx.t_start,
                                        .samples = t->ctx.samples_seen,
                                        .train_loss = n > 0 ? st->sums[SUM_LOSS] / n : NAN,
                                        .lr = t->ctx.lr,
                                        .grad_norm = sqrt(sumsq)};
    st->sums[SUM_LOSS] = st->sums[SUM_COUNT] = 0;
    if (st->nbuf == GD_STEPS_BUFFER)
        gd_steps_flush(t, 0);
}

/* The steps.csv beside the checkpoint a run resumed from (output.dir's own for auto). */
static void previous_path(const gd_trainer *t, char *path, size_t len)
{
    const char *ck = t->ckpt ? t->ckpt->resumed_from : "";
    const char *slash = strrchr(ck, '/');
    if (!slash)
        snprintf(path, len, "%s/%s", ck[0] ? "." : t->cfg->output.dir, STEPS_FILE);
    else
        snprintf(path, len, "%.*s/%s", (int)(slash - ck), ck, STEPS_FILE);
}

/* Copies the first `bytes` bytes of the previous run's steps.csv to out. */
static int copy_previous(gd_trainer *t, FILE *out, long bytes)
{
    char prev[GD_PATH_MAX + 32], chunk[8192];
    previous_path(t, prev, sizeof prev);
    FILE *in = fopen(prev, "r");
    long left = bytes;
    while (in && left > 0) {
        size_t want = left < (long)sizeof chunk ? (size_t)left : sizeof chunk;
        size_t got = fread(chunk, 1, want, in);
        if (got == 0 || fwrite(chunk, 1, got, out) != got)
            break;
        left -= (long)got;
    }
    if (in)
        fclose(in);
    if (left > 0)
        return gd_fail(GD_ERR, "%s: the checkpoint holds its first %ld bytes, which %s (set "
                       "output.log_every = 0 to resume without steps.csv)", prev, bytes,
                       in ? "it no longer has" : "cannot be read");
    return GD_OK;
}

/* Rank 0: steps.csv as of where the run starts (a fresh header, or the resumed prefix),
 * written to a temporary name and renamed, then opened for appending. */
static int open_file(gd_trainer *t)
{
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    FILE *f = gd_open_tmp(t->cfg->output.dir, STEPS_FILE, tmp, path, sizeof tmp);
    if (!f)
        return GD_ERR;
    int rc = t->steps.bytes > 0 ? copy_previous(t, f, t->steps.bytes) : GD_OK;
    if (!rc && t->steps.bytes == 0)
        fputs(STEPS_HEADER, f);
    if (rc) {
        fclose(f);
        remove(tmp);
        return rc;
    }
    rc = gd_close_and_commit(f, tmp, path);
    if (!rc && !(t->steps.file = fopen(path, "a")))
        rc = gd_fail(GD_ERR, "%s: cannot append: %s", path, strerror(errno));
    return rc;
}

int gd_steps_open(gd_trainer *t)
{
    gd_steps *st = &t->steps;
    if (!writes_rows(t))
        return GD_OK;
    if (!(st->buf = gd_alloc(GD_STEPS_BUFFER, sizeof *st->buf, "steps.csv rows")))
        return GD_ERR;
    if (!(t->ckpt && t->ckpt->resumed_from[0])) /* a fresh run: a fresh file */
        st->bytes = st->sums[SUM_LOSS] = st->sums[SUM_COUNT] = 0;
    int rc = open_file(t);
    if (!rc)
        gd_steps_flush(t, 0); /* the length to record, should no row follow */
    return rc;
}

void gd_steps_close(gd_trainer *t)
{
    gd_steps *st = &t->steps;
    gd_steps_flush(t, 0);
    if (st->file && fclose(st->file) != 0)
        fprintf(stderr, "gdmpi: warning: %s/%s: %s\n", t->cfg->output.dir, STEPS_FILE,
                strerror(errno));
    st->file = NULL;
    free(st->buf);
    st->buf = NULL;
}

void gd_steps_declare(gd_trainer *t, gd_state *s)
{
    _Static_assert(sizeof(long) == sizeof(int64_t), "steps.csv's length is saved as int64");
    gd_state_add(s, GD_STATE_F64, GD_SHARED, t->steps.sums, 2, "steps/sums");
    gd_state_add(s, GD_STATE_I64, GD_SHARED, &t->steps.bytes, 1, "steps/bytes");
}
