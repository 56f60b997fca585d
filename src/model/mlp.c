/* Multi-layer perceptron: hidden affine layers (optionally batch-normalised) with relu, tanh
 * or sigmoid, then an output layer whose loss follows the task: softmax + cross-entropy
 * (classes), sigmoid + binary cross-entropy (labels 0/1), or linear + MSE 1/2 (z - y)^2.
 *
 * A step reads top to bottom: forward (one GEMM per layer on the whole batch), the output
 * loss, backward from the last layer to the first. Every buffer is sized for max_batch rows
 * in setup, so a step allocates nothing. Backward reports each finished gradient slice
 * (m->grad_ready), last layer first, so that an allreduce can overlap the rest of it.
 * The parameter layout is in mlp.h. */
#include "mlp.h"

#include "gdmpi/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const activation_names[] = {"relu", "tanh", "sigmoid", NULL};
static const char *const output_names[] = {"softmax", "sigmoid", "linear", NULL};

/* "a|b|c" from a NULL-terminated table, so the config and the parser never disagree. */
static const char *join_names(const char *const *names, char *buf, size_t len)
{
    if (!buf[0])
        for (size_t i = 0; names[i]; i++)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "|" : "", names[i]);
    return buf;
}

const char *gd_mlp_activations(void)
{
    static char buf[64];
    return join_names(activation_names, buf, sizeof buf);
}

const char *gd_mlp_outputs(void)
{
    static char buf[64];
    return join_names(output_names, buf, sizeof buf);
}

static int name_index(const char *const *names, const char *value)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], value))
            return i;
    return -1;
}

const char *mlp_activation_name(mlp_activation act) { return activation_names[act]; }

/* The output of a model type's task variant (regression: linear, binary: sigmoid). */
static mlp_output output_of_task(gd_task task)
{
    static const mlp_output by_task[] = {[GD_TASK_REGRESSION] = MLP_OUT_LINEAR,
                                         [GD_TASK_BINARY] = MLP_OUT_SIGMOID,
                                         [GD_TASK_CLASSES] = MLP_OUT_SOFTMAX};
    return by_task[task];
}

