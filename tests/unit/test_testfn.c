/* Test functions: gradients against central finite differences, minima where the
 * literature puts them, and Adam from (-1.5, 2) on Rosenbrock reaching (1, 1). */
#include "unit.h"

#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/optim.h"

#include <math.h>
#include <mpi.h>

static gd_config cfg;

static void make_noisy(gd_model *m, const char *function, const char *start, double noise)
{
    gd_config_defaults(&cfg);
    cfg.model.noise = noise;
    snprintf(cfg.model.type, sizeof cfg.model.type, "testfn");
    snprintf(cfg.model.function, sizeof cfg.model.function, "%s", function);
    snprintf(cfg.model.start, sizeof cfg.model.start, "%s", start);
    assert_int_equal(gd_model_create(m, "testfn", 1, 1, 1, &cfg), GD_OK);
    gd_model_init(m, &cfg);
}

static void make(gd_model *m, const char *function, const char *start)
{
    make_noisy(m, function, start, 0);
}

/* f at (x, y) through the model's own loss (n = 1). */
static double f_at(gd_model *m, double x, double y)
{
    m->w[0] = (float)x, m->w[1] = (float)y;
    return m->ops->loss_grad(m, NULL, NULL, 1, NULL, NULL);
}

static void check_gradient(const char *function, double x, double y)
{
    gd_model m;
    make(&m, function, "");
    const double h = 1e-3;
    double fd[2] = {(f_at(&m, x + h, y) - f_at(&m, x - h, y)) / (2 * h),
                    (f_at(&m, x, y + h) - f_at(&m, x, y - h)) / (2 * h)};
    float g[2 + GD_GRAD_EXTRA] = {0};
    m.w[0] = (float)x, m.w[1] = (float)y;
    m.ops->loss_grad(&m, NULL, NULL, 3, g, NULL); /* sums: 3 x the gradient */
    for (int i = 0; i < 2; i++)
        if (fabs(g[i] / 3 - fd[i]) > 1e-2 * (1 + fabs(fd[i])))
            fail_msg("%s at (%g, %g): d/dw%d analytic %g, finite difference %g", function, x, y, i,
                     g[i] / 3, fd[i]);
    gd_model_destroy(&m);
}

static void test_gradients(void **state)
{
    (void)state;
    const char *names[] = {"rosenbrock", "beale", "saddle", "booth"};
    const double points[][2] = {{-1.5, 2}, {0.3, -0.7}, {1.2, 0.4}};
    for (int f = 0; f < 4; f++)
        for (int p = 0; p < 3; p++)
            check_gradient(names[f], points[p][0], points[p][1]);
}

static void test_minima_and_starts(void **state)
{
    (void)state;
    gd_model m;
    make(&m, "rosenbrock", "");
    assert_true(m.w[0] == -1.5f && m.w[1] == 2.0f); /* the usual start */
    assert_true(fabs(f_at(&m, 1, 1)) < 1e-12);
    gd_model_destroy(&m);
    make(&m, "beale", "");
    assert_true(fabs(f_at(&m, 3, 0.5)) < 1e-9);
    gd_model_destroy(&m);
    make(&m, "booth", "0.5, -2");
    assert_true(m.w[0] == 0.5f && m.w[1] == -2.0f); /* model.start */
    assert_true(fabs(f_at(&m, 1, 3)) < 1e-12);
    gd_model_destroy(&m);
}

static void test_bad_names(void **state)
{
    (void)state;
    gd_model m;
    gd_config_defaults(&cfg);
    snprintf(cfg.model.function, sizeof cfg.model.function, "himmelblau");
    gd_clear_error();
    assert_int_equal(gd_model_create(&m, "testfn", 1, 1, 1, &cfg), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "himmelblau"));
    snprintf(cfg.model.function, sizeof cfg.model.function, "booth");
    snprintf(cfg.model.start, sizeof cfg.model.start, "here");
    gd_clear_error();
    assert_int_equal(gd_model_create(&m, "testfn", 1, 1, 1, &cfg), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "model.start = 'here'"));
}

/* model.start is two finite numbers and nothing else, refused with a message naming the
 * key both by the parser (for the config) and by the model's setup. */
