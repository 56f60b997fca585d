/* The config (core): the key table, parsing, --set, printing. It names nothing above core:
 * the keys that pick a component by name (model.type, optimizer.type, ...) get the names
 * they accept from the component's registry, which installs them (GD_CONFIG_ACCEPTS); the
 * checks that need the components are in src/train/config_check.c. */
#include "gdmpi/config.h"

#include "gdmpi/error.h"
#include "gdmpi/real.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *order_names(void) { return "shuffle|sequential|curriculum"; }
static const char *shuffle_names(void) { return "rank|global"; }
static const char *partition_names(void) { return "contiguous|label-skew"; }
static const char *init_names(void) { return "auto|zeros|normal|he|xavier"; }
static const char *overlap_names(void) { return "auto|true|false"; }
static const char *staleness_lr_names(void) { return "none|inverse"; }
static const char *resume_words(void) { return "auto|never"; }
static const char *io_names(void) { return "collective|independent"; }
static const char *stream_names(void) { return "auto|true|false"; }
static const char *feedback_names(void) { return "auto|true|false"; }
static const char *topology_names(void) { return "ring|torus|exponential|complete"; }

/* Defaults that differ in gdmpi-sim (make sim, docs/simulation.md): its serial HDF5 has no
 * MPI-IO driver, and the stall watchdog's thread and wall clock mean nothing to SMPI. */
#ifdef GDMPI_SIM
#define DATA_IO_DEFAULT "independent"
#define STALL_TIMEOUT_DEFAULT "0"
#else
#define DATA_IO_DEFAULT "collective"
#define STALL_TIMEOUT_DEFAULT "300"
#endif

#define F(field) offsetof(gd_config, field), sizeof(((gd_config *)0)->field)
#define BIG 1e18

