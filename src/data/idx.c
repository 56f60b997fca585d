/* MNIST-style IDX files (`gdmpi data convert idx`): a big-endian magic (0, 0, type,
 * ndims), ndims big-endian uint32 sizes, then the payload. Only unsigned bytes (type
 * 0x08) occur in the MNIST family. zlib's gzread reads gzip and plain files alike, so
 * the .gz files from a download or a distribution package need no unpacking. */
#include "gdmpi/data.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"

#include <errno.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_UBYTE 0x08u
/* gzread takes an unsigned length and returns an int, so big payloads go in pieces. */
#define READ_CHUNK ((size_t)1 << 30)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads up to n bytes and returns how many arrived (fewer at end of file or on error). */
static size_t read_full(gzFile gz, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < READ_CHUNK ? n - got : READ_CHUNK;
        int k = gzread(gz, (uint8_t *)buf + got, (unsigned)want);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

/* A short read is either a cut-off file (zlib says Z_BUF_ERROR for a cut gzip stream)
 * or a real read or decompression error, which deserves its own message. */
static int short_read(gzFile gz, const char *path, const char *what, size_t want, size_t got)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return gd_fail(GD_ERR, "%s: cannot read IDX file: %s", path,
                       zerr == Z_ERRNO ? strerror(errno) : zmsg);
    return gd_fail(GD_ERR, "%s: truncated IDX file: expected %zu bytes of %s, got %zu", path,
                   want, what, got);
}

static int read_header(gzFile gz, const char *path, int want_dims, size_t dims[3])
{
    uint8_t head[16];
    size_t got = read_full(gz, head, 4);
    if (got < 4)
        return short_read(gz, path, "header", 4, got);
    uint32_t magic = be32(head), expect = IDX_UBYTE << 8 | (uint32_t)want_dims;
    if (magic != expect)
        return gd_fail(GD_ERR,
                       "%s: bad IDX magic 0x%08x; expected 0x%08x (unsigned bytes, %d "
                       "dimension%s)",
                       path, (unsigned)magic, (unsigned)expect, want_dims,
                       want_dims == 1 ? "" : "s");
    size_t n = 4 * (size_t)want_dims;
    got = read_full(gz, head + 4, n);
    if (got < n)
        return short_read(gz, path, "header", n, got);
    for (int d = 0; d < want_dims; d++) {
        dims[d] = be32(head + 4 + 4 * d);
        if (dims[d] == 0)
            return gd_fail(GD_ERR, "%s: IDX dimension %d is 0 (empty data set)", path, d);
    }
    return GD_OK;
}

/* The product of the dimensions, refusing sizes that do not fit in memory's size_t. */
static int payload_size(const char *path, int ndims, const size_t dims[3], size_t *total)
{
    size_t n = 1;
    for (int d = 0; d < ndims; d++) {
        if (n > SIZE_MAX / dims[d])
            return gd_fail(GD_ERR, "%s: IDX dimensions are too large (size overflows)", path);
        n *= dims[d];
    }
    *total = n;
    return GD_OK;
}

/* Reads up to total bytes into a buffer that grows (doubling, from 1 MiB) as data
 * arrives, so a header announcing terabytes in a small file fails as truncated instead
 * of allocating what it claims. Returns the byte count; *buf is NULL on failure. */
static size_t read_growing(gzFile gz, const char *path, size_t total, uint8_t **buf)
{
    size_t cap = 0, got = 0;
    *buf = NULL;
    while (got < total) {
        if (got == cap) {
            size_t first = total < ((size_t)1 << 20) ? total : ((size_t)1 << 20);
            size_t next = !cap ? first : cap > total / 2 ? total : 2 * cap;
            uint8_t *bigger = realloc(*buf, next);
            if (!bigger) {
                gd_fail(GD_ERR, "%s: out of memory reading %zu bytes", path, next);
                break;
            }
            *buf = bigger;
            cap = next;
        }
        size_t k = read_full(gz, *buf + got, cap - got);
        got += k;
        if (got < cap)
            break; /* end of file (or an error) before the buffer filled */
    }
    return got;
}

