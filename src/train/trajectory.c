/* trajectory.csv: the path of a testfn run, one row per optimizer step, so that
 * scripts/plot-trajectories can draw it over the function's contours. Rank 0 (which
 * holds the parameters in the synchronous modes) writes it to a temporary name and
 * renames it when training ends, diverged or not: a path that blows up is worth seeing. */
#include "gdmpi/error.h"
#include "gdmpi/train.h"

#include <errno.h>
#include <string.h>

static void trajectory_paths(const gd_trainer *t, char *tmp, char *path, size_t len)
{
    snprintf(path, len, "%s/trajectory.csv", t->cfg->output.dir);
    snprintf(tmp, len, "%s/trajectory.csv.tmp", t->cfg->output.dir);
}

static double objective(gd_trainer *t)
{
    return t->model.ops->loss_grad(&t->model, NULL, NULL, 1, NULL, NULL);
}

int gd_trajectory_open(gd_trainer *t)
{
    t->trajectory = NULL;
    if (t->rank != 0 || t->serving || !gd_model_is_testfn(t->cfg))
        return GD_OK;
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    trajectory_paths(t, tmp, path, sizeof tmp);
    t->trajectory = fopen(tmp, "w");
    if (!t->trajectory)
        return gd_fail(GD_ERR, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(t->trajectory, "step,x,y,f\n0,%.9g,%.9g,%.9g\n", t->model.w[0], t->model.w[1],
            objective(t));
    return GD_OK;
}

void gd_trajectory_record(gd_trainer *t)
{
    if (t->trajectory)
        fprintf(t->trajectory, "%ld,%.9g,%.9g,%.9g\n", t->step, t->model.w[0], t->model.w[1],
                objective(t));
}

int gd_trajectory_close(gd_trainer *t)
{
    if (!t->trajectory)
        return GD_OK;
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    trajectory_paths(t, tmp, path, sizeof tmp);
    int bad = ferror(t->trajectory);
    int rc = fclose(t->trajectory) != 0 || bad ? gd_fail(GD_ERR, "%s: write failed", tmp)
                                                : gd_commit_file(tmp, path);
    t->trajectory = NULL;
    return rc;
}
