/* Using a trained model on a data file (`gdmpi eval`): the model is read on every rank,
 * each rank reads its shard of the data as the model's recorded input says, and the sums
 * are reduced over the ranks. */
#include "gdmpi/error.h"
#include "gdmpi/model.h"

#include <math.h>
#include <stdio.h>

/* The input to read the data with: the recorded one, or the one the caller gives (eval
 * CONFIG: the config's [data]), whose dataset names win. A scale that differs from the
 * recorded one is refused: the model would see other numbers than it was trained on. */
static int resolve_input(const gd_model *m, const char *model_path, const gd_model_input *given,
                         gd_model_input *out)
{
    const gd_model_input *rec = &m->input;
    if (!given && !rec->recorded)
        return gd_fail(GD_ECONFIG, "%s does not record its input (data.scale, data.features, "
                       "data.labels): it was written by an older gdmpi; evaluate it with "
                       "`gdmpi eval CONFIG`, which reads them from the config", model_path);
    if (given && rec->recorded && fabs(given->scale - rec->scale) > 1e-12 * fabs(rec->scale))
        return gd_fail(GD_ECONFIG, "data.scale = %.17g, but %s was trained with data.scale = "
                       "%.17g", given->scale, model_path, rec->scale);
    *out = given ? *given : *rec;
    return GD_OK;
}

/* The data's shape and labels fit the model: as many features, labels in [0, classes). */
static int check_data_fits(const gd_model *m, const gd_dataset *ds, const char *model_path,
                           MPI_Comm comm)
{
    if (ds->cols != m->features)
        return gd_agree(comm, gd_fail(GD_ERR, "%s: %zu features, but the model %s expects %zu",
                                      ds->path, ds->cols, model_path, m->features));
    if (m->ops->task == GD_TASK_REGRESSION)
        return GD_OK;
    return gd_data_check_labels(ds, m->ops->task == GD_TASK_BINARY ? 2 : (long)m->outputs, comm);
}

int gd_model_load_with_data(gd_model *m, gd_dataset *ds, const char *model_path,
                            const char *data_path, const gd_model_input *given, MPI_Comm comm)
{
    gd_model_input in;
    int rc = gd_model_load(m, model_path, 4096);
    if (!rc && (rc = resolve_input(m, model_path, given, &in)))
        gd_model_destroy(m);
    rc = gd_agree(comm, rc);
    if (!rc)
        rc = gd_data_load(ds, data_path, in.features, in.labels, in.scale, comm);
    if (!rc)
        rc = check_data_fits(m, ds, model_path, comm);
    if (rc && m->w) {
        gd_data_free(ds);
        gd_model_destroy(m);
    }
    return rc;
}

int gd_model_eval_files(const char *model_path, const char *data_path,
                        const gd_model_input *given, MPI_Comm comm, FILE *out)
{
    gd_model m = {0};
    gd_dataset ds = {0};
    int rc = gd_model_load_with_data(&m, &ds, model_path, data_path, given, comm);
    if (rc)
        return rc;
    size_t correct = 0;
    double sums[3] = {gd_model_evaluate(&m, ds.x, ds.y, ds.rows, &correct), (double)correct,
                      (double)ds.rows};
    MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_DOUBLE, MPI_SUM, comm);
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        fprintf(out, "loss %.6f\n", sums[0] / sums[2]);
        if (m.ops->task != GD_TASK_REGRESSION)
            fprintf(out, "accuracy %.4f\n", sums[1] / sums[2]);
    }
    gd_data_free(&ds);
    gd_model_destroy(&m);
    return GD_OK;
}
