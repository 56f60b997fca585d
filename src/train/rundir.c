/* The run directory: a fresh run starts from a directory without another run's outputs,
 * so that no stale trace.json, steps.csv or checkpoint.h5 is read as this run's. */
#include "rundir.h"

#include "gdmpi/checkpoint.h"
#include "gdmpi/error.h"
#include "gdmpi/train.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Every file a training run writes into output.dir (each also as NAME.tmp while it is
 * written); the only files an overwrite removes. */
static const char *const run_outputs[] = {
    "model.h5",   "metrics.csv",    "summary.json",     "trace.json",
    "steps.csv",  "trajectory.csv", GD_CHECKPOINT_FILE,
};
#define NOUTPUTS (sizeof run_outputs / sizeof run_outputs[0])

static void output_path(const gd_config *c, const char *name, const char *suffix, char *path,
                        size_t len)
{
    snprintf(path, len, "%s/%s%s", c->output.dir, name, suffix);
}

/* The names of the run outputs present in output.dir, comma-separated ("" if none). */
static void outputs_present(const gd_config *c, char *names, size_t len)
{
    char path[GD_PATH_MAX + 32];
    names[0] = '\0';
    for (size_t i = 0; i < NOUTPUTS; i++) {
        output_path(c, run_outputs[i], "", path, sizeof path);
        if (access(path, F_OK) == 0)
            snprintf(names + strlen(names), len - strlen(names), "%s%s", names[0] ? ", " : "",
                     run_outputs[i]);
    }
}

static int remove_if_there(const char *path)
{
    if (remove(path) != 0 && errno != ENOENT)
        return gd_fail(GD_ERR, "output.overwrite: cannot remove %s: %s", path, strerror(errno));
    return GD_OK;
}

static int remove_outputs(const gd_config *c)
{
    char path[GD_PATH_MAX + 32];
    int rc = GD_OK;
    for (size_t i = 0; i < NOUTPUTS && !rc; i++) {
        output_path(c, run_outputs[i], "", path, sizeof path);
        rc = remove_if_there(path);
        output_path(c, run_outputs[i], ".tmp", path, sizeof path);
        rc = rc ? rc : remove_if_there(path);
    }
    return rc;
}

/* The verdict on output.dir: a resume continues the run in the directory and keeps its
 * files; an overwrite replaces another run's outputs; else there must be none. */
static int verdict(const gd_config *c, const char **what)
{
    *what = "resume";
    if (strcmp(c->train.resume, "never"))
        return GD_OK;
    char found[256];
    outputs_present(c, found, sizeof found);
    *what = found[0] ? "overwrite" : "fresh";
    if (!found[0] || c->output.overwrite)
        return GD_OK;
    int resumable = strstr(found, GD_CHECKPOINT_FILE) != NULL;
    return gd_fail(GD_ECONFIG, "output.dir = '%s' holds another run's outputs (%s): pass "
                   "--set output.overwrite=true to replace them, or train into a new output.dir%s",
                   c->output.dir, found,
                   resumable ? " (--set train.resume=auto continues that run)" : "");
}

static int claim_on_rank0(const gd_config *c)
{
    const char *what;
    int rc = verdict(c, &what);
    return rc == GD_OK && !strcmp(what, "overwrite") ? remove_outputs(c) : rc;
}

int gd_train_check_outputs(const gd_config *c, const char **what)
{
    return verdict(c, what);
}

int gd_rundir_claim(const gd_config *c, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    return gd_agree(comm, rank == 0 ? claim_on_rank0(c) : GD_OK);
}
