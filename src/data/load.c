/* Shard loading. Rank 0 first inspects the file serially (is it HDF5, do the datasets
 * exist, are the shapes and types right) so that every bad file gives one clear message
 * on every rank; then all ranks read their row ranges: collectively with MPI-IO
 * (data.io = collective), or each on its own with a serial hyperslab read (independent:
 * the only way without parallel HDF5, as in gdmpi-sim). With `{rank}` in the path each rank
 * inspects and reads its own whole file instead. */
#include "gdmpi/data.h"

#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/real.h"

#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a load keeps of the features: floats, the stored bytes (uint8 files), or nothing
 * (gd_data_load_labels). */
enum { KEEP_FLOATS, KEEP_BYTES, KEEP_NONE };

typedef struct {
    unsigned long long rows, cols;
    unsigned long long bytes; /* the features are unsigned 8-bit integers */
} shape;

/* data.io; parallel HDF5 (H5_HAVE_PARALLEL, from hdf5.h) decides what is possible. */
#ifdef H5_HAVE_PARALLEL
static int collective_io = 1;
#else
static int collective_io = 0;
#endif

int gd_data_io_check(const char *io)
{
#ifndef H5_HAVE_PARALLEL
    if (!strcmp(io, "collective"))
        return gd_fail(GD_ECONFIG, "data.io = collective needs parallel HDF5 (MPI-IO), which "
                       "this build lacks (gdmpi-sim links serial HDF5): use data.io = independent");
#endif
    if (strcmp(io, "collective") && strcmp(io, "independent"))
        return gd_fail(GD_ECONFIG, "data.io = '%s': expected collective or independent", io);
    return GD_OK;
}

int gd_data_use_io(const char *io)
{
    int rc = gd_data_io_check(io);
    if (!rc)
        collective_io = !strcmp(io, "collective");
    return rc;
}

void gd_shard_range(size_t n, int p, int r, size_t *first, size_t *count)
{
    size_t base = n / (size_t)p, extra = n % (size_t)p, ur = (size_t)r;
    *count = base + (ur < extra);
    *first = ur * base + (ur < extra ? ur : extra);
}

static void expand_rank(const char *path, int rank, char *out, size_t len)
{
    const char *at = strstr(path, "{rank}");
    if (!at) {
        snprintf(out, len, "%s", path);
        return;
    }
    snprintf(out, len, "%.*s%d%s", (int)(at - path), path, rank, at + 6);
}

static int is_numeric(hid_t set)
{
    hid_t type = H5Dget_type(set);
    H5T_class_t cls = H5Tget_class(type);
    H5Tclose(type);
    return cls == H5T_INTEGER || cls == H5T_FLOAT;
}

/* Unsigned integers of one byte: values 0..255, exact as bytes and as floats. */
static int is_unsigned_byte(hid_t set)
{
    hid_t type = H5Dget_type(set);
    int yes = H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 &&
              H5Tget_sign(type) == H5T_SGN_NONE;
    H5Tclose(type);
    return yes;
}

/* Opens dataset name and returns its dimensions; names the file and dataset on error. */
static int inspect_set(hid_t f, const char *path, const char *name, int *ndims, hsize_t dims[3],
                       int *bytes)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return gd_fail(GD_ERR, "%s: missing dataset '%s'", path, name);
    hid_t set = H5Dopen2(f, name, H5P_DEFAULT);
    if (set < 0)
        return gd_fail(GD_ERR, "%s: '%s' is not a dataset", path, name);
    int numeric = is_numeric(set);
    *bytes = is_unsigned_byte(set);
    hid_t space = H5Dget_space(set);
    *ndims = H5Sget_simple_extent_ndims(space);
    if (*ndims >= 1 && *ndims <= 3)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5Dclose(set);
    if (!numeric)
        return gd_fail(GD_ERR, "%s: dataset '%s' is not numeric (integers or floats expected)",
                       path, name);
    return GD_OK;
}

