/* Synthetic data with known true parameters (`gdmpi data gen`). A linear model with
 * weights w_true and biases b_true draws the targets, so a run can be judged against
 * the parameters that made the data and against the noise floor.
 *
 * Draw order (part of the file format's reproducibility): w_true, b_true, then per row
 * its features followed by one noise value per output. Noise is drawn even when it is
 * 0, so X depends only on the seed, and a validation file continues the same stream. */
#include "gdmpi/data.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/meter.h"
#include "gdmpi/real.h"
#include "gdmpi/rng.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model behind the data: outputs x features weights and outputs biases. */
typedef struct {
    float *w, *b;
    size_t outputs, features;
} truth;

/* One block of a generated file's rows: y holds float targets (regression) or int32 labels.
 * A file is drawn and written a block at a time, so that data gen never holds more than a
 * block, whatever the file's size. */
typedef struct {
    float *x;
    void *y;
    double *score;
    size_t rows; /* the block's room */
} block;

/* The two datasets being written, and how far. */
typedef struct {
    hid_t x, y;
    size_t rows, done;
} row_sets;

static const char *task_name(gd_task task)
{
    return task == GD_TASK_REGRESSION ? "linreg" : task == GD_TASK_BINARY ? "logreg" : "softmax";
}

/* gd_h5_create_tmp keeps names in a GD_PATH_MAX buffer; a longer one would be cut. */
static int check_path(const char *what, const char *path)
{
    if (!path || !*path)
        return gd_fail(GD_ECONFIG, "data gen: no %s file given", what);
    if (strlen(path) >= GD_PATH_MAX)
        return gd_fail(GD_ECONFIG, "data gen: %s file name is longer than %d characters", what,
                       GD_PATH_MAX - 1);
    return GD_OK;
}

