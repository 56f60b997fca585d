/* The per-row predictions of `gdmpi predict` (private to src/model: apply.c computes them,
 * predictions.c gathers and writes them; the file layouts are in docs/outputs.md). */
#ifndef GDMPI_MODEL_PREDICTIONS_H
#define GDMPI_MODEL_PREDICTIONS_H

#include "gdmpi/data.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gd_predictions {
    gd_task task;
    size_t k;      /* values per row: the classes (softmax output), else 1 */
    size_t rows;   /* this rank's rows */
    float *out;    /* rows x k: the class probabilities, the class-1 probability, or the value */
    int32_t *cls;  /* rows: the predicted class (0 for regression, which has none) */
    const char *model_type, *model_path, *data_path; /* recorded in the HDF5 file */
} gd_predictions;

int gd_predictions_alloc(gd_predictions *p, size_t rows);
void gd_predictions_free(gd_predictions *p);

/* Collective: gathers every rank's rows (this rank's start at first_row of total_rows) to
 * rank 0, which writes path atomically: CSV when it ends in .csv, else HDF5. */
int gd_predictions_write(const gd_predictions *p, size_t first_row, size_t total_rows,
                         const char *path, MPI_Comm comm);

#endif
