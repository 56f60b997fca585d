/* Training: gd_train runs a whole job (docs/design.md, "One training step, as data").
 * The trainer itself is private to src/train/ (trainer.h); the strategies see it only
 * through the step context (gdmpi/step.h). */
#ifndef GDMPI_TRAIN_H
#define GDMPI_TRAIN_H

#include "gdmpi/config.h"

#include <mpi.h>
#include <stdio.h>

/* Runs a whole training job, collectively over comm. Returns the exit status. */
int gd_train(const gd_config *cfg, MPI_Comm comm);

/* What a run of cfg would say of its output.dir, without MPI and without touching it:
 * GD_OK, with *verdict "fresh", "resume" or "overwrite", or the refusal gd_train would
 * give (another run's outputs there, no overwrite, no resume). For `gdmpi config --check`. */
int gd_train_check_outputs(const gd_config *cfg, const char **verdict);

/* The atomic file helpers every output uses (core). */
#include "gdmpi/fs.h"

/* Version line pieces for --version and summary.json. */
void gd_versions(char *mpi, size_t mpi_len, char *blas, size_t blas_len, char *hdf5,
                 size_t hdf5_len);

#define GDMPI_VERSION "0.1.0"

#endif