/* "256,128" -> {256, 128}; empty -> no hidden layer. */
static int parse_hidden(const char *text, size_t *sizes, size_t *count)
{
    *count = 0;
    const char *p = text;
    while (*p == ' ')
        p++;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        while (*end == ' ')
            end++;
        if (end == p || errno || v < 1 || v > 1000000 || (*end && *end != ',') ||
            *count == MLP_MAX_HIDDEN)
            return gd_fail(GD_ECONFIG, "model.hidden = '%s': expected up to %d layer sizes in "
                           "1..1000000 separated by commas", text, MLP_MAX_HIDDEN);
        sizes[(*count)++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    return GD_OK;
}

/* The choices of the config that setup needs; a model without a config takes the defaults. */
static int read_config(gd_model *m, mlp *p, size_t *hidden, size_t *nhidden, int *bn)
{
    gd_config defaults;
    const gd_config *c = m->cfg;
    if (!c) {
        gd_config_defaults(&defaults);
        c = &defaults;
    }
    int rc = parse_hidden(c->model.hidden, hidden, nhidden);
    if (rc)
        return rc;
    *bn = c->model.batchnorm;
    return mlp_hidden_config(c, &p->hid);
}

int mlp_hidden_config(const gd_config *c, mlp_hidden *hid)
{
    int act = name_index(activation_names, c->model.activation);
    if (act < 0)
        return gd_fail(GD_ECONFIG, "model.activation = '%s': unknown (known: %s)",
                       c->model.activation, gd_mlp_activations());
    if (c->model.sync_bn && !c->model.batchnorm)
        return gd_fail(GD_ECONFIG, "model.sync_bn = true needs model.batchnorm = true");
    hid->act = (mlp_activation)act;
    hid->sync_bn = c->model.sync_bn;
    hid->dropout = c->model.dropout;
    gd_rng_seed(&hid->dropout_rng, 0, 0, GD_RNG_DROPOUT); /* init reseeds it per rank */
    return GD_OK;
}

int mlp_output_setup(gd_model *m, mlp_output *out)
{
    *out = output_of_task(m->ops->task);
    if (*out != MLP_OUT_SOFTMAX)
        m->outputs = 1; /* one unit: a probability or a value */
    else if (m->outputs < 2)
        return gd_fail(GD_ECONFIG, "%s with model.output = softmax needs at least 2 classes",
                       m->ops->name);
    return GD_OK;
}

/* Offsets in the flat buffer: all weights first, then each layer's bias or gamma/beta. */
static size_t plan_layout(gd_model *m, mlp *p, const size_t *hidden, int bn)
{
    size_t off = 0, in = m->features;
    for (size_t l = 0; l < p->nlayers; l++) {
        mlp_layer *L = &p->layer[l];
        L->in = in;
        L->out = l + 1 < p->nlayers ? hidden[l] : m->outputs;
        L->bn = bn && l + 1 < p->nlayers;
        L->w = off;
        off += L->in * L->out;
        in = L->out;
    }
    for (size_t l = 0; l < p->nlayers; l++) {
        mlp_layer *L = &p->layer[l];
        if (L->bn) {
            L->gamma = off;
            L->beta = off + L->out;
            off += 2 * L->out;
        } else {
            L->b = off;
            off += L->out;
        }
    }
    return off;
}

/* Floats of workspace, doubles of sums and floats of state that the layers need. */
static void count_buffers(const gd_model *m, const mlp *p, size_t *floats, size_t *doubles,
                          size_t *state)
{
    const size_t rows = m->max_batch;
    size_t widest = 0;
    *floats = *doubles = *state = 0;
    for (size_t l = 0; l < p->nlayers; l++) {
        const mlp_layer *L = &p->layer[l];
        int hidden = l + 1 < p->nlayers;
        *floats += rows * L->out * (hidden ? (p->hid.dropout > 0 ? 4 : 2) : 1);
        if (L->bn) {
            *floats += 2 * L->out;
            *doubles += 2 * L->out + 1;
            *state += 2 * L->out;
        }
        if (hidden && L->out > widest)
            widest = L->out;
    }
    *floats += 2 * rows * widest;
}

static void carve_buffers(gd_model *m, mlp *p)
{
    const size_t rows = m->max_batch;
    float *f = p->block, *s = m->state;
    double *d = p->dblock;
    size_t widest = 0;
    for (size_t l = 0; l < p->nlayers; l++) {
        mlp_layer *L = &p->layer[l];
        L->z = mlp_take(&f, rows * L->out);
        if (l + 1 < p->nlayers) {
            L->h = L->a = mlp_take(&f, rows * L->out);
            if (p->hid.dropout > 0) {
                L->mask = mlp_take(&f, rows * L->out);
                L->a = mlp_take(&f, rows * L->out);
            }
            widest = L->out > widest ? L->out : widest;
        }
        if (L->bn) {
            L->mean = mlp_take(&f, L->out);
            L->inv_std = mlp_take(&f, L->out);
            L->run_mean = mlp_take(&s, L->out);
            L->run_var = mlp_take(&s, L->out);
            L->sums = d;
            d += 2 * L->out + 1;
        }
    }
    p->delta[0] = mlp_take(&f, rows * widest);
    p->delta[1] = mlp_take(&f, rows * widest);
}

static int allocate(gd_model *m, mlp *p)
{
    size_t floats, doubles, state;
    count_buffers(m, p, &floats, &doubles, &state);
    p->block = gd_alloc(floats ? floats : 1, sizeof(float), "mlp activations");
    p->dblock = gd_alloc(doubles ? doubles : 1, sizeof(double), "mlp batch-norm sums");
    m->state = gd_alloc(state ? state : 1, sizeof(float), "mlp batch-norm state");
    m->nstate = state;
    if (!p->block || !p->dblock || !m->state)
        return GD_ERR;
    carve_buffers(m, p);
    return GD_OK;
}

static void mlp_destroy(gd_model *m)
{
    mlp *p = m->impl;
    if (p) {
        free(p->block);
        free(p->dblock);
        free(p->layer);
        free(p);
    }
    free(m->state);
    m->impl = NULL;
    m->state = NULL;
}

void mlp_reset_statistics(mlp_layer *L)
{
    for (size_t j = 0; L->bn && j < L->out; j++) {
        L->run_mean[j] = 0;
        L->run_var[j] = 1;
    }
}

static void reset_state(gd_model *m)
{
    mlp *p = m->impl;
    for (size_t l = 0; l < p->nlayers; l++)
        mlp_reset_statistics(&p->layer[l]);
}

static int mlp_setup(gd_model *m)
{
    size_t hidden[MLP_MAX_HIDDEN], nhidden;
    int bn;
    mlp *p = gd_alloc(1, sizeof *p, "mlp");
    if (!p)
        return GD_ERR;
    m->impl = p;
    int rc = read_config(m, p, hidden, &nhidden, &bn);
    if (!rc)
        rc = mlp_output_setup(m, &p->out);
    if (!rc) {
        p->nlayers = nhidden + 1;
        p->layer = gd_alloc(p->nlayers, sizeof *p->layer, "mlp layers");
        rc = p->layer ? GD_OK : GD_ERR;
    }
    if (!rc) {
        m->nparams = plan_layout(m, p, hidden, bn);
        rc = allocate(m, p);
    }
    if (rc) {
        mlp_destroy(m);
        return rc;
    }
    reset_state(m);
    return GD_OK;
}

const char *mlp_resolve_init(const mlp_hidden *hid, const char *init)
{
    if (strcmp(init, "auto"))
        return init;
    return hid->act == MLP_RELU ? "he" : "xavier";
}

void mlp_init_layer(gd_model *m, mlp_layer *L, const char *init, double init_scale, gd_rng *rng)
{
    double std = gd_model_init_std(init, init_scale, L->in, L->out);
    for (size_t i = 0; std > 0 && i < L->in * L->out; i++)
        m->w[L->w + i] = (float)(std * gd_rng_normal(rng));
    for (size_t j = 0; L->bn && j < L->out; j++)
        m->w[L->gamma + j] = 1.0f;
    mlp_reset_statistics(L);
}

void mlp_seed_dropout(const gd_model *m, mlp_hidden *hid, const gd_config *cfg)
{
    int rank = 0;
    MPI_Comm_rank(m->comm, &rank);
    gd_rng_seed(&hid->dropout_rng, (uint64_t)cfg->train.seed, (uint64_t)rank, GD_RNG_DROPOUT);
}

/* Weights from the shared (seed, 0, INIT) stream, layer by layer; biases and beta 0,
 * gamma 1; running statistics mean 0, variance 1; dropout masks from (seed, rank). */
static void mlp_init(gd_model *m, const gd_config *cfg)
{
    mlp *p = m->impl;
    const char *init = mlp_resolve_init(&p->hid, cfg->model.init);
    gd_rng rng;
    gd_rng_seed(&rng, (uint64_t)cfg->train.seed, 0, GD_RNG_INIT);
    memset(m->w, 0, m->nparams * sizeof(float));
    for (size_t l = 0; l < p->nlayers; l++)
        mlp_init_layer(m, &p->layer[l], init, cfg->model.init_scale, &rng);
    mlp_seed_dropout(m, &p->hid, cfg);
}

static size_t mlp_weight_count(const gd_model *m)
{
    const mlp *p = m->impl;
    const mlp_layer *top = &p->layer[p->nlayers - 1];
    return top->w + top->in * top->out;
}

/* What layer l hands to the next one: with dropout in training, the masked copy. */
static const float *layer_output(const mlp *p, const mlp_layer *L, int train)
{
    return train && p->hid.dropout > 0 ? L->a : L->h;
}

static void forward(gd_model *m, const float *x, size_t n, int train)
{
    mlp *p = m->impl;
    const float *in = x;
    for (size_t l = 0; l < p->nlayers; l++) {
        mlp_layer *L = &p->layer[l];
        mlp_affine_forward(m, L, in, n);
        if (l + 1 == p->nlayers) {
            mlp_bias_forward(m, L, n);
            break;
        }
        if (L->bn)
            mlp_batchnorm_forward(m, &p->hid, L, n, train);
        mlp_activation_forward(m, &p->hid, L, n, train);
        in = layer_output(p, L, train);
    }
}

/* From dLoss/dz of the output (in its z buffer) down to the first layer's weights; dA of
 * each layer's input alternates between the two delta buffers. */
static void backward(gd_model *m, const float *x, size_t n, float *grad)
{
    mlp *p = m->impl;
    float *delta = p->layer[p->nlayers - 1].z;
    for (size_t l = p->nlayers; l-- > 0;) {
        mlp_layer *L = &p->layer[l];
        if (l + 1 < p->nlayers)
            mlp_hidden_backward(m, &p->hid, L, delta, n, grad);
        else
            mlp_bias_backward(m, L, delta, n, grad);
        const float *in = l ? layer_output(p, &p->layer[l - 1], 1) : x;
        mlp_weight_backward(m, L, delta, in, n, grad);
        if (l) {
            float *dx = delta == p->delta[0] ? p->delta[1] : p->delta[0];
            mlp_input_backward(m, L, delta, n, dx);
            delta = dx;
        }
    }
}

static double mlp_loss_grad(gd_model *m, const float *x, const float *y, size_t n, float *grad,
                            size_t *correct)
{
    mlp *p = m->impl;
    forward(m, x, n, grad != NULL);
    double loss = mlp_output_loss(p->out, m->outputs, p->layer[p->nlayers - 1].z, y, n, correct);
    if (grad)
        backward(m, x, n, grad);
    return loss;
}

static void mlp_predict(gd_model *m, const float *x, size_t n, float *out)
{
    mlp *p = m->impl;
    forward(m, x, n, 0);
    mlp_output_predict(p->out, m->outputs, p->layer[p->nlayers - 1].z, n, out);
}

/* The output layer's z (logits, or the value) for the rows, in inference mode. */
static void mlp_scores(gd_model *m, const float *x, size_t n, float *out)
{
    mlp *p = m->impl;
    forward(m, x, n, 0);
    memcpy(out, p->layer[p->nlayers - 1].z, n * m->outputs * sizeof(float));
}

static const gd_model_ops *mlp_specialize(const gd_config *cfg);

_Static_assert(MLP_MAX_HIDDEN + 1 <= GD_MODEL_MAX_LAYERS, "model.h5 must hold every layer");

/* The layers for model.h5: views of each layer's blocks in w and state. */
static size_t mlp_layers(const gd_model *m, gd_model_layer *out)
{
    const mlp *p = m->impl;
    for (size_t l = 0; l < p->nlayers; l++) {
        const mlp_layer *L = &p->layer[l];
        int last = l + 1 == p->nlayers;
        out[l] = (gd_model_layer){
            .in = L->in, .out = L->out, .W = m->w + L->w,
            .activation = last ? gd_task_output(m->ops->task) : activation_names[p->hid.act],
            .b = L->bn ? NULL : m->w + L->b,
            .gamma = L->bn ? m->w + L->gamma : NULL, .beta = L->bn ? m->w + L->beta : NULL,
            .running_mean = L->bn ? L->run_mean : NULL, .running_var = L->bn ? L->run_var : NULL,
        };
    }
    return p->nlayers;
}

static gd_rng *mlp_rng(gd_model *m) { return &((mlp *)m->impl)->hid.dropout_rng; }

static const char *const mlp_config_keys[] = {"hidden", "activation", "output", "batchnorm",
                                              NULL};

#define MLP_OPS(task_)                                                                       \
    {                                                                                        \
        .name = "mlp", .task = (task_), .setup = mlp_setup, .loss_grad = mlp_loss_grad,      \
        .predict = mlp_predict, .scores = mlp_scores, .weight_count = mlp_weight_count, .destroy = mlp_destroy,    \
        .init = mlp_init, .specialize = mlp_specialize, .config_keys = mlp_config_keys,      \
        .lockstep = 1, .rng = mlp_rng, .layers = mlp_layers,                                 \
    }

/* The registry entry (softmax output), and the variants model.output selects. */
const gd_model_ops gd_model_mlp = MLP_OPS(GD_TASK_CLASSES);
static const gd_model_ops mlp_binary = MLP_OPS(GD_TASK_BINARY);
static const gd_model_ops mlp_regression = MLP_OPS(GD_TASK_REGRESSION);

const gd_model_ops *mlp_output_variant(const gd_config *cfg, const gd_model_ops *softmax,
                                       const gd_model_ops *binary, const gd_model_ops *regression)
{
    switch (name_index(output_names, cfg->model.output)) {
    case MLP_OUT_SIGMOID:
        return binary;
    case MLP_OUT_LINEAR:
        return regression;
    default:
        return softmax;
    }
}

static const gd_model_ops *mlp_specialize(const gd_config *cfg)
{
    return mlp_output_variant(cfg, &gd_model_mlp, &mlp_binary, &mlp_regression);
}
