/* The progress line's text (src/train/progress.c), which a terminal shows and redraws:
 * the figures in order, durations as a person reads them, and a line cut to its buffer. */
#include "unit.h"

#include "train/progress.h"

#include <math.h>

static void test_durations(void **state)
{
    (void)state;
    char b[32];
    const struct {
        double s;
        const char *text;
    } cases[] = {{0, "0s"}, {42.4, "42s"}, {59.7, "59s"}, {60, "1m00s"}, {187, "3m07s"},
                 {3599, "59m59s"}, {3600, "1h00m"}, {7500, "2h05m"}, {NAN, "?"}, {-1, "?"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gd_progress_duration(b, sizeof b, cases[i].s);
        assert_string_equal(b, cases[i].text);
    }
}

static void test_line(void **state)
{
    (void)state;
    gd_progress_figures p = {.epoch = 3, .epochs = 10, .step = 120, .steps = 313,
                             .elapsed_s = 4.2, .samples_per_s = 1520.4, .eta_s = 66};
    char b[160];
    const char *want = "epoch 3/10  step 120/313  elapsed 4s  1520 samples/s  ETA 1m06s";
    assert_int_equal(gd_progress_format(b, sizeof b, &p), strlen(want));
    assert_string_equal(b, want);
    p.eta_s = NAN; /* before the first step: no rate yet */
    gd_progress_format(b, sizeof b, &p);
    assert_non_null(strstr(b, "ETA ?"));
}

static void test_cut_to_fit(void **state)
{
    (void)state;
    gd_progress_figures p = {.epoch = 1, .epochs = 2, .step = 1, .steps = 2, .eta_s = 1};
    char b[11];
    assert_int_equal(gd_progress_format(b, sizeof b, &p), 10);
    assert_string_equal(b, "epoch 1/2 ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_cut_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
