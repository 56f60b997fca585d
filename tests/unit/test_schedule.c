/* Learning-rate schedules at several steps t, against values worked out by hand.
 * Every case: lr 0.1, 10 steps per epoch, 100 steps in the run, gamma 0.5,
 * step_epochs 2, decay 0.1, min_lr 0.01. */
#include "unit.h"

#include "gdmpi/schedule.h"

#include <math.h>

static const gd_schedule_params P = {.lr = 0.1,
                                     .gamma = 0.5,
                                     .step_epochs = 2,
                                     .decay = 0.1,
                                     .min_lr = 0.01,
                                     .steps_per_epoch = 10,
                                     .total_steps = 100};

/* lr of schedule `name` with warm-up `warmup_epochs` at t must be want. */
static void expect_lr(const char *name, double warmup_epochs, long t, double want)
{
    gd_schedule s;
    gd_schedule_params p = P;
    p.warmup_epochs = warmup_epochs;
    assert_int_equal(gd_schedule_create(&s, name, &p), 0);
    double got = gd_schedule_lr(&s, t);
    if (fabs(got - want) > 1e-12)
        fail_msg("%s (warm-up %g) at t = %ld: lr %.12g, want %.12g", name, warmup_epochs, t, got,
                 want);
}

static void test_constant(void **state)
{
    (void)state;
    expect_lr("constant", 0, 0, 0.1);
    expect_lr("constant", 0, 55, 0.1);
    expect_lr("constant", 0, 1000, 0.1);
}

static void test_step(void **state)
{
    (void)state;
    /* lr 0.5^floor(epochs done / 2), epochs done = floor(t / 10) */
    expect_lr("step", 0, 0, 0.1);    /* 0 epochs done */
    expect_lr("step", 0, 19, 0.1);   /* 1 epoch: still the first period */
    expect_lr("step", 0, 20, 0.05);  /* 2 epochs: one halving */
    expect_lr("step", 0, 45, 0.025); /* 4 epochs: two */
    expect_lr("step", 0, 99, 0.00625); /* 9 epochs: four, 0.1 / 16 */
}

static void test_exp(void **state)
{
    (void)state;
    /* lr 0.5^(epochs done) */
    expect_lr("exp", 0, 9, 0.1);
    expect_lr("exp", 0, 10, 0.05);
    expect_lr("exp", 0, 35, 0.0125); /* 3 epochs: 0.1 / 8 */
}

static void test_inverse(void **state)
{
    (void)state;
    /* lr / (1 + 0.1 t), t in steps */
    expect_lr("inverse", 0, 0, 0.1);
    expect_lr("inverse", 0, 10, 0.05);  /* 0.1 / 2 */
    expect_lr("inverse", 0, 30, 0.025); /* 0.1 / 4 */
}

static void test_cosine(void **state)
{
    (void)state;
    /* 0.01 + 0.09 (1 + cos(pi t / 100)) / 2 */
    expect_lr("cosine", 0, 0, 0.1);
    expect_lr("cosine", 0, 25, 0.01 + 0.09 * (1 + sqrt(0.5)) / 2); /* cos(pi/4) = sqrt(1/2) */
    expect_lr("cosine", 0, 50, 0.055);                            /* cos(pi/2) = 0 */
    expect_lr("cosine", 0, 100, 0.01);                            /* cos(pi) = -1 */
    expect_lr("cosine", 0, 150, 0.01); /* past the planned run (e.g. max_seconds): stays */
}

static void test_warmup(void **state)
{
    (void)state;
    /* 0.5 epochs = 5 steps: lr (t + 1) / 5 until t = 4 */
    expect_lr("constant", 0.5, 0, 0.02);
    expect_lr("constant", 0.5, 2, 0.06);
    expect_lr("constant", 0.5, 4, 0.1);
    expect_lr("constant", 0.5, 10, 0.1);
    /* in front of another type: the ramp multiplies that type's lr at the same t */
    expect_lr("inverse", 0.5, 1, 0.4 * 0.1 / 1.1);
    expect_lr("cosine", 2, 9, 0.5 * (0.01 + 0.09 * (1 + cos(acos(-1.0) * 0.09)) / 2));
}

static void test_registry(void **state)
{
    (void)state;
    gd_schedule s;
    assert_string_equal(gd_schedule_names(), "constant|step|exp|inverse|cosine");
    assert_int_equal(gd_schedule_create(&s, "linear", &P), 2);
    assert_non_null(gd_schedule_find("cosine"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant), cmocka_unit_test(test_step),
        cmocka_unit_test(test_exp),      cmocka_unit_test(test_inverse),
        cmocka_unit_test(test_cosine),   cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
