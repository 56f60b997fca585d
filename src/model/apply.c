/* Using a trained model on a data file (`gdmpi eval`, `gdmpi predict`): the model is read
 * on every rank, each rank reads its shard of the data as the model's recorded input says;
 * eval reduces the sums over the ranks, predict gathers the rows to rank 0
 * (predictions.c writes them). */
#include "gdmpi/error.h"
#include "gdmpi/meter.h"
#include "gdmpi/model.h"
#include "gdmpi/real.h"
#include "predictions.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
        return gd_fail(GD_ECONFIG, "data.scale = %s, but %s was trained with data.scale = %s",
                       gd_real(given->scale).text, model_path, gd_real(rec->scale).text);
    *out = given ? *given : *rec;
    return GD_OK;
}

/* Collective: the data has as many features as the model reads. */
static int check_width(const gd_model *m, const gd_dataset *ds, const char *model_path,
                       MPI_Comm comm)
{
    if (ds->cols != m->features)
        return gd_agree(comm, gd_fail(GD_ERR, "%s: %zu features, but the model %s expects %zu",
                                      ds->path, ds->cols, model_path, m->features));
    return GD_OK;
}

/* The data's shape and labels fit the model: as many features, labels in [0, classes). */
static int check_data_fits(const gd_model *m, const gd_dataset *ds, const char *model_path,
                           MPI_Comm comm)
{
    int rc = check_width(m, ds, model_path, comm);
    if (rc || m->ops->task == GD_TASK_REGRESSION)
        return rc;
    return gd_data_check_labels(ds, m->ops->task == GD_TASK_BINARY ? 2 : (long)m->outputs, comm);
}

/* Collective: the model on every rank and the input to read data with. On this rank's
 * failure the model is freed; on another rank's, the caller frees it (m->w is set). */
static int load_model_input(gd_model *m, const char *model_path, const gd_model_input *given,
                            gd_model_input *in, MPI_Comm comm)
{
    int rc = gd_model_load(m, model_path, 4096);
    if (!rc && (rc = resolve_input(m, model_path, given, in)))
        gd_model_destroy(m);
    return gd_agree(comm, rc);
}

/* After a failed load: frees what this rank loaded (m->w: its model load went through). */
static int release_on_failure(gd_model *m, gd_dataset *ds, int rc)
{
    if (rc && m->w) {
        gd_data_free(ds);
        gd_model_destroy(m);
    }
    return rc;
}

int gd_model_load_with_data(gd_model *m, gd_dataset *ds, const char *model_path,
                            const char *data_path, const gd_model_input *given, MPI_Comm comm)
{
    gd_model_input in;
    int rc = load_model_input(m, model_path, given, &in, comm);
    if (!rc)
        rc = gd_data_load(ds, data_path, in.features, in.labels, in.scale, comm);
    if (!rc)
        rc = check_data_fits(m, ds, model_path, comm);
    return release_on_failure(m, ds, rc);
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

/* Collective: the model and this rank's shard of the data's features (labels are not
 * needed). A model without predictions (testfn) is refused. On failure both are freed. */
static int load_for_predict(gd_model *m, gd_dataset *ds, const char *model_path,
                            const char *data_path, MPI_Comm comm)
{
    gd_model_input in;
    int rc = load_model_input(m, model_path, NULL, &in, comm);
    if (!rc && !m->ops->scores)
        rc = gd_fail(GD_ECONFIG, "%s: a %s model makes no predictions (it has no data)",
                     model_path, m->ops->name);
    if (!rc)
        rc = gd_data_load_features(ds, data_path, in.features, in.scale, comm);
    if (!rc)
        rc = check_width(m, ds, model_path, comm);
    return release_on_failure(m, ds, rc);
}

/* Applies the task's output function to one row of k scores in place (softmax, sigmoid;
 * the identity for regression) and returns the row's class (0 for regression). The class
 * is the largest score, or for one sigmoid output whether it is above 0 (p > 0.5). */
static int32_t finish_row(gd_task task, float *z, size_t k)
{
    if (task == GD_TASK_REGRESSION)
        return 0;
    if (task == GD_TASK_BINARY) {
        int32_t cls = z[0] > 0;
        z[0] = (float)(1.0 / (1.0 + exp(-(double)z[0])));
        return cls;
    }
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (z[j] > z[best])
            best = j;
    double sum = 0, top = z[best]; /* shifted by the largest score: exp never overflows */
    for (size_t j = 0; j < k; j++)
        sum += exp((double)z[j] - top);
    for (size_t j = 0; j < k; j++)
        z[j] = (float)(exp((double)z[j] - top) / sum);
    return (int32_t)best;
}

/* This rank's predictions: the scores in chunks of max_batch rows, then each row finished. */
/* Rank 0 shows its shard's progress on a terminal (the others' run alongside). */
static void predict_shard(gd_model *m, const gd_dataset *ds, gd_predictions *p, int rank)
{
    const size_t k = m->outputs;
    gd_meter meter = {.on = rank == 0 && gd_stdout_is_terminal()};
    for (size_t i = 0; i < ds->rows; i += m->max_batch) {
        size_t rows = ds->rows - i < m->max_batch ? ds->rows - i : m->max_batch;
        m->ops->scores(m, ds->x + i * m->features, rows, p->out + i * k);
        gd_meter_count(&meter, "predict: row", i + rows, ds->rows);
    }
    gd_meter_clear(&meter);
    for (size_t i = 0; i < ds->rows; i++)
        p->cls[i] = finish_row(m->ops->task, p->out + i * k, k);
}

int gd_model_predict_files(const char *model_path, const char *data_path, const char *out_path,
                           MPI_Comm comm, FILE *log)
{
    gd_model m = {0};
    gd_dataset ds = {0};
    int rc = load_for_predict(&m, &ds, model_path, data_path, comm);
    if (rc)
        return rc;
    gd_predictions p = {.task = m.ops->task, .k = m.outputs, .model_type = m.ops->name,
                        .model_path = model_path, .data_path = data_path};
    int rank;
    MPI_Comm_rank(comm, &rank);
    rc = gd_agree(comm, gd_predictions_alloc(&p, ds.rows));
    if (!rc) {
        predict_shard(&m, &ds, &p, rank);
        rc = gd_predictions_write(&p, ds.first_row, ds.total_rows, out_path, comm);
    }
    if (!rc && rank == 0)
        fprintf(log, "wrote %zu predictions to %s\n", ds.total_rows, out_path);
    gd_predictions_free(&p);
    gd_data_free(&ds);
    gd_model_destroy(&m);
    return rc;
}
