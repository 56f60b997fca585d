/* `gdmpi data info`: what a data file holds (shapes, types, value ranges, label counts),
 * so a bad file is understood before a run trips over it. The listing uses
 * H5Gget_info/H5Lget_name_by_idx, whose signatures are the same in HDF5 1.10 and later
 * (H5Literate and H5Oget_info changed between them). */
#include "gdmpi/data.h"

#include "gdmpi/error.h"
#include "gdmpi/h5util.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Values read per piece, so memory stays bounded on large files. */
#define INFO_CHUNK ((hsize_t)1 << 20)
/* 1-D integer datasets whose values all lie in [0, HIST_MAX) are treated as labels. */
#define HIST_MAX 1000

typedef struct {
    double min, max, sum;
    size_t count, nonfinite;
    size_t *hist; /* HIST_MAX counters when the dataset may hold labels, else NULL */
    int labels;   /* every value so far is an integer in [0, HIST_MAX) */
    double last;  /* labels: the previous value, for the order statistics below */
    size_t same_next, descents; /* labels: neighbours equal; a value below the one before */
} stats;

static H5T_class_t dtype_name(hid_t type, char *buf, size_t len)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t bits = 8 * H5Tget_size(type);
    if (cls == H5T_FLOAT)
        snprintf(buf, len, "float%zu", bits);
    else if (cls == H5T_INTEGER)
        snprintf(buf, len, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    else
        snprintf(buf, len, "%s", cls == H5T_STRING ? "string" : "other");
    return cls;
}

static void print_shape(FILE *out, int ndims, const hsize_t *dims)
{
    if (ndims <= 0)
        fputs("scalar", out);
    for (int d = 0; d < ndims; d++)
        fprintf(out, "%s%llu", d ? " x " : "", (unsigned long long)dims[d]);
}

static void add_values(stats *st, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            st->nonfinite++;
            continue;
        }
        st->min = st->count ? fmin(st->min, v[i]) : v[i];
        st->max = st->count ? fmax(st->max, v[i]) : v[i];
        st->sum += v[i];
        st->count++;
        if (!st->hist)
            continue;
        if (v[i] >= 0 && v[i] < HIST_MAX && v[i] == floor(v[i]))
            st->hist[(size_t)v[i]]++;
        else
            st->labels = 0;
        if (st->count > 1) { /* count includes v[i] already */
            st->same_next += v[i] == st->last;
            st->descents += v[i] < st->last;
        }
        st->last = v[i];
    }
}

/* Reads rows [first, first + count) of the first dimension, all of the others. */
static herr_t read_rows(hid_t set, hid_t fspace, int nd, const hsize_t *dims, hsize_t first,
                        hsize_t count, hsize_t rowlen, double *buf)
{
    hsize_t start[H5S_MAX_RANK] = {first}, cnt[H5S_MAX_RANK];
    cnt[0] = count;
    for (int d = 1; d < nd; d++)
        cnt[d] = dims[d];
    hsize_t n = count * rowlen;
    hid_t mspace = H5Screate_simple(1, &n, NULL);
    herr_t rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
    if (rc >= 0)
        rc = H5Dread(set, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, buf);
    H5Sclose(mspace);
    return rc;
}

/* Streams a non-empty numeric dataset through add_values, whole rows at a time. */
static int scan_values(hid_t set, int nd, const hsize_t *dims, stats *st)
{
    if (nd == 0) {
        double v;
        if (H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0)
            return GD_ERR;
        add_values(st, &v, 1);
        return GD_OK;
    }
    hsize_t rowlen = 1;
    for (int d = 1; d < nd; d++)
        rowlen *= dims[d];
    hsize_t step = rowlen >= INFO_CHUNK ? 1 : INFO_CHUNK / rowlen;
    if (step > dims[0])
        step = dims[0];
    double *buf = gd_alloc((size_t)(step * rowlen), sizeof(double), "values");
    hid_t fspace = H5Dget_space(set);
    int rc = buf ? GD_OK : GD_ERR;
    for (hsize_t r = 0; rc == GD_OK && r < dims[0]; r += step) {
        hsize_t count = dims[0] - r < step ? dims[0] - r : step;
        if (read_rows(set, fspace, nd, dims, r, count, rowlen, buf) < 0)
            rc = GD_ERR;
        else
            add_values(st, buf, (size_t)(count * rowlen));
    }
    H5Sclose(fspace);
    free(buf);
    return rc;
}