/* The one table of keys. Add a key here and it is parsed, validated, printed and documented. */
const gd_key gd_keys[] = {
    {"data", "train", GD_KEY_PATH, F(data.train), NULL, 0, 0, NULL,
     "training HDF5 file; `{rank}` in the name gives one file per rank"},
    {"data", "val", GD_KEY_PATH, F(data.val), "", 0, 0, NULL,
     "validation HDF5 file, sharded like train (empty: none)"},
    {"data", "features", GD_KEY_STRING, F(data.features), "X", 0, 0, NULL,
     "dataset of features, rows x columns (float32, float64 or uint8)"},
    {"data", "labels", GD_KEY_STRING, F(data.labels), "y", 0, 0, NULL,
     "dataset of targets (linreg) or integer class labels"},
    {"data", "scale", GD_KEY_REAL, F(data.scale), "1", -BIG, BIG, NULL,
     "multiplier applied to every feature on load (1/255 for images)"},
    {"data", "order", GD_KEY_STRING, F(data.order), "shuffle", 0, 0, order_names,
     "row order each epoch: shuffle (per-rank stream), sequential (file order), curriculum "
     "(easy to hard: each row's loss under the model at the epoch's start)"},
    {"data", "shuffle", GD_KEY_STRING, F(data.shuffle), "rank", 0, 0, shuffle_names,
     "which rows each rank holds: rank (its contiguous block of the file, for the whole run) "
     "or global (a seeded permutation of all rows redistributes them: every epoch in the "
     "synchronous modes, once at the start in the asynchronous ones)"},
    {"data", "partition", GD_KEY_STRING, F(data.partition), "contiguous", 0, 0, partition_names,
     "how the training rows are split among the workers: contiguous (n/p each, file order) or "
     "label-skew (non-IID on purpose: each class's rows split by Dirichlet(partition_alpha) "
     "proportions; needs integer class labels)"},
    {"data", "partition_alpha", GD_KEY_REAL, F(data.partition_alpha), "0.5", 1e-3, 1e3, NULL,
     "label-skew: the Dirichlet concentration (small: each worker sees few classes; large: "
     "close to IID)"},
    {"data", "shape", GD_KEY_STRING, F(data.shape), "", 0, 0, NULL,
     "cnn: one row as an image, HxWxC (height, width, channels; each row holds H x W pixels "
     "of C values, channels fastest); empty: a square one-channel image (784 features: 28x28x1)"},
    {"data", "io", GD_KEY_STRING, F(data.io), DATA_IO_DEFAULT, 0, 0, io_names,
     "how the ranks read a shared file: collective (parallel HDF5, one collective MPI-IO read) "
     "or independent (each rank opens the file and reads its own rows; the only way in "
     "gdmpi-sim, whose default it is)"},
    {"data", "stream", GD_KEY_STRING, F(data.stream), "auto", 0, 0, stream_names,
     "read the training shard from the file in chunks while training (true), hold it in "
     "memory (false), or stream only when the shard's features exceed data.memory_mb (auto)"},
    {"data", "memory_mb", GD_KEY_INT, F(data.memory_mb), "2048", 1, 1e9, NULL,
     "MiB of training rows a rank may hold: above it data.stream = auto streams; a "
     "streaming rank's chunk buffers and shuffle buffer fit in it"},
    {"data", "shuffle_buffer", GD_KEY_INT, F(data.shuffle_buffer), "0", 0, 1e12, NULL,
     "streaming with data.order = shuffle: rows in the buffer each row is drawn from (0: "
     "half of data.memory_mb; sequential order has none)"},

    {"model", "type", GD_KEY_STRING, F(model.type), "softmax", 0, 0, NULL,
     "model: linreg (MSE), logreg (binary cross-entropy), softmax, mlp (neural network), cnn "
     "(convolutional network)"},
    {"model", "classes", GD_KEY_INT, F(model.classes), "0", 0, 1000000, NULL,
     "classes for softmax; 0 infers max label + 1 from the training data"},
    {"model", "l2", GD_KEY_REAL, F(model.l2), "0", 0, 1e6, NULL,
     "L2 penalty l2/2 * |W|^2 on the weights (not the bias)"},
    {"model", "l1", GD_KEY_REAL, F(model.l1), "0", 0, 1e6, NULL,
     "L1 penalty l1 * |W|_1 on the weights (not the bias), subgradient l1 * sign(W)"},
    {"model", "init", GD_KEY_STRING, F(model.init), "auto", 0, 0, init_names,
     "initial weights, seeded from train.seed: normal(0, init_scale), he N(0, 2/fan_in), "
     "xavier N(0, 2/(fan_in+fan_out)), zeros; auto: zeros for linear models, he (relu) or "
     "xavier for mlp and cnn"},
    {"model", "init_scale", GD_KEY_REAL, F(model.init_scale), "0.01", 0, 1e6, NULL,
     "standard deviation for model.init = normal"},
    {"model", "hidden", GD_KEY_STRING, F(model.hidden), "256,128", 0, 0, NULL,
     "mlp: hidden layer sizes, comma-separated (empty: no hidden layer)"},
    {"model", "activation", GD_KEY_STRING, F(model.activation), "relu", 0, 0, NULL,
     "mlp: activation of the hidden layers; cnn: of every conv and fc layer"},
    {"model", "layers", GD_KEY_STRING, F(model.layers), "conv5x5x6p2,pool2,conv5x5x16,pool2,fc120,fc84",
     0, 0, NULL,
     "cnn: the layers before the output layer, comma-separated: convKxKxC (sS stride, pP "
     "padding: conv3x3x16s2p1), pool2 or maxpool2, avgpool2 (sS stride), fcN (docs/models.md)"},
    {"model", "output", GD_KEY_STRING, F(model.output), "softmax", 0, 0, NULL,
     "mlp, cnn: output and loss: softmax + cross-entropy (classes), sigmoid + BCE (0/1), linear + MSE"},
    {"model", "batchnorm", GD_KEY_BOOL, F(model.batchnorm), "false", 0, 1, NULL,
     "mlp: batch normalization after each hidden affine layer; cnn: after each conv (over "
     "channels) and fc layer (running stats for eval)"},
    {"model", "sync_bn", GD_KEY_BOOL, F(model.sync_bn), "false", 0, 1, NULL,
     "mlp, cnn: batch statistics over all ranks (allreduce) instead of per rank"},
    {"model", "dropout", GD_KEY_REAL, F(model.dropout), "0", 0, 0.95, NULL,
     "mlp, cnn: dropout probability after each hidden activation (training only)"},
    {"model", "function", GD_KEY_STRING, F(model.function), "rosenbrock", 0, 0, NULL,
     "testfn: the 2-D function to minimise (no data needed)"},
    {"model", "noise", GD_KEY_REAL, F(model.noise), "0", 0, 1e6, NULL,
     "testfn: standard deviation of Gaussian noise added to each gradient component"},
    {"model", "start", GD_KEY_STRING, F(model.start), "", 0, 0, NULL,
     "testfn: starting point \"x,y\", two finite numbers (empty: the function's usual start)"},

    {"optimizer", "type", GD_KEY_STRING, F(optimizer.type), "sgd", 0, 0, NULL,
     "optimizer applied to the combined mean gradient"},
    {"optimizer", "lr", GD_KEY_REAL, F(optimizer.lr), "0", 0, 1e6, NULL,
     "learning rate; 0: the optimizer's default (sgd, adagrad 0.1; momentum, nesterov 0.01; "
     "adadelta 1 (a multiplier); rmsprop, adam, amsgrad, adamw 0.001; adamax, nadam 0.002)"},
    {"optimizer", "momentum", GD_KEY_REAL, F(optimizer.momentum), "0.9", 0, 1, NULL,
     "momentum, nesterov: velocity decay mu"},
    {"optimizer", "beta1", GD_KEY_REAL, F(optimizer.beta1), "0.9", 0, 1, NULL,
     "adam family: decay of the first-moment average (below 1)"},
    {"optimizer", "beta2", GD_KEY_REAL, F(optimizer.beta2), "0.999", 0, 1, NULL,
     "adam family: decay of the second-moment average (adamax: of the max norm; below 1)"},
    {"optimizer", "eps", GD_KEY_REAL, F(optimizer.eps), "0", 0, 1, NULL,
     "adagrad, adadelta, rmsprop, adam family (not adamax): the denominator's epsilon (0: "
     "the optimizer's own default, 1e-8; adadelta 1e-6)"},
    {"optimizer", "rho", GD_KEY_REAL, F(optimizer.rho), "0.95", 0, 1, NULL,
     "adadelta: decay of the squared-gradient and squared-update averages"},
    {"optimizer", "decay", GD_KEY_REAL, F(optimizer.decay), "0.9", 0, 1, NULL,
     "rmsprop: decay of the squared-gradient average"},
    {"optimizer", "weight_decay", GD_KEY_REAL, F(optimizer.weight_decay), "1e-5", 0, 1, NULL,
     "adamw: decoupled decay lambda, w -= (lr/alpha) lambda w per step (PyTorch's wd = "
     "lambda / lr)"},

    {"schedule", "type", GD_KEY_STRING, F(schedule.type), "constant", 0, 0, NULL,
     "lr schedule: constant; step (x gamma every step_epochs); exp (x gamma every epoch); "
     "inverse (lr / (1 + decay t), t in steps); cosine (to min_lr over the run)"},
    {"schedule", "gamma", GD_KEY_REAL, F(schedule.gamma), "0.1", 0, 1e6, NULL,
     "step, exp: the factor applied to lr"},
    {"schedule", "step_epochs", GD_KEY_INT, F(schedule.step_epochs), "10", 1, 1e9, NULL,
     "step: epochs between two multiplications by gamma"},
    {"schedule", "decay", GD_KEY_REAL, F(schedule.decay), "0.001", 0, 1e6, NULL,
     "inverse: lr / (1 + decay t), t = optimizer steps taken"},
    {"schedule", "min_lr", GD_KEY_REAL, F(schedule.min_lr), "0", 0, 1e6, NULL,
     "cosine: the lr at the end of the run"},
    {"schedule", "warmup_epochs", GD_KEY_REAL, F(schedule.warmup_epochs), "0", 0, 1e6, NULL,
     "linear warm-up in front of any type: lr x (step + 1) / warm-up steps (fractions allowed)"},
    {"schedule", "scale_with_workers", GD_KEY_BOOL, F(schedule.scale_with_workers), "false", 0,
     1, NULL, "linear scaling rule: lr (and min_lr) x the ranks whose gradients make one step"},

    {"train", "epochs", GD_KEY_INT, F(train.epochs), "10", 1, 1000000000, NULL,
     "passes over the training data"},
    {"train", "batch_size", GD_KEY_BATCH, F(train.batch_size), "64", 1, 1000000000, NULL,
     "rows per rank per step; `full` = each rank's whole shard (batch GD), 1 = plain SGD"},
    {"train", "seed", GD_KEY_INT, F(train.seed), "42", 0, 9e18, NULL,
     "seed of every random stream (init, shuffle, noise)"},
    {"train", "shuffle", GD_KEY_BOOL, F(train.shuffle), "true", 0, 1, NULL,
     "false: the older spelling of data.order = sequential (true leaves data.order in charge)"},
    {"train", "max_steps", GD_KEY_INT, F(train.max_steps), "0", 0, 9e18, NULL,
     "stop after this many optimizer steps (0: no limit)"},
    {"train", "threads", GD_KEY_INT, F(train.threads), "1", 1, 1024, NULL,
     "OpenBLAS threads per rank"},
    {"train", "tol", GD_KEY_REAL, F(train.tol), "0", 0, 1e6, NULL,
     "stop when the epoch's training loss changes by less than tol (relative) for tol_epochs "
     "epochs in a row (0: off)"},
    {"train", "tol_epochs", GD_KEY_INT, F(train.tol_epochs), "3", 1, 1e9, NULL,
     "consecutive calm epochs that train.tol needs"},
    {"train", "patience", GD_KEY_INT, F(train.patience), "0", 0, 1e9, NULL,
     "early stopping: stop after this many epochs without a better validation loss; "
     "model.h5 then holds the best epoch (0: off; needs data.val)"},
    {"train", "max_seconds", GD_KEY_REAL, F(train.max_seconds), "0", 0, 1e12, NULL,
     "wall-time cap: stop early enough to evaluate and write every output in time (0: off)"},
    {"train", "clip_norm", GD_KEY_REAL, F(train.clip_norm), "0", 0, 1e12, NULL,
     "clip the combined gradient to this global L2 norm (0: off)"},
    {"train", "grad_noise", GD_KEY_REAL, F(train.grad_noise), "0", 0, 1e6, NULL,
     "gradient noise eta: add N(0, eta / (1 + t)^gamma) to the combined gradient (0: off)"},
    {"train", "grad_noise_gamma", GD_KEY_REAL, F(train.grad_noise_gamma), "0.55", 0, 100, NULL,
     "gradient noise decay exponent gamma"},
    {"train", "resume", GD_KEY_PATH, F(train.resume), "never", 0, 0, resume_words,
     "continue from a checkpoint: auto (output.dir/checkpoint.h5 if there is one), never, or a "
     "checkpoint's path; it must match the config (see docs/checkpoints.md)"},

    {"parallel", "mode", GD_KEY_STRING, F(parallel.mode), "allreduce", 0, 0, NULL,
     "how gradients are combined across ranks"},
    {"parallel", "overlap", GD_KEY_STRING, F(parallel.overlap), "auto", 0, 0, overlap_names,
     "allreduce: reduce gradient buckets during backward; auto: on for mlp and cnn when every node has "
     "a core beyond its ranks (progress needs one), off otherwise"},
    {"parallel", "bucket_kb", GD_KEY_INT, F(parallel.bucket_kb), "256", 1, 1048576, NULL,
     "allreduce with overlap: KiB of gradient per MPI_Iallreduce bucket"},
    {"parallel", "stall_timeout", GD_KEY_REAL, F(parallel.stall_timeout), STALL_TIMEOUT_DEFAULT, 0,
     1e6, NULL, "seconds a rank may wait in one communication before the job ends with exit "
     "status 4 (0: off; gdmpi-sim: must be 0, its default)"},
    {"parallel", "servers", GD_KEY_INT, F(parallel.servers), "1", 1, 1e6, NULL,
     "ps, ps-async, downpour, easgd-async: ranks 0..servers-1 are parameter servers, each "
     "owning a contiguous slice of the parameters and its optimizer state; the other ranks are "
     "workers and hold the data"},
    {"parallel", "fetch_every", GD_KEY_INT, F(parallel.fetch_every), "1", 1, 1e9, NULL,
     "ps-async, downpour: a worker fetches the parameters every N steps (Downpour's n_fetch)"},
    {"parallel", "push_every", GD_KEY_INT, F(parallel.push_every), "1", 1, 1e9, NULL,
     "ps-async, downpour: a worker pushes the gradients it accumulated every N steps (Downpour's n_push)"},
    {"parallel", "staleness", GD_KEY_INT, F(parallel.staleness), "-1", -1, 1e9, NULL,
     "ps-async: SSP bound s: a worker that pushed c times computes on parameters read when "
     "every worker had pushed c - s times (0: lock-step; -1: unbounded)"},
    {"parallel", "staleness_lr", GD_KEY_STRING, F(parallel.staleness_lr), "none", 0, 0,
     staleness_lr_names, "ps-async: inverse divides each update's lr by its staleness in server "
     "updates (Zhang et al. 2016); none: the same lr for all"},
    {"parallel", "average_every", GD_KEY_INT, F(parallel.average_every), "4", 1, 1e9, NULL,
     "local-sgd: H, local steps between two averages of the parameters; hogwild: steps between "
     "two averages of the shared-memory groups' copies"},
    {"parallel", "average_state", GD_KEY_BOOL, F(parallel.average_state), "false", 0, 1, NULL,
     "local-sgd: also average the optimizer state (momentum, Adam's moments)"},
    {"parallel", "group_size", GD_KEY_INT, F(parallel.group_size), "0", 0, 1e6, NULL,
     "hogwild: ranks per shared parameter vector (0: every rank of a node; N splits a node into "
     "groups of N, to study several nodes on one machine)"},
    {"parallel", "tau", GD_KEY_INT, F(parallel.tau), "4", 1, 1e9, NULL,
     "easgd, easgd-async: local steps between two elastic exchanges with the center variable"},
    {"parallel", "alpha", GD_KEY_REAL, F(parallel.alpha), "0", 0, 0.999, NULL,
     "easgd, easgd-async: moving rate alpha of the elastic force (0: 0.9 / workers, so that "
     "beta = workers x alpha = 0.9)"},
    {"parallel", "slow_ranks", GD_KEY_STRING, F(parallel.slow_ranks), "", 0, 0, NULL,
     "straggler injection, any mode: these ranks (comma-separated, e.g. 1,3) sleep "
     "(slow_factor - 1) x their own compute time at every step (empty: none)"},
    {"parallel", "slow_factor", GD_KEY_REAL, F(parallel.slow_factor), "3", 1, 1e6, NULL,
     "how many times slower parallel.slow_ranks compute"},
    {"parallel", "delay_us", GD_KEY_INT, F(parallel.delay_us), "0", 0, 1e9, NULL,
     "network injection, any mode: microseconds added to every send and every collective "
     "during training, on the calling rank (0: off)"},
    {"parallel", "compress", GD_KEY_STRING, F(parallel.compress), "none", 0, 0, NULL,
     "allreduce, and ps-async's pushes: gradient compression (docs/parallel-modes.md): none; "
     "fp16, bf16 (16-bit codes summed in float32); topk, randomk (compress_ratio of the "
     "coordinates as index and value); qsgd (qsgd_levels stochastic levels); sign (1 bit, "
     "majority vote or EF-signSGD); powersgd (rank powersgd_rank on the weight matrices); not "
     "with parallel.overlap = true; ps-async refuses powersgd and the majority vote"},
    {"parallel", "compress_ratio", GD_KEY_REAL, F(parallel.compress_ratio), "0.01", 0, 1, NULL,
     "topk, randomk: the fraction of coordinates each rank sends, in (0, 1]"},
    {"parallel", "error_feedback", GD_KEY_STRING, F(parallel.error_feedback), "auto", 0, 0,
     feedback_names, "compress: keep what was not sent and add it to the next gradient; auto: on "
     "for the biased compressors (topk, randomk, sign, powersgd), off for fp16, bf16, qsgd; sign "
     "without it is the majority vote"},
    {"parallel", "momentum_correction", GD_KEY_REAL, F(parallel.momentum_correction), "0", 0, 1,
     NULL, "topk with error feedback, allreduce: Deep Gradient Compression's momentum "
     "correction and factor masking, with this momentum in [0, 1) on each rank before the "
     "compressor (0: off); needs optimizer.type = sgd"},
    {"parallel", "qsgd_levels", GD_KEY_INT, F(parallel.qsgd_levels), "7", 1, 32767, NULL,
     "qsgd: s, quantisation levels per sign (7: 4 bits a coordinate with the sign)"},
    {"parallel", "powersgd_rank", GD_KEY_INT, F(parallel.powersgd_rank), "4", 1, 1000000, NULL,
     "powersgd: r, the rank of each weight matrix's approximation (at most its smaller side)"},
    {"parallel", "topology", GD_KEY_STRING, F(parallel.topology), "ring", 0, 0, topology_names,
     "gossip: the neighbours each rank averages with: ring (rank +-1), torus (a 2-D grid that "
     "wraps), exponential (rank +-2^i), complete (every rank); uniform weights 1/(neighbours+1)"},

    {"output", "dir", GD_KEY_PATH, F(output.dir), "", 0, 0, NULL,
     "run directory (empty: runs/<config name>)"},
    {"output", "overwrite", GD_KEY_BOOL, F(output.overwrite), "false", 0, 1, NULL,
     "train into an output.dir that holds another run's outputs: remove them first (model.h5, "
     "metrics.csv, summary.json, trace.json, ...; never other files). false: such a run is "
     "refused, unless it resumes (train.resume)"},
    {"output", "trace", GD_KEY_BOOL, F(output.trace), "false", 0, 1, NULL,
     "write trace.json, a Chrome trace-event timeline (Perfetto, chrome://tracing): one track "
     "per rank, spans for compute, comm, wait, io, eval"},
    {"output", "trace_steps", GD_KEY_INT, F(output.trace_steps), "100", 1, 100000, NULL,
     "trace: optimizer steps the timeline covers from the start (io and eval spans: all); "
     "bounds its size"},
    {"output", "log_every", GD_KEY_INT, F(output.log_every), "0", 0, 9e18, NULL,
     "append a row to steps.csv every N optimizer steps: loss since the last row, lr, gradient "
     "norm (0: off; synchronous modes only)"},
    {"output", "checkpoint_every", GD_KEY_EVERY, F(output.checkpoint_every), "0", 0, 0, NULL,
     "write checkpoint.h5 every N epochs, or every N optimizer steps with `Ns` (0: only when "
     "SIGTERM, SIGINT or SIGUSR1 stops the run)"},
};
const size_t gd_nkeys = sizeof gd_keys / sizeof gd_keys[0];

