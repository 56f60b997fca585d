/* The console of a training run, rank 0 (docs/outputs.md, "Console"): the start-up banner,
 * and on a terminal a progress line that redraws in place ('\r') within the epoch, at
 * most GD_METER_HZ times a second (gdmpi/meter.h). Into a file or a pipe (a batch job,
 * srun) only whole lines go: the banner and the epoch lines; main() makes stdout
 * line-buffered, so each arrives as it is written. */
#include "progress.h"

#include "ckpt.h"
#include "trainer.h"

#include <math.h>
#include <stdio.h>

void gd_progress_duration(char *buf, size_t len, double s)
{
    if (!(s >= 0)) /* NaN too */
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%lds", (long)s); /* truncated, as the minutes: 59.7 is not "60s" */
    else if (s < 3600)
        snprintf(buf, len, "%ldm%02lds", (long)s / 60, (long)s % 60);
    else
        snprintf(buf, len, "%ldh%02ldm", (long)s / 3600, (long)s % 3600 / 60);
}

size_t gd_progress_format(char *buf, size_t len, const gd_progress_figures *p)
{
    char elapsed[32], eta[32];
    gd_progress_duration(elapsed, sizeof elapsed, p->elapsed_s);
    gd_progress_duration(eta, sizeof eta, p->eta_s);
    int n = snprintf(buf, len, "epoch %ld/%ld  step %ld/%ld  elapsed %s  %.0f samples/s  ETA %s",
                     p->epoch, p->epochs, p->step, p->steps, elapsed, p->samples_per_s, eta);
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}

/* ---- the trainer's side --------------------------------------------------------------- */

/* "1 server (rank 0), 3 workers" or "4 workers". */
static void describe_roles(const gd_trainer *t, char *buf, size_t len)
{
    int s = t->ctx.nservers, w = t->size - s;
    if (s == 0)
        snprintf(buf, len, "%d worker%s", w, w == 1 ? "" : "s");
    else if (s == 1)
        snprintf(buf, len, "1 server (rank 0), %d worker%s", w, w == 1 ? "" : "s");
    else
        snprintf(buf, len, "%d servers (ranks 0..%d), %d worker%s", s, s - 1, w,
                 w == 1 ? "" : "s");
}

void gd_console_banner(gd_trainer *t)
{
    gd_console *c = &t->console;
    c->meter.on = t->rank == 0 && gd_stdout_is_terminal();
    c->t0 = MPI_Wtime();
    c->step0 = t->ctx.step;
    c->samples0 = t->ctx.samples_seen;
    if (t->rank != 0)
        return;
    char roles[96], start[GD_PATH_MAX + 128];
    describe_roles(t, roles, sizeof roles);
    gd_checkpoint_describe_start(t, start, sizeof start);
    printf("gdmpi %s: %d rank%s, %s, parallel.mode = %s\n", GDMPI_VERSION, t->size,
           t->size == 1 ? "" : "s", roles, t->cfg->parallel.mode);
    printf("  model   %s, %zu parameters (%zu features, %zu outputs), optimizer %s\n",
           t->model.ops->name, t->model.nparams, t->model.features, t->model.outputs,
           t->optim.ops->name);
    printf("  data    %ld..%ld rows per worker, %ld steps per epoch, %ld epochs\n",
           c->rows_min, c->rows_max, t->ctx.steps_per_epoch, t->cfg->train.epochs);
    if (c->stream_chunk)
        printf("  stream  chunks of %ld rows (%d in memory), a shuffle buffer of %ld rows "
               "(data.memory_mb = %ld)\n", c->stream_chunk, GD_STREAM_SLOTS, c->stream_buffer,
               t->cfg->data.memory_mb);
    printf("  output  %s\n", t->cfg->output.dir);
    printf("  start   %s\n", start);
}

/* The step the run ends at if nothing stops it early (epochs, max_steps, time budget). */
static long last_step(const gd_trainer *t)
{
    double all = (double)t->cfg->train.epochs * (double)t->ctx.steps_per_epoch;
    double last = fmin(all, (double)t->clock.step_limit);
    return last < 9e18 ? (long)last : 0;
}

static gd_progress_figures figures(const gd_trainer *t, long s, double now)
{
    const gd_console *c = &t->console;
    double secs = now - c->t0;
    long done = t->ctx.step - c->step0;
    double per_step = done > 0 ? secs / (double)done : NAN;
    return (gd_progress_figures){.epoch = t->ctx.epoch,
                                 .epochs = t->cfg->train.epochs,
                                 .step = s + 1,
                                 .steps = t->ctx.steps_per_epoch,
                                 .elapsed_s = now - t->ctx.t_start,
                                 .samples_per_s = secs > 0 ? (t->ctx.samples_seen - c->samples0) / secs : 0,
                                 .eta_s = per_step * (double)(last_step(t) - t->ctx.step)};
}

void gd_console_step(gd_trainer *t, long s)
{
    gd_console *c = &t->console;
    double now = MPI_Wtime();
    if (!gd_meter_due(&c->meter, now))
        return;
    char line[160];
    gd_progress_figures p = figures(t, s, now);
    gd_progress_format(line, sizeof line, &p);
    gd_meter_draw(&c->meter, line);
}

void gd_console_clear(gd_trainer *t)
{
    gd_meter_clear(&t->console.meter);
}
