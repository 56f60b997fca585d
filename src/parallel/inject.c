/* Straggler and network injection; see include/gdmpi/inject.h for the model. The same
 * profiling-interface wrappers also put every blocking call that its caller does not
 * bracket under the stall watchdog (see include/gdmpi/watchdog.h). */
#include "gdmpi/inject.h"

#include "gdmpi/error.h"
#include "gdmpi/watchdog.h"

#include <errno.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static struct {
    int slow;            /* this rank is a straggler */
    double extra;        /* slow_factor - 1 */
    double delay;        /* seconds per send or collective */
    int armed;
    double slow_owed, delay_owed; /* seconds still to sleep (negative: overshoot credit) */
    gd_inject_totals total;
} inj;

/* Sleeps what is owed, if anything, and returns the seconds actually slept; *owed keeps the
 * difference, so an overshoot (the wake-up latency) is paid back by the next calls. */
static double pay(double *owed, double amount)
{
    *owed += amount;
    if (*owed <= 0)
        return 0;
    double start = MPI_Wtime();
    struct timespec ts = {.tv_sec = (time_t)*owed,
                          .tv_nsec = (long)((*owed - (double)(time_t)*owed) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    double slept = MPI_Wtime() - start;
    *owed -= slept;
    return slept;
}

/* "1,3" (spaces allowed): marks whether `rank` is among them; every entry must be a rank. */
static int parse_slow_ranks(const char *list, int rank, int size)
{
    inj.slow = 0;
    for (const char *p = list; *p;) {
        char *end;
        errno = 0;
        long r = strtol(p, &end, 10);
        while (*end == ' ')
            end++;
        if (end == p || errno || (*end && *end != ','))
            return gd_fail(GD_ECONFIG, "parallel.slow_ranks = '%s': not a comma-separated list "
                           "of ranks (e.g. 1,3)", list);
        if (r < 0 || r >= size)
            return gd_fail(GD_ECONFIG, "parallel.slow_ranks = '%s': rank %ld does not exist "
                           "(this job has ranks 0..%d)", list, r, size - 1);
        inj.slow |= r == rank;
        p = *end ? end + 1 : end;
    }
    return GD_OK;
}

int gd_inject_setup(const gd_config *c, int rank, int size)
{
    memset(&inj, 0, sizeof inj);
    int rc = parse_slow_ranks(c->parallel.slow_ranks, rank, size);
    if (rc)
        return rc;
    inj.extra = c->parallel.slow_factor - 1;
    inj.delay = (double)c->parallel.delay_us * 1e-6;
#ifdef __linux__
    /* the default 50 us timer slack would swamp sleeps of tens of microseconds */
    if ((inj.slow && inj.extra > 0) || inj.delay > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    return GD_OK;
}

void gd_inject_arm(int on) { inj.armed = on; }

void gd_inject_slow(double compute_s)
{
    if (inj.slow && inj.extra > 0)
        inj.total.slow_s += pay(&inj.slow_owed, inj.extra * compute_s);
}

gd_inject_totals gd_inject_totals_get(void) { return inj.total; }

/* The network delay before a send or collective on comm (none within one rank). */
static void delay(MPI_Comm comm)
{
    int size = 1;
    if (!inj.armed || inj.delay <= 0 || comm == MPI_COMM_NULL)
        return;
    PMPI_Comm_size(comm, &size);
    if (size < 2)
        return;
    inj.total.delay_s += pay(&inj.delay_owed, inj.delay);
    inj.total.delays += 1;
}

/* ---- the blocking MPI functions gdmpi calls, through the profiling interface ----
 * Sends and collectives are delayed (parallel.delay_us); every blocking call that the
 * caller does not bracket itself is watched by the stall watchdog (gdmpi/watchdog.h). */

/* Before a blocking call: returns whether the watchdog now watches it, for after(). */
static int before(MPI_Comm comm, const char *what, int peer)
{
    delay(comm);
    return gd_watchdog_enter_call(what, peer);
}

static int after(int watched, int rc)
{
    if (watched)
        gd_watchdog_leave();
    return rc;
}

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm)
{
    int w = before(comm, "MPI_Send", dest);
    return after(w, PMPI_Send(buf, count, type, dest, tag, comm));
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
              MPI_Request *req)
{
    delay(comm);
    return PMPI_Isend(buf, count, type, dest, tag, comm, req);
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
             MPI_Status *status)
{
    int w = gd_watchdog_enter_call("MPI_Recv", source);
    return after(w, PMPI_Recv(buf, count, type, source, tag, comm, status));
}

int MPI_Wait(MPI_Request *req, MPI_Status *status)
{
    int w = gd_watchdog_enter_call("MPI_Wait", -1);
    return after(w, PMPI_Wait(req, status));
}

int MPI_Waitall(int count, MPI_Request reqs[], MPI_Status statuses[])
{
    int w = gd_watchdog_enter_call("MPI_Waitall", -1);
    return after(w, PMPI_Waitall(count, reqs, statuses));
}

int MPI_Allreduce(const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm)
{
    int w = before(comm, "MPI_Allreduce", -1);
    return after(w, PMPI_Allreduce(send, recv, count, type, op, comm));
}

int MPI_Iallreduce(const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op,
                   MPI_Comm comm, MPI_Request *req)
{
    delay(comm);
    return PMPI_Iallreduce(send, recv, count, type, op, comm, req);
}

int MPI_Reduce(const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op, int root,
               MPI_Comm comm)
{
    int w = before(comm, "MPI_Reduce", -1);
    return after(w, PMPI_Reduce(send, recv, count, type, op, root, comm));
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    int w = before(comm, "MPI_Bcast", -1);
    return after(w, PMPI_Bcast(buf, count, type, root, comm));
}

int MPI_Gather(const void *send, int scount, MPI_Datatype stype, void *recv, int rcount,
               MPI_Datatype rtype, int root, MPI_Comm comm)
{
    int w = before(comm, "MPI_Gather", -1);
    return after(w, PMPI_Gather(send, scount, stype, recv, rcount, rtype, root, comm));
}

int MPI_Gatherv(const void *send, int scount, MPI_Datatype stype, void *recv,
                const int rcounts[], const int displs[], MPI_Datatype rtype, int root,
                MPI_Comm comm)
{
    int w = before(comm, "MPI_Gatherv", -1);
    return after(w, PMPI_Gatherv(send, scount, stype, recv, rcounts, displs, rtype, root, comm));
}

int MPI_Allgather(const void *send, int scount, MPI_Datatype stype, void *recv, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm)
{
    int w = before(comm, "MPI_Allgather", -1);
    return after(w, PMPI_Allgather(send, scount, stype, recv, rcount, rtype, comm));
}

int MPI_Barrier(MPI_Comm comm)
{
    int w = before(comm, "MPI_Barrier", -1);
    return after(w, PMPI_Barrier(comm));
}
