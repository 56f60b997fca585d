/* Linear models: loss against a double-precision reference, and the analytic gradient
 * against central finite differences of that reference. Also model.h5 round trips. */
#include "unit.h"

#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"
#include "gdmpi/rng.h"

#include <math.h>

enum { N = 7, D = 5, K = 4 };

typedef struct {
    float x[N * D], y[N];
} batch;

/* Random features; targets or labels suited to the task. */
static void make_batch(batch *b, gd_task task, size_t outputs)
{
    gd_rng r;
    gd_rng_seed(&r, 7, 0, 99);
    for (size_t i = 0; i < N * D; i++)
        b->x[i] = (float)gd_rng_normal(&r);
    for (size_t i = 0; i < N; i++)
        b->y[i] = task == GD_TASK_REGRESSION ? (float)gd_rng_normal(&r)
                                             : (float)(gd_rng_next(&r) % (task == GD_TASK_BINARY ? 2 : outputs));
}

/* The loss sum in double precision, written out from the formulas. */
static double reference_loss(const gd_model *m, const double *w, const batch *b)
{
    const size_t d = m->features, k = m->outputs;
    double total = 0;
    for (size_t i = 0; i < N; i++) {
        double z[K];
        for (size_t j = 0; j < k; j++) {
            z[j] = w[k * d + j];
            for (size_t c = 0; c < d; c++)
                z[j] += w[j * d + c] * b->x[i * d + c];
        }
        if (m->ops->task == GD_TASK_REGRESSION) {
            total += 0.5 * (z[0] - b->y[i]) * (z[0] - b->y[i]);
        } else if (m->ops->task == GD_TASK_BINARY) {
            double p = 1 / (1 + exp(-z[0]));
            total -= b->y[i] > 0.5 ? log(p) : log(1 - p);
        } else {
            double s = 0;
            for (size_t j = 0; j < k; j++)
                s += exp(z[j]);
            total += log(s) - z[(size_t)b->y[i]];
        }
    }
    return total;
}

static void check_model(const char *type, size_t outputs)
{
    gd_model m;
    assert_int_equal(gd_model_create(&m, type, D, outputs, N, NULL), GD_OK);
    batch b;
    make_batch(&b, m.ops->task, outputs);
    gd_rng r;
    gd_rng_seed(&r, 3, 0, 98);
    double w[K * D + K];
    for (size_t i = 0; i < m.nparams; i++)
        m.w[i] = (float)(0.5 * gd_rng_normal(&r)), w[i] = m.w[i];
    memset(m.g, 0, m.nparams * sizeof(float));
    double loss = m.ops->loss_grad(&m, b.x, b.y, N, m.g, NULL);
    double ref = reference_loss(&m, w, &b);
    assert_true(fabs(loss - ref) <= 1e-5 * (1 + fabs(ref)));
    const double h = 1e-5;
    for (size_t i = 0; i < m.nparams; i++) {
        double keep = w[i];
        w[i] = keep + h;
        double up = reference_loss(&m, w, &b);
        w[i] = keep - h;
        double down = reference_loss(&m, w, &b);
        w[i] = keep;
        double fd = (up - down) / (2 * h);
        if (fabs(fd - m.g[i]) > 1e-4 * (1 + fabs(fd)))
            fail_msg("%s: d loss / d w[%zu]: analytic %g, finite difference %g", type, i, m.g[i], fd);
    }
    gd_model_destroy(&m);
}

static void test_linreg_gradient(void **state) { (void)state; check_model("linreg", 1); }
static void test_logreg_gradient(void **state) { (void)state; check_model("logreg", 1); }
static void test_softmax_gradient(void **state) { (void)state; check_model("softmax", K); }

/* Huge logits must not overflow: log-sum-exp and the stable sigmoid loss stay finite. */
static void test_losses_are_stable(void **state)
{
    (void)state;
    const char *types[] = {"logreg", "softmax"};
    for (int t = 0; t < 2; t++) {
        gd_model m;
        assert_int_equal(gd_model_create(&m, types[t], D, t ? K : 1, N, NULL), GD_OK);
        batch b;
        make_batch(&b, m.ops->task, m.outputs);
        for (size_t i = 0; i < m.nparams; i++)
            m.w[i] = (i % 2 ? 1e4f : -1e4f);
        double loss = m.ops->loss_grad(&m, b.x, b.y, N, m.g, NULL);
        assert_true(isfinite(loss));
        for (size_t i = 0; i < m.nparams; i++)
            assert_true(isfinite(m.g[i]));
        gd_model_destroy(&m);
    }
}

