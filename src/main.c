/* gdmpi command line: dispatch only; every command lives in its component. */
#include "gdmpi/config.h"
#include "gdmpi/config_check.h"
#include "gdmpi/data.h"
#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/provenance.h"
#include "gdmpi/train.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_main[] =
    "usage: gdmpi CONFIG [--set section.key=value]...   train (also: gdmpi train CONFIG ...)\n"
    "       gdmpi config CONFIG [--set ...]              print the resolved config\n"
    "       gdmpi config CONFIG [--set ...] --check      check that a run would start\n"
    "       gdmpi config --reference                     print the config key reference\n"
    "       gdmpi eval CONFIG [--set ...]                evaluate output.dir/model.h5\n"
    "       gdmpi eval --model MODEL.h5 --data DATA.h5   evaluate a saved model\n"
    "       gdmpi predict --model M --data D -o OUT      per-row predictions, OUT.h5 or OUT.csv\n"
    "       gdmpi data gen|convert|info ...              make, convert and inspect data\n"
    "       gdmpi --version | --help\n"
    "Each command takes --help (gdmpi predict --help). Run under mpirun for several\n"
    "ranks: mpirun -np 4 gdmpi run.cfg\n";

static const char usage_data[] =
    "usage: gdmpi data gen --task linreg|logreg|softmax --rows N --features D [--classes K]\n"
    "                      [--noise S] [--seed N] -o TRAIN.h5 [--val VAL.h5 --val-rows M]\n"
    "                      [--chunk-rows N] [--gzip LEVEL]   (chunked HDF5, deflate 1..9)\n"
    "       gdmpi data convert idx --images IMAGES --labels LABELS -o OUT.h5\n"
    "       gdmpi data info FILE.h5\n"
    "example: gdmpi data gen --task softmax --rows 1000 --features 20 --classes 4 -o train.h5\n";

/* The commands' own --help: usage, what it does, its options, one example. */
static const char help_train[] =
    "usage: gdmpi train CONFIG [--set section.key=value]...   (also: gdmpi CONFIG ...)\n"
    "Trains the model CONFIG describes; outputs go to output.dir (docs/outputs.md).\n"
    "options:\n"
    "  --set section.key=value   override one config key (repeatable; gdmpi config\n"
    "                            --reference lists the keys)\n"
    "example: mpirun -np 2 gdmpi train run.cfg --set optimizer.lr=0.05\n";

static const char help_config[] =
    "usage: gdmpi config CONFIG [--set section.key=value]... [--check]\n"
    "       gdmpi config --reference\n"
    "Prints the resolved config (every key, with its default), or the key reference.\n"
    "options:\n"
    "  --set section.key=value   override one config key (repeatable)\n"
    "  --check                   instead, check that a run would start: the config, and\n"
    "                            output.dir (another run's outputs there are refused unless\n"
    "                            output.overwrite or train.resume say what to do with them)\n"
    "  --reference               the reference of every key (docs/configuration.md)\n"
    "example: gdmpi config run.cfg --set train.epochs=3\n";

static const char help_eval[] =
    "usage: gdmpi eval CONFIG [--set section.key=value]...\n"
    "       gdmpi eval --model MODEL.h5 --data DATA.h5\n"
    "Prints the loss (and accuracy) of output.dir/model.h5 on data.val, or of MODEL.h5 on\n"
    "DATA.h5, read with the dataset names and data.scale the model records.\n"
    "options:\n"
    "  --set section.key=value   override one config key (repeatable)\n"
    "  --model MODEL.h5          a saved model (with --data)\n"
    "  --data DATA.h5            the data to evaluate it on (with --model)\n"
    "example: gdmpi eval --model runs/run/model.h5 --data data/fmnist-test.h5\n";

static const char help_predict[] =
    "usage: gdmpi predict --model MODEL.h5 --data DATA.h5 -o OUT.h5|OUT.csv\n"
    "Writes one prediction per row of DATA.h5 (read as the model records; labels are not\n"
    "needed): the class and the class probabilities, or the value (docs/outputs.md).\n"
    "options:\n"
    "  --model MODEL.h5          a saved model\n"
    "  --data DATA.h5            the rows to predict\n"
    "  -o OUT.h5|OUT.csv         the output, HDF5 or CSV by its name\n"
    "example: mpirun -np 2 gdmpi predict --model runs/run/model.h5 --data data/fmnist-test.h5 -o pred.h5\n";

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

/* A command-line error: recorded (the caller prints it once, on rank 0) with a pointer to
 * the help of the command (help: "gdmpi", "gdmpi data"); status 2. */
static int usage_error(const char *help, const char *fmt, const char *arg)
{
    char what[GD_PATH_MAX + 128];
    snprintf(what, sizeof what, fmt, arg);
    return gd_fail(GD_ECONFIG, "%s (see '%s --help')", what, help);
}

