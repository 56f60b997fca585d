/* IDX reading and conversion (plain and gzip), and `data info` on the result: tiny
 * handmade files, so every byte of the expected output is known. */
#include "unit.h"

#include "gdmpi/data.h"
#include "gdmpi/error.h"

#include <hdf5.h>
#include <unistd.h>
#include <zlib.h>

#define N_IMAGES 3
#define SIDE 2

static const uint8_t pixels[N_IMAGES * SIDE * SIDE] = {
    0, 1, 2, 3, 10, 20, 30, 40, 255, 254, 253, 252,
};
static const uint8_t labels[N_IMAGES] = {1, 0, 1};

static const char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", unit_tmpdir(), name);
    return p;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes an IDX file with the given magic and dims and the first n payload bytes; gzip
 * or plain ("wbT" makes zlib write the bytes through unchanged). */
static const char *write_idx(const char *name, int gz, uint32_t magic, const uint32_t *dims,
                             int ndims, const uint8_t *payload, size_t n)
{
    const char *path = tmp_path(name);
    uint8_t head[16];
    put_be32(head, magic);
    for (int d = 0; d < ndims; d++)
        put_be32(head + 4 + 4 * d, dims[d]);
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, head, 4 + 4 * (unsigned)ndims), 4 + 4 * ndims);
    if (n)
        assert_int_equal(gzwrite(f, payload, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
    return path;
}

static const char *images_file(const char *name, int gz, uint32_t count, size_t payload)
{
    uint32_t dims[3] = {count, SIDE, SIDE};
    return write_idx(name, gz, 0x803, dims, 3, pixels, payload);
}

static const char *labels_file(const char *name, int gz, uint32_t count, size_t payload)
{
    uint32_t dims[1] = {count};
    return write_idx(name, gz, 0x801, dims, 1, labels, payload);
}

static void *read_back(const char *path, const char *name, hid_t filetype, hid_t memtype,
                       hsize_t d0, hsize_t d1, size_t elsize)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t set = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(set >= 0);
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    hsize_t dims[2] = {0, 0};
    assert_int_equal(H5Sget_simple_extent_dims(space, dims, NULL), d1 ? 2 : 1);
    assert_int_equal(dims[0], d0);
    assert_int_equal(dims[1], d1);
    assert_true(H5Tequal(type, filetype) > 0);
    void *data = calloc(d0 * (d1 ? d1 : 1), elsize);
    assert_true(H5Dread(set, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(set);
    H5Fclose(f);
    return data;
}

static void convert_and_check(const char *images, const char *labs, const char *out)
{
    gd_clear_error();
    int rc = gd_idx_convert(images, labs, out);
    if (rc != GD_OK)
        fail_msg("gd_idx_convert: %s", gd_errmsg());
    uint8_t *x = read_back(out, "X", H5T_STD_U8LE, H5T_NATIVE_UINT8, N_IMAGES, SIDE * SIDE, 1);
    int32_t *y = read_back(out, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, N_IMAGES, 0, 4);
    assert_memory_equal(x, pixels, sizeof pixels);
    for (int i = 0; i < N_IMAGES; i++)
        assert_int_equal(y[i], labels[i]);
    free(x);
    free(y);
}

static void test_convert_plain(void **state)
{
    (void)state;
    convert_and_check(images_file("img.idx", 0, N_IMAGES, sizeof pixels),
                      labels_file("lab.idx", 0, N_IMAGES, sizeof labels), tmp_path("plain.h5"));
}

static void test_convert_gzip(void **state)
{
    (void)state;
    convert_and_check(images_file("img.idx.gz", 1, N_IMAGES, sizeof pixels),
                      labels_file("lab.idx.gz", 1, N_IMAGES, sizeof labels), tmp_path("gz.h5"));
}

static void test_read_dims(void **state)
{
    (void)state;
    size_t dims[3];
    uint8_t *data = NULL;
    const char *path = images_file("dims.idx.gz", 1, N_IMAGES, sizeof pixels);
    assert_int_equal(gd_idx_read(path, 3, dims, &data), GD_OK);
    assert_int_equal(dims[0], N_IMAGES);
    assert_int_equal(dims[1], SIDE);
    assert_int_equal(dims[2], SIDE);
    assert_memory_equal(data, pixels, sizeof pixels);
    free(data);
}

/* The read must fail with GD_ERR, leave no buffer, and name the file and the problem. */
static void expect_read_error(const char *path, int ndims, const char *words)
{
    size_t dims[3];
    uint8_t *data = (uint8_t *)1;
    gd_clear_error();
    assert_int_equal(gd_idx_read(path, ndims, dims, &data), GD_ERR);
    assert_null(data);
    if (!strstr(gd_errmsg(), path) || !strstr(gd_errmsg(), words))
        fail_msg("message '%s' lacks '%s' or '%s'", gd_errmsg(), path, words);
}

static void test_truncated(void **state)
{
    (void)state;
    expect_read_error(images_file("short.idx", 0, N_IMAGES, sizeof pixels - 2), 3,
                      "truncated");
    expect_read_error(images_file("short.idx.gz", 1, N_IMAGES, sizeof pixels - 2), 3,
                      "truncated");
    expect_read_error(labels_file("nopayload.idx", 0, N_IMAGES, 0), 1, "got 0");
    /* A gzip stream cut in the middle (not just a short payload). */
    const char *gz = images_file("cut.idx.gz", 1, N_IMAGES, sizeof pixels);
    assert_int_equal(truncate(gz, 20), 0);
    expect_read_error(gz, 3, "truncated");
}

static void test_bad_magic_and_extra_data(void **state)
{
    (void)state;
    uint32_t dims[3] = {N_IMAGES, SIDE, SIDE};
    expect_read_error(write_idx("float.idx", 0, 0xD03, dims, 3, pixels, sizeof pixels), 3,
                      "0x00000d03");
    /* A label file where images are expected. */
    expect_read_error(labels_file("swapped.idx", 0, N_IMAGES, sizeof labels), 3, "magic");
    expect_read_error(labels_file("long.idx", 0, N_IMAGES - 1, sizeof labels), 1, "longer");
    expect_read_error(tmp_path("missing.idx"), 1, "No such file");
}

static void test_count_mismatch(void **state)
{
    (void)state;
    const char *img = images_file("m-img.idx", 0, N_IMAGES, sizeof pixels);
    const char *lab = labels_file("m-lab.idx", 0, N_IMAGES - 1, N_IMAGES - 1);
    const char *out = tmp_path("mismatch.h5");
    gd_clear_error();
    assert_int_equal(gd_idx_convert(img, lab, out), GD_ERR);
    assert_non_null(strstr(gd_errmsg(), img));
    assert_non_null(strstr(gd_errmsg(), lab));
    assert_non_null(strstr(gd_errmsg(), "3 images"));
    assert_non_null(strstr(gd_errmsg(), "2 labels"));
    assert_int_not_equal(access(out, F_OK), 0);
}

static char *info_text(const char *path, int want_rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    gd_clear_error();
    assert_int_equal(gd_data_info(path, out), want_rc);
    fclose(out);
    assert_non_null(text);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    if (strstr(text, line))
        return;
    /* fputs, not a %s: GCC's sanitizer build cannot see that text is non-null here. */
    fputs(text, stderr);
    fail_msg("info output above lacks '%s'", line);
}

static void test_info(void **state)
{
    (void)state;
    const char *out = tmp_path("info.h5");
    convert_and_check(images_file("i-img.idx", 0, N_IMAGES, sizeof pixels),
                      labels_file("i-lab.idx", 0, N_IMAGES, sizeof labels), out);
    char *text = info_text(out, GD_OK);
    expect_line(text, "  X: 3 x 4, uint8, min 0, max 255, mean 93.3333\n");
    expect_line(text, "  y: 3, int32, min 0, max 1, mean 0.666667\n");
    expect_line(text, "    label 0: 1\n    label 1: 2\n");
    expect_line(text, "@source_labels = \"");
    free(text);
}

static void test_info_errors(void **state)
{
    (void)state;
    const char *missing = tmp_path("no-such.h5");
    free(info_text(missing, GD_ERR));
    assert_non_null(strstr(gd_errmsg(), missing));
    const char *plain = labels_file("not-hdf5.idx", 0, N_IMAGES, sizeof labels);
    free(info_text(plain, GD_ERR));
    assert_non_null(strstr(gd_errmsg(), plain));
    assert_non_null(strstr(gd_errmsg(), "not an HDF5 file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_plain),
        cmocka_unit_test(test_convert_gzip),
        cmocka_unit_test(test_read_dims),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_magic_and_extra_data),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_info_errors),
    };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