/* The names that the components' registries installed, by key (NULL: none). */
static gd_names_fn installed[sizeof gd_keys / sizeof gd_keys[0]];

int gd_config_accept_names(const char *section, const char *name, gd_names_fn names)
{
    const gd_key *k = gd_config_find(section, name);
    if (!k || k->type != GD_KEY_STRING || k->names)
        return -1;
    installed[k - gd_keys] = names;
    return 0;
}

gd_names_fn gd_config_names(const gd_key *k)
{
    return k->names ? k->names : installed[k - gd_keys];
}

static const char *const sections[] = {"data",  "model",    "optimizer", "schedule",
                                       "train", "parallel", "output"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

const gd_key *gd_config_find(const char *section, const char *name)
{
    for (size_t i = 0; i < gd_nkeys; i++)
        if (!strcmp(gd_keys[i].section, section) && !strcmp(gd_keys[i].name, name))
            return &gd_keys[i];
    return NULL;
}

static int known_section(const char *section)
{
    for (size_t i = 0; i < NSECTIONS; i++)
        if (!strcmp(sections[i], section))
            return 1;
    return 0;
}

static void list_sections(char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < NSECTIONS; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s[%s]", i ? " " : "", sections[i]);
}

static void list_keys(const char *section, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < gd_nkeys; i++)
        if (!strcmp(gd_keys[i].section, section))
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     gd_keys[i].name);
}