/* Labels in file order: sorted, or far more neighbours of one class than a shuffled file
 * would have (sum_k p_k^2), make contiguous shards non-IID: each rank sees a few classes. */
static void warn_order(FILE *out, const stats *st)
{
    if (st->count < 3 || st->max <= st->min)
        return;
    double expect = 0;
    for (size_t k = 0; k <= (size_t)st->max; k++) {
        const double p = (double)st->hist[k] / (double)st->count;
        expect += p * p;
    }
    const double same = (double)st->same_next / (double)(st->count - 1);
    const char *how = st->descents == 0 ? "sorted" : same > fmax(0.5, 2 * expect) ? "clustered"
                                                                                      : NULL;
    if (how)
        fprintf(out, "    warning: the labels are %s in file order (%.0f%% of neighbours share "
                     "a class; shuffled, about %.0f%%): contiguous shards give each rank a few "
                     "classes (non-IID workers); train with data.shuffle = global, or shuffle "
                     "the file\n", how, 100 * same, 100 * expect);
}

static void print_stats(FILE *out, const stats *st)
{
    if (st->count)
        fprintf(out, ", min %g, max %g, mean %g", st->min, st->max,
                st->sum / (double)st->count);
    if (st->nonfinite)
        fprintf(out, ", %zu non-finite", st->nonfinite);
    fputc('\n', out);
    if (!st->hist || !st->labels || !st->count)
        return;
    for (size_t k = 0; k <= (size_t)st->max; k++)
        fprintf(out, "    label %zu: %zu\n", k, st->hist[k]);
    warn_order(out, st);
}

static int describe_values(hid_t set, const char *path, const char *name, int nd,
                           const hsize_t *dims, int integer, FILE *out)
{
    stats st = {.labels = 1};
    if (integer && nd == 1) {
        st.hist = gd_alloc(HIST_MAX, sizeof(size_t), "label histogram");
        if (!st.hist)
            return GD_ERR;
    }
    int rc = scan_values(set, nd, dims, &st);
    if (rc == GD_OK)
        print_stats(out, &st);
    else
        gd_fail(GD_ERR, "%s: cannot read dataset '%s'", path, name);
    free(st.hist);
    return rc;
}

static int describe_set(hid_t set, const char *path, const char *name, FILE *out)
{
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    hsize_t dims[H5S_MAX_RANK];
    int nd = H5Sget_simple_extent_dims(space, dims, NULL);
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    char dtype[32];
    H5T_class_t cls = dtype_name(type, dtype, sizeof dtype);
    H5Sclose(space);
    H5Tclose(type);
    fprintf(out, "  %s: ", name);
    print_shape(out, nd, dims);
    fprintf(out, ", %s", dtype);
    if (npoints <= 0 || (cls != H5T_INTEGER && cls != H5T_FLOAT)) {
        fputs(npoints == 0 ? ", empty\n" : "\n", out);
        return GD_OK;
    }
    return describe_values(set, path, name, nd, dims, cls == H5T_INTEGER, out);
}

/* Integers print exactly (a uint64 seed does not survive a trip through double);
 * floats with the digits a double holds, so 0.1 prints as 0.1. */
static int print_number(FILE *out, hid_t attr, hid_t type, const char *name)
{
    if (H5Tget_class(type) == H5T_FLOAT) {
        double v;
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) < 0)
            return -1;
        return fprintf(out, "  @%s = %.15g\n", name, v);
    }
    if (H5Tget_sign(type) == H5T_SGN_NONE) {
        unsigned long long v;
        if (H5Aread(attr, H5T_NATIVE_ULLONG, &v) < 0)
            return -1;
        return fprintf(out, "  @%s = %llu\n", name, v);
    }
    long long v;
    if (H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0)
        return -1;
    return fprintf(out, "  @%s = %lld\n", name, v);
}