static int check_spec(const gd_gen_spec *s)
{
    if (s->task != GD_TASK_REGRESSION && s->task != GD_TASK_BINARY && s->task != GD_TASK_CLASSES)
        return gd_fail(GD_ECONFIG, "data gen: unknown task %d", (int)s->task);
    if (s->rows < 1)
        return gd_fail(GD_ECONFIG, "data gen: rows must be >= 1 (got %zu)", s->rows);
    if (s->features < 1)
        return gd_fail(GD_ECONFIG, "data gen: features must be >= 1 (got %zu)", s->features);
    /* Labels are stored as int32. */
    if (s->task == GD_TASK_CLASSES && (s->classes < 2 || s->classes > INT32_MAX))
        return gd_fail(GD_ECONFIG, "data gen: softmax needs classes >= 2 (got %ld)", s->classes);
    if (!(s->noise >= 0) || isinf(s->noise))
        return gd_fail(GD_ECONFIG, "data gen: noise must be a finite number >= 0 (got %s)",
                       gd_real(s->noise).text);
    if (s->gzip < 0 || s->gzip > 9)
        return gd_fail(GD_ECONFIG, "data gen: --gzip must be a level 1..9 (0: none; got %ld)",
                       s->gzip);
    if (s->gzip && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
        return gd_fail(GD_ECONFIG, "data gen: --gzip: this HDF5 has no deflate filter");
    int rc = check_path("output", s->out);
    if (rc != GD_OK || !s->val_out)
        return rc;
    if (s->val_rows < 1)
        return gd_fail(GD_ECONFIG, "data gen: val_rows must be >= 1 when a validation file is "
                                   "written (got %zu)", s->val_rows);
    if (strcmp(s->val_out, s->out) == 0)
        return gd_fail(GD_ECONFIG, "data gen: the validation file must differ from the "
                                   "training file (%s)", s->out);
    return check_path("validation", s->val_out);
}

/* An a x b array of elements of size bytes; gd_alloc checks only count * size. */
static void *alloc2(size_t a, size_t b, size_t size, const char *what)
{
    if (b && a > SIZE_MAX / b) {
        gd_fail(GD_ERR, "%s: size %zu x %zu overflows", what, a, b);
        return NULL;
    }
    return gd_alloc(a * b, size, what);
}

static int draw_truth(truth *t, gd_rng *r)
{
    t->w = alloc2(t->outputs, t->features, sizeof(float), "w_true");
    t->b = t->w ? gd_alloc(t->outputs, sizeof(float), "b_true") : NULL;
    if (!t->b)
        return GD_ERR;
    for (size_t i = 0; i < t->outputs * t->features; i++)
        t->w[i] = (float)gd_rng_normal(r);
    for (size_t k = 0; k < t->outputs; k++)
        t->b[k] = (float)(0.5 * gd_rng_normal(r));
    return GD_OK;
}

/* Draws one row's features and its noisy scores. The scores are summed in double from
 * the float-rounded values, so a reader can recompute them from the stored X, w_true
 * and b_true. */
static void draw_row(const truth *t, double noise, gd_rng *r, float *x, double *score)
{
    for (size_t j = 0; j < t->features; j++)
        x[j] = (float)gd_rng_normal(r);
    for (size_t k = 0; k < t->outputs; k++) {
        const float *wk = t->w + k * t->features;
        double s = t->b[k];
        for (size_t j = 0; j < t->features; j++)
            s += (double)wk[j] * x[j];
        score[k] = s + noise * gd_rng_normal(r);
    }
}

/* The first largest score wins, so ties are broken the same way everywhere. */
static int32_t argmax(const double *score, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (score[k] > score[best])
            best = k;
    return (int32_t)best;
}

static void set_target(gd_task task, const double *score, size_t outputs, void *y, size_t i)
{
    if (task == GD_TASK_REGRESSION)
        ((float *)y)[i] = (float)score[0];
    else if (task == GD_TASK_BINARY)
        ((int32_t *)y)[i] = score[0] > 0;
    else
        ((int32_t *)y)[i] = argmax(score, outputs);
}

/* Rows per block: about 4 MiB of features. */
static size_t block_rows(size_t features)
{
    const size_t rows = ((size_t)4 << 20) / (features * sizeof(float));
    return rows ? rows : 1;
}

static int alloc_block(block *b, const truth *t, size_t rows)
{
    /* float and int32 targets have the same size, so one allocation serves both. */
    _Static_assert(sizeof(float) == sizeof(int32_t), "targets share one buffer");
    b->rows = rows;
    b->x = alloc2(rows, t->features, sizeof(float), "features");
    b->y = b->x ? gd_alloc(rows, sizeof(float), "targets") : NULL;
    b->score = b->y ? gd_alloc(t->outputs, sizeof(double), "scores") : NULL;
    return b->score ? GD_OK : GD_ERR;
}

static void free_block(block *b)
{
    free(b->x);
    free(b->y);
    free(b->score);
}

/* A rows x cols (cols 0: one value per row) dataset of type, contiguous, or chunked by
 * chunk_rows rows (and gzipped) as data gen's --chunk-rows and --gzip ask. X and y take the
 * same chunk_rows, so each block written covers whole chunks of both. */
static hid_t create_set(hid_t f, const char *name, hid_t type, size_t rows, size_t cols,
                        size_t chunk_rows, const gd_gen_spec *spec)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t dcpl = gd_h5_untimed(H5P_DATASET_CREATE);
    if (spec->chunk_rows || spec->gzip) {
        hsize_t chunk[2] = {chunk_rows < rows ? chunk_rows : rows, cols};
        H5Pset_chunk(dcpl, cols ? 2 : 1, chunk);
        if (spec->gzip)
            H5Pset_deflate(dcpl, (unsigned)spec->gzip);
    }
    hid_t set = H5Dcreate2(f, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (set < 0)
        gd_fail(GD_ERR, "cannot create dataset '%s'", name);
    return set;
}

/* Rows [first, first + n) of set from memory of type mtype. */
static int write_rows(hid_t set, hid_t mtype, size_t first, size_t n, size_t cols,
                      const void *data)
{
    hid_t fspace = H5Dget_space(set);
    hsize_t at[2] = {first, 0}, cnt[2] = {n, cols};
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, at, NULL, cnt, NULL);
    hid_t mspace = H5Screate_simple(cols ? 2 : 1, cnt, NULL);
    herr_t rc = H5Dwrite(set, mtype, mspace, fspace, H5P_DEFAULT, data);
    H5Sclose(mspace);
    H5Sclose(fspace);
    return rc < 0 ? gd_fail(GD_ERR, "cannot write rows %zu..%zu", first, first + n) : GD_OK;
}

/* Draws the next n rows into the block and appends them to the file's X and y. */
static int draw_block(const truth *t, const gd_gen_spec *spec, gd_rng *r, block *b,
                      row_sets *sets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        draw_row(t, spec->noise, r, b->x + i * t->features, b->score);
        set_target(spec->task, b->score, t->outputs, b->y, i);
    }
    int rc = write_rows(sets->x, H5T_NATIVE_FLOAT, sets->done, n, t->features, b->x);
    if (rc == GD_OK)
        rc = write_rows(sets->y, spec->task == GD_TASK_REGRESSION ? H5T_NATIVE_FLOAT
                                                                  : H5T_NATIVE_INT32,
                        sets->done, n, 0, b->y);
    sets->done += n;
    return rc;
}

