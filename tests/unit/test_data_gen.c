/* Synthetic data generator: reproducible bytes, the documented layout, targets that
 * follow the stored true parameters, and clear errors for bad specs. */
#include "unit.h"

#include "gdmpi/data.h"
#include "gdmpi/error.h"

#include <hdf5.h>
#include <math.h>
#include <unistd.h>

/* One dataset read back whole: its file type, shape and values (as float or int32). */
typedef struct {
    hid_t type;
    int ndims;
    hsize_t dims[2];
    void *data;
} h5set;

static const char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", unit_tmpdir(), name);
    return p;
}

static h5set read_set(const char *path, const char *name, hid_t memtype)
{
    h5set s = {0};
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t set = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(set >= 0);
    hid_t space = H5Dget_space(set);
    s.ndims = H5Sget_simple_extent_dims(space, s.dims, NULL);
    s.type = H5Dget_type(set);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    s.data = calloc((size_t)n, 4);
    assert_non_null(s.data);
    assert_true(H5Dread(set, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data) >= 0);
    H5Sclose(space);
    H5Dclose(set);
    H5Fclose(f);
    return s;
}

static void free_set(h5set *s)
{
    H5Tclose(s->type);
    free(s->data);
}

static gd_gen_spec spec_of(gd_task task, size_t rows, size_t features, const char *out)
{
    gd_gen_spec s = {.task = task, .rows = rows, .features = features, .classes = 3,
                     .noise = 0.1, .seed = 42, .out = tmp_path(out)};
    return s;
}

static void generate_ok(const gd_gen_spec *spec)
{
    gd_clear_error();
    int rc = gd_data_generate(spec);
    if (rc != GD_OK)
        fail_msg("gd_data_generate: %s", gd_errmsg());
}

static int same_bytes(const char *a, const char *b, const char *name, hid_t memtype,
                      size_t bytes)
{
    h5set sa = read_set(a, name, memtype), sb = read_set(b, name, memtype);
    int same = memcmp(sa.data, sb.data, bytes) == 0;
    free_set(&sa);
    free_set(&sb);
    return same;
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    gd_gen_spec a = spec_of(GD_TASK_CLASSES, 50, 4, "seed-a.h5");
    gd_gen_spec b = spec_of(GD_TASK_CLASSES, 50, 4, "seed-b.h5");
    gd_gen_spec c = spec_of(GD_TASK_CLASSES, 50, 4, "seed-c.h5");
    c.seed = 43;
    generate_ok(&a);
    generate_ok(&b);
    generate_ok(&c);
    assert_true(same_bytes(a.out, b.out, "X", H5T_NATIVE_FLOAT, 50 * 4 * sizeof(float)));
    assert_true(same_bytes(a.out, b.out, "y", H5T_NATIVE_INT32, 50 * sizeof(int32_t)));
    assert_false(same_bytes(a.out, c.out, "X", H5T_NATIVE_FLOAT, 50 * 4 * sizeof(float)));
    assert_false(same_bytes(a.out, c.out, "y", H5T_NATIVE_INT32, 50 * sizeof(int32_t)));
}

static void check_shape(const char *path, const char *name, hid_t filetype, int ndims,
                        hsize_t d0, hsize_t d1)
{
    h5set s = read_set(path, name, H5T_NATIVE_FLOAT);
    assert_true(H5Tequal(s.type, filetype) > 0);
    assert_int_equal(s.ndims, ndims);
    assert_int_equal(s.dims[0], d0);
    if (ndims == 2)
        assert_int_equal(s.dims[1], d1);
    free_set(&s);
}

static void check_task_attr(const char *path, const char *want)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t attr = H5Aopen(f, "task", H5P_DEFAULT);
    assert_true(attr >= 0);
    hid_t type = H5Aget_type(attr);
    char buf[32] = "";
    assert_true(H5Tget_size(type) < sizeof buf);
    assert_true(H5Aread(attr, type, buf) >= 0);
    assert_string_equal(buf, want);
    H5Tclose(type);
    H5Aclose(attr);
    H5Fclose(f);
}