/* Root attributes (task, seed, sources ...) say where the data came from. */
static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    FILE *out = data;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0)
        return 0;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    H5T_class_t cls = H5Tget_class(type);
    int scalar = H5Sget_simple_extent_npoints(space) == 1;
    char text[256] = "";
    int shown = 0;
    if (cls == H5T_STRING && scalar && H5Tis_variable_str(type) <= 0 &&
        H5Tget_size(type) < sizeof text && H5Aread(attr, type, text) >= 0)
        shown = fprintf(out, "  @%s = \"%s\"\n", name, text) >= 0;
    else if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && scalar)
        shown = print_number(out, attr, type, name) >= 0;
    if (!shown)
        fprintf(out, "  @%s (not shown)\n", name);
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
    return 0;
}

/* Link i of the root group, or NULL; the caller frees the name. */
static char *link_name(hid_t f, hsize_t i)
{
    ssize_t len = H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
    char *name = len < 0 ? NULL : gd_alloc((size_t)len + 1, 1, "dataset name");
    if (name &&
        H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, (size_t)len + 1,
                           H5P_DEFAULT) < 0) {
        free(name);
        return NULL;
    }
    return name;
}

static int describe_link(hid_t f, const char *path, const char *name, FILE *out)
{
    hid_t obj = H5Oopen(f, name, H5P_DEFAULT);
    if (obj < 0) {
        fprintf(out, "  %s: (cannot open: a dangling or external link)\n", name);
        return GD_OK;
    }
    H5I_type_t kind = H5Iget_type(obj);
    int rc = GD_OK;
    if (kind == H5I_DATASET)
        rc = describe_set(obj, path, name, out);
    else
        fprintf(out, "  %s: %s (not read)\n", name, kind == H5I_GROUP ? "group" : "other object");
    H5Oclose(obj);
    return rc;
}

static int list_sets(hid_t f, const char *path, FILE *out)
{
    H5G_info_t info;
    if (H5Gget_info(f, &info) < 0)
        return gd_fail(GD_ERR, "%s: cannot list the root group", path);
    int rc = GD_OK;
    for (hsize_t i = 0; rc == GD_OK && i < info.nlinks; i++) {
        char *name = link_name(f, i);
        if (!name)
            return gd_fail(GD_ERR, "%s: cannot read the name of link %llu", path,
                           (unsigned long long)i);
        rc = describe_link(f, path, name, out);
        free(name);
    }
    return rc;
}

int gd_data_info(const char *path, FILE *out)
{
    gd_h5_quiet();
    /* access() tells a missing or unreadable file apart from one that is not HDF5. */
    if (access(path, R_OK) != 0)
        return gd_fail(GD_ERR, "%s: %s", path, strerror(errno));
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: not an HDF5 file", path);
    fprintf(out, "%s\n", path);
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, out);
    int rc = list_sets(f, path, out);
    H5Fclose(f);
    return rc;
}

int gd_data_report_written(const char *path, FILE *out)
{
    gd_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open the file just written", path);
    hid_t set = H5Dopen2(f, "X", H5P_DEFAULT);
    hid_t space = set < 0 ? H5I_INVALID_HID : H5Dget_space(set);
    hsize_t dims[2] = {0, 1};
    int nd = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    if (set >= 0)
        H5Dclose(set);
    H5Fclose(f);
    if (nd < 1 || nd > 2)
        return gd_fail(GD_ERR, "%s: X is not a rows x features dataset", path);
    fprintf(out, "wrote %llu rows x %llu features to %s\n", (unsigned long long)dims[0],
            (unsigned long long)(nd == 2 ? dims[1] : 1), path);
    return GD_OK;
}
