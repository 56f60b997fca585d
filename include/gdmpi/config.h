/* The config: one declarative key table drives parsing, validation, --set
 * overrides, `gdmpi config` and the docs/ reference and man page (DESIGN rule 8). */
#ifndef GDMPI_CONFIG_H
#define GDMPI_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define GD_PATH_MAX 1024
#define GD_NAME_MAX 64

typedef struct gd_config {
    char path[GD_PATH_MAX]; /* the config file, as given */
    char name[GD_NAME_MAX]; /* its base name without .cfg: the default run name */
    struct {
        char train[GD_PATH_MAX];
        char val[GD_PATH_MAX];
        char features[GD_NAME_MAX];
        char labels[GD_NAME_MAX];
        double scale;
        char order[GD_NAME_MAX]; /* shuffle|sequential|curriculum */
        char shuffle[GD_NAME_MAX]; /* rank|global */
        char partition[GD_NAME_MAX]; /* contiguous|label-skew */
        double partition_alpha;
        char shape[GD_NAME_MAX];     /* cnn: "HxWxC", or empty (a square one-channel image) */
        char io[GD_NAME_MAX]; /* collective|independent */
        char stream[GD_NAME_MAX]; /* auto|true|false */
        long memory_mb;           /* MiB of training rows per rank (streaming's budget) */
        long shuffle_buffer;      /* streaming: rows in the shuffle buffer (0: auto) */
    } data;
    struct {
        char type[GD_NAME_MAX];
        long classes;
        double l2;
        char init[GD_NAME_MAX];
        double init_scale;
        char hidden[256];      /* mlp layer sizes, "256,128" */
        char activation[GD_NAME_MAX];
        char output[GD_NAME_MAX];
        int batchnorm, sync_bn;
        double dropout;
        char function[GD_NAME_MAX]; /* testfn */
        double noise;               /* testfn */
        char start[GD_NAME_MAX];    /* testfn: "x,y" or empty */
        double l1;
        char layers[256];           /* cnn: "conv5x5x6p2,pool2,...,fc84" */
    } model;
    struct {
        char type[GD_NAME_MAX];
        double lr; /* 0 until gd_config_finish puts in the optimizer's default */
        double momentum, beta1, beta2, eps, rho, decay, weight_decay;
    } optimizer;
    struct {
        char type[GD_NAME_MAX];
        double gamma, decay, min_lr, warmup_epochs;
        long step_epochs;
        int scale_with_workers;
    } schedule;
    struct {
        long epochs;
        long batch_size; /* 0 means "full": each rank's whole shard */
        long seed;
        int shuffle;
        long max_steps; /* 0: no limit */
        long threads;   /* OpenBLAS threads per rank */
        double tol;     /* 0: off */
        long tol_epochs;
        long patience;  /* 0: no early stopping */
        double max_seconds; /* 0: no limit */
        double grad_noise, grad_noise_gamma;
        double clip_norm;   /* 0: off */
        char resume[GD_PATH_MAX]; /* auto|never|a checkpoint's path */
    } train;
    struct {
        char mode[GD_NAME_MAX];
        char overlap[GD_NAME_MAX]; /* auto|true|false */
        long bucket_kb;
        double stall_timeout; /* seconds without progress in a communication; 0: off */
        long servers;         /* ps, ps-async: ranks 0..servers-1 are parameter servers */
        long fetch_every, push_every; /* ps-async: Downpour's n_fetch and n_push, in steps */
        long staleness;       /* ps-async: SSP bound in pushes; -1: unbounded */
        char staleness_lr[GD_NAME_MAX]; /* ps-async: none|inverse */
        long average_every;   /* local-sgd: H; hogwild: steps between averages of the groups */
        int average_state;    /* local-sgd: also average the optimizer state */
        long group_size;      /* hogwild: ranks per shared-memory group; 0: a whole node */
        long tau;             /* easgd: steps between elastic exchanges */
        double alpha;         /* easgd: moving rate; 0: 0.9 / workers (beta = 0.9) */
        char slow_ranks[256]; /* "1,3": ranks that sleep (slow_factor - 1) x their compute */
        double slow_factor;
        long delay_us;        /* latency added to every send and collective */
        char compress[GD_NAME_MAX];       /* none|fp16|bf16|topk|randomk|qsgd|sign|powersgd */
        double compress_ratio;            /* topk, randomk: the fraction sent */
        char error_feedback[GD_NAME_MAX]; /* auto|true|false */
        double momentum_correction;       /* DGC's local momentum (0: off) */
        long qsgd_levels, powersgd_rank;
        char topology[GD_NAME_MAX];       /* gossip: ring|torus|exponential|complete */
    } parallel;
    struct {
        char dir[GD_PATH_MAX];
        int overwrite;    /* replace another run's outputs in dir (else refuse to train) */
        int trace;        /* write trace.json */
        long trace_steps; /* steps the timeline covers */
        long log_every;   /* a steps.csv row every N optimizer steps; 0: off */
        char checkpoint_every[GD_NAME_MAX]; /* "N" epochs, "Ns" steps, "0" off */
        long checkpoint_epochs, checkpoint_steps; /* parsed from it by gd_config_finish */
    } output;
} gd_config;

