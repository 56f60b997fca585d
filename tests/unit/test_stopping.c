/* Stopping rules driven by synthetic loss sequences: tol, early stopping, the time
 * budget's step arithmetic. */
#include "unit.h"

#include "gdmpi/stopping.h"

#include <limits.h>
#include <math.h>

/* Feeds losses to a tol rule; returns the 1-based index of the loss that stopped it. */
static int tol_stops_at(double tol, long epochs, const double *loss, int n)
{
    gd_tol_rule r;
    gd_tol_init(&r, tol, epochs);
    for (int i = 0; i < n; i++)
        if (gd_tol_update(&r, loss[i]))
            return i + 1;
    return 0;
}

static void test_tol(void **state)
{
    (void)state;
    /* relative changes: 0.5, 0.004, 0.001 -> two calm epochs in a row at the 4th loss */
    const double settle[] = {1.0, 0.5, 0.498, 0.4975, 0.4974};
    assert_int_equal(tol_stops_at(0.01, 2, settle, 5), 4);
    /* a big change resets the count: calm, jump, calm, calm */
    const double reset[] = {1.0, 0.999, 0.5, 0.4999, 0.4998};
    assert_int_equal(tol_stops_at(0.01, 2, reset, 5), 5);
    /* tol_epochs = 1 stops at the first calm epoch */
    assert_int_equal(tol_stops_at(0.01, 1, reset, 5), 2);
    /* tol = 0 is off */
    assert_int_equal(tol_stops_at(0, 1, settle, 5), 0);
    /* a loss of exactly 0 twice is no change */
    const double zero[] = {0.0, 0.0};
    assert_int_equal(tol_stops_at(0.01, 1, zero, 2), 2);
    /* rising loss counts the same as falling: |change| */
    const double rising[] = {1.0, 1.2, 1.44};
    assert_int_equal(tol_stops_at(0.1, 1, rising, 3), 0);
}

static void test_early_stopping(void **state)
{
    (void)state;
    gd_early_stop r;
    gd_early_stop_init(&r, 2);
    assert_int_equal(gd_early_stop_update(&r, 1, 1.0), GD_ES_BETTER);
    assert_int_equal(gd_early_stop_update(&r, 2, 0.8), GD_ES_BETTER);
    assert_int_equal(gd_early_stop_update(&r, 3, 0.9), GD_ES_WORSE);
    assert_int_equal(gd_early_stop_update(&r, 4, 0.8), GD_ES_STOP); /* equal is not better */
    assert_int_equal(r.best_epoch, 2);
    assert_float_equal(r.best, 0.8, 0);
}

static void test_early_stopping_recovers(void **state)
{
    (void)state;
    gd_early_stop r;
    gd_early_stop_init(&r, 2);
    const double loss[] = {1.0, 1.1, 0.7, 0.75, 0.72, 0.6};
    const gd_early_verdict want[] = {GD_ES_BETTER, GD_ES_WORSE, GD_ES_BETTER,
                                     GD_ES_WORSE,  GD_ES_STOP,  GD_ES_BETTER};
    for (int i = 0; i < 5; i++)
        assert_int_equal(gd_early_stop_update(&r, i + 1, loss[i]), want[i]);
    assert_int_equal(r.best_epoch, 3);
}

static void test_early_stopping_nan_and_off(void **state)
{
    (void)state;
    gd_early_stop r;
    gd_early_stop_init(&r, 0); /* off: tracks the best epoch, never stops */
    assert_int_equal(gd_early_stop_update(&r, 1, NAN), GD_ES_WORSE);
    assert_int_equal(r.best_epoch, 0);
    assert_int_equal(gd_early_stop_update(&r, 2, 0.5), GD_ES_BETTER);
    for (int e = 3; e < 20; e++)
        assert_int_equal(gd_early_stop_update(&r, e, 0.9), GD_ES_WORSE);
    assert_int_equal(gd_early_stop_update(&r, 20, INFINITY), GD_ES_WORSE);
    assert_int_equal(r.best_epoch, 2);
}

static void test_deadline(void **state)
{
    (void)state;
    /* 10 s budget, 2 used, 1 kept back, 0.1 s per step: 70 more steps */
    assert_int_equal(gd_deadline_step(10, 2, 0.1, 1, 500), 570);
    /* out of time: stop now */
    assert_int_equal(gd_deadline_step(10, 9.5, 0.1, 1, 500), 500);
    assert_int_equal(gd_deadline_step(10, 12, 0.1, 1, 500), 500);
    /* a partial step does not fit: 0.25 s left at 0.1 s per step is 2 steps */
    assert_int_equal(gd_deadline_step(10, 8.75, 0.1, 1, 0), 2);
    /* nothing measured yet: one step, then look again */
    assert_int_equal(gd_deadline_step(10, 1, 0, 1, 7), 8);
    /* a huge budget does not overflow */
    assert_int_equal(gd_deadline_step(1e12, 0, 1e-9, 0, 5), LONG_MAX);
}

static void test_reason_names(void **state)
{
    (void)state;
    assert_string_equal(gd_stop_reason_name(GD_STOP_EARLY), "early_stopping");
    assert_string_equal(gd_stop_reason_name(GD_STOP_MAX_SECONDS), "max_seconds");
    assert_string_equal(gd_stop_reason_name(GD_STOP_DIVERGED), "diverged");
    assert_string_equal(gd_stop_reason_name(GD_STOP_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tol),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_early_stopping_recovers),
        cmocka_unit_test(test_early_stopping_nan_and_off),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
