/* Config parsing: every value type, every error the table reports, --set overrides. */
#include "unit.h"

#include "gdmpi/config.h"
#include "gdmpi/config_check.h"
#include "gdmpi/error.h"
#include "gdmpi/real.h"

#include <math.h>
#include <sys/stat.h>

/* Writes text to a fresh file in the scratch dir and returns its path. */
static const char *write_cfg(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text as a config with the given overrides; returns the status. */
static int load_text(gd_config *c, const char *text, int nset, char **sets)
{
    gd_clear_error();
    return gd_config_from_args(c, write_cfg("t.cfg", text), nset, sets);
}

static void assert_error(const char *text, const char *needle)
{
    gd_config c;
    assert_int_equal(load_text(&c, text, 0, NULL), GD_ECONFIG);
    if (!strstr(gd_errmsg(), needle))
        fail_msg("message '%s' lacks '%s'", gd_errmsg(), needle);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    gd_config c;
    assert_int_equal(load_text(&c,
                               "[data]\ntrain = a.h5\nscale = 0.5\n[train]\nepochs = 3\n"
                               "batch_size = full\nshuffle = false\n[model]\ntype = linreg\n",
                               0, NULL),
                     GD_OK);
    char in_folder[300];
    snprintf(in_folder, sizeof in_folder, "%s/a.h5", unit_tmpdir()); /* the config's folder */
    assert_string_equal(c.data.train, in_folder);
    assert_true(c.data.scale == 0.5);
    assert_int_equal(c.train.epochs, 3);
    assert_int_equal(c.train.batch_size, 0);
    assert_int_equal(c.train.shuffle, 0);
    assert_string_equal(c.model.type, "linreg");
    assert_string_equal(c.data.features, "X");   /* untouched default */
    assert_string_equal(c.output.dir, "runs/t"); /* runs/<config name> */
}

static void test_set_overrides(void **state)
{
    (void)state;
    gd_config c;
    char *sets[] = {"optimizer.lr=0.05", "train.batch_size=7", "output.dir=/tmp/x"};
    assert_int_equal(load_text(&c, "[data]\ntrain = a.h5\n[optimizer]\nlr = 1\n", 3, sets), GD_OK);
    assert_true(c.optimizer.lr == 0.05);
    assert_int_equal(c.train.batch_size, 7);
    assert_string_equal(c.output.dir, "/tmp/x");
}

static void test_set_errors(void **state)
{
    (void)state;
    gd_config c;
    char *bad_form[] = {"optimizer.lr"};
    assert_int_equal(load_text(&c, "[data]\ntrain = a\n", 1, bad_form), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "--set optimizer.lr"));
    char *bad_key[] = {"optimizer.lrr=1"};
    assert_int_equal(load_text(&c, "[data]\ntrain = a\n", 1, bad_key), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "unknown key 'lrr'"));
    char *bad_value[] = {"train.epochs=many"};
    assert_int_equal(load_text(&c, "[data]\ntrain = a\n", 1, bad_value), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "not an integer"));
}

static void test_unknown_section_names_file_and_line(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\n\n[optimiser]\nlr = 1\n", "t.cfg:5: unknown section [optimiser]");
}

static void test_unknown_key_lists_known(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\n[optimizer]\nlrr = 1\n", "t.cfg:4: unknown key 'lrr'");
    assert_error("[data]\ntrain = a\n[optimizer]\nlrr = 1\n", "known: type, lr");
}

static void test_bad_types(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\n[train]\nepochs = 2.5\n", "train.epochs = '2.5': not an integer");
    assert_error("[data]\ntrain = a\n[optimizer]\nlr = fast\n", "optimizer.lr = 'fast': not a number");
    assert_error("[data]\ntrain = a\n[train]\nshuffle = maybe\n", "not a boolean");
    assert_error("[data]\ntrain = a\n[train]\nbatch_size = half\n", "train.batch_size");
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\n[train]\nepochs = 0\n", "train.epochs = 0: out of range");
    assert_error("[data]\ntrain = a\n[train]\nbatch_size = -4\n", "out of range");
    assert_error("[data]\ntrain = a\n[optimizer]\nlr = -1\n", "optimizer.lr = -1: out of range");
    assert_error("[data]\ntrain = a\n[optimizer]\nlr = 1e400\n", "not a number");
}