static void test_penalty(void **state)
{
    (void)state;
    gd_model m;
    assert_int_equal(gd_model_create(&m, "linreg", 2, 1, 1, NULL), GD_OK);
    m.l2 = 0.5;
    m.w[0] = 2, m.w[1] = -4, m.w[2] = 10; /* the bias (10) is not penalised */
    float g[3] = {0, 0, 0};
    /* as the trainer calls it: over the weights only (gd_update_penalties) */
    double p = gd_l2_penalty(m.w, g, m.ops->weight_count(&m), m.l2);
    assert_true(fabs(p - 0.25 * (4 + 16)) < 1e-12);
    assert_true(g[0] == 1.0f && g[1] == -2.0f && g[2] == 0.0f);
    gd_model_destroy(&m);
}

static void test_save_load_roundtrip(void **state)
{
    (void)state;
    gd_model m, back;
    assert_int_equal(gd_model_create(&m, "softmax", D, K, 4, NULL), GD_OK);
    for (size_t i = 0; i < m.nparams; i++)
        m.w[i] = (float)i / 3.0f;
    char path[256];
    snprintf(path, sizeof path, "%s/model.h5", unit_tmpdir());
    assert_int_equal(gd_model_save(&m, path), GD_OK);
    assert_int_equal(gd_model_load(&back, path, 4), GD_OK);
    assert_string_equal(back.ops->name, "softmax");
    assert_int_equal(back.features, D);
    assert_int_equal(back.outputs, K);
    assert_memory_equal(back.w, m.w, m.nparams * sizeof(float));
    gd_model_destroy(&back);
    gd_model_destroy(&m);
    gd_clear_error();
    assert_int_not_equal(gd_model_load(&back, "/nonexistent/model.h5", 4), GD_OK);
    assert_non_null(strstr(gd_errmsg(), "/nonexistent/model.h5"));
}

/* model.h5 records the input a trained model read (its config's [data]) and the load gives
 * it back, so that eval and predict read new data the same way; a model without a config
 * records the defaults. */
static void test_save_load_input(void **state)
{
    (void)state;
    gd_config cfg;
    gd_config_defaults(&cfg);
    cfg.data.scale = 1.0 / 255.0;
    snprintf(cfg.data.features, sizeof cfg.data.features, "pixels");
    snprintf(cfg.data.labels, sizeof cfg.data.labels, "digit");
    gd_model m, back;
    assert_int_equal(gd_model_create(&m, "softmax", D, K, 4, &cfg), GD_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/model-input.h5", unit_tmpdir());
    assert_int_equal(gd_model_save(&m, path), GD_OK);
    assert_int_equal(gd_model_load(&back, path, 4), GD_OK);
    assert_true(back.input.recorded);
    assert_true(back.input.scale == 1.0 / 255.0);
    assert_string_equal(back.input.features, "pixels");
    assert_string_equal(back.input.labels, "digit");
    gd_model_destroy(&m);
    assert_int_equal(gd_model_save(&back, path), GD_OK); /* a loaded model keeps it */
    gd_model_destroy(&back);
    assert_int_equal(gd_model_load(&back, path, 4), GD_OK);
    assert_true(back.input.scale == 1.0 / 255.0);
    assert_string_equal(back.input.features, "pixels");
    gd_model_destroy(&back);
    assert_int_equal(gd_model_create(&m, "linreg", D, 1, 4, NULL), GD_OK);
    assert_int_equal(gd_model_save(&m, path), GD_OK);
    gd_model_destroy(&m);
    assert_int_equal(gd_model_load(&back, path, 4), GD_OK);
    assert_true(back.input.recorded && back.input.scale == 1.0);
    assert_string_equal(back.input.features, "X");
    assert_string_equal(back.input.labels, "y");
    gd_model_destroy(&back);
}

/* cblas and MPI take ints: a batch beyond INT_MAX floats, or a parameter vector beyond it,
 * is refused with a message that says what to lower (before any large allocation). */
static void test_int_sizes_refused(void **state)
{
    (void)state;
    gd_model m;
    gd_clear_error();
    assert_int_equal(gd_model_create(&m, "softmax", 30000, 3, 100000, NULL), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "a batch of 100000 rows x 30000 features"));
    assert_non_null(strstr(gd_errmsg(), "lower train.batch_size to at most 71582"));
    gd_clear_error();
    assert_int_equal(gd_model_create(&m, "linreg", 2200000000UL, 1, 1, NULL), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "the largest matrix cblas takes"));
    assert_int_equal(gd_model_create(&m, "softmax", 30000, 3, 71582, NULL), GD_OK);
    gd_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linreg_gradient),  cmocka_unit_test(test_logreg_gradient),
        cmocka_unit_test(test_softmax_gradient), cmocka_unit_test(test_losses_are_stable),
        cmocka_unit_test(test_penalty),          cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_save_load_input),  cmocka_unit_test(test_int_sizes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
