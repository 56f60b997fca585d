/* Run under mpirun: each rank must hold exactly its rows [first, first+count) of the file,
 * split n/p +- 1, for a shared file read with collective MPI-IO and with independent
 * serial reads (data.io), and for per-rank files.
 * usage: mpi_shard SHARED.h5 [PER_RANK_PATTERN_WITH_{rank}] ; rank 0 prints ok/not ok. */
#include "gdmpi/data.h"
#include "gdmpi/error.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

static void report(int good, const char *what)
{
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s - %s (np=%d)\n", good ? "ok" : "not ok", what, size);
}

/* Reads the whole file serially, as the reference. */
static int read_all(const char *path, float **x, float **y, size_t *rows, size_t *cols)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t xs = H5Dopen2(f, "X", H5P_DEFAULT), ys = H5Dopen2(f, "y", H5P_DEFAULT);
    hid_t sp = H5Dget_space(xs);
    hsize_t d[2];
    H5Sget_simple_extent_dims(sp, d, NULL);
    *rows = d[0];
    *cols = d[1];
    *x = malloc(d[0] * d[1] * sizeof(float));
    *y = malloc(d[0] * sizeof(float));
    herr_t rc = H5Dread(xs, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *x);
    rc |= H5Dread(ys, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *y);
    H5Sclose(sp);
    H5Dclose(xs);
    H5Dclose(ys);
    H5Fclose(f);
    return rc < 0 ? -1 : 0;
}

static void check_shared(const char *path, const char *io)
{
    float *x, *y;
    size_t rows, cols;
    char what[128];
    int good = read_all(path, &x, &y, &rows, &cols) == 0;
    good &= gd_data_use_io(io) == GD_OK;
    gd_dataset ds;
    good &= gd_data_load(&ds, path, "X", "y", 1.0, MPI_COMM_WORLD) == GD_OK;
    size_t first, count;
    gd_shard_range(rows, size, rank, &first, &count);
    good &= ds.first_row == first && ds.rows == count && ds.cols == cols && ds.total_rows == rows;
    good &= count == rows / (size_t)size || count == rows / (size_t)size + 1;
    if (good) {
        good &= memcmp(ds.x, x + first * cols, count * cols * sizeof(float)) == 0;
        good &= memcmp(ds.y, y + first, count * sizeof(float)) == 0;
    }
    snprintf(what, sizeof what, "shared file, data.io = %s: each rank holds exactly its rows", io);
    report(good, what);
    unsigned long long total = good ? ds.rows : 0;
    MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    snprintf(what, sizeof what, "shared file, data.io = %s: the shards cover every row once", io);
    report(total == rows, what);
    gd_data_free(&ds);
    free(x);
    free(y);
}

static void check_per_rank(const char *pattern)
{
    char path[512];
    const char *at = strstr(pattern, "{rank}");
    snprintf(path, sizeof path, "%.*s%d%s", (int)(at - pattern), pattern, rank, at + 6);
    float *x, *y;
    size_t rows, cols;
    int good = read_all(path, &x, &y, &rows, &cols) == 0;
    gd_dataset ds;
    good &= gd_data_load(&ds, pattern, "X", "y", 1.0, MPI_COMM_WORLD) == GD_OK;
    good &= ds.rows == rows && ds.cols == cols;
    if (good)
        good &= memcmp(ds.x, x, rows * cols * sizeof(float)) == 0;
    unsigned long long before = 0, mine = rows;
    MPI_Exscan(&mine, &before, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    good &= ds.first_row == (rank ? before : 0);
    report(good, "per-rank files: each rank reads its own file");
    gd_data_free(&ds);
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    check_shared(argv[1], "collective");
    check_shared(argv[1], "independent");
    if (argc > 2)
        check_per_rank(argv[2]);
    MPI_Finalize();
    return 0;
}