static void test_unknown_names_list_known(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\n[model]\ntype = svm\n", "model.type = 'svm': unknown name (known: linreg|");
    assert_error("[data]\ntrain = a\n[optimizer]\ntype = lbfgs\n", "optimizer.type = 'lbfgs': unknown");
    assert_error("[data]\ntrain = a\n[parallel]\nmode = magic\n", "parallel.mode = 'magic': unknown");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\n[train]\nepochs = 2\nepochs = 3\n", "t.cfg:5: duplicate key 'epochs'");
}

static void test_missing_required(void **state)
{
    (void)state;
    assert_error("[train]\nepochs = 2\n", "missing required key 'train' in [data]");
    assert_error("", "missing required key"); /* an empty file */
}

static void test_syntax_and_garbage(void **state)
{
    (void)state;
    assert_error("[data]\ntrain = a\nthis line has no equals sign\n", "t.cfg:3: syntax error");
    assert_error("\x7f" "ELF\x01\x02\x03\n\x01\x02", "t.cfg:1:");
    assert_error("key = before any section\n", "unknown section []");
}

static void test_missing_file(void **state)
{
    (void)state;
    gd_config c;
    gd_clear_error();
    assert_int_equal(gd_config_from_args(&c, "/nonexistent/x.cfg", 0, NULL), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "/nonexistent/x.cfg: cannot open config"));
}

/* output.checkpoint_every (GD_KEY_EVERY): kept as text by the parser, parsed by
 * gd_config_finish into checkpoint_epochs or checkpoint_steps. */
static int finish_every(gd_config *c, const char *every)
{
    char set[96];
    snprintf(set, sizeof set, "output.checkpoint_every=%s", every);
    gd_config_defaults(c);
    assert_int_equal(gd_config_set(c, "data.train=x.h5"), GD_OK);
    assert_int_equal(gd_config_set(c, set), GD_OK);
    gd_clear_error();
    return gd_config_finish(c);
}

static void test_checkpoint_every(void **state)
{
    (void)state;
    gd_config c;
    assert_int_equal(finish_every(&c, "3"), GD_OK);
    assert_int_equal(c.output.checkpoint_epochs, 3);
    assert_int_equal(c.output.checkpoint_steps, 0);
    assert_int_equal(finish_every(&c, "250s"), GD_OK);
    assert_int_equal(c.output.checkpoint_epochs, 0);
    assert_int_equal(c.output.checkpoint_steps, 250);
    assert_int_equal(finish_every(&c, "0"), GD_OK);
    assert_int_equal(c.output.checkpoint_epochs + c.output.checkpoint_steps, 0);
    const char *bad[] = {"", "s", "0s", "-1", "2e", "2ss", "3 epochs", "x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(finish_every(&c, bad[i]), GD_ECONFIG);
        assert_non_null(strstr(gd_errmsg(), "output.checkpoint_every"));
        assert_non_null(strstr(gd_errmsg(), "expected N (every N epochs), Ns (every N optimizer "
                                            "steps) or 0 (off)"));
    }
}