/* Splits "CONFIG [--set k=v]..." into the path and the overrides (in place). */
static int parse_config_args(int argc, char **argv, const char **path, char **sets, int *nset)
{
    *path = NULL;
    *nset = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc)
            sets[(*nset)++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6))
            sets[(*nset)++] = argv[i] + 6;
        else if (argv[i][0] == '-' || *path)
            return usage_error("gdmpi", "unexpected argument '%s'", argv[i]);
        else
            *path = argv[i];
    }
    if (!*path)
        return usage_error("gdmpi", "%s", "missing CONFIG file");
    return GD_OK;
}

static void print_error(int rank)
{
    if (rank == 0)
        fprintf(stderr, "gdmpi: error: %s\n", gd_errmsg());
}

/* "CONFIG [--set k=v]..." to a resolved config (defaults, file, overrides, checks). */
static int config_from_command_line(int argc, char **argv, gd_config *cfg)
{
    const char *path;
    int nset;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    if (!sets)
        return gd_fail(GD_ERR, "out of memory");
    int rc = parse_config_args(argc, argv, &path, sets, &nset);
    if (!rc)
        rc = gd_config_from_args(cfg, path, nset, sets);
    free(sets);
    return rc;
}

static int cmd_train(int argc, char **argv)
{
    int rank;
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    gd_config cfg;
    int rc = gd_agree(MPI_COMM_WORLD, config_from_command_line(argc, argv, &cfg));
    if (!rc)
        rc = gd_train(&cfg, MPI_COMM_WORLD);
    if (rc)
        print_error(rank);
    MPI_Finalize();
    return rc;
}

/* Removes every FLAG from argv (in place); whether there was one. */
static int take_flag(int *argc, char **argv, const char *flag)
{
    int kept = 0, found = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], flag))
            found = 1;
        else
            argv[kept++] = argv[i];
    }
    *argc = kept;
    return found;
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 1 && !strcmp(argv[0], "--reference")) {
        gd_config_print_reference(stdout);
        return GD_OK;
    }
    int check = take_flag(&argc, argv, "--check");
    gd_config cfg;
    int rc = config_from_command_line(argc, argv, &cfg);
    const char *verdict = NULL;
    if (!rc && check)
        rc = gd_train_check_outputs(&cfg, &verdict);
    if (rc)
        print_error(0);
    else if (check)
        printf("the config is valid; output.dir = '%s': %s\n", cfg.output.dir, verdict);
    else
        gd_config_print(&cfg, stdout);
    return rc;
}

static int eval_with_config(int argc, char **argv)
{
    gd_config cfg;
    int rc = gd_agree(MPI_COMM_WORLD, config_from_command_line(argc, argv, &cfg));
    if (rc)
        return rc;
    char model[GD_PATH_MAX + 16];
    snprintf(model, sizeof model, "%s/model.h5", cfg.output.dir);
    const char *data = cfg.data.val[0] ? cfg.data.val : cfg.data.train;
    gd_model_input given = {.scale = cfg.data.scale, .recorded = 1};
    snprintf(given.features, sizeof given.features, "%s", cfg.data.features);
    snprintf(given.labels, sizeof given.labels, "%s", cfg.data.labels);
    return gd_model_eval_files(model, data, &given, MPI_COMM_WORLD, stdout);
}

/* One "--name VALUE" option of a command that takes only such options. */
typedef struct value_option {
    const char *name;
    const char **value;
} value_option;

/* Fills the options (a list ending in a NULL name), each given once with a value; any
 * other argument is an error, reported with unknown (a format with one %s: the argument). */
static int parse_value_options(int argc, char **argv, const value_option *opts,
                               const char *help, const char *unknown)
{
    for (int i = 0; i < argc; i++) {
        const value_option *o = opts;
        while (o->name && strcmp(o->name, argv[i]))
            o++;
        if (!o->name)
            return usage_error(help, unknown, argv[i]);
        if (*o->value || i + 1 >= argc)
            return usage_error(help, "'%s' needs one value, given once", argv[i]);
        *o->value = argv[++i];
    }
    return GD_OK;
}

/* "--model M --data D", each once, and nothing else: the model records how to read D. */
static int parse_model_data_args(int argc, char **argv, const char **model, const char **data)
{
    *model = *data = NULL;
    const value_option opts[] = {{"--model", model}, {"--data", data}, {NULL, NULL}};
    int rc = parse_value_options(argc, argv, opts, "gdmpi eval",
                                 "unexpected argument '%s': eval --model M --data D takes no "
                                 "other option, the model records its input");
    if (!rc && (!*model || !*data))
        return usage_error("gdmpi eval", "%s", "eval needs both --model and --data");
    return rc;
}

/* 1 when the arguments name a model file rather than a config. */
static int names_model_file(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--model") || !strcmp(argv[i], "--data"))
            return 1;
    return 0;
}

