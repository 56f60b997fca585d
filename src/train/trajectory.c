/* trajectory.csv: the path of a testfn run, one row per optimizer step, so that
 * scripts/plot-trajectories can draw it over the function's contours. Rank 0 (which
 * holds the parameters in the synchronous modes) writes it to a temporary name and
 * renames it when training ends, diverged or not: a path that blows up is worth seeing.
 *
 * The rows before the first step are written once the run knows where it starts, at its
 * first step (or at the end when it takes none), since train.resume restores the step
 * after the file is opened: a fresh run writes row 0, the parameters it was opened with;
 * a resumed run copies rows 0..its checkpoint's step from the trajectory.csv beside that
 * checkpoint, so that the file it replaces loses nothing and holds every step once. */
#include "ckpt.h"

#include "gdmpi/error.h"
#include "trainer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Rank 0 of the one trainer in the process: row 0 until it has been placed. */
static struct {
    int pending;
    double x, y, f;
} start_row;

static double objective(gd_trainer *t)
{
    return t->model.ops->loss_grad(&t->model, NULL, NULL, 1, NULL, NULL);
}

/* The trajectory.csv of the run a resume continues: beside its checkpoint (for
 * train.resume = auto, output.dir's own). */
static void previous_path(const gd_trainer *t, char *path, size_t len)
{
    const char *ck = t->ckpt && t->ckpt->resumed_from[0] ? t->ckpt->resumed_from : "";
    const char *slash = strrchr(ck, '/');
    if (!ck[0])
        snprintf(path, len, "%s/trajectory.csv", t->cfg->output.dir);
    else if (slash)
        snprintf(path, len, "%.*s/trajectory.csv", (int)(slash - ck), ck);
    else
        snprintf(path, len, "trajectory.csv");
}

/* A resumed run: rows 0..upto of the previous file, each step once and in order. A
 * missing file or missing rows are a warning: the path is still drawn from what there is. */
static void copy_previous(gd_trainer *t, long upto)
{
    char prev[GD_PATH_MAX + 32], line[256];
    previous_path(t, prev, sizeof prev);
    FILE *in = fopen(prev, "r");
    if (!in) {
        fprintf(stderr, "gdmpi: warning: trajectory.csv: cannot read %s (%s), so the run's "
                "steps 0..%ld before the resume are not in it: it starts at step %ld\n",
                prev, strerror(errno), upto, upto + 1);
        return;
    }
    long next = 0, found = 0;
    while (fgets(line, sizeof line, in)) {
        char *end;
        long s = strtol(line, &end, 10);
        if (end == line || *end != ',' || s < next) /* the header, junk, a repeated step */
            continue;
        if (s > upto)
            break;
        fputs(line, t->trajectory);
        next = s + 1;
        found++;
    }
    fclose(in);
    if (found != upto + 1)
        fprintf(stderr, "gdmpi: warning: trajectory.csv: %s has %ld of the rows of steps 0..%ld "
                "before the resume; the others are missing\n", prev, found, upto);
}

/* Places the rows before step first + 1. */
static void write_start(gd_trainer *t, long first)
{
    start_row.pending = 0;
    if (first > 0)
        copy_previous(t, first);
    else
        fprintf(t->trajectory, "0,%.9g,%.9g,%.9g\n", start_row.x, start_row.y, start_row.f);
}

int gd_trajectory_open(gd_trainer *t)
{
    t->trajectory = NULL;
    start_row.pending = 0;
    if (t->rank != 0 || t->ctx.serving || !gd_model_without_data(t->cfg))
        return GD_OK;
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    t->trajectory = gd_open_tmp(t->cfg->output.dir, "trajectory.csv", tmp, path, sizeof tmp);
    if (!t->trajectory)
        return GD_ERR;
    fputs("step,x,y,f\n", t->trajectory);
    start_row.x = t->model.w[0];
    start_row.y = t->model.w[1];
    start_row.f = objective(t);
    start_row.pending = 1;
    return GD_OK;
}

void gd_trajectory_record(gd_trainer *t)
{
    if (!t->trajectory)
        return;
    if (start_row.pending)
        write_start(t, t->ctx.step - 1); /* once: the step this run started from */
    fprintf(t->trajectory, "%ld,%.9g,%.9g,%.9g\n", t->ctx.step, t->model.w[0], t->model.w[1],
            objective(t));
}

int gd_trajectory_close(gd_trainer *t, int failed)
{
    if (!t->trajectory)
        return GD_OK;
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/trajectory.csv", t->cfg->output.dir);
    snprintf(tmp, sizeof tmp, "%s/trajectory.csv.tmp", t->cfg->output.dir); /* gd_open_tmp's */
    if (failed && start_row.pending) { /* failed before any step (a refused resume): the
                                          trajectory.csv already there stays as it was */
        fclose(t->trajectory);
        t->trajectory = NULL;
        remove(tmp);
        return GD_OK;
    }
    if (start_row.pending)
        write_start(t, t->ctx.step); /* no step taken: a resume with nothing left to do */
    int rc = gd_close_and_commit(t->trajectory, tmp, path);
    t->trajectory = NULL;
    return rc;
}