static void test_print_roundtrip(void **state)
{
    (void)state;
    gd_config c, back;
    char *sets[] = {"train.batch_size=full", "data.scale=0.00392156862745098"};
    assert_int_equal(load_text(&c, "[data]\ntrain = a.h5\n", 2, sets), GD_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/printed.cfg", unit_tmpdir());
    FILE *f = fopen(path, "w");
    gd_config_print(&c, f);
    fclose(f);
    gd_config_defaults(&back);
    assert_int_equal(gd_config_load(&back, path), GD_OK); /* the printout is itself a valid config */
    assert_int_equal(back.train.batch_size, 0);
    assert_true(back.data.scale == c.data.scale);
    assert_string_equal(back.data.train, c.data.train);
}

/* gd_real: the fewest digits that read back, for values a config holds and for values
 * that need all 17 digits. */
static void test_real_shortest(void **state)
{
    (void)state;
    assert_string_equal(gd_real(0.1).text, "0.1");
    assert_string_equal(gd_real(0.05).text, "0.05");
    assert_string_equal(gd_real(1e-8).text, "1e-08");
    assert_string_equal(gd_real(1e6).text, "1e+06");
    assert_string_equal(gd_real(-2.5).text, "-2.5");
    assert_string_equal(gd_real(0).text, "0");
    assert_string_equal(gd_real(1.0 / 255).text, "0.00392156862745098");
    assert_string_equal(gd_real(1.0 / 3).text, "0.3333333333333333");
    assert_string_equal(gd_real(0.1 + 0.2).text, "0.30000000000000004");
    assert_string_equal(gd_real(INFINITY).text, "inf");
    /* every value reads back exactly, whatever its magnitude */
    for (double x = 1e-300; x < 1e300; x *= 7.3901) {
        double y = x * 1.0000000000000002;
        assert_true(strtod(gd_real(y).text, NULL) == y);
    }
}

/* `gdmpi config` prints reals in that form; error messages quote the range that way. */
static void test_print_shortest(void **state)
{
    (void)state;
    gd_config c;
    char *sets[] = {"optimizer.lr=0.1"};
    assert_int_equal(load_text(&c, "[data]\ntrain = a.h5\n", 1, sets), GD_OK);
    char value[64];
    gd_config_format(&c, gd_config_find("optimizer", "lr"), value, sizeof value);
    assert_string_equal(value, "0.1");
    assert_error("[data]\ntrain = a\n[optimizer]\nlr = 2e6\n",
                 "optimizer.lr = 2e6: out of range [0, 1e+06]");
}

/* Relative paths in a config file are relative to its folder; absolute ones, empty ones and
 * train.resume's words stay; a --set path is relative to the working directory. */
static void test_paths_relative_to_config(void **state)
{
    (void)state;
    char dir[200], path[300], want[400];
    snprintf(dir, sizeof dir, "%s/sub", unit_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/p.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[data]\ntrain = ../d/train.h5\nval = /abs/val.h5\n[train]\nresume = ck/c.h5\n"
          "[output]\ndir = out\n", f);
    fclose(f);
    gd_config c;
    char *sets[] = {"data.val=rel/val.h5"};
    assert_int_equal(gd_config_from_args(&c, path, 0, NULL), GD_OK);
    snprintf(want, sizeof want, "%s/../d/train.h5", dir);
    assert_string_equal(c.data.train, want);
    assert_string_equal(c.data.val, "/abs/val.h5");
    snprintf(want, sizeof want, "%s/ck/c.h5", dir);
    assert_string_equal(c.train.resume, want);
    snprintf(want, sizeof want, "%s/out", dir);
    assert_string_equal(c.output.dir, want);
    assert_int_equal(gd_config_from_args(&c, path, 1, sets), GD_OK);
    assert_string_equal(c.data.val, "rel/val.h5"); /* --set: the working directory */
    assert_int_equal(load_text(&c, "[data]\ntrain = /a.h5\nval =\n[train]\nresume = auto\n", 0,
                               NULL), GD_OK);
    assert_string_equal(c.train.resume, "auto");
    assert_string_equal(c.data.val, "");
}

static void test_reference_lists_every_key(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gd_config_print_reference(f);
    fclose(f);
    for (size_t i = 0; i < gd_nkeys; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "`%s.%s`", gd_keys[i].section, gd_keys[i].name);
        assert_non_null(strstr(buf, needle));
    }
    free(buf);
}

/* optimizer.eps = 0 (the default) resolves to the optimizer's own: adadelta 1e-6 (Zeiler,
 * torch), the others 1e-8; a value set by hand stays. */
static void test_eps_defaults(void **state)
{
    (void)state;
    const struct { const char *type, *set; double want; } cases[] = {
        {"adadelta", NULL, 1e-6}, {"adam", NULL, 1e-8}, {"rmsprop", NULL, 1e-8},
        {"adadelta", "optimizer.eps=1e-7", 1e-7}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gd_config c;
        gd_config_defaults(&c);
        snprintf(c.optimizer.type, sizeof c.optimizer.type, "%s", cases[k].type);
        assert_int_equal(gd_config_set(&c, "data.train=x.h5"), GD_OK);
        if (cases[k].set)
            assert_int_equal(gd_config_set(&c, cases[k].set), GD_OK);
        assert_int_equal(gd_config_check(&c), GD_OK);
        if (c.optimizer.eps != cases[k].want)
            fail_msg("%s: eps %g, want %g", cases[k].type, c.optimizer.eps, cases[k].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eps_defaults),
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_unknown_section_names_file_and_line),
        cmocka_unit_test(test_unknown_key_lists_known),
        cmocka_unit_test(test_bad_types),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_unknown_names_list_known),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_syntax_and_garbage),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_checkpoint_every),
        cmocka_unit_test(test_print_roundtrip),
        cmocka_unit_test(test_reference_lists_every_key),
        cmocka_unit_test(test_real_shortest),
        cmocka_unit_test(test_paths_relative_to_config),
        cmocka_unit_test(test_print_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
