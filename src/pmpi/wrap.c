/* The profiling layer (PMPI): gdmpi's own definitions of the blocking MPI functions it
 * calls, and of the non-blocking starts that the network delay applies to. Each one does
 * what every caller would otherwise have to do around the call, then calls its PMPI_ twin:
 *   - sends and collectives first pay the injected network delay (parallel.delay_us,
 *     gdmpi/inject.h), on a communicator of more than one rank, while training;
 *   - every call that can wait for another rank is put under the stall watchdog
 *     (gd_watchdog_enter_call / gd_watchdog_leave, gdmpi/watchdog.h) unless its caller
 *     brackets it itself.
 * Every layer's MPI calls come through here, core's too (error.c's gd_agree): the
 * definitions below interpose on libmpi's at link time; no header declares them.
 *
 * Linking. This file is not in libgdmpi.a: the Makefile links its object, like main.o,
 * into the gdmpi binary and into every test and bench binary (PMPI_OBJS). An object named
 * on the link line is always linked whole, whatever the order, while an archive member is
 * linked only if it resolves a symbol still undefined when the archive is scanned (with
 * the wrappers in the archive, a program whose only MPI_Allreduce call sits in a library
 * or object after it would silently get libmpi's). The executable's definitions then come
 * first in the dynamic symbol lookup, ahead of libmpi.so's, so they win. Rule for a new
 * MPI call in src/: tests/e2e/layers.sh lists every MPI function src/ uses and fails on a
 * blocking one that has no wrapper here (the rule is written down there). */
#include "gdmpi/inject.h"
#include "gdmpi/watchdog.h"
#include "send_queue.h"

#include <mpi.h>

/* gdmpi-sim: a send waits its turn on the host's link (send_queue.h; nothing otherwise). */
static void queue_send(int count, MPI_Datatype type)
{
    int size = 0;
    PMPI_Type_size(type, &size);
    gd_send_queue((size_t)count * (size_t)size);
}

/* Before a blocking call: returns whether the watchdog now watches it, for after(). */
static int before(MPI_Comm comm, const char *what, int peer)
{
    gd_inject_delay(comm);
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
    queue_send(count, type);
    return after(w, PMPI_Send(buf, count, type, dest, tag, comm));
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
              MPI_Request *req)
{
    gd_inject_delay(comm);
    queue_send(count, type);
    return PMPI_Isend(buf, count, type, dest, tag, comm, req);
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
             MPI_Status *status)
{
    int w = gd_watchdog_enter_call("MPI_Recv", source);
    return after(w, PMPI_Recv(buf, count, type, source, tag, comm, status));
}

int MPI_Waitany(int count, MPI_Request reqs[], int *index, MPI_Status *status)
{
    int w = gd_watchdog_enter_call("MPI_Waitany", -1);
    return after(w, PMPI_Waitany(count, reqs, index, status));
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
    gd_inject_delay(comm);
#ifdef GDMPI_SIM
    /* gdmpi-sim: SMPI's non-blocking collectives are linear (each rank sends its buffer to
     * every other: p^2 messages, and a wait scans its 2(p - 1) requests over and over), so
     * that np = 256 spun for minutes in SimGrid's waitany. What gdmpi-sim still starts are
     * small reductions (the loss and count sums, the signal flag; overlap is off there)
     * whose wait follows soon, and hogwild's averaging rounds between groups (which then
     * wait for the slowest leader, as a blocking round would): the blocking allreduce, log
     * p rounds under the ompi selector, runs now and the request is complete at once. */
    *req = MPI_REQUEST_NULL;
    return PMPI_Allreduce(send, recv, count, type, op, comm);
#else
    return PMPI_Iallreduce(send, recv, count, type, op, comm, req);
#endif
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

int MPI_Alltoall(const void *send, int scount, MPI_Datatype stype, void *recv, int rcount,
                 MPI_Datatype rtype, MPI_Comm comm)
{
    int w = before(comm, "MPI_Alltoall", -1);
    return after(w, PMPI_Alltoall(send, scount, stype, recv, rcount, rtype, comm));
}

int MPI_Alltoallv(const void *send, const int scounts[], const int sdispls[], MPI_Datatype stype,
                  void *recv, const int rcounts[], const int rdispls[], MPI_Datatype rtype,
                  MPI_Comm comm)
{
    int w = before(comm, "MPI_Alltoallv", -1);
    return after(w, PMPI_Alltoallv(send, scounts, sdispls, stype, recv, rcounts, rdispls, rtype,
                                   comm));
}

int MPI_Barrier(MPI_Comm comm)
{
    int w = before(comm, "MPI_Barrier", -1);
    return after(w, PMPI_Barrier(comm));
}

int MPI_Exscan(const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op,
               MPI_Comm comm)
{
    int w = before(comm, "MPI_Exscan", -1);
    return after(w, PMPI_Exscan(send, recv, count, type, op, comm));
}
