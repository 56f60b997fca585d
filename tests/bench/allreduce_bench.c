/* The communication roofline of an allreduce step: a bare in-place MPI_Allreduce (float
 * sum) of the same count that gdmpi reduces per step (parameters + loss + count), in a
 * tight loop. scripts/bench.sh compares gdmpi's comm time per step with it.
 * usage: mpirun -np P allreduce_bench FLOATS [REPEATS]
 * prints, from rank 0: the mean and the median seconds per call (the slowest rank's), and
 * the largest peak resident set over the ranks in MiB (an MPI process's baseline). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double peak_rss_mb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss / 1024.0 : 0.0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    long n = argc > 1 ? atol(argv[1]) : 0;
    int repeats = argc > 2 ? atoi(argv[2]) : 500;
    float *buf = n > 0 ? calloc((size_t)n, sizeof(float)) : NULL;
    double *t = calloc((size_t)(repeats > 0 ? repeats : 1), sizeof(double));
    if (!buf || !t || repeats < 1) {
        if (rank == 0)
            fprintf(stderr, "usage: allreduce_bench FLOATS [REPEATS]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (int i = 0; i < 20; i++) /* warm-up: connections, buffers */
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < repeats; i++) {
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t[i] = MPI_Wtime() - start;
    }
    MPI_Allreduce(MPI_IN_PLACE, t, repeats, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double rss = peak_rss_mb();
    MPI_Allreduce(MPI_IN_PLACE, &rss, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double sum = 0;
    for (int i = 0; i < repeats; i++)
        sum += t[i];
    qsort(t, (size_t)repeats, sizeof *t, by_value);
    if (rank == 0)
        printf("%.9f %.9f %.1f\n", sum / repeats, t[repeats / 2], rss);
    free(buf);
    free(t);
    MPI_Finalize();
    return 0;
}
