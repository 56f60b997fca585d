/* Checkpoints without MPI: output.checkpoint_every in the config, which keys the config hash
 * leaves out, the hash, and the signal handler's bookkeeping. Whole runs, resumes and
 * faults: tests/e2e/checkpoint.sh and tests/e2e/faults.sh. */
#include "unit.h"

#include "gdmpi/checkpoint.h"
#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/signals.h"

#include <signal.h>

static void test_config_rejects_bad_every(void **state)
{
    (void)state;
    gd_config c;
    gd_config_defaults(&c);
    assert_int_equal(gd_config_set(&c, "data.train=x.h5"), GD_OK);
    assert_int_equal(gd_config_set(&c, "output.checkpoint_every=2s"), GD_OK);
    assert_int_equal(gd_config_finish(&c), GD_OK);
    assert_int_equal(c.output.checkpoint_steps, 2);
    assert_int_equal(gd_config_set(&c, "output.checkpoint_every=two"), GD_OK);
    gd_clear_error();
    assert_int_equal(gd_config_finish(&c), GD_ECONFIG);
    assert_string_equal(gd_config_find("train", "resume")->defval, "never");
}

static void test_keys_that_may_change(void **state)
{
    (void)state;
    assert_true(gd_checkpoint_key_may_change("train", "epochs"));
    assert_true(gd_checkpoint_key_may_change("train", "resume"));
    assert_true(gd_checkpoint_key_may_change("train", "max_seconds"));
    assert_true(gd_checkpoint_key_may_change("output", "dir"));
    assert_true(gd_checkpoint_key_may_change("output", "checkpoint_every"));
    assert_true(gd_checkpoint_key_may_change("data", "train"));
    assert_false(gd_checkpoint_key_may_change("optimizer", "lr"));
    assert_false(gd_checkpoint_key_may_change("train", "seed"));
    assert_false(gd_checkpoint_key_may_change("train", "batch_size"));
    assert_false(gd_checkpoint_key_may_change("parallel", "mode"));
    assert_false(gd_checkpoint_key_may_change("model", "hidden"));
}

/* The hash follows the checked keys only. */
static void test_config_hash(void **state)
{
    (void)state;
    static char a[65536], b[65536];
    gd_config c;
    gd_config_defaults(&c);
    gd_checkpoint_config_text(&c, a, sizeof a);
    assert_non_null(strstr(a, "optimizer.lr = "));
    assert_null(strstr(a, "train.epochs"));
    assert_null(strstr(a, "output.dir"));
    uint64_t h = gd_checkpoint_hash(a);
    assert_int_equal(gd_config_set(&c, "train.epochs=99"), GD_OK);
    assert_int_equal(gd_config_set(&c, "output.dir=elsewhere"), GD_OK);
    assert_int_equal(gd_config_set(&c, "train.resume=auto"), GD_OK);
    gd_checkpoint_config_text(&c, b, sizeof b);
    assert_true(gd_checkpoint_hash(b) == h);
    assert_int_equal(gd_config_set(&c, "optimizer.lr=0.5"), GD_OK);
    gd_checkpoint_config_text(&c, b, sizeof b);
    assert_true(gd_checkpoint_hash(b) != h);
    assert_true(gd_checkpoint_hash("") == 0xcbf29ce484222325ULL); /* FNV-1a's offset basis */
    /* a short buffer is cut, never overrun */
    char small[17];
    small[16] = 'X'; /* a guard byte after the 16 the call may use */
    assert_true(gd_checkpoint_config_text(&c, small, 16) < 16);
    assert_true(strlen(small) == 15 && small[16] == 'X');
}

static void test_signal_is_recorded(void **state)
{
    (void)state;
    assert_int_equal(gd_signals_install(), GD_OK);
    assert_int_equal(gd_signal_pending(), 0);
    raise(SIGUSR1); /* not SIGTERM / SIGINT, which would send the rest of stdout away */
    assert_int_equal(gd_signal_pending(), SIGUSR1);
    gd_signals_uninstall();
    assert_int_equal(gd_signal_pending(), 0);
    assert_int_equal(gd_signals_install(), GD_OK); /* again, after uninstall */
    raise(SIGUSR1);
    assert_int_equal(gd_signal_pending(), SIGUSR1);
    gd_signals_uninstall();
    assert_string_equal(gd_signal_name(SIGTERM), "SIGTERM");
    assert_string_equal(gd_signal_name(SIGINT), "SIGINT");
    assert_string_equal(gd_signal_name(SIGUSR1), "SIGUSR1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_rejects_bad_every),
        cmocka_unit_test(test_keys_that_may_change),
        cmocka_unit_test(test_config_hash),
        cmocka_unit_test(test_signal_is_recorded),
    };
    return cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
}