/* Is value one of the '|'-separated names? */
static int name_in_list(const char *value, const char *list)
{
    size_t n = strlen(value);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, value, n))
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

static int parse_number(const gd_key *k, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = k->type == GD_KEY_REAL ? strtod(v, &end) : (double)strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == v || *end || errno == ERANGE || !isfinite(x))
        return gd_fail(GD_ECONFIG, "%s.%s = '%s': not %s", k->section, k->name, v,
                       k->type == GD_KEY_REAL ? "a number" : "an integer");
    if (x < k->min || x > k->max)
        return gd_fail(GD_ECONFIG, "%s.%s = %s: out of range [%s, %s]", k->section, k->name, v,
                       gd_real(k->min).text, gd_real(k->max).text);
    *out = x;
    return GD_OK;
}

static int parse_bool(const gd_key *k, const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = 0;
    else
        return gd_fail(GD_ECONFIG, "%s.%s = '%s': not a boolean (true or false)", k->section,
                       k->name, v);
    return GD_OK;
}

static int parse_string(const gd_key *k, const char *v, char *out)
{
    if (strlen(v) >= k->size)
        return gd_fail(GD_ECONFIG, "%s.%s: value longer than %zu characters", k->section,
                       k->name, k->size - 1);
    gd_names_fn names = gd_config_names(k);
    /* a path key's names are words beside the paths (auto, never), not a closed list */
    if (names && k->type != GD_KEY_PATH && !name_in_list(v, names()))
        return gd_fail(GD_ECONFIG, "%s.%s = '%s': unknown name (known: %s)", k->section,
                       k->name, v, names());
    strcpy(out, v);
    return GD_OK;
}

