/* Models: one flat parameter buffer and one flat gradient buffer (DESIGN rule 1).
 * loss_grad returns sums over the batch, never means (DESIGN rule 2). */
#ifndef GDMPI_MODEL_H
#define GDMPI_MODEL_H

#include "gdmpi/config.h"
#include "gdmpi/data.h"
#include "gdmpi/state.h"

#include <mpi.h>

#include <stddef.h>

typedef struct gd_model gd_model;

#define GD_GRAD_EXTRA 2

/* One layer as model.h5's per-layer view shows it: y = act(bn(W x + b)). The pointers are
 * views into the model's w and state; NULL where the layer has no such block (b for a
 * batch-norm layer, whose beta replaces it; gamma, beta and the running statistics
 * without batch norm). */
typedef struct gd_model_layer {
    size_t in, out;
    const char *activation; /* relu, tanh, sigmoid; the last layer: softmax, sigmoid, linear;
                               none (pools) */
    const float *W;         /* out x in, row-major; a conv's: channels x (kh x kw x in channels) */
    const float *b, *gamma, *beta, *running_mean, *running_var; /* out each (conv: channels) */
    /* Image layers (cnn): kind is conv, maxpool or avgpool (NULL: dense); shapes are height,
     * width, channels of one sample, whose values are stored channels fastest. */
    const char *kind;
    size_t in_shape[3], out_shape[3], kernel[2], stride, padding;
} gd_model_layer;

#define GD_MODEL_MAX_LAYERS 64

typedef struct gd_model_ops {
    const char *name;
    gd_task task;
    /* Sets m->nparams from m->features and m->outputs; allocates scratch for m->max_batch rows. */
    int (*setup)(gd_model *m);
    /* Adds the per-sample gradient sums of x[0..n) to grad (when grad is not NULL) and
     * returns the loss sum; counts correct predictions into *correct when not NULL.
     * grad == NULL is inference: batch norm uses its running statistics, no dropout. */
    double (*loss_grad)(gd_model *m, const float *x, const float *y, size_t n, float *grad,
                        size_t *correct);
    /* Writes n predictions (regression value, class-1 probability, or class index). */
    void (*predict)(gd_model *m, const float *x, size_t n, float *out);
    /* Optional: writes n x outputs values of the output layer before its output function
     * (logits, or the value for regression); `gdmpi predict` applies the function itself,
     * so that it can write every class probability. NULL: the model has no predictions. */
    void (*scores)(gd_model *m, const float *x, size_t n, float *out);
    /* How many leading parameters are weights (penalised by l1/l2); the rest are biases. */
    size_t (*weight_count)(const gd_model *m);
    void (*destroy)(gd_model *m);
    /* Optional: initialises w (and state) itself; gd_model_init delegates to it. */
    void (*init)(gd_model *m, const gd_config *cfg);
    /* Optional: the variant of this type that the config asks for (mlp: model.output picks
     * the task), so that m->ops->task is right once the model exists. */
    const struct gd_model_ops *(*specialize)(const gd_config *cfg);
    /* Optional, NULL-terminated: [model] keys that define the architecture; model.h5 keeps
     * them as attributes so that a model read back has the same shape. */
    const char *const *config_keys;
    /* 1: in training, loss_grad must run on every rank at every step, even with n == 0 rows,
     * because it may communicate over comm (sync batch norm) and reports every gradient
     * slice to grad_ready, in the same order on every rank. */
    int lockstep;
    /* Optional: the model's own random stream (dropout masks, testfn's gradient noise), which
     * checkpoints save and restore. */
    struct gd_rng *(*rng)(gd_model *m);
    /* Optional: writes the layers (at most GD_MODEL_MAX_LAYERS) and returns how many.
     * Without it a model with data is one affine layer: W (outputs x features) then b. */
    size_t (*layers)(const gd_model *m, gd_model_layer *out);
    /* 1: trains without a data set (test functions): each rank takes GD_TESTFN_ROWS
     * placeholder rows an epoch, and rank 0 records trajectory.csv. */
    int without_data;
} gd_model_ops;

/* How the training data was read: model.h5 records it, so that eval and predict read new
 * data exactly as training did (the same datasets, the same transform x * scale). */
typedef struct gd_model_input {
    char features[GD_NAME_MAX]; /* data.features */
    char labels[GD_NAME_MAX];   /* data.labels */
    double scale;               /* data.scale */
    int recorded;               /* 0: read from a model.h5 that predates these attributes */
} gd_model_input;