/* Every row of the file, a block at a time, with the progress line on a terminal. */
static int draw_rows(const truth *t, const gd_gen_spec *spec, gd_rng *r, row_sets *sets,
                     const char *path)
{
    block b = {0};
    size_t per = block_rows(t->features);
    if (spec->chunk_rows) /* whole chunks per write: a partial one would be read back (and
                             inflated) to be completed by the next */
        per = spec->chunk_rows * (per > spec->chunk_rows ? per / spec->chunk_rows : 1);
    int rc = alloc_block(&b, t, per < sets->rows ? per : sets->rows);
    char what[GD_PATH_MAX + 32];
    snprintf(what, sizeof what, "data gen: %s: row", path);
    gd_meter meter = {.on = gd_stdout_is_terminal()};
    while (rc == GD_OK && sets->done < sets->rows) {
        const size_t left = sets->rows - sets->done;
        rc = draw_block(t, spec, r, &b, sets, left < b.rows ? left : b.rows);
        gd_meter_count(&meter, what, sets->done, sets->rows);
    }
    gd_meter_clear(&meter);
    free_block(&b);
    return rc;
}

static int write_attrs(hid_t f, const gd_gen_spec *spec)
{
    int rc = gd_h5_attr_string(f, "task", task_name(spec->task));
    if (rc == GD_OK)
        rc = gd_h5_attr_scalar(f, "noise", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &spec->noise);
    /* The seed is a full uint64; a long attribute could not hold every value. */
    if (rc == GD_OK)
        rc = gd_h5_attr_scalar(f, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &spec->seed);
    return rc;
}

/* The parameters that drew the data. Binary tasks keep w_true 1-D like regression; only
 * softmax has a weight matrix. */
static int write_truth(hid_t f, gd_task task, const truth *t)
{
    size_t wcols = task == GD_TASK_CLASSES ? t->features : 0;
    size_t wrows = task == GD_TASK_CLASSES ? t->outputs : t->features;
    int rc = gd_h5_write(f, "w_true", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->w, wrows, wcols);
    if (rc == GD_OK)
        rc = gd_h5_write(f, "b_true", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->b, t->outputs, 0);
    return rc;
}

static int write_file(hid_t f, const char *path, size_t rows, const gd_gen_spec *spec,
                      const truth *t, gd_rng *r)
{
    hid_t ytype = spec->task == GD_TASK_REGRESSION ? H5T_IEEE_F32LE : H5T_STD_I32LE;
    row_sets sets = {.rows = rows};
    const size_t chunk_rows = spec->chunk_rows ? spec->chunk_rows : block_rows(t->features);
    sets.x = create_set(f, "X", H5T_IEEE_F32LE, rows, t->features, chunk_rows, spec);
    sets.y = sets.x < 0 ? -1 : create_set(f, "y", ytype, rows, 0, chunk_rows, spec);
    int rc = sets.y < 0 ? GD_ERR : draw_rows(t, spec, r, &sets, path);
    if (sets.y >= 0)
        H5Dclose(sets.y);
    if (sets.x >= 0)
        H5Dclose(sets.x);
    if (rc == GD_OK)
        rc = write_truth(f, spec->task, t);
    return rc == GD_OK ? write_attrs(f, spec) : rc;
}

static int make_file(const char *path, size_t rows, const gd_gen_spec *spec, const truth *t,
                     gd_rng *r)
{
    hid_t f = gd_h5_create_tmp(path);
    if (f < 0)
        return GD_ERR;
    int rc = write_file(f, path, rows, spec, t, r);
    if (rc != GD_OK) {
        gd_h5_discard(f, path);
        return gd_h5_blame_file(path, rc);
    }
    return gd_h5_commit(f, path);
}

int gd_data_generate(const gd_gen_spec *spec)
{
    int rc = check_spec(spec);
    if (rc != GD_OK)
        return rc;
    gd_h5_quiet();
    gd_rng r;
    gd_rng_seed(&r, spec->seed, 0, GD_RNG_DATAGEN);
    truth t = {.outputs = spec->task == GD_TASK_CLASSES ? (size_t)spec->classes : 1,
               .features = spec->features};
    rc = draw_truth(&t, &r);
    if (rc == GD_OK)
        rc = make_file(spec->out, spec->rows, spec, &t, &r);
    if (rc == GD_OK && spec->val_out)
        rc = make_file(spec->val_out, spec->val_rows, spec, &t, &r);
    free(t.w);
    free(t.b);
    return rc;
}
