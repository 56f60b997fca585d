/* The config checks that need the components: see include/gdmpi/config_check.h. */
#include "gdmpi/config_check.h"

#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/parallel.h"
#include "gdmpi/schedule.h"

/* Each registry installs the names its config keys accept from a constructor
 * (GD_CONFIG_ACCEPTS), which runs only if the registry's object is linked; from a static
 * archive an object is linked only when one of its symbols is used. Naming the registries
 * here (kept by `used`) links all of them into every program that reads a config through
 * gd_config_from_args, so the parser checks every name whatever else the program uses. */
static const gd_names_fn registries[] __attribute__((used)) = {
    gd_model_names, gd_optim_names, gd_schedule_names, gd_strategy_names};

int gd_config_check(gd_config *c)
{
    const gd_optim_ops *optim = gd_optim_find(c->optimizer.type);
    if (c->optimizer.lr == 0 && optim) /* 0: the optimizer's own default */
        c->optimizer.lr = optim->default_lr;
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