struct gd_model {
    const gd_model_ops *ops;
    size_t features;  /* input columns */
    size_t outputs;   /* 1 for linreg/logreg, classes for softmax */
    size_t nparams;
    size_t max_batch; /* rows the scratch buffers hold */
    float *w;         /* nparams */
    float *g;         /* nparams + GD_GRAD_EXTRA: strategies append the loss and count sums
                         after the gradient so that one allreduce moves all three */
    float *scratch;   /* model-private workspace */
    void *impl;       /* model-private structure (the mlp's layers) */
    float *state;     /* nstate floats of non-trained state (batch-norm running statistics),
                         owned by the model type and saved in model.h5 */
    size_t nstate;
    double l2;
    const gd_config *cfg; /* the run's config, or the one rebuilt from model.h5 */
    gd_config *owned_cfg; /* that rebuilt config, freed with the model */
    gd_model_input input; /* set by gd_model_load; a trained model's comes from cfg */
    MPI_Comm comm;        /* the ranks that train together (MPI_COMM_SELF by default) */
    /* Optional: called by loss_grad as soon as grad[offset, offset+len) is final, so a
     * strategy can start reducing it while backward continues (overlap). Each element is
     * reported once per call; len == 0 only lets the strategy drive its requests. */
    void (*grad_ready)(void *ctx, size_t offset, size_t len);
    void *grad_ready_ctx;
};

/* Looks the type up in the registry; unknown names list the known ones. */
const gd_model_ops *gd_model_find(const char *name);
const char *gd_model_names(void);
/* model.type specialised by the rest of the config (see gd_model_ops.specialize). */
const gd_model_ops *gd_model_find_config(const gd_config *cfg);
/* The names model.activation and model.output accept (for the config table). */
const char *gd_mlp_activations(void);
const char *gd_mlp_outputs(void);
/* The names model.function accepts (testfn). */
const char *gd_testfn_names(void);
/* 1 when model.type trains without a data set (gd_model_ops.without_data). */
int gd_model_without_data(const gd_config *cfg);
/* model.start: "x,y", two finite numbers and nothing else (spaces around them allowed).
 * Sets xy; GD_ECONFIG with a message naming model.start otherwise. */
int gd_testfn_parse_start(const char *text, double xy[2]);

/* Allocates w, g and scratch for a model of this type and shape (w zeroed). cfg may be
 * NULL (the defaults); gd_model_load passes the architecture rebuilt from model.h5. */
int gd_model_create(gd_model *m, const char *type, size_t features, size_t outputs,
                    size_t max_batch, const gd_config *cfg);
void gd_model_destroy(gd_model *m);
/* Checkpoints (gdmpi/state.h): the model's own per-rank state, "model/state" (batch-norm
 * running statistics) and "model/rng" (its stream); the parameters are declared by the
 * strategy, which knows where they live. */
void gd_model_declare(gd_model *m, gd_state *s);

/* Initialises w as model.init says: zeros, or N(0, std^2) from the (seed, 0, GD_RNG_INIT)
 * stream, the same on every rank; biases stay 0. */
void gd_model_init(gd_model *m, const gd_config *cfg);
/* The standard deviation model.init gives a layer: init_scale (normal), sqrt(2/fan_in) (he),
 * sqrt(2/(fan_in+fan_out)) (xavier), 0 (zeros, and auto: a model resolves auto itself). */
double gd_model_init_std(const char *init, double init_scale, size_t fan_in, size_t fan_out);

/* Loss sum and correct count over a whole data set, in chunks of max_batch rows. */
double gd_model_evaluate(gd_model *m, const float *x, const float *y, size_t n, size_t *correct);

/* The model's layers (gd_model_ops.layers, or the one affine layer); 0 for a model
 * without data (testfn), whose parameters are not a layer. */
size_t gd_model_layers(const gd_model *m, gd_model_layer *out);
/* The output function of a task: linear, sigmoid, softmax. */
const char *gd_task_output(gd_task task);

/* The input a model reads: the recorded one (a loaded model), else its config's [data]
 * (a trained model), else the defaults (X, y, scale 1). */
gd_model_input gd_model_input_of(const gd_model *m);

/* Writes the model atomically (temporary name, then rename) / reads it back, with its
 * input (m->input; recorded == 0 for a file written before gdmpi recorded it). */
int gd_model_save(const gd_model *m, const char *path);
int gd_model_load(gd_model *m, const char *path, size_t max_batch);

/* Collective over comm: loads the model on every rank and this rank's shard of data_path,
 * read with the model's recorded input, and checks that the data fits it (features,
 * labels). given (NULL: none) is an input the caller was told (eval CONFIG: the config's
 * [data]): its dataset names win, and a data.scale other than the recorded one is an
 * error (GD_ECONFIG). A model that records no input needs given. On failure both are freed. */
int gd_model_load_with_data(gd_model *m, gd_dataset *ds, const char *model_path,
                            const char *data_path, const gd_model_input *given, MPI_Comm comm);
/* Collective: the mean loss (and accuracy for classifiers) of the model on the data, as
 * `loss L` and `accuracy A` lines on rank 0's out (`gdmpi eval`). */
int gd_model_eval_files(const char *model_path, const char *data_path,
                        const gd_model_input *given, MPI_Comm comm, FILE *out);
/* Collective: `gdmpi predict`: per-row predictions of the model on the data (read with the
 * model's recorded input; labels are not needed), gathered to rank 0, which writes them
 * atomically to out_path (.csv, else HDF5; docs/outputs.md) and reports on log. */
int gd_model_predict_files(const char *model_path, const char *data_path, const char *out_path,
                           MPI_Comm comm, FILE *log);

#endif
