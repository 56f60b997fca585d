/* Provenance: what summary.json records about where and how a run was made (the command
 * line, the build, the launcher, the hosts, the times), so that a result can be traced to
 * the binary and the job that produced it. */
#ifndef GDMPI_PROVENANCE_H
#define GDMPI_PROVENANCE_H

#include <mpi.h>
#include <stdio.h>

/* Remembers the process's command line and its launcher (main calls it first, before MPI
 * is initialized, which may change the environment; argv must outlive the run). */
void gd_provenance_record(int argc, char **argv);
/* The git commit the binary was built from (Makefile: GDMPI_COMMIT, with "-dirty" when the
 * tree had uncommitted changes); "unknown" when not built from git. */
const char *gd_build_commit(void);
/* How the ranks were started, from the environment gd_provenance_record saw: "mpirun"
 * (Open MPI's launcher), "srun" (Slurm's direct launch) or "none" (a process started by
 * hand). */
const char *gd_launcher(void);

/* Collective: every rank's host name (MPI_Get_processor_name), gathered on root, in rank
 * order, GD_HOST_MAX characters each; NULL on the other ranks. The caller frees it. */
#define GD_HOST_MAX MPI_MAX_PROCESSOR_NAME
char *gd_gather_hosts(MPI_Comm comm, int root);

/* summary.json's provenance members, each line ending in ",\n": "started" and "ended"
 * (UTC, ISO 8601; the run started job_s seconds ago), "hosts" (the distinct names with
 * their rank counts, in order of first rank), "launcher" and "argv". */
void gd_json_provenance(FILE *f, const char *hosts, int size, double job_s);

#endif