static int check_shapes(const char *path, const char *xname, const char *yname, int xnd,
                        const hsize_t *xd, int ynd, const hsize_t *yd, shape *out)
{
    if (xnd != 2)
        return gd_fail(GD_ERR, "%s: dataset '%s' has %d dimensions; expected 2 (rows x features)",
                       path, xname, xnd);
    if (ynd != 1 && !(ynd == 2 && yd[1] == 1))
        return gd_fail(GD_ERR, "%s: dataset '%s' has %d dimensions; expected 1 (one per row)",
                       path, yname, ynd);
    if (yd[0] != xd[0])
        return gd_fail(GD_ERR, "%s: dataset '%s' has %llu values but '%s' has %llu rows", path,
                       yname, (unsigned long long)yd[0], xname, (unsigned long long)xd[0]);
    if (xd[0] == 0 || xd[1] == 0)
        return gd_fail(GD_ERR, "%s: dataset '%s' is empty (%llu x %llu)", path, xname,
                       (unsigned long long)xd[0], (unsigned long long)xd[1]);
    out->rows = xd[0];
    out->cols = xd[1];
    return GD_OK;
}

/* Serial look at one file: it exists, is HDF5, and holds X (rows x cols) and y (rows). */
static int inspect_file(const char *path, const char *xname, const char *yname, shape *out)
{
    if (access(path, R_OK) != 0)
        return gd_fail(GD_ERR, "%s: no such file or not readable", path);
    gd_h5_quiet();
    if (H5Fis_hdf5(path) <= 0)
        return gd_fail(GD_ERR, "%s: not an HDF5 file (or truncated)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open HDF5 file (corrupt or truncated?)", path);
    int xnd = 0, ynd = 0, xbytes = 0, ybytes = 0;
    hsize_t xd[3] = {0}, yd[3] = {0};
    int rc = inspect_set(f, path, xname, &xnd, xd, &xbytes);
    if (!rc && yname)
        rc = inspect_set(f, path, yname, &ynd, yd, &ybytes);
    else if (!rc) { /* no labels (gd_data_load_features): y is one zero per row */
        ynd = 1;
        yd[0] = xd[0];
    }
    out->bytes = (unsigned long long)xbytes;
    if (!rc)
        rc = check_shapes(path, xname, yname, xnd, xd, ynd, yd, out);
    H5Fclose(f);
    return rc;
}

/* Reads rows [first, first+count) of one dataset, converted to memory type mtype (float,
 * or bytes), with transfer property dxpl (collective MPI-IO, or the default for serial
 * reads). */
static int read_rows(hid_t f, const char *path, const char *name, size_t first, size_t count,
                     size_t cols, hid_t dxpl, hid_t mtype, void *out)
{
    hid_t set = H5Dopen2(f, name, H5P_DEFAULT);
    if (set < 0)
        return gd_fail(GD_ERR, "%s: cannot open dataset '%s'", path, name);
    hid_t fspace = H5Dget_space(set);
    int nd = H5Sget_simple_extent_ndims(fspace);
    hsize_t start[2] = {first, 0}, cnt[2] = {count, cols ? cols : 1};
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t mspace = H5Screate_simple(nd, cnt, NULL);
    herr_t rc = H5Dread(set, mtype, mspace, fspace, dxpl, out);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(set);
    return rc < 0 ? gd_fail(GD_ERR, "%s: cannot read rows %zu..%zu of '%s' (truncated file?)",
                            path, first, first + count, name)
                  : GD_OK;
}

/* Room for the shard: the features as bytes (KEEP_BYTES and the file holds bytes), as
 * floats, or none (KEEP_NONE). */
