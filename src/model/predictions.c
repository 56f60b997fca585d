/* Writing `gdmpi predict`'s output. The ranks' rows are gathered to rank 0, which writes
 * one file through a temporary name: the predictions are small beside the features they
 * come from (k + 1 numbers a row against the data's D), and one serial writer keeps the
 * CSV and the HDF5 file on the same path (docs/outputs.md). */
#include "predictions.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/fs.h"
#include "gdmpi/h5util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gd_predictions_alloc(gd_predictions *p, size_t rows)
{
    p->rows = rows;
    p->out = gd_alloc(rows, p->k * sizeof(float), "predictions");
    p->cls = p->out ? gd_alloc(rows, sizeof(int32_t), "predicted classes") : NULL;
    return p->cls ? GD_OK : GD_ERR;
}

void gd_predictions_free(gd_predictions *p)
{
    free(p->out);
    free(p->cls);
    p->out = NULL;
    p->cls = NULL;
}

static const char *task_name(gd_task task)
{
    return task == GD_TASK_REGRESSION ? "regression" : task == GD_TASK_BINARY ? "binary" : "classes";
}

/* HDF5: class (int32, rows) and probability (float32, rows x k, or rows for binary) for
 * classifiers; value (float32, rows) for regression; attributes say what produced them. */
static int write_h5_sets(const gd_predictions *all, hid_t f)
{
    if (all->task == GD_TASK_REGRESSION)
        return gd_h5_write(f, "value", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, all->out, all->rows, 0);
    int rc = gd_h5_write(f, "class", H5T_STD_I32LE, H5T_NATIVE_INT32, all->cls, all->rows, 0);
    size_t cols = all->task == GD_TASK_BINARY ? 0 : all->k;
    return rc ? rc
              : gd_h5_write(f, "probability", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, all->out,
                            all->rows, cols);
}

static int write_h5_attrs(const gd_predictions *all, hid_t f)
{
    long classes = all->task == GD_TASK_REGRESSION ? 0
                   : all->task == GD_TASK_BINARY   ? 2
                                                   : (long)all->k;
    int rc = gd_h5_attr_string(f, "format", "gdmpi predictions");
    if (!rc)
        rc = gd_h5_attr_string(f, "task", task_name(all->task));
    if (!rc)
        rc = gd_h5_attr_long(f, "classes", classes);
    if (!rc)
        rc = gd_h5_attr_string(f, "model_type", all->model_type);
    if (!rc)
        rc = gd_h5_attr_string(f, "model", all->model_path);
    if (!rc)
        rc = gd_h5_attr_string(f, "data", all->data_path);
    return rc;
}

static int write_h5(const gd_predictions *all, const char *path)
{
    gd_h5_quiet();
    hid_t f = gd_h5_create_tmp(path);
    if (f < 0)
        return GD_ERR;
    int rc = write_h5_sets(all, f);
    if (!rc)
        rc = write_h5_attrs(all, f);
    if (rc) {
        gd_h5_discard(f, path);
        return gd_h5_blame_file(path, rc);
    }
    return gd_h5_commit(f, path);
}

/* CSV: a header, then one line a row: class,p0,...,p{k-1}; class,p1 (binary); value. */
static void write_csv_rows(const gd_predictions *all, FILE *f)
{
    if (all->task == GD_TASK_REGRESSION)
        fputs("value\n", f);
    else if (all->task == GD_TASK_BINARY)
        fputs("class,p1\n", f);
    else {
        fputs("class", f);
        for (size_t j = 0; j < all->k; j++)
            fprintf(f, ",p%zu", j);
        fputc('\n', f);
    }
    for (size_t i = 0; i < all->rows; i++) {
        const char *sep = "";
        if (all->task != GD_TASK_REGRESSION) {
            fprintf(f, "%d", (int)all->cls[i]);
            sep = ",";
        }
        for (size_t j = 0; j < all->k; j++, sep = ",") /* %.9g: every float32 round-trips */
            fprintf(f, "%s%.9g", sep, all->out[i * all->k + j]);
        fputc('\n', f);
    }
}

static int write_csv(const gd_predictions *all, const char *path)
{
    char tmp[GD_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return gd_fail(GD_ERR, "%s: cannot write", tmp);
    write_csv_rows(all, f);
    return gd_close_and_commit(f, tmp, path);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Rank 0 receives every rank's rows at their global offsets: the classes (one a row),
 * then the k values a row. The counts are ints: the caller keeps rows x k within one. */
static int gather_rows(const gd_predictions *p, size_t first_row, gd_predictions *all,
                       MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int rows = (int)p->rows, first = (int)first_row, k = (int)p->k;
    int *counts = rank == 0 ? gd_alloc((size_t)size, 2 * sizeof(int), "gather counts") : NULL;
    if (gd_agree(comm, rank == 0 && !counts ? GD_ERR : GD_OK))
        return GD_ERR;
    int *displs = counts ? counts + size : NULL;
    MPI_Gather(&rows, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    MPI_Gather(&first, 1, MPI_INT, displs, 1, MPI_INT, 0, comm);
    MPI_Gatherv(p->cls, rows, MPI_INT32_T, all->cls, counts, displs, MPI_INT32_T, 0, comm);
    for (int r = 0; rank == 0 && r < size; r++) { /* rows to floats */
        counts[r] *= k;
        displs[r] *= k;
    }
    MPI_Gatherv(p->out, rows * k, MPI_FLOAT, all->out, counts, displs, MPI_FLOAT, 0, comm);
    free(counts);
    return GD_OK;
}

int gd_predictions_write(const gd_predictions *p, size_t first_row, size_t total_rows,
                         const char *path, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (total_rows > INT_MAX / p->k) /* MPI's counts are ints */
        return gd_fail(GD_ERR, "%s: %zu rows of %zu values; predict writes at most %d values",
                       path, total_rows, p->k, INT_MAX);
    gd_predictions all = *p;
    all.out = NULL;
    all.cls = NULL;
    int rc = gd_agree(comm, rank == 0 ? gd_predictions_alloc(&all, total_rows) : GD_OK);
    if (!rc)
        rc = gather_rows(p, first_row, &all, comm);
    if (!rc && rank == 0)
        rc = ends_with(path, ".csv") ? write_csv(&all, path) : write_h5(&all, path);
    gd_predictions_free(&all);
    return gd_agree(comm, rc);
}