static int eval_model_file(int argc, char **argv)
{
    const char *model, *data;
    int rc = gd_agree(MPI_COMM_WORLD, parse_model_data_args(argc, argv, &model, &data));
    return rc ? rc : gd_model_eval_files(model, data, NULL, MPI_COMM_WORLD, stdout);
}

static int eval_command(int argc, char **argv)
{
    return names_model_file(argc, argv) ? eval_model_file(argc, argv)
                                        : eval_with_config(argc, argv);
}

/* -o names a file predict may replace: .h5 or .csv (the format), neither input. */
static int check_output_name(const char *out, const char *model, const char *data)
{
    size_t n = strlen(out);
    int csv = n > 4 && !strcmp(out + n - 4, ".csv"), h5 = n > 3 && !strcmp(out + n - 3, ".h5");
    if (!csv && !h5)
        return usage_error("gdmpi predict", "-o '%s': the name must end in .h5 or .csv", out);
    if (!strcmp(out, model) || !strcmp(out, data))
        return usage_error("gdmpi predict", "-o '%s' would replace an input", out);
    return GD_OK;
}

static int predict_command(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *out = NULL;
    const value_option opts[] = {{"--model", &model}, {"--data", &data}, {"-o", &out},
                                 {NULL, NULL}};
    int rc = parse_value_options(argc, argv, opts, "gdmpi predict",
                                 "unexpected argument '%s' (predict takes --model, --data, -o)");
    if (!rc && (!model || !data || !out))
        rc = usage_error("gdmpi predict", "%s", "predict needs --model, --data and -o");
    if (!rc)
        rc = check_output_name(out, model, data);
    if ((rc = gd_agree(MPI_COMM_WORLD, rc)))
        return rc;
    return gd_model_predict_files(model, data, out, MPI_COMM_WORLD, stdout);
}

/* Runs an MPI command between MPI_Init and MPI_Finalize; rank 0 prints its error. */
static int with_mpi(int (*command)(int, char **), int argc, char **argv)
{
    MPI_Init(NULL, NULL);
    int rc = command(argc, argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc)
        print_error(rank);
    MPI_Finalize();
    return rc;
}

/* Reads "--name value" pairs for data gen into the spec. */
static int parse_gen_option(gd_gen_spec *s, const char *name, const char *v)
{
    char *end = NULL;
    if (!strcmp(name, "--task")) {
        if (!strcmp(v, "linreg")) s->task = GD_TASK_REGRESSION;
        else if (!strcmp(v, "logreg")) s->task = GD_TASK_BINARY;
        else if (!strcmp(v, "softmax")) s->task = GD_TASK_CLASSES;
        else return usage_error("gdmpi data", "unknown --task '%s' (known: linreg, logreg, softmax)", v);
        return GD_OK;
    }
    if (!strcmp(name, "-o")) { s->out = v; return GD_OK; }
    if (!strcmp(name, "--val")) { s->val_out = v; return GD_OK; }
    if (!strcmp(name, "--noise")) s->noise = strtod(v, &end);
    else if (!strcmp(name, "--rows")) s->rows = strtoull(v, &end, 10);
    else if (!strcmp(name, "--features")) s->features = strtoull(v, &end, 10);
    else if (!strcmp(name, "--classes")) s->classes = strtol(v, &end, 10);
    else if (!strcmp(name, "--seed")) s->seed = strtoull(v, &end, 10);
    else if (!strcmp(name, "--val-rows")) s->val_rows = strtoull(v, &end, 10);
    else if (!strcmp(name, "--chunk-rows")) s->chunk_rows = strtoull(v, &end, 10);
    else if (!strcmp(name, "--gzip")) s->gzip = strtol(v, &end, 10);
    else return usage_error("gdmpi data", "unknown option '%s'", name);
    if (!end || end == v || *end || v[0] == '-')
        return usage_error("gdmpi data", "bad number '%s'", v);
    return GD_OK;
}

static int cmd_data_gen(int argc, char **argv)
{
    gd_gen_spec s = {.task = GD_TASK_CLASSES, .classes = 0, .noise = 0.1, .seed = 1};
    int have_task = 0;
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage_error("gdmpi data", "option '%s' needs a value", argv[i]);
        have_task |= !strcmp(argv[i], "--task");
        int rc = parse_gen_option(&s, argv[i], argv[i + 1]);
        if (rc)
            return rc;
    }
    if (!have_task || !s.out)
        return usage_error("gdmpi data", "%s", "data gen needs --task and -o");
    if (s.task == GD_TASK_CLASSES && !s.classes)
        s.classes = 3;
    int rc = gd_data_generate(&s);
    if (rc == GD_OK)
        rc = gd_data_report_written(s.out, stdout);
    if (rc == GD_OK && s.val_out)
        rc = gd_data_report_written(s.val_out, stdout);
    return rc;
}

