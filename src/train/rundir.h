/* The run directory (output.dir) holds one run's outputs, never two runs' mixed. */
#ifndef GDMPI_TRAIN_RUNDIR_H
#define GDMPI_TRAIN_RUNDIR_H

#include "gdmpi/config.h"

#include <mpi.h>

/* Collective, before any data is read: when output.dir holds another run's outputs and the
 * job does not resume (train.resume = never), refuses (GD_ECONFIG, naming the directory
 * and the way out) unless output.overwrite, in which case rank 0 removes those outputs, and
 * only those, first. Every rank returns the same status. */
int gd_rundir_claim(const gd_config *c, MPI_Comm comm);

#endif
