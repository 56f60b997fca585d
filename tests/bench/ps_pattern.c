/* The ps-async message pattern alone (issue 19): rank 0 serves, every other rank works.
 * A worker posts the receive of its reply, sends a push of BYTES and waits for both, STEPS
 * times; the server waits for any push (MPI_Waitany over receives posted in advance), posts
 * that worker's next receive and replies with BYTES (MPI_Isend), as src/parallel/ps_async.c
 * does. It prints each worker's mean step and wait. Built by make (build/bench/ps_pattern)
 * and runs the same under SimGrid's smpirun (smpicc), where it showed that two simulated
 * workers stay in lockstep: docs/scaling.md, "Same time on a real slow network".
 *
 * usage: ps_pattern [BYTES [STEPS [ORDER [TIMELINE]]]]
 *   BYTES     push and reply size (default 31416: softmax's 7,850 floats and a header)
 *   STEPS     round trips per worker (default 400)
 *   ORDER     1: the server's next reply starts when its last one has been received
 *             (MPI_Issend, then wait): replies in order, as gdmpi-sim's ps-async server
 *             sends them where a route's latency is small beside a reply's time on the
 *             link (gdmpi-sim starts the next when the last has left the link);
 *             0 (default): replies as the real server sends them
 *   TIMELINE  a path prefix: each worker writes PREFIX.<rank>, one line per step, the
 *             MPI_Wtime of its push and of its reply's arrival */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { TAG_PUSH = 1, TAG_REPLY = 2 };

static void serve(int workers, int bytes, int steps, int order, char *buf)
{
    MPI_Request *req = malloc(2 * (size_t)workers * sizeof *req);
    if (!req)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (int i = 0; i < workers; i++) {
        MPI_Irecv(buf + (size_t)i * bytes, bytes, MPI_BYTE, i + 1, TAG_PUSH, MPI_COMM_WORLD, &req[i]);
        req[workers + i] = MPI_REQUEST_NULL;
    }
    long left = (long)workers * steps;
    char *reply = buf + (size_t)workers * bytes;
    while (left > 0) {
        int i = MPI_UNDEFINED;
        MPI_Waitany(workers, req, &i, MPI_STATUS_IGNORE);
        if (i == MPI_UNDEFINED)
            break;
        left--;
        /* the worker's next push (after its last one, cancelled below) */
        MPI_Irecv(buf + (size_t)i * bytes, bytes, MPI_BYTE, i + 1, TAG_PUSH, MPI_COMM_WORLD, &req[i]);
        if (order) {
            MPI_Waitall(workers, req + workers, MPI_STATUSES_IGNORE);
            MPI_Issend(reply, bytes, MPI_BYTE, i + 1, TAG_REPLY, MPI_COMM_WORLD, &req[workers + i]);
        } else {
            MPI_Wait(&req[workers + i], MPI_STATUS_IGNORE);
            MPI_Isend(reply, bytes, MPI_BYTE, i + 1, TAG_REPLY, MPI_COMM_WORLD, &req[workers + i]);
        }
    }
    for (int i = 0; i < workers; i++) {
        MPI_Cancel(&req[i]);
        MPI_Wait(&req[i], MPI_STATUS_IGNORE);
    }
    MPI_Waitall(workers, req + workers, MPI_STATUSES_IGNORE);
    free(req);
}

static void work(int rank, int bytes, int steps, const char *timeline, char *buf)
{
    double *t = timeline ? malloc(2 * (size_t)steps * sizeof *t) : NULL;
    double wait = 0, t0 = MPI_Wtime();
    for (int s = 0; s < steps; s++) {
        MPI_Request r[2];
        MPI_Irecv(buf, bytes, MPI_BYTE, 0, TAG_REPLY, MPI_COMM_WORLD, &r[0]);
        MPI_Isend(buf + bytes, bytes, MPI_BYTE, 0, TAG_PUSH, MPI_COMM_WORLD, &r[1]);
        const double a = MPI_Wtime();
        MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
        const double b = MPI_Wtime();
        wait += b - a;
        if (t) {
            t[2 * s] = a;
            t[2 * s + 1] = b;
        }
    }
    const double total = MPI_Wtime() - t0;
    printf("worker %d: %d steps, %.3f ms/step, waiting %.3f ms/step\n", rank, steps,
           1e3 * total / steps, 1e3 * wait / steps);
    if (t) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%d", timeline, rank);
        FILE *f = fopen(path, "w");
        for (int s = 0; f && s < steps; s++)
            fprintf(f, "%.7f %.7f\n", t[2 * s], t[2 * s + 1]);
        if (f)
            fclose(f);
        free(t);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int bytes = argc > 1 ? atoi(argv[1]) : 31416;
    const int steps = argc > 2 ? atoi(argv[2]) : 400;
    const int order = argc > 3 ? atoi(argv[3]) : 0;
    const char *timeline = argc > 4 ? argv[4] : NULL;
    if (size < 2 || bytes < 1 || steps < 1) {
        if (rank == 0)
            fprintf(stderr, "usage: ps_pattern [BYTES [STEPS [ORDER [TIMELINE]]]] on 2 or more ranks\n");
        MPI_Finalize();
        return 2;
    }
    char *buf = calloc((size_t)size + 1, (size_t)bytes);
    if (!buf)
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        serve(size - 1, bytes, steps, order, buf);
    else
        work(rank, bytes, steps, timeline, buf);
    free(buf);
    MPI_Finalize();
    return 0;
}