static int cmd_data_convert(int argc, char **argv)
{
    const char *images = NULL, *labels = NULL, *out = NULL;
    if (argc < 1 || strcmp(argv[0], "idx"))
        return usage_error("gdmpi data", "%s", "data convert supports one format: idx");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--images")) images = argv[i + 1];
        else if (!strcmp(argv[i], "--labels")) labels = argv[i + 1];
        else if (!strcmp(argv[i], "-o")) out = argv[i + 1];
        else return usage_error("gdmpi data", "unknown option '%s'", argv[i]);
    }
    if (!images || !labels || !out || argc % 2 == 0)
        return usage_error("gdmpi data", "%s", "data convert idx needs --images, --labels and -o");
    int rc = gd_idx_convert(images, labels, out);
    return rc == GD_OK ? gd_data_report_written(out, stdout) : rc;
}

static int data_command(int argc, char **argv)
{
    if (!strcmp(argv[0], "gen"))
        return cmd_data_gen(argc - 1, argv + 1);
    if (!strcmp(argv[0], "convert"))
        return cmd_data_convert(argc - 1, argv + 1);
    if (!strcmp(argv[0], "info"))
        return argc == 2 ? gd_data_info(argv[1], stdout)
                         : usage_error("gdmpi data", "%s", "data info takes one FILE.h5");
    return usage_error("gdmpi data", "unknown data command '%s' (known: gen, convert, info)",
                       argv[0]);
}

static int cmd_data(int argc, char **argv)
{
    if (argc < 1) {
        fputs(usage_data, stderr);
        return GD_ECONFIG;
    }
    int rc = data_command(argc, argv);
    if (rc)
        print_error(0);
    return rc;
}

static int cmd_version(int argc)
{
    if (argc > 2) {
        usage_error("gdmpi", "%s", "--version takes no arguments");
        print_error(0);
        return GD_ECONFIG;
    }
    char mpi[256], blas[256], hdf5[64];
    gd_versions(mpi, sizeof mpi, blas, sizeof blas, hdf5, sizeof hdf5);
    printf("gdmpi %s (commit %s)\nmpi: %s\nopenblas: %s\nhdf5: %s\n", GDMPI_VERSION,
           gd_build_commit(), mpi, blas, hdf5);
    return GD_OK;
}

static int cmd_eval(int argc, char **argv) { return with_mpi(eval_command, argc, argv); }
static int cmd_predict(int argc, char **argv) { return with_mpi(predict_command, argc, argv); }

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* the arguments after the command's name */
    const char *help;
} command;

static const command commands[] = {
    {"train", cmd_train, help_train},       {"config", cmd_config, help_config},
    {"eval", cmd_eval, help_eval},          {"predict", cmd_predict, help_predict},
    {"data", cmd_data, usage_data},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* Edit distance (insertions, deletions, substitutions) between two short words. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t nb = strlen(b), row[64];
    if (nb >= sizeof row / sizeof *row)
        return nb;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; a[i - 1]; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

/* A first argument that is neither a command nor a config file (no such file, no '.' or
 * '/' in the name): a mistyped command, named with the closest known one; status 2. */
static int unknown_command(const char *name)
{
    const command *closest = &commands[0];
    for (size_t i = 1; i < NCOMMANDS; i++)
        if (edit_distance(name, commands[i].name) < edit_distance(name, closest->name))
            closest = &commands[i];
    gd_fail(GD_ECONFIG, "unknown command '%s'; did you mean '%s'? (commands: train, config, "
            "eval, predict, data; or a CONFIG file; see 'gdmpi --help')", name, closest->name);
    print_error(0);
    return GD_ECONFIG;
}

/* "gdmpi CONFIG ..." trains: the first argument is a file, or looks like a path. */
static int names_config_file(const char *arg)
{
    return access(arg, F_OK) == 0 || strchr(arg, '.') || strchr(arg, '/');
}

int main(int argc, char **argv)
{
    gd_provenance_record(argc, argv); /* summary.json's argv and launcher */
    /* Every line as it is written, also into a file or a pipe (a batch job's log, srun),
     * where stdout would otherwise be fully buffered and arrive all at once at the end. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fputs(usage_main, stderr);
        return GD_ECONFIG;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version"))
        return cmd_version(argc);
    const command *c = find_command(cmd);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || (!c && wants_help(argc, argv))) {
        fputs(usage_main, stdout);
        return GD_OK;
    }
    if (c && wants_help(argc - 2, argv + 2)) {
        fputs(c->help, stdout);
        return GD_OK;
    }
    if (c)
        return c->run(argc - 2, argv + 2);
    if (cmd[0] != '-' && !names_config_file(cmd))
        return unknown_command(cmd);
    return cmd_train(argc - 1, argv + 1);
}
