/* Run under mpirun -np 2 as `mpi_watchdog CALL [off]`: the stall watchdog watches every
 * blocking MPI call that no gd_watchdog_enter brackets, through gdmpi's profiling layer.
 * Rank 0 starts the watchdog (0.2 s) and makes CALL at once; rank 1 joins it 2 s later.
 *   - watched (the default): rank 0's watchdog ends the job, naming CALL; the calling
 *     script checks the line.
 *   - `off` (gd_watchdog_watch_calls(0), as an asynchronous rank trains): the call waits
 *     unwatched and completes; rank 0 prints ok. */
#include "gdmpi/watchdog.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { BIG = 1 << 20 }; /* floats: a send this large waits for its receiver */
static float big[BIG];

/* CALL between rank 0 and rank 1; both ranks make it (rank 1 late). Returns 0 for an
 * unknown name. */
static int make_call(const char *call, int rank)
{
    int other = 1 - rank, one = rank, many[2];
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    if (!strcmp(call, "MPI_Barrier"))
        MPI_Barrier(MPI_COMM_WORLD);
    else if (!strcmp(call, "MPI_Allreduce"))
        MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    else if (!strcmp(call, "MPI_Reduce"))
        MPI_Reduce(rank ? &one : MPI_IN_PLACE, &one, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    else if (!strcmp(call, "MPI_Bcast"))
        MPI_Bcast(&one, 1, MPI_INT, 1, MPI_COMM_WORLD);
    else if (!strcmp(call, "MPI_Gather"))
        MPI_Gather(&one, 1, MPI_INT, many, 1, MPI_INT, 0, MPI_COMM_WORLD);
    else if (!strcmp(call, "MPI_Gatherv")) {
        int counts[2] = {1, 1}, displs[2] = {0, 1};
        MPI_Gatherv(&one, 1, MPI_INT, many, counts, displs, MPI_INT, 0, MPI_COMM_WORLD);
    } else if (!strcmp(call, "MPI_Allgather"))
        MPI_Allgather(&one, 1, MPI_INT, many, 1, MPI_INT, MPI_COMM_WORLD);
    else if (!strcmp(call, "MPI_Send") || !strcmp(call, "MPI_Recv")) {
        int sender = !strcmp(call, "MPI_Send") ? 0 : 1; /* rank 0 makes CALL */
        if (rank == sender)
            MPI_Send(big, BIG, MPI_FLOAT, other, 0, MPI_COMM_WORLD);
        else
            MPI_Recv(big, BIG, MPI_FLOAT, other, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (!strcmp(call, "MPI_Wait") || !strcmp(call, "MPI_Waitall")) {
        if (rank == 1)
            MPI_Send(&one, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);
        else {
            MPI_Irecv(&one, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &req[0]);
            if (!strcmp(call, "MPI_Wait"))
                MPI_Wait(&req[0], MPI_STATUS_IGNORE);
            else
                MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
        }
    } else
        return 0;
    return 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2 || size != 2) {
        if (rank == 0)
            printf("not ok - mpi_watchdog: usage: mpirun -np 2 mpi_watchdog CALL [off]\n");
        MPI_Finalize();
        return 1;
    }
    const char *call = argv[1];
    int off = argc > 2 && !strcmp(argv[2], "off");
    if (rank == 0) {
        gd_watchdog_start(0.2, 0);
        gd_watchdog_watch_calls(!off);
    } else
        sleep(2);
    int known = make_call(call, rank);
    gd_watchdog_stop();
    if (rank == 0)
        printf("%s - stall watchdog, %s %s: %s\n", known && off ? "ok" : "not ok", call,
               off ? "unwatched" : "watched",
               !known ? "unknown call" : off ? "completes" : "was not reported");
    MPI_Finalize();
    return 0;
}