/* Reads exactly total bytes; anything after them means the header does not describe the
 * file (a mislabelled or concatenated file), which would silently shift every sample. */
static int read_payload(gzFile gz, const char *path, size_t total, uint8_t **data)
{
    uint8_t *buf;
    size_t got = read_growing(gz, path, total, &buf);
    uint8_t extra;
    int rc = GD_OK;
    if (!buf)
        rc = GD_ERR;
    else if (got < total)
        rc = short_read(gz, path, "data", total, got);
    else if (gzread(gz, &extra, 1) > 0)
        rc = gd_fail(GD_ERR, "%s: IDX file is longer than its header says (%zu bytes of data)",
                     path, total);
    if (rc != GD_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    return GD_OK;
}

int gd_idx_read(const char *path, int want_dims, size_t dims[3], uint8_t **data)
{
    *data = NULL;
    dims[0] = dims[1] = dims[2] = 0;
    if (want_dims < 1 || want_dims > 3)
        return gd_fail(GD_ERR, "%s: IDX files with %d dimensions are not supported", path,
                       want_dims);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return gd_fail(GD_ERR, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    size_t total = 0;
    int rc = read_header(gz, path, want_dims, dims);
    if (rc == GD_OK)
        rc = payload_size(path, want_dims, dims, &total);
    if (rc == GD_OK)
        rc = read_payload(gz, path, total, data);
    gzclose(gz);
    return rc;
}

/* The source names and the image shape (X is flattened) travel with the data. */
static int write_attrs(hid_t f, const char *images, const char *labels, const size_t idims[3])
{
    int rc = gd_h5_attr_string(f, "source_images", images);
    if (rc == GD_OK)
        rc = gd_h5_attr_string(f, "source_labels", labels);
    if (rc == GD_OK)
        rc = gd_h5_attr_long(f, "image_rows", (long)idims[1]);
    if (rc == GD_OK)
        rc = gd_h5_attr_long(f, "image_cols", (long)idims[2]);
    return rc;
}

static int write_converted(const char *out, const char *images, const char *labels,
                           const uint8_t *img, const size_t idims[3], const uint8_t *lab)
{
    hid_t f = gd_h5_create_tmp(out);
    if (f < 0)
        return GD_ERR;
    /* payload_size already checked that rows * cols fits. */
    int rc = gd_h5_write(f, "X", H5T_STD_U8LE, H5T_NATIVE_UINT8, img, idims[0],
                         idims[1] * idims[2]);
    /* HDF5 widens the uint8 labels to int32 as it writes them. */
    if (rc == GD_OK)
        rc = gd_h5_write(f, "y", H5T_STD_I32LE, H5T_NATIVE_UINT8, lab, idims[0], 0);
    if (rc == GD_OK)
        rc = write_attrs(f, images, labels, idims);
    if (rc != GD_OK) {
        gd_h5_discard(f, out);
        return gd_h5_blame_file(out, rc);
    }
    return gd_h5_commit(f, out);
}

int gd_idx_convert(const char *images, const char *labels, const char *out)
{
    /* gd_h5_create_tmp keeps names in a GD_PATH_MAX buffer; a longer one would be cut. */
    if (strlen(out) >= GD_PATH_MAX)
        return gd_fail(GD_ECONFIG, "%s: output file name is longer than %d characters", out,
                       GD_PATH_MAX - 1);
    gd_h5_quiet();
    size_t idims[3], ldims[3];
    uint8_t *img = NULL, *lab = NULL;
    int rc = gd_idx_read(images, 3, idims, &img);
    if (rc == GD_OK)
        rc = gd_idx_read(labels, 1, ldims, &lab);
    if (rc == GD_OK && idims[0] != ldims[0])
        rc = gd_fail(GD_ERR, "%s has %zu images but %s has %zu labels", images, idims[0],
                     labels, ldims[0]);
    if (rc == GD_OK)
        rc = write_converted(out, images, labels, img, idims, lab);
    free(img);
    free(lab);
    return rc;
}