static void test_start_parse(void **state)
{
    (void)state;
    const char *good[] = {"1,2", "0.5, -2", " -1.5 , 2 ", "1e-3,4E2"};
    const double want[][2] = {{1, 2}, {0.5, -2}, {-1.5, 2}, {1e-3, 400}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double xy[2] = {0, 0};
        assert_int_equal(gd_testfn_parse_start(good[i], xy), GD_OK);
        assert_true(xy[0] == want[i][0] && xy[1] == want[i][1]);
    }
    const char *bad[] = {"1,2,3", "abc", "1", "1,", ",2", "1 2", "1,2x", "nan,1", "1,inf", "1e39,0"};
    char expect[64];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double xy[2] = {7, 8};
        snprintf(expect, sizeof expect, "model.start = '%s'", bad[i]);
        gd_clear_error();
        assert_int_equal(gd_testfn_parse_start(bad[i], xy), GD_ECONFIG);
        if (!strstr(gd_errmsg(), expect))
            fail_msg("'%s': message '%s'", bad[i], gd_errmsg());
        assert_true(xy[0] == 7 && xy[1] == 8); /* left alone */
        gd_model m;
        gd_config_defaults(&cfg);
        snprintf(cfg.model.start, sizeof cfg.model.start, "%s", bad[i]);
        gd_clear_error();
        assert_int_equal(gd_model_create(&m, "testfn", 1, 1, 1, &cfg), GD_ECONFIG);
        if (!strstr(gd_errmsg(), expect))
            fail_msg("setup, '%s': message '%s'", bad[i], gd_errmsg());
    }
}

/* The documented budget: adam, lr 0.02, 3000 steps, from (-1.5, 2). */
static void test_adam_solves_rosenbrock(void **state)
{
    (void)state;
    gd_model m;
    make(&m, "rosenbrock", "");
    gd_optim o;
    gd_optim_hparams hp = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    assert_int_equal(gd_optim_create(&o, "adam", &hp, 2), GD_OK);
    for (int step = 0; step < 3000; step++) {
        memset(m.g, 0, 2 * sizeof(float));
        m.ops->loss_grad(&m, NULL, NULL, 1, m.g, NULL);
        gd_optim_step(&o, m.w, m.g, 0.02f);
    }
    if (fabs(m.w[0] - 1) > 1e-2 || fabs(m.w[1] - 1) > 1e-2)
        fail_msg("adam ended at (%g, %g)", m.w[0], m.w[1]);
    gd_optim_destroy(&o);
    gd_model_destroy(&m);
}

/* The noise of a batch of n placeholder rows: the mean gradient's variance is noise^2 / n
 * (each row a sample of its own), not noise^2 whatever n. 4000 draws of the mean gradient
 * of booth (exact gradient at its minimum: 0) for n = 1 and n = 16; the sample variance of
 * 4000 normals is within 10% of the truth with overwhelming probability. */
static double noise_variance(size_t n)
{
    gd_model m;
    make_noisy(&m, "booth", "1,3", 0.5);
    double sum = 0, sumsq = 0;
    const int draws = 4000;
    for (int k = 0; k < draws; k++) {
        float g[2 + GD_GRAD_EXTRA] = {0};
        m.ops->loss_grad(&m, NULL, NULL, n, g, NULL);
        const double mean = g[0] / (double)n;
        sum += mean, sumsq += mean * mean;
    }
    gd_model_destroy(&m);
    return sumsq / draws - (sum / draws) * (sum / draws);
}

static void test_noise_shrinks_with_batch(void **state)
{
    (void)state;
    const double v1 = noise_variance(1), v16 = noise_variance(16);
    if (fabs(v1 / 0.25 - 1) > 0.1 || fabs(v16 / (0.25 / 16) - 1) > 0.1)
        fail_msg("mean-gradient noise variance %g at n = 1 (want 0.25), %g at n = 16 (want %g)",
                 v1, v16, 0.25 / 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_minima_and_starts),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_start_parse),
        cmocka_unit_test(test_adam_solves_rosenbrock),
        cmocka_unit_test(test_noise_shrinks_with_batch),
    };
    MPI_Init(NULL, NULL); /* the model's init asks its communicator for the rank */
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