static int alloc_shard(gd_dataset *ds, int keep, int bytes)
{
    if (ds->cols > SIZE_MAX / sizeof(float)) /* the file's claim; the row size would wrap */
        return gd_fail(GD_ERR, "%s: %zu features per row do not fit in memory", ds->path,
                       ds->cols);
    ds->stored_u8 = bytes;
    void *x = keep == KEEP_NONE ? (void *)ds
              : keep == KEEP_BYTES && bytes
                  ? (void *)(ds->x8 = gd_alloc(ds->rows, ds->cols, "features"))
                  : (void *)(ds->x = gd_alloc(ds->rows, ds->cols * sizeof(float), "features"));
    ds->y = x ? gd_alloc(ds->rows, sizeof(float), "labels") : NULL;
    return ds->y ? GD_OK : GD_ERR;
}

/* Reads ds->rows rows from row `first` of the file (0: a file of this rank's own). */
static int read_shard(gd_dataset *ds, const char *xname, const char *yname, size_t first,
                      hid_t fapl, hid_t dxpl)
{
    hid_t f = H5Fopen(ds->path, H5F_ACC_RDONLY, fapl);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open HDF5 file", ds->path);
    int rc = ds->x8 ? read_rows(f, ds->path, xname, first, ds->rows, ds->cols, dxpl,
                                H5T_NATIVE_UCHAR, ds->x8)
             : ds->x ? read_rows(f, ds->path, xname, first, ds->rows, ds->cols, dxpl,
                                 H5T_NATIVE_FLOAT, ds->x)
                     : GD_OK; /* labels only */
    if (!rc && yname)
        rc = read_rows(f, ds->path, yname, first, ds->rows, 0, dxpl, H5T_NATIVE_FLOAT, ds->y);
    H5Fclose(f);
    return rc;
}

/* This rank's rows of a shared file in one collective MPI-IO read by all ranks of comm. */
static int read_shard_collective(gd_dataset *ds, const char *xname, const char *yname,
                                 MPI_Comm comm)
{
#ifdef H5_HAVE_PARALLEL
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    int rc = read_shard(ds, xname, yname, ds->first_row, fapl, dxpl);
    H5Pclose(fapl);
    H5Pclose(dxpl);
    return rc;
#else
    (void)xname, (void)yname, (void)comm; /* gd_data_use_io refused it */
    return gd_fail(GD_ERR, "%s: collective reads need parallel HDF5", ds->path);
#endif
}

/* One shared file: rank 0 inspects, everyone reads its rows (data.io). */
static int load_shared(gd_dataset *ds, const char *xname, const char *yname, int keep,
                       MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    shape sh = {0, 0, 0};
    int rc = rank == 0 ? inspect_file(ds->path, xname, yname, &sh) : GD_OK;
    if ((rc = gd_agree(comm, rc)))
        return rc;
    MPI_Bcast(&sh, 3, MPI_UNSIGNED_LONG_LONG, 0, comm);
    if (sh.rows < (unsigned long long)size)
        return gd_fail(GD_ERR, "%s: %llu rows for %d ranks; every rank needs at least one row",
                       ds->path, sh.rows, size);
    ds->total_rows = sh.rows;
    ds->cols = sh.cols;
    gd_shard_range(ds->total_rows, size, rank, &ds->first_row, &ds->rows);
    rc = alloc_shard(ds, keep, (int)sh.bytes);
    if ((rc = gd_agree(comm, rc)))
        return rc;
    rc = collective_io ? read_shard_collective(ds, xname, yname, comm)
                       : read_shard(ds, xname, yname, ds->first_row, H5P_DEFAULT, H5P_DEFAULT);
    return gd_agree(comm, rc);
}

