/* Point-to-point latency and bandwidth between ranks 0 and 1, for scripts/sim-calibrate:
 * the one-way time of a small message (half the best round trip of REPEATS), and the
 * bandwidth of a large one (bytes over the best one-way time, latency included, as a
 * platform's link charges it).
 * usage: mpirun -np 2 pingpong [BIG_BYTES] [REPEATS]
 * prints, from rank 0: "latency_s SECONDS" and "bandwidth_Bps BYTES_PER_SECOND". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* The best round trip of `repeats` of n bytes, rank 0 to rank 1 and back. */
static double best_round_trip(char *buf, int n, int repeats, int rank)
{
    double best = 1e30;
    for (int i = 0; i < repeats; i++) {
        double start = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
        }
        double took = MPI_Wtime() - start;
        best = took < best ? took : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int big = argc > 1 ? atoi(argv[1]) : 4 << 20, repeats = argc > 2 ? atoi(argv[2]) : 200;
    char *buf = big > 0 ? calloc((size_t)big, 1) : NULL;
    if (size < 2 || !buf || repeats < 1) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np 2 pingpong [BIG_BYTES] [REPEATS]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    best_round_trip(buf, 8, 20, rank); /* warm-up: connections, buffers */
    double small = best_round_trip(buf, 8, repeats, rank) / 2;
    double large = best_round_trip(buf, big, repeats / 10 + 1, rank) / 2;
    if (rank == 0) {
        printf("latency_s %.9g\n", small);
        printf("bandwidth_Bps %.9g\n", (double)big / large);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