static int set_value(gd_config *c, const gd_key *k, const char *v)
{
    char *field = (char *)c + k->offset;
    double x;
    int rc;
    switch (k->type) {
    case GD_KEY_BATCH:
        if (!strcmp(v, "full")) {
            *(long *)field = 0;
            return GD_OK;
        }
        /* fall through */
    case GD_KEY_INT:
        if ((rc = parse_number(k, v, &x)))
            return rc;
        *(long *)field = (long)x;
        return GD_OK;
    case GD_KEY_REAL:
        if ((rc = parse_number(k, v, &x)))
            return rc;
        *(double *)field = x;
        return GD_OK;
    case GD_KEY_BOOL:
        return parse_bool(k, v, (int *)field);
    case GD_KEY_STRING:
    case GD_KEY_EVERY: /* kept as text; gd_config_finish parses it (parse_every) */
        return parse_string(k, v, field);
    case GD_KEY_PATH:
        return parse_string(k, v, field);
    }
    return gd_fail(GD_ECONFIG, "%s.%s: bad key type", k->section, k->name);
}

void gd_config_defaults(gd_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < gd_nkeys; i++)
        if (gd_keys[i].defval && set_value(c, &gd_keys[i], gd_keys[i].defval))
            abort(); /* a bad default is a bug in the table, caught by the unit tests */
}