/* One file per rank: each rank inspects and reads its own; offsets come from a scan. */
static int load_per_rank(gd_dataset *ds, const char *xname, const char *yname, int keep,
                         MPI_Comm comm)
{
    shape sh = {0, 0, 0};
    int rc = inspect_file(ds->path, xname, yname, &sh);
    if ((rc = gd_agree(comm, rc)))
        return rc;
    unsigned long long widest = sh.cols, narrowest = sh.cols;
    MPI_Allreduce(MPI_IN_PLACE, &widest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, &narrowest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm);
    if (widest != narrowest)
        return gd_fail(GD_ERR, "%s: per-rank files disagree on the number of features", ds->path);
    unsigned long long rows = sh.rows, before = 0, total = 0;
    MPI_Exscan(&rows, &before, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm);
    MPI_Allreduce(&rows, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm);
    int rank;
    MPI_Comm_rank(comm, &rank);
    ds->rows = sh.rows;
    ds->cols = sh.cols;
    ds->first_row = rank ? before : 0;
    ds->total_rows = total;
    rc = alloc_shard(ds, keep, (int)sh.bytes);
    if (!rc)
        rc = read_shard(ds, xname, yname, 0, H5P_DEFAULT, H5P_DEFAULT);
    return gd_agree(comm, rc);
}

/* Finds the lowest global row for which bad[] says yes, over all ranks.
 * Returns SIZE_MAX when there is none; *value gets that row's offending value. */
static size_t first_bad_row(const gd_dataset *ds, size_t local_bad, double bad_value, double *value,
                            MPI_Comm comm)
{
    unsigned long long row = local_bad == SIZE_MAX ? ULLONG_MAX : ds->first_row + local_bad;
    MPI_Allreduce(MPI_IN_PLACE, &row, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm);
    if (row == ULLONG_MAX)
        return SIZE_MAX;
    double mine = (local_bad != SIZE_MAX && ds->first_row + local_bad == row) ? bad_value : -INFINITY;
    MPI_Allreduce(&mine, value, 1, MPI_DOUBLE, MPI_MAX, comm);
    return (size_t)row;
}

/* Scales row i of ds->x in place (bytes stay as they are: gd_data_copy_row scales them)
 * and says whether every scaled value is finite. */
static int scale_row_finite(gd_dataset *ds, size_t i, float scale)
{
    const size_t cols = ds->cols;
    if (!ds->x && !ds->x8)
        return 1; /* labels only: a stream checks its features as it reads them */
    if (ds->x8) {
        const uint8_t *row = ds->x8 + i * cols;
        for (size_t j = 0; j < cols; j++)
            if (!isfinite((float)row[j] * scale)) /* only a huge data.scale */
                return 0;
        return 1;
    }
    float *row = ds->x + i * cols;
    for (size_t j = 0; j < cols; j++) {
        row[j] *= scale;
        if (!isfinite(row[j]))
            return 0;
    }
    return 1;
}

static size_t scale_and_find_nonfinite(gd_dataset *ds, float scale, int *in_labels)
{
    for (size_t i = 0; i < ds->rows; i++) {
        if (!scale_row_finite(ds, i, scale))
            return i;
        if (!isfinite(ds->y[i])) {
            *in_labels = 1;
            return i;
        }
    }
    return SIZE_MAX;
}

static int check_finite(gd_dataset *ds, const char *xname, const char *yname, double scale,
                        MPI_Comm comm)
{
    int in_labels = 0;
    size_t bad = scale_and_find_nonfinite(ds, (float)scale, &in_labels);
    double which;
    size_t row = first_bad_row(ds, bad, in_labels, &which, comm);
    if (row == SIZE_MAX)
        return GD_OK;
    return gd_fail(GD_ERR, "%s: non-finite value (NaN or Inf) in dataset '%s' at row %zu%s",
                   ds->path, which > 0 ? yname : xname, row,
                   scale != 1 && which <= 0 ? " (after data.scale)" : "");
}

static int load(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                double scale, int keep, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(ds, 0, sizeof *ds);
    ds->scale = (float)scale;
    expand_rank(path, rank, ds->path, sizeof ds->path);
    gd_h5_quiet();
    int rc = strstr(path, "{rank}") ? load_per_rank(ds, xname, yname, keep, comm)
                                    : load_shared(ds, xname, yname, keep, comm);
    if (!rc)
        rc = check_finite(ds, xname, yname, scale, comm);
    if (rc)
        gd_data_free(ds);
    return rc;
}

