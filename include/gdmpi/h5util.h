/* Small HDF5 helpers shared by data generation, model files and checkpoints. */
#ifndef GDMPI_H5UTIL_H
#define GDMPI_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

/* Debian's HDF5 is not thread-safe: while a stream's reader thread (gdmpi/stream.h) runs,
 * every HDF5 call of either thread is made holding this lock. */
void gd_h5_lock(void);
void gd_h5_unlock(void);

/* Silences HDF5's own error stack printing; gdmpi reports errors itself. */
void gd_h5_quiet(void);

/* A creation property list of class cls (H5P_DATASET_CREATE, H5P_GROUP_CREATE) without HDF5's default modification times, so that the
 * same numbers make the same file byte for byte (model.h5 of two runs compare with cmp). */
hid_t gd_h5_untimed(hid_t cls);

/* Writes a dataset of rank 1 (cols == 0) or 2 from memory of type memtype, stored as filetype. */
int gd_h5_write(hid_t file, const char *name, hid_t filetype, hid_t memtype, const void *data,
                size_t rows, size_t cols);
int gd_h5_attr_string(hid_t obj, const char *name, const char *value);
int gd_h5_attr_long(hid_t obj, const char *name, long value);
/* A scalar attribute of any type: stored as filetype, read from value as memtype. */
int gd_h5_attr_scalar(hid_t obj, const char *name, hid_t filetype, hid_t memtype,
                      const void *value);
int gd_h5_read_attr_string(hid_t obj, const char *name, char *buf, size_t len);
int gd_h5_read_attr_long(hid_t obj, const char *name, long *value);
/* A scalar attribute of any numeric type, converted to memtype. */
int gd_h5_read_attr_scalar(hid_t obj, const char *name, hid_t memtype, void *value);
/* Reads a whole 1-D dataset of exactly n elements, converting to memtype. */
int gd_h5_read_vector(hid_t file, const char *path, const char *name, hid_t memtype, void *data,
                      size_t n);

/* Writes through a temporary name: gd_h5_create_tmp makes "<path>.tmp"; gd_h5_commit closes
 * the file, fsyncs it and renames it over path. */
hid_t gd_h5_create_tmp(const char *path);
int gd_h5_commit(hid_t file, const char *path);
/* After a failed write: closes the file and removes "<path>.tmp", leaving path untouched. */
void gd_h5_discard(hid_t file, const char *path);
/* Puts path in front of the recorded message unless it already starts with it. */
int gd_h5_blame_file(const char *path, int rc);

#endif
