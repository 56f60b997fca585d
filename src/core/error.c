/* Errors and the collective agreement on them (see include/gdmpi/error.h). gd_agree's
 * MPI_Allreduce and MPI_Bcast reach libmpi through the profiling layer (src/pmpi/wrap.c),
 * like every MPI call in gdmpi: under the stall watchdog, and delayed when network delay
 * is injected. No include says so because the wrappers interpose at link time; the
 * Makefile links them into every binary (PMPI_OBJS). */
#include "gdmpi/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char errmsg[GD_ERRMSG_MAX];
static int errset;

int gd_fail(int code, const char *fmt, ...)
{
    if (!errset) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errmsg, sizeof errmsg, fmt, ap);
        va_end(ap);
        errset = 1;
    }
    return code;
}

const char *gd_errmsg(void) { return errset ? errmsg : "unknown error"; }

int gd_fail_prefix(int code, const char *fmt, ...)
{
    char prefix[GD_ERRMSG_MAX], msg[GD_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s", gd_errmsg());
    gd_clear_error();
    return gd_fail(code, "%s: %s", prefix, msg);
}

void gd_clear_error(void)
{
    errset = 0;
    errmsg[0] = '\0';
}

int gd_agree(MPI_Comm comm, int status)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    int worst = status;
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, comm);
    if (worst == GD_OK)
        return GD_OK;
    /* The lowest failing rank speaks for everyone. */
    int first = status != GD_OK ? rank : size;
    MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm);
    char msg[GD_ERRMSG_MAX];
    if (rank == first)
        snprintf(msg, sizeof msg, "%s", gd_errmsg());
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, comm);
    gd_clear_error();
    gd_fail(worst, "%s", msg);
    if (size > 1 && strncmp(msg, "rank ", 5) != 0)
        gd_fail_prefix(worst, "rank %d", first);
    return worst;
}

_Noreturn void gd_abort(MPI_Comm comm, int code)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    fprintf(stderr, "gdmpi: error: rank %d: %s\n", rank, gd_errmsg());
    fflush(stderr);
    MPI_Abort(comm, code);
    exit(code);
}

void *gd_alloc(size_t count, size_t size, const char *what)
{
    if (size && count > SIZE_MAX / size) {
        gd_fail(GD_ERR, "%s: size %zu x %zu overflows", what, count, size);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        gd_fail(GD_ERR, "%s: out of memory allocating %zu bytes", what, count * size);
    return p;
}
