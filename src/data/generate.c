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

/* One generated file's rows: y holds float targets (regression) or int32 labels. */
typedef struct {
    float *x;
    void *y;
    size_t rows;
} split;

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

static int draw_split(const truth *t, const gd_gen_spec *spec, gd_rng *r, split *s,
                      const char *path)
{
    /* float and int32 targets have the same size, so one allocation serves both. */
    _Static_assert(sizeof(float) == sizeof(int32_t), "targets share one buffer");
    s->x = alloc2(s->rows, t->features, sizeof(float), "features");
    s->y = s->x ? gd_alloc(s->rows, sizeof(float), "targets") : NULL;
    double *score = s->y ? gd_alloc(t->outputs, sizeof(double), "scores") : NULL;
    if (!score)
        return GD_ERR;
    char what[GD_PATH_MAX + 32];
    snprintf(what, sizeof what, "data gen: %s: row", path);
    gd_meter meter = {.on = gd_stdout_is_terminal()};
    for (size_t i = 0; i < s->rows; i++) {
        draw_row(t, spec->noise, r, s->x + i * t->features, score);
        set_target(spec->task, score, t->outputs, s->y, i);
        gd_meter_count(&meter, what, i + 1, s->rows);
    }
    gd_meter_clear(&meter);
    free(score);
    return GD_OK;
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

static int write_sets(hid_t f, gd_task task, const truth *t, const split *s)
{
    /* Binary tasks keep w_true 1-D like regression; only softmax has a weight matrix. */
    size_t wcols = task == GD_TASK_CLASSES ? t->features : 0;
    size_t wrows = task == GD_TASK_CLASSES ? t->outputs : t->features;
    hid_t ytype = task == GD_TASK_REGRESSION ? H5T_IEEE_F32LE : H5T_STD_I32LE;
    hid_t ymem = task == GD_TASK_REGRESSION ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32;
    int rc = gd_h5_write(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s->x, s->rows, t->features);
    if (rc == GD_OK)
        rc = gd_h5_write(f, "y", ytype, ymem, s->y, s->rows, 0);
    if (rc == GD_OK)
        rc = gd_h5_write(f, "w_true", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->w, wrows, wcols);
    if (rc == GD_OK)
        rc = gd_h5_write(f, "b_true", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->b, t->outputs, 0);
    return rc;
}

static int write_split(const char *path, const gd_gen_spec *spec, const truth *t,
                       const split *s)
{
    hid_t f = gd_h5_create_tmp(path);
    if (f < 0)
        return GD_ERR;
    int rc = write_sets(f, spec->task, t, s);
    if (rc == GD_OK)
        rc = write_attrs(f, spec);
    if (rc != GD_OK) {
        gd_h5_discard(f, path);
        return gd_h5_blame_file(path, rc);
    }
    return gd_h5_commit(f, path);
}

static int make_file(const char *path, size_t rows, const gd_gen_spec *spec, const truth *t,
                     gd_rng *r)
{
    split s = {.rows = rows};
    int rc = draw_split(t, spec, r, &s, path);
    if (rc == GD_OK)
        rc = write_split(path, spec, t, &s);
    free(s.x);
    free(s.y);
    return rc;
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