int gd_data_load(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                 double scale, MPI_Comm comm)
{
    return load(ds, path, xname, yname, scale, KEEP_FLOATS, comm);
}

int gd_data_load_compact(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                         double scale, MPI_Comm comm)
{
    return load(ds, path, xname, yname, scale, KEEP_BYTES, comm);
}

int gd_data_load_labels(gd_dataset *ds, const char *path, const char *xname, const char *yname,
                        double scale, MPI_Comm comm)
{
    return load(ds, path, xname, yname, scale, KEEP_NONE, comm);
}

void gd_data_copy_row(const gd_dataset *ds, size_t r, float *restrict out)
{
    const size_t cols = ds->cols;
    if (!ds->x8) {
        memcpy(out, ds->x + r * cols, cols * sizeof(float));
        return;
    }
    const uint8_t *restrict in = ds->x8 + r * cols;
    const float scale = ds->scale;
    for (size_t j = 0; j < cols; j++)
        out[j] = (float)in[j] * scale; /* what H5Dread to float and the load's scaling give */
}

int gd_data_check_labels(const gd_dataset *ds, long classes, MPI_Comm comm)
{
    size_t bad = SIZE_MAX;
    for (size_t i = 0; i < ds->rows && bad == SIZE_MAX; i++) {
        float v = ds->y[i];
        if (v != floorf(v) || v < 0 || v >= (float)classes)
            bad = i;
    }
    double value;
    size_t row = first_bad_row(ds, bad, bad == SIZE_MAX ? 0 : ds->y[bad], &value, comm);
    if (row == SIZE_MAX)
        return GD_OK;
    return gd_fail(GD_ERR, "%s: label %s at row %zu is not a class in [0, %ld)", ds->path,
                   gd_real(value).text,
                   row, classes);
}

long gd_data_count_classes(const gd_dataset *ds, MPI_Comm comm)
{
    double top = -1;
    for (size_t i = 0; i < ds->rows; i++)
        if (ds->y[i] > top)
            top = ds->y[i];
    MPI_Allreduce(MPI_IN_PLACE, &top, 1, MPI_DOUBLE, MPI_MAX, comm);
    return top < 0 ? 0 : (long)floor(top) + 1;
}

size_t gd_data_bytes(const gd_dataset *ds)
{
    const size_t per_value = ds->x8 ? 1 : ds->x ? sizeof(float) : 0;
    return ds->rows * ds->cols * per_value + (ds->y ? ds->rows * sizeof(float) : 0);
}

void gd_data_free(gd_dataset *ds)
{
    free(ds->x);
    free(ds->x8);
    free(ds->y);
    ds->x = ds->y = NULL;
    ds->x8 = NULL;
}

int gd_data_placeholder(gd_dataset *ds, size_t rows, MPI_Comm comm)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->path, sizeof ds->path, "(no data)");
    ds->rows = rows;
    ds->cols = 1;
    unsigned long long mine = rows, before = 0, total = 0;
    MPI_Exscan(&mine, &before, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm);
    MPI_Allreduce(&mine, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm);
    int rank;
    MPI_Comm_rank(comm, &rank);
    ds->first_row = rank ? before : 0;
    ds->total_rows = total;
    ds->x = gd_alloc(rows, sizeof(float), "placeholder rows");
    ds->y = ds->x ? gd_alloc(rows, sizeof(float), "placeholder rows") : NULL;
    return ds->y ? GD_OK : GD_ERR;
}

int gd_data_load_features(gd_dataset *ds, const char *path, const char *xname, double scale,
                          MPI_Comm comm)
{
    return gd_data_load(ds, path, xname, NULL, scale, comm);
}
