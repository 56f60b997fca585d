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

/* Creates dir and its parents; 0 on success. */
int gd_mkdir_p(const char *dir);
/* The atomic way to write an output: gd_open_tmp opens dir/name.tmp for writing (tmp and
 * path get the two names; NULL with a message on failure); gd_close_and_commit closes it
 * and, if every write went through, puts it in place with gd_commit_file (else removes it). */
FILE *gd_open_tmp(const char *dir, const char *name, char *tmp, char *path, size_t len);
int gd_close_and_commit(FILE *f, const char *tmp, const char *path);
/* Writes s as a JSON string (quotes, escapes). */
void gd_json_string(FILE *f, const char *s);
/* Renames tmp over path after an fsync, so readers see the old file or the whole new one;
 * then syncs the directory, so that the rename survives a crash. */
int gd_commit_file(const char *tmp, const char *path);


/* Version line pieces for --version and summary.json. */
void gd_versions(char *mpi, size_t mpi_len, char *blas, size_t blas_len, char *hdf5,
                 size_t hdf5_len);

#define GDMPI_VERSION "0.1.0"

#endif
