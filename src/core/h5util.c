#include "gdmpi/h5util.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/fs.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Taken by the checkpoint reads and writes (checkpoint_file.c) and the stream's reader. */
static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;

void gd_h5_lock(void) { pthread_mutex_lock(&h5_mutex); }
void gd_h5_unlock(void) { pthread_mutex_unlock(&h5_mutex); }

void gd_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

hid_t gd_h5_untimed(hid_t cls)
{
    hid_t plist = H5Pcreate(cls);
    H5Pset_obj_track_times(plist, 0);
    return plist;
}

int gd_h5_write(hid_t file, const char *name, hid_t filetype, hid_t memtype, const void *data,
                size_t rows, size_t cols)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t dcpl = gd_h5_untimed(H5P_DATASET_CREATE);
    hid_t set = space < 0 ? -1
                          : H5Dcreate2(file, name, filetype, space, H5P_DEFAULT, dcpl,
                                       H5P_DEFAULT);
    H5Pclose(dcpl);
    herr_t rc = set < 0 ? -1 : H5Dwrite(set, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (set >= 0)
        H5Dclose(set);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? gd_fail(GD_ERR, "cannot write dataset '%s'", name) : GD_OK;
}

int gd_h5_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, value);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return rc < 0 ? gd_fail(GD_ERR, "cannot write attribute '%s'", name) : GD_OK;
}

int gd_h5_attr_scalar(hid_t obj, const char *name, hid_t filetype, hid_t memtype,
                      const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, memtype, value);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc < 0 ? gd_fail(GD_ERR, "cannot write attribute '%s'", name) : GD_OK;
}

int gd_h5_attr_long(hid_t obj, const char *name, long value)
{
    return gd_h5_attr_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_LONG, &value);
}

int gd_h5_read_attr_string(hid_t obj, const char *name, char *buf, size_t len)
{
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return gd_fail(GD_ERR, "missing attribute '%s'", name);
    hid_t ftype = H5Aget_type(attr);
    size_t size = H5Tget_size(ftype);
    int rc = GD_OK;
    if (H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) > 0 || size >= len) {
        rc = gd_fail(GD_ERR, "attribute '%s' is not a short fixed-length string", name);
    } else {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, size);
        memset(buf, 0, len);
        if (H5Aread(attr, mtype, buf) < 0)
            rc = gd_fail(GD_ERR, "cannot read attribute '%s'", name);
        H5Tclose(mtype);
    }
    H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}

int gd_h5_read_attr_scalar(hid_t obj, const char *name, hid_t memtype, void *value)
{
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return gd_fail(GD_ERR, "missing attribute '%s'", name);
    herr_t rc = H5Aread(attr, memtype, value);
    H5Aclose(attr);
    return rc < 0 ? gd_fail(GD_ERR, "cannot read attribute '%s'", name) : GD_OK;
}

int gd_h5_read_attr_long(hid_t obj, const char *name, long *value)
{
    return gd_h5_read_attr_scalar(obj, name, H5T_NATIVE_LONG, value);
}

int gd_h5_read_vector(hid_t file, const char *path, const char *name, hid_t memtype, void *data,
                      size_t n)
{
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    if (set < 0)
        return gd_fail(GD_ERR, "%s: missing dataset '%s'", path, name);
    hid_t space = H5Dget_space(set);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_dims(space, dims, NULL);
    int rc = GD_OK;
    if (nd != 1 || dims[0] != n)
        rc = gd_fail(GD_ERR, "%s: dataset '%s' has the wrong shape (expected %zu values)", path,
                     name, n);
    else if (H5Dread(set, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = gd_fail(GD_ERR, "%s: cannot read dataset '%s'", path, name);
    H5Sclose(space);
    H5Dclose(set);
    return rc;
}

static void tmp_name(const char *path, char *buf, size_t len) { snprintf(buf, len, "%s.tmp", path); }

hid_t gd_h5_create_tmp(const char *path)
{
    char tmp[GD_PATH_MAX + 8];
    tmp_name(path, tmp, sizeof tmp);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        gd_fail(GD_ERR, "%s: cannot create file", tmp);
    return f;
}

int gd_h5_commit(hid_t file, const char *path)
{
    char tmp[GD_PATH_MAX + 8];
    tmp_name(path, tmp, sizeof tmp);
    if (H5Fclose(file) < 0)
        return gd_fail(GD_ERR, "%s: cannot close file", tmp);
    return gd_commit_file(tmp, path);
}

void gd_h5_discard(hid_t file, const char *path)
{
    char tmp[GD_PATH_MAX + 8];
    H5Fclose(file);
    tmp_name(path, tmp, sizeof tmp);
    remove(tmp);
}

int gd_h5_blame_file(const char *path, int rc)
{
    if (strncmp(gd_errmsg(), path, strlen(path)) == 0)
        return rc;
    return gd_fail_prefix(rc, "%s", path);
}
