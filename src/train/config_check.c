/* The config checks that need the components: see include/gdmpi/config_check.h. */
#include "gdmpi/config_check.h"

#include "gdmpi/compress.h"
#include "gdmpi/data.h"
#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/parallel.h"
#include "gdmpi/schedule.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

/* Each registry installs the names its config keys accept from a constructor
 * (GD_CONFIG_ACCEPTS), which runs only if the registry's object is linked; from a static
 * archive an object is linked only when one of its symbols is used. Naming the registries
 * here (kept by `used`) links all of them into every program that reads a config through
 * gd_config_from_args, so the parser checks every name whatever else the program uses. */
static const gd_names_fn registries[] __attribute__((used)) = {
    gd_model_names, gd_optim_names, gd_schedule_names, gd_strategy_names, gd_compressor_names};

/* rank 0 of the job (or the only process), once per run. */
static void warn(const char *msg)
{
    int up = 0, rank = 0;
    MPI_Initialized(&up);
    if (up)
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
        fprintf(stderr, "gdmpi: warning: %s\n", msg);
}

/* Values the key ranges allow (torch.optim accepts them too) but that defeat the method. */
static void warn_degenerate(const gd_config *c)
{
    const char *o = c->optimizer.type;
    if (!strcmp(o, "rmsprop") && c->optimizer.decay == 1)
        warn("optimizer.decay = 1: RMSprop's squared-gradient average never leaves 0, so every "
             "step divides the gradient by eps alone");
    if (!strcmp(o, "adadelta") && c->optimizer.rho == 1)
        warn("optimizer.rho = 1: Adadelta's averages never leave 0, so every step is "
             "sqrt(eps) / sqrt(eps) times the gradient: plain SGD at lr");
}

/* What gdmpi-sim cannot simulate is refused by name (docs/simulation.md): the stall
 * watchdog is a thread on the wall clock, and SMPI runs every rank in one process on
 * simulated time; the overlap's bucket reductions would run SMPI's linear non-blocking
 * allreduce. (data.io = collective is gd_data_io_check's: it depends on HDF5.) */
static int check_simulable(const gd_config *c)
{
#ifdef GDMPI_SIM
    if (c->parallel.stall_timeout > 0)
        return gd_fail(GD_ECONFIG, "parallel.stall_timeout = %g: the stall watchdog (a thread "
                       "on the wall clock) cannot run in gdmpi-sim; set it to 0 (the default "
                       "here)", c->parallel.stall_timeout);
    if (!strcmp(c->parallel.overlap, "true"))
        return gd_fail(GD_ECONFIG, "parallel.overlap = true: SMPI's non-blocking allreduce "
                       "sends every bucket to every rank (linear, not Open MPI's algorithm), "
                       "so neither its simulated time nor its cost would be real; gdmpi-sim "
                       "reduces without overlap (auto or false)");
#else
    (void)c;
#endif
    return GD_OK;
}

int gd_stream_check(const gd_config *c, const char *why)
{
    if (!strcmp(c->data.order, "curriculum"))
        return gd_fail(GD_ECONFIG, "%s with data.order = curriculum: the curriculum sorts the "
                       "whole shard by loss every epoch, which needs it in memory (set "
                       "data.stream = false, or another data.order)", why);
    if (!strcmp(c->data.partition, "label-skew"))
        return gd_fail(GD_ECONFIG, "%s with data.partition = label-skew: the skewed split moves "
                       "rows between workers by class, which needs the shards in memory (set "
                       "data.stream = false, or data.partition = contiguous)", why);
    if (c->train.batch_size == 0)
        return gd_fail(GD_ECONFIG, "%s with train.batch_size = full: one batch would hold the "
                       "whole shard in memory (set a batch size, or data.stream = false)", why);
    if (strstr(c->data.train, "{rank}") && !strcmp(c->data.shuffle, "global"))
        return gd_fail(GD_ECONFIG, "%s with data.shuffle = global and one file per rank "
                       "(`{rank}` in data.train): the chunks dealt to the workers are of one "
                       "shared file", why);
    return GD_OK;
}

int gd_config_check(gd_config *c)
{
    int rc = check_simulable(c);
    rc = rc ? rc : gd_data_io_check(c->data.io);
    if (rc)
        return rc;
    const gd_optim_ops *optim = gd_optim_find(c->optimizer.type);
    if (c->optimizer.lr == 0 && optim) /* 0: the optimizer's own default */
        c->optimizer.lr = optim->default_lr;
    if (c->optimizer.eps == 0) /* 0: the optimizer's own default */
        c->optimizer.eps = optim && optim->default_eps > 0 ? optim->default_eps : 1e-8;
    warn_degenerate(c);
    if (!strcmp(c->data.partition, "label-skew") && !strcmp(c->data.shuffle, "global"))
        return gd_fail(GD_ECONFIG, "data.partition = label-skew and data.shuffle = global: the "
                       "global shuffle would undo the skew (choose one)");
    if (!strcmp(c->data.stream, "true") && (rc = gd_stream_check(c, "data.stream = true")))
        return rc;
    if (c->parallel.compress_ratio <= 0)
        return gd_fail(GD_ECONFIG, "parallel.compress_ratio = %g: must be in (0, 1] (the "
                       "fraction of coordinates each rank sends)", c->parallel.compress_ratio);
    if ((rc = gd_momentum_correction_check(c)))
        return rc;
    double start[2]; /* testfn: a bad model.start is refused here, before any training */
    if (gd_model_without_data(c) && c->model.start[0] && gd_testfn_parse_start(c->model.start, start))
        return GD_ECONFIG;
    return GD_OK;
}

/* gd_config_check comes before gd_config_finish, as its rules did inside it before
 * they moved here: a missing data.train (never with testfn) and a bad model.start (only
 * with testfn) exclude each other, and a bad model.start is reported before a bad
 * output.checkpoint_every. */
int gd_config_from_args(gd_config *c, const char *path, int nset, char **sets)
{
    gd_config_defaults(c);
    int rc = gd_config_load(c, path);
    for (int i = 0; !rc && i < nset; i++)
        rc = gd_config_set(c, sets[i]);
    if (!rc)
        rc = gd_config_check(c);
    return rc ? rc : gd_config_finish(c);
}
