/* Provenance: the command line, the build, the launcher, the hosts and the times of a run
 * (summary.json). */
#include "gdmpi/provenance.h"

#include "gdmpi/error.h"
#include "gdmpi/fs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The Makefile passes the commit; a build outside git (or by other means) has none. */
#ifndef GDMPI_COMMIT
#define GDMPI_COMMIT "unknown"
#endif

static int recorded_argc;
static char **recorded_argv;
static const char *recorded_launcher = "none";

/* Open MPI's mpirun gives each process the URI of its HNP (itself); a direct launch by
 * srun has no HNP, and Slurm sets SLURM_STEP_ID for the tasks of a step. */
static const char *launcher_from_environment(void)
{
    if (getenv("OMPI_MCA_orte_hnp_uri"))
        return "mpirun";
    if (getenv("SLURM_STEP_ID"))
        return "srun";
    return "none";
}

/* The wall clock. The parentheses keep SMPI's function-like macro (smpi_helpers.h) from
 * turning the call into the simulated clock, whose dates would read 1970 in gdmpi-sim. */
static struct timespec wall_clock(void)
{
    struct timespec now;
    (clock_gettime)(CLOCK_REALTIME, &now);
    return now;
}

static struct timespec recorded_start;

void gd_provenance_record(int argc, char **argv)
{
    recorded_start = wall_clock();
    recorded_argc = argc;
    recorded_argv = argv;
    recorded_launcher = launcher_from_environment();
}

const char *gd_build_commit(void) { return GDMPI_COMMIT[0] ? GDMPI_COMMIT : "unknown"; }

const char *gd_launcher(void) { return recorded_launcher; }

char *gd_gather_hosts(MPI_Comm comm, int root)
{
    int rank, size, len = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char mine[GD_HOST_MAX] = {0};
    MPI_Get_processor_name(mine, &len);
    char *all = rank == root ? gd_alloc((size_t)size, GD_HOST_MAX, "host names") : NULL;
    if (rank == root && !all)
        gd_abort(comm, GD_ERR); /* the others are already in the gather */
    MPI_Gather(mine, GD_HOST_MAX, MPI_CHAR, all, GD_HOST_MAX, MPI_CHAR, root, comm);
    return all;
}

/* A wall-clock time as UTC ISO 8601 with milliseconds: 2024-05-01T12:34:56.789Z. */
static void json_utc(FILE *f, const char *name, struct timespec at)
{
    struct tm utc;
    char text[32];
    gmtime_r(&at.tv_sec, &utc);
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    fprintf(f, "  \"%s\": \"%s.%03ldZ\",\n", name, text, at.tv_nsec / 1000000);
}

/* now - seconds, as a timespec. */
static struct timespec before(struct timespec now, double seconds)
{
    long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec - (long long)(seconds * 1e9);
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000LL), .tv_nsec = ns % 1000000000LL};
}

/* [{"name": h, "ranks": n}, ...]: each distinct name once, at its first rank's place. */
static void json_hosts(FILE *f, const char *hosts, int size)
{
    fprintf(f, "  \"hosts\": [");
    int listed = 0;
    for (int r = 0; hosts && r < size; r++) {
        const char *name = hosts + (size_t)r * GD_HOST_MAX;
        int ranks = 0, seen = 0;
        for (int q = 0; q < size; q++) {
            int same = !strncmp(name, hosts + (size_t)q * GD_HOST_MAX, GD_HOST_MAX);
            ranks += same;
            seen |= same && q < r;
        }
        if (seen)
            continue;
        fprintf(f, "%s{\"name\": ", listed++ ? ", " : "");
        gd_json_string(f, name);
        fprintf(f, ", \"ranks\": %d}", ranks);
    }
    fprintf(f, "],\n");
}

static void json_argv(FILE *f)
{
    fprintf(f, "  \"argv\": [");
    for (int i = 0; i < recorded_argc; i++) {
        fprintf(f, "%s", i ? ", " : "");
        gd_json_string(f, recorded_argv[i]);
    }
    fprintf(f, "],\n");
}

void gd_json_provenance(FILE *f, const char *hosts, int size, double job_s)
{
    const struct timespec now = wall_clock();
    /* the job's start by the wall clock: recorded at startup, or now - job_s (gdmpi-sim's
       job_s is simulated time, so only the recorded one is a date there) */
    json_utc(f, "started", recorded_start.tv_sec ? recorded_start : before(now, job_s));
    json_utc(f, "ended", now);
    json_hosts(f, hosts, size);
    fprintf(f, "  \"launcher\": \"%s\",\n", gd_launcher());
    json_argv(f);
}