/* Parser state for one file: which keys were seen, for duplicate detection. */
typedef struct {
    gd_config *cfg;
    const char *path;  /* the config file */
    size_t folder_len; /* of its folder, with the '/' (0: the working directory) */
    unsigned char seen[sizeof gd_keys / sizeof gd_keys[0]];
    int failed;
} load_ctx;

/* A relative path in a config file is relative to the file's folder, as in most
 * config-driven tools: the config then works from any working directory. An empty value,
 * an absolute path and a key's own words (train.resume = auto) stay as they are. */
static int resolve_path(const load_ctx *ctx, const gd_key *k, char *value)
{
    if (!ctx->folder_len || !value[0] || value[0] == '/' ||
        (k->names && name_in_list(value, k->names())))
        return GD_OK;
    if (ctx->folder_len + strlen(value) >= k->size)
        return gd_fail(GD_ECONFIG, "%s.%s = '%s': longer than %zu characters once taken "
                       "relative to the config's folder", k->section, k->name, value, k->size - 1);
    memmove(value + ctx->folder_len, value, strlen(value) + 1);
    memcpy(value, ctx->path, ctx->folder_len);
    return GD_OK;
}

/* Keys that moved: a config that still spells one the old way is told the new name. */
static const struct {
    const char *old_section, *old_name, *now, *why;
} moved_keys[] = {
    {"train", "log_every", "output.log_every",
     "it writes steps.csv rows; progress lines now redraw by themselves on a terminal"},
};