/* GD_KEY_EVERY: "N" (every N epochs), "Ns" (every N optimizer steps) or "0" (off), kept as
 * text and parsed by gd_config_finish (output.checkpoint_every -> checkpoint_epochs/_steps). */
/* GD_KEY_PATH: a file or directory; a relative one in a config file is taken relative to
 * that file's folder (a --set one: to the working directory). Its names, if any, are words
 * that are not paths (train.resume: auto|never) and stay as they are. */
typedef enum {
    GD_KEY_INT,
    GD_KEY_REAL,
    GD_KEY_BOOL,
    GD_KEY_STRING,
    GD_KEY_BATCH,
    GD_KEY_EVERY,
    GD_KEY_PATH
} gd_key_type;

/* Lists the names a key accepts ("a|b|c"); NULL for free-form keys. */
typedef const char *(*gd_names_fn)(void);

typedef struct gd_key {
    const char *section;
    const char *name;
    gd_key_type type;
    size_t offset;     /* of the field in gd_config */
    size_t size;       /* of the field, for strings */
    const char *defval;/* parsed like a file value; NULL: required */
    double min, max;   /* for numbers */
    gd_names_fn names; /* for keys that pick from a list core knows (else installed) */
    const char *help;
} gd_key;

extern const gd_key gd_keys[];
extern const size_t gd_nkeys;

/* Sets every key to its default. */
void gd_config_defaults(gd_config *c);
/* Reads path into c (after defaults); relative paths in it (GD_KEY_PATH keys) are resolved
 * against path's folder. Errors name the file and line; status GD_ECONFIG. */
int gd_config_load(gd_config *c, const char *path);
/* Applies one "section.key=value" override. */
int gd_config_set(gd_config *c, const char *assignment);
/* Checks the cross-key rules that need no component, after all values are in (required
 * keys, derived defaults, output.checkpoint_every). The ones that need the components, and
 * the whole sequence for a command line (gd_config_from_args), are a layer above:
 * gdmpi/config_check.h. */
int gd_config_finish(gd_config *c);

/* Names that a component's registry knows. A key that picks a component by name
 * (model.type, optimizer.type, schedule.type, parallel.mode, model.activation, ...) has
 * names = NULL in the table; the registry that owns the names installs them for the key,
 * and from then on the parser checks values against them as against the table's own lists
 * (same message, same place in the error order) and the reference lists them. Returns -1
 * if the key is unknown, not a string or has names of its own. */
int gd_config_accept_names(const char *section, const char *name, gd_names_fn names);
/* The names k accepts: its table's, else the installed ones; NULL: free text. */
gd_names_fn gd_config_names(const gd_key *k);
/* In a registry's file: installs fn for section.name before main runs, whenever that file
 * is linked (a constructor; src/train/config_check.c references every registry, so that a
 * program that reads configs links them all). id: an identifier unique in the file. */
#define GD_CONFIG_ACCEPTS(id, section, name, fn)                                            \
    __attribute__((constructor)) static void gd_config_accepts_##id(void)                 \
    {                                                                                      \
        gd_config_accept_names(section, name, fn);                                        \
    }

/* Prints the resolved config as INI, each key with its default in a comment. */
void gd_config_print(const gd_config *c, FILE *out);
/* Prints the config reference table (markdown) of docs/configuration.md. */
void gd_config_print_reference(FILE *out);
/* The value of one key as text, as `gdmpi config` prints it. */
void gd_config_format(const gd_config *c, const gd_key *k, char *buf, size_t len);
const gd_key *gd_config_find(const char *section, const char *name);

#endif
