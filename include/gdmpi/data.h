/* Data: each rank holds its own contiguous row range of an HDF5 data set. */
#ifndef GDMPI_DATA_H
#define GDMPI_DATA_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct gd_dataset {
    float *x;          /* rows x cols, row-major, already scaled; NULL when x8 holds them */
    uint8_t *x8;       /* rows x cols unscaled bytes (gd_data_load_compact of unsigned 8-bit
                          features: a quarter of the memory), else NULL; gd_data_copy_row
                          converts a row */
    float scale;       /* data.scale: the row of x8 as floats is x8 * scale */
    float *y;          /* rows targets, or class labels stored as exact integers */
    size_t rows;       /* this rank's rows */
    size_t cols;
    size_t first_row;  /* global index of this rank's first row */
    size_t total_rows; /* over all ranks */
    char path[1024];   /* the file this rank read */
    int stored_u8;     /* the file's features are unsigned 8-bit integers */
} gd_dataset;

/* Rows [first, first+count) of n for rank r of p: n/p each, the first n%p ranks one more. */
void gd_shard_range(size_t n, int p, int r, size_t *first, size_t *count);

/* data.io: how gd_data_load reads a shared file from here on in this process: "collective"
 * (parallel HDF5, one collective MPI-IO read; the default where HDF5 has MPI-IO) or
 * "independent" (each rank opens the file with serial HDF5 and reads its own rows; the
 * default otherwise, e.g. in gdmpi-sim). gd_data_io_check only says whether this build can
 * (GD_ECONFIG with a message if not); gd_data_use_io checks and chooses. */
int gd_data_io_check(const char *io);
int gd_data_use_io(const char *io);

/* Collective over comm. Reads this rank's shard of xname/yname from path (with
 * `{rank}` in the path: one whole file per rank, else its rows of the shared file, as
 * gd_data_use_io chose), scales the features, and checks shapes, finiteness and
 * the row count. All ranks return the same status and message. */
int gd_data_load(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                 double scale, MPI_Comm comm);

/* Collective: gd_data_load without labels (`gdmpi predict`): the file needs only xname;
 * y is all zeros. */
int gd_data_load_features(gd_dataset *ds, const char *path, const char *xname, double scale,
                          MPI_Comm comm);

/* gd_data_load, except that features stored as unsigned integers of 8 bits stay bytes in
 * memory (ds->x8, ds->x NULL) and are scaled row by row by gd_data_copy_row. For a training
 * shard that is read once per epoch; float features load as with gd_data_load. */
int gd_data_load_compact(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                         double scale, MPI_Comm comm);

/* Collective: gd_data_load's checks and shard, but only the labels are read (x and x8 stay
 * NULL): what a streamed shard (gdmpi/stream.h) needs before training, for the label checks. */
int gd_data_load_labels(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                        double scale, MPI_Comm comm);

/* Row r of the shard as floats, scaled (x8 * scale in float, the same value gd_data_load
 * would hold), into out[0..cols). */
void gd_data_copy_row(const gd_dataset *ds, size_t r, float *out);

/* Collective: checks every label is an integer in [0, classes); names the first bad row. */
int gd_data_check_labels(const gd_dataset *ds, long classes, MPI_Comm comm);

/* Collective: the largest label + 1 over all ranks. */
long gd_data_count_classes(const gd_dataset *ds, MPI_Comm comm);

/* Collective over comm: moves this rank's row i to rank dest[i], where it becomes row
 * pos[i] of that rank's new_rows rows (every rank passes its own new count; every place of
 * it must be filled exactly once). The features (float or bytes), the label and the row's
 * id (ids[i], a global row number) travel together; ds and *ids then hold the new rows.
 * Two shard buffers are held at the peak (what is sent, then what arrived). */
int gd_data_reshard(gd_dataset *ds, uint64_t **ids, const int *dest, const uint64_t *pos,
                    size_t new_rows, MPI_Comm comm);

/* A new dataset of ds's rows[0..n), in that order (features as ds holds them: floats or
 * bytes). first_row is left 0: the rows are no longer contiguous in the file. */
int gd_data_subset(const gd_dataset *ds, const size_t *rows, size_t n, gd_dataset *out);

/* Bytes the shard's features and labels take in memory. */
size_t gd_data_bytes(const gd_dataset *ds);

void gd_data_free(gd_dataset *ds);

/* Collective: rows placeholder rows of one zero feature on every rank, for models that
 * need no data (testfn), so the trainer's batches and counts work unchanged. */
int gd_data_placeholder(gd_dataset *ds, size_t rows, MPI_Comm comm);

/* Synthetic data with known true parameters (`gdmpi data gen`). */
typedef enum { GD_TASK_REGRESSION, GD_TASK_BINARY, GD_TASK_CLASSES } gd_task;

typedef struct gd_gen_spec {
    gd_task task;
    size_t rows, features, val_rows;
    long classes;
    double noise;
    uint64_t seed;
    const char *out, *val_out;
    size_t chunk_rows; /* X and y as chunked datasets of this many rows (0: contiguous) */
    long gzip;         /* deflate level 1..9 (chunked; 0: none) */
} gd_gen_spec;

/* Writes the file(s) a block of rows at a time: memory stays a few MiB whatever --rows. */

int gd_data_generate(const gd_gen_spec *spec);

/* `gdmpi data convert idx`: MNIST-style IDX files (gzip or plain) to X (uint8) and y (int32). */
int gd_idx_convert(const char *images, const char *labels, const char *out);

/* Reads one IDX file into a new buffer; dims receives up to 3 dimensions. */
int gd_idx_read(const char *path, int want_dims, size_t dims[3], uint8_t **data);

/* `gdmpi data info`: shapes, dtypes, ranges and label histogram of a file. */
int gd_data_info(const char *path, FILE *out);

/* The line `data gen` and `data convert` end with, read back from the file they wrote:
 * "wrote N rows x D features to PATH" (X's shape). */
int gd_data_report_written(const char *path, FILE *out);

#endif