static void test_shapes_and_types(void **state)
{
    (void)state;
    gd_gen_spec lin = spec_of(GD_TASK_REGRESSION, 20, 3, "shape-lin.h5");
    gd_gen_spec log = spec_of(GD_TASK_BINARY, 20, 3, "shape-log.h5");
    gd_gen_spec soft = spec_of(GD_TASK_CLASSES, 20, 3, "shape-soft.h5");
    soft.classes = 5;
    generate_ok(&lin);
    generate_ok(&log);
    generate_ok(&soft);
    check_shape(lin.out, "X", H5T_IEEE_F32LE, 2, 20, 3);
    check_shape(lin.out, "y", H5T_IEEE_F32LE, 1, 20, 0);
    check_shape(lin.out, "w_true", H5T_IEEE_F32LE, 1, 3, 0);
    check_shape(lin.out, "b_true", H5T_IEEE_F32LE, 1, 1, 0);
    check_shape(log.out, "y", H5T_STD_I32LE, 1, 20, 0);
    check_shape(log.out, "w_true", H5T_IEEE_F32LE, 1, 3, 0);
    check_shape(soft.out, "y", H5T_STD_I32LE, 1, 20, 0);
    check_shape(soft.out, "w_true", H5T_IEEE_F32LE, 2, 5, 3);
    check_shape(soft.out, "b_true", H5T_IEEE_F32LE, 1, 5, 0);
    check_task_attr(lin.out, "linreg");
    check_task_attr(log.out, "logreg");
    check_task_attr(soft.out, "softmax");
    /* Written through a temporary name that must be gone after the rename. */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", lin.out);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_regression_without_noise_is_exact(void **state)
{
    (void)state;
    gd_gen_spec spec = spec_of(GD_TASK_REGRESSION, 40, 6, "exact.h5");
    spec.noise = 0;
    generate_ok(&spec);
    h5set x = read_set(spec.out, "X", H5T_NATIVE_FLOAT);
    h5set y = read_set(spec.out, "y", H5T_NATIVE_FLOAT);
    h5set w = read_set(spec.out, "w_true", H5T_NATIVE_FLOAT);
    h5set b = read_set(spec.out, "b_true", H5T_NATIVE_FLOAT);
    const float *xv = x.data, *yv = y.data, *wv = w.data, *bv = b.data;
    for (size_t i = 0; i < 40; i++) {
        double s = bv[0];
        for (size_t j = 0; j < 6; j++)
            s += (double)wv[j] * xv[i * 6 + j];
        assert_float_equal(yv[i], s, 1e-5 * (1 + fabs(s)));
    }
    free_set(&x);
    free_set(&y);
    free_set(&w);
    free_set(&b);
}

static void test_labels_in_range_and_all_present(void **state)
{
    (void)state;
    gd_gen_spec soft = spec_of(GD_TASK_CLASSES, 2000, 5, "labels-soft.h5");
    gd_gen_spec log = spec_of(GD_TASK_BINARY, 2000, 5, "labels-log.h5");
    soft.classes = 4;
    generate_ok(&soft);
    generate_ok(&log);
    h5set y = read_set(soft.out, "y", H5T_NATIVE_INT32);
    h5set yb = read_set(log.out, "y", H5T_NATIVE_INT32);
    size_t seen[4] = {0}, seenb[2] = {0};
    for (size_t i = 0; i < 2000; i++) {
        int32_t k = ((int32_t *)y.data)[i], kb = ((int32_t *)yb.data)[i];
        assert_in_range(k, 0, 3);
        assert_in_range(kb, 0, 1);
        seen[k]++;
        seenb[kb]++;
    }
    for (int k = 0; k < 4; k++)
        assert_true(seen[k] > 0);
    assert_true(seenb[0] > 0 && seenb[1] > 0);
    free_set(&y);
    free_set(&yb);
}

/* The validation rows continue the training stream: with the same seed they are the
 * rows that a longer training file would have had next, under the same w_true. */
static void test_validation_continues_stream(void **state)
{
    (void)state;
    gd_gen_spec split = spec_of(GD_TASK_REGRESSION, 10, 3, "split-train.h5");
    split.val_out = tmp_path("split-val.h5");
    split.val_rows = 5;
    gd_gen_spec whole = spec_of(GD_TASK_REGRESSION, 15, 3, "split-whole.h5");
    generate_ok(&split);
    generate_ok(&whole);
    check_shape(split.val_out, "X", H5T_IEEE_F32LE, 2, 5, 3);
    h5set v = read_set(split.val_out, "X", H5T_NATIVE_FLOAT);
    h5set a = read_set(whole.out, "X", H5T_NATIVE_FLOAT);
    assert_memory_equal(v.data, (float *)a.data + 10 * 3, 5 * 3 * sizeof(float));
    free_set(&v);
    free_set(&a);
    assert_true(
        same_bytes(split.out, split.val_out, "w_true", H5T_NATIVE_FLOAT, 3 * sizeof(float)));
    assert_true(
        same_bytes(split.out, split.val_out, "b_true", H5T_NATIVE_FLOAT, sizeof(float)));
}

/* `data info` shows where a generated file came from, exactly. */
static void test_info_shows_provenance(void **state)
{
    (void)state;
    gd_gen_spec spec = spec_of(GD_TASK_BINARY, 30, 2, "info.h5");
    spec.seed = UINT64_MAX;
    generate_ok(&spec);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(gd_data_info(spec.out, out), GD_OK);
    fclose(out);
    assert_non_null(text);
    const char *want[] = {"  @noise = 0.1\n", "  @seed = 18446744073709551615\n",
                          "  @task = \"logreg\"\n", "  X: 30 x 2, float32, min ",
                          "  y: 30, int32, min 0, max 1, ", "  w_true: 2, float32, "};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(text, want[i]))
            fail_msg("info output lacks '%s'", want[i]);
    free(text);
}

static void expect_config_error(gd_gen_spec spec, const char *words)
{
    gd_clear_error();
    assert_int_equal(gd_data_generate(&spec), GD_ECONFIG);
    if (!strstr(gd_errmsg(), words))
        fail_msg("message '%s' lacks '%s'", gd_errmsg(), words);
    assert_int_not_equal(access(spec.out, F_OK), 0);
}

static void test_bad_specs(void **state)
{
    (void)state;
    gd_gen_spec s = spec_of(GD_TASK_CLASSES, 10, 2, "bad.h5");
    gd_gen_spec t = s;
    t.rows = 0;
    expect_config_error(t, "rows");
    t = s;
    t.features = 0;
    expect_config_error(t, "features");
    t = s;
    t.classes = 1;
    expect_config_error(t, "classes");
    t = s;
    t.noise = -1;
    expect_config_error(t, "noise");
    t = s;
    t.noise = NAN;
    expect_config_error(t, "noise");
    t = s;
    t.val_out = tmp_path("bad-val.h5");
    t.val_rows = 0;
    expect_config_error(t, "val_rows");
    t = s;
    t.val_out = t.out;
    t.val_rows = 3;
    expect_config_error(t, "differ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_shapes_and_types),
        cmocka_unit_test(test_regression_without_noise_is_exact),
        cmocka_unit_test(test_labels_in_range_and_all_present),
        cmocka_unit_test(test_validation_continues_stream),
        cmocka_unit_test(test_info_shows_provenance),
        cmocka_unit_test(test_bad_specs),
    };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