static int moved_key(const char *section, const char *name)
{
    for (size_t i = 0; i < sizeof moved_keys / sizeof moved_keys[0]; i++)
        if (!strcmp(section, moved_keys[i].old_section) && !strcmp(name, moved_keys[i].old_name))
            return gd_fail(GD_ECONFIG, "%s.%s is now %s (%s)", section, name, moved_keys[i].now,
                           moved_keys[i].why);
    return GD_OK;
}

static int lookup_key(const char *section, const char *name, const gd_key **out)
{
    char list[1024];
    int rc = moved_key(section, name);
    if (rc)
        return rc;
    if (!known_section(section)) {
        list_sections(list, sizeof list);
        return gd_fail(GD_ECONFIG, "unknown section [%s] (known: %s)", section, list);
    }
    *out = gd_config_find(section, name);
    if (!*out) {
        list_keys(section, list, sizeof list);
        return gd_fail(GD_ECONFIG, "unknown key '%s' in [%s] (known: %s)", name, section, list);
    }
    return GD_OK;
}

/* inih handler: returning 0 makes ini_parse report this line as the first error. */
static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *ctx = user;
    if (ctx->failed)
        return 1;
    const gd_key *k;
    int rc = lookup_key(section, name, &k);
    if (!rc && ctx->seen[k - gd_keys]++)
        rc = gd_fail(GD_ECONFIG, "duplicate key '%s' in [%s]", name, section);
    if (!rc)
        rc = set_value(ctx->cfg, k, value);
    if (!rc && k->type == GD_KEY_PATH)
        rc = resolve_path(ctx, k, (char *)ctx->cfg + k->offset);
    if (rc) {
        ctx->failed = 1;
        return 0;
    }
    return 1;
}

static int accept_any(void *user, const char *section, const char *name, const char *value)
{
    (void)user, (void)section, (void)name, (void)value;
    return 1;
}

static void set_name_from_path(gd_config *c, const char *path)
{
    snprintf(c->path, sizeof c->path, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(c->name, sizeof c->name, "%s", base);
    char *dot = strrchr(c->name, '.');
    if (dot && dot != c->name)
        *dot = '\0';
}

int gd_config_load(gd_config *c, const char *path)
{
    set_name_from_path(c, path);
    FILE *f = fopen(path, "r");
    if (!f)
        return gd_fail(GD_ECONFIG, "%s: cannot open config: %s", path, strerror(errno));
    const char *slash = strrchr(path, '/');
    load_ctx ctx = {.cfg = c, .path = path, .folder_len = slash ? (size_t)(slash - path) + 1 : 0};
    gd_clear_error();
    int line = ini_parse_file(f, on_ini_value, &ctx);
    /* inih reports the first bad line, which may be a syntax error before the key our
     * handler refused; a second pass that accepts every key finds syntax errors alone. */
    int syntax_line = 0;
    if (line > 0 && ctx.failed) {
        rewind(f);
        syntax_line = ini_parse_file(f, accept_any, NULL);
    }
    fclose(f);
    if (line == 0)
        return GD_OK;
    if (line < 0) {
        gd_clear_error();
        return gd_fail(GD_ECONFIG, "%s: cannot read config", path);
    }
    if (!(ctx.failed && syntax_line != line)) {
        gd_clear_error();
        gd_fail(GD_ECONFIG, "syntax error (expected [section] or key = value)");
    }
    return gd_fail_prefix(GD_ECONFIG, "%s:%d", path, line);
}

int gd_config_set(gd_config *c, const char *assignment)
{
    char buf[GD_PATH_MAX + 128];
    snprintf(buf, sizeof buf, "%s", assignment);
    char *eq = strchr(buf, '=');
    char *dot = strchr(buf, '.');
    if (!eq || !dot || dot > eq)
        return gd_fail(GD_ECONFIG, "--set %s: expected section.key=value", assignment);
    *eq = '\0';
    *dot = '\0';
    const gd_key *k;
    int rc = lookup_key(buf, dot + 1, &k);
    if (!rc)
        rc = set_value(c, k, eq + 1);
    if (rc) {
        return gd_fail_prefix(rc, "--set %s", assignment);
    }
    return GD_OK;
}

/* A GD_KEY_EVERY value: "N" (every N epochs), "Ns" (every N optimizer steps) or "0" (off). */
static int parse_every(const gd_key *k, const char *text, long *epochs, long *steps)
{
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    int in_steps = *end == 's';
    if (end == text || (in_steps ? end[1] : *end) || n < 0 || errno == ERANGE ||
        (in_steps && n == 0))
        return gd_fail(GD_ECONFIG, "%s.%s = '%s': expected N (every N epochs), Ns (every N "
                       "optimizer steps) or 0 (off)", k->section, k->name, text);
    *epochs = in_steps ? 0 : n;
    *steps = in_steps ? n : 0;
    return GD_OK;
}

int gd_config_finish(gd_config *c)
{
    if (!c->data.train[0] && strcmp(c->model.type, "testfn")) /* testfn needs no data */
        return gd_fail(GD_ECONFIG, "%s: missing required key 'train' in [data]", c->path);
    if (!c->output.dir[0])
        snprintf(c->output.dir, sizeof c->output.dir, "runs/%.*s", GD_NAME_MAX, c->name);
    return parse_every(gd_config_find("output", "checkpoint_every"), c->output.checkpoint_every,
                       &c->output.checkpoint_epochs, &c->output.checkpoint_steps);
}

void gd_config_format(const gd_config *c, const gd_key *k, char *buf, size_t len)
{
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case GD_KEY_BATCH:
        if (*(const long *)field == 0) {
            snprintf(buf, len, "full");
            return;
        }
        /* fall through */
    case GD_KEY_INT:
        snprintf(buf, len, "%ld", *(const long *)field);
        return;
    case GD_KEY_REAL:
        snprintf(buf, len, "%s", gd_real(*(const double *)field).text);
        return;
    case GD_KEY_BOOL:
        snprintf(buf, len, "%s", *(const int *)field ? "true" : "false");
        return;
    case GD_KEY_STRING:
    case GD_KEY_EVERY:
    case GD_KEY_PATH:
        snprintf(buf, len, "%s", field);
        return;
    }
}

void gd_config_print(const gd_config *c, FILE *out)
{
    const char *section = "";
    char value[GD_PATH_MAX + 32];
    for (size_t i = 0; i < gd_nkeys; i++) {
        const gd_key *k = &gd_keys[i];
        if (strcmp(section, k->section)) {
            fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        gd_config_format(c, k, value, sizeof value);
        fprintf(out, "%s = %s", k->name, value);
        fprintf(out, "%*s; default: %s\n", (int)(value[0] && strlen(value) < 30 ? 30 - strlen(value) : 1),
                "", k->defval ? (k->defval[0] ? k->defval : "(empty)") : "(required)");
    }
}

void gd_config_print_reference(FILE *out)
{
    fprintf(out, "| key | default | accepts | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < gd_nkeys; i++) {
        const gd_key *k = &gd_keys[i];
        char accepts[512];
        switch (k->type) {
        case GD_KEY_INT: snprintf(accepts, sizeof accepts, "integer %g..%g", k->min, k->max); break;
        case GD_KEY_REAL: snprintf(accepts, sizeof accepts, "number %g..%g", k->min, k->max); break;
        case GD_KEY_BOOL: snprintf(accepts, sizeof accepts, "true, false"); break;
        case GD_KEY_BATCH: snprintf(accepts, sizeof accepts, "`full` or integer >= 1"); break;
        case GD_KEY_STRING:
        case GD_KEY_EVERY:
            snprintf(accepts, sizeof accepts, "%s",
                     gd_config_names(k) ? gd_config_names(k)() : "text");
            break;
        case GD_KEY_PATH:
            snprintf(accepts, sizeof accepts, "%s%spath", k->names ? k->names() : "",
                     k->names ? "|a " : "a ");
            break;
        }
        for (char *p = accepts; *p; p++)
            if (*p == '|')
                *p = ',';
        fprintf(out, "| `%s.%s` | %s | %s | %s |\n", k->section, k->name,
                k->defval ? (k->defval[0] ? k->defval : "(empty)") : "(required)", accepts,
                k->help);
    }
}
