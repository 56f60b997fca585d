/* Convolutional network (model.type = cnn), LeNet-style (LeCun, Bottou, Bengio and Haffner
 * 1998, "Gradient-Based Learning Applied to Document Recognition"): the layers of
 * model.layers (conv, max and average pools, fc) on images of data.shape, each conv and fc
 * followed by model.activation, then an output fc layer whose loss follows model.output as
 * in the MLP.
 *
 * A step reads top to bottom: forward (im2col and one GEMM per conv layer over the whole
 * batch, one GEMM per fc layer, one pass per pool), the output loss, backward from the last
 * layer to the first. Every buffer is sized for max_batch rows in setup, so a step allocates
 * nothing. Backward reports each finished gradient slice (m->grad_ready), last layer first,
 * so that the bucketed allreduce overlaps the rest of it. Layouts are in cnn.h. */
#include "cnn.h"

#include "gdmpi/error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {[CNN_CONV] = "conv", [CNN_MAXPOOL] = "maxpool",
                                         [CNN_AVGPOOL] = "avgpool", [CNN_FC] = "dense"};

static int has_weights(const cnn_layer *L) { return L->spec.kind == CNN_CONV || L->spec.kind == CNN_FC; }

/* Rows of the layer's GEMMs for n samples: a conv's im2col rows, else the samples. */
static size_t gemm_rows(const cnn_layer *L, size_t n)
{
    return L->spec.kind == CNN_CONV ? n * L->out.h * L->out.w : n;
}

/* What the cnn does not have yet is refused by name rather than ignored. */
static int refuse_unsupported(const gd_config *c)
{
    const char *key = c->model.batchnorm ? "model.batchnorm = true"
                      : c->model.sync_bn ? "model.sync_bn = true"
                      : c->model.dropout > 0 ? "model.dropout > 0" : NULL;
    if (key)
        return gd_fail(GD_ECONFIG, "%s: the cnn has no batch norm or dropout yet "
                       "(docs/models.md)", key);
    return GD_OK;
}

/* The layers of model.layers and the output layer, with their shapes. */
static int plan_layers(gd_model *m, cnn *p, const gd_config *c)
{
    cnn_spec specs[CNN_MAX_LAYERS];
    size_t count;
    int rc = cnn_parse_shape(c->data.shape, m->features, &p->input);
    if (!rc)
        rc = cnn_parse_layers(c->model.layers, specs, &count);
    if (rc)
        return rc;
    specs[count] = (cnn_spec){.kind = CNN_FC, .units = m->outputs, .token = "output"};
    p->nlayers = count + 1;
    cnn_shape in = p->input;
    for (size_t l = 0; l < p->nlayers; l++) {
        cnn_layer *L = &p->layer[l];
        L->spec = specs[l];
        L->in = in;
        if ((rc = cnn_output_shape(&L->spec, l + 1, in, &L->out)))
            return rc;
        L->activated = has_weights(L) && l + 1 < p->nlayers;
        in = L->out;
    }
    return GD_OK;
}

/* Offsets in the flat buffer: every weight matrix first, then every bias. */
static size_t plan_layout(cnn *p)
{
    size_t off = 0;
    for (size_t l = 0; l < p->nlayers; l++) {
        cnn_layer *L = &p->layer[l];
        if (!has_weights(L))
            continue;
        const cnn_spec *s = &L->spec;
        L->aff.in = s->kind == CNN_CONV ? s->kh * s->kw * L->in.c : cnn_size(L->in);
        L->aff.out = s->units;
        L->aff.w = off;
        off += L->aff.in * L->aff.out;
    }
    for (size_t l = 0; l < p->nlayers; l++)
        if (has_weights(&p->layer[l])) {
            p->layer[l].aff.b = off;
            off += p->layer[l].aff.out;
        }
    return off;
}

/* cblas takes int dimensions: every GEMM operand of a batch must stay within INT_MAX. */
static int check_gemm_sizes(const gd_model *m, const cnn *p)
{
    for (size_t l = 0; l < p->nlayers; l++) {
        const cnn_layer *L = &p->layer[l];
        size_t rows = gemm_rows(L, m->max_batch), width = L->aff.in > L->aff.out ? L->aff.in : L->aff.out;
        if (has_weights(L) && width > INT_MAX / rows)
            return gd_fail(GD_ECONFIG, "model.layers: layer %zu '%s': %zu x %zu floats at a "
                           "batch of %zu is more than cblas takes: lower train.batch_size", l + 1,
                           L->spec.token, rows, width, m->max_batch);
    }
    return GD_OK;
}

/* Floats of workspace and maxpool indices the layers need for max_batch samples. */
static void count_buffers(const gd_model *m, const cnn *p, size_t *floats, size_t *args)
{
    const size_t n = m->max_batch;
    size_t widest_in = 0, widest_col = 0;
    *floats = *args = 0;
    for (size_t l = 0; l < p->nlayers; l++) {
        const cnn_layer *L = &p->layer[l];
        const size_t col = L->spec.kind == CNN_CONV ? gemm_rows(L, n) * L->aff.in : 0;
        *floats += n * cnn_size(L->out) + col;
        *args += L->spec.kind == CNN_MAXPOOL ? n * cnn_size(L->out) : 0;
        if (l && cnn_size(L->in) > widest_in) /* the first layer's input needs no gradient */
            widest_in = cnn_size(L->in);
        if (l && col > widest_col)
            widest_col = col;
    }
    *floats += 2 * n * widest_in + widest_col;
}

static int allocate(gd_model *m, cnn *p)
{
    size_t floats, args, widest_in = 0;
    count_buffers(m, p, &floats, &args);
    p->block = gd_alloc(floats ? floats : 1, sizeof(float), "cnn activations");
    p->args = gd_alloc(args ? args : 1, sizeof(uint32_t), "cnn maxpool indices");
    if (!p->block || !p->args)
        return GD_ERR;
    float *f = p->block;
    uint32_t *a = p->args;
    for (size_t l = 0; l < p->nlayers; l++) {
        cnn_layer *L = &p->layer[l];
        L->y = L->aff.z = L->aff.h = mlp_take(&f, m->max_batch * cnn_size(L->out));
        if (L->spec.kind == CNN_CONV)
            L->col = mlp_take(&f, gemm_rows(L, m->max_batch) * L->aff.in);
        if (L->spec.kind == CNN_MAXPOOL) {
            L->arg = a;
            a += m->max_batch * cnn_size(L->out);
        }
        if (l && cnn_size(L->in) > widest_in)
            widest_in = cnn_size(L->in);
    }
    p->delta[0] = mlp_take(&f, m->max_batch * widest_in);
    p->delta[1] = mlp_take(&f, m->max_batch * widest_in);
    p->dcol = f; /* the rest: the widest im2col matrix after the first layer */
    return GD_OK;
}

static void cnn_destroy(gd_model *m)
{
    cnn *p = m->impl;
    if (p) {
        free(p->block);
        free(p->args);
        free(p);
    }
    m->impl = NULL;
}

static int cnn_setup(gd_model *m)
{
    gd_config defaults;
    const gd_config *c = m->cfg;
    if (!c) {
        gd_config_defaults(&defaults);
        c = &defaults;
    }
    cnn *p = gd_alloc(1, sizeof *p, "cnn");
    if (!p)
        return GD_ERR;
    m->impl = p;
    int act = mlp_find_activation(c->model.activation);
    int rc = act < 0 ? gd_fail(GD_ECONFIG, "model.activation = '%s': unknown (known: %s)",
                               c->model.activation, gd_mlp_activations())
                     : refuse_unsupported(c);
    p->act = (mlp_activation)(act < 0 ? 0 : act);
    if (!rc)
        rc = mlp_output_setup(m, &p->out);
    if (!rc)
        rc = plan_layers(m, p, c);
    if (!rc) {
        m->nparams = plan_layout(p);
        rc = check_gemm_sizes(m, p);
    }
    if (!rc)
        rc = allocate(m, p);
    if (rc)
        cnn_destroy(m);
    return rc;
}

/* Weights from the shared (seed, 0, INIT) stream, layer by layer, with the fan-in of a conv
 * its kh x kw x channels; biases 0. model.init = auto: he for relu, xavier otherwise. */
static void cnn_init(gd_model *m, const gd_config *cfg)
{
    cnn *p = m->impl;
    const char *init = strcmp(cfg->model.init, "auto") ? cfg->model.init
                       : p->act == MLP_RELU            ? "he"
                                                       : "xavier";
    gd_rng rng;
    gd_rng_seed(&rng, (uint64_t)cfg->train.seed, 0, GD_RNG_INIT);
    memset(m->w, 0, m->nparams * sizeof(float));
    for (size_t l = 0; l < p->nlayers; l++) {
        const mlp_layer *A = &p->layer[l].aff;
        double std = has_weights(&p->layer[l])
                         ? gd_model_init_std(init, cfg->model.init_scale, A->in, A->out) : 0;
        for (size_t i = 0; std > 0 && i < A->in * A->out; i++)
            m->w[A->w + i] = (float)(std * gd_rng_normal(&rng));
    }
}

static size_t cnn_weight_count(const gd_model *m)
{
    const cnn *p = m->impl;
    const mlp_layer *top = &p->layer[p->nlayers - 1].aff; /* the output layer: an fc */
    return top->w + top->in * top->out;
}

static void layer_forward(gd_model *m, cnn_layer *L, const float *x, size_t n)
{
    const cnn *p = m->impl;
    switch (L->spec.kind) {
    case CNN_CONV:
        cnn_im2col(L, x, n, L->col);
        mlp_affine_forward(m, &L->aff, L->col, gemm_rows(L, n));
        break;
    case CNN_FC:
        mlp_affine_forward(m, &L->aff, x, n);
        break;
    default:
        cnn_pool_forward(L, x, n);
        return;
    }
    if (L->activated)
        mlp_activate(p->act, L->y, L->y, n * cnn_size(L->out));
}

static void forward(gd_model *m, const float *x, size_t n)
{
    cnn *p = m->impl;
    for (size_t l = 0; l < p->nlayers; l++) {
        layer_forward(m, &p->layer[l], x, n);
        x = p->layer[l].y;
    }
}

/* dy (dLoss/dy of the layer's output) to the layer's gradient slices, reported, and to dx
 * (dLoss/dx of its input) unless dx is NULL (the first layer). dy is changed. */
static void layer_backward(gd_model *m, cnn_layer *L, const float *x, float *dy, size_t n,
                           float *grad, float *dx)
{
    cnn *p = m->impl;
    if (!has_weights(L)) {
        if (dx)
            cnn_pool_backward(L, dy, n, dx);
        return;
    }
    const size_t rows = gemm_rows(L, n);
    if (L->activated)
        mlp_activation_backward(p->act, L->y, dy, n * cnn_size(L->out));
    mlp_bias_backward(m, &L->aff, dy, rows, grad);
    mlp_weight_backward(m, &L->aff, dy, L->spec.kind == CNN_CONV ? L->col : x, rows, grad);
    if (!dx)
        return;
    if (L->spec.kind == CNN_FC) {
        mlp_input_backward(m, &L->aff, dy, n, dx);
        return;
    }
    mlp_input_backward(m, &L->aff, dy, rows, p->dcol);
    cnn_col2im(L, p->dcol, n, dx);
}

/* From dLoss/dz of the output (in its y buffer) down to the first layer; dLoss/dy of each
 * lower layer alternates between the two delta buffers. */
static void backward(gd_model *m, const float *x, size_t n, float *grad)
{
    cnn *p = m->impl;
    float *dy = p->layer[p->nlayers - 1].y;
    for (size_t l = p->nlayers; l-- > 0;) {
        float *dx = l ? (dy == p->delta[0] ? p->delta[1] : p->delta[0]) : NULL;
        layer_backward(m, &p->layer[l], l ? p->layer[l - 1].y : x, dy, n, grad, dx);
        dy = dx;
    }
}

static double cnn_loss_grad(gd_model *m, const float *x, const float *y, size_t n, float *grad,
                            size_t *correct)
{
    cnn *p = m->impl;
    forward(m, x, n);
    double loss = mlp_output_loss(p->out, m->outputs, p->layer[p->nlayers - 1].y, y, n, correct);
    if (grad)
        backward(m, x, n, grad);
    return loss;
}

static void cnn_predict(gd_model *m, const float *x, size_t n, float *out)
{
    cnn *p = m->impl;
    forward(m, x, n);
    mlp_output_predict(p->out, m->outputs, p->layer[p->nlayers - 1].y, n, out);
}

static void cnn_scores(gd_model *m, const float *x, size_t n, float *out)
{
    cnn *p = m->impl;
    forward(m, x, n);
    memcpy(out, p->layer[p->nlayers - 1].y, n * m->outputs * sizeof(float));
}

_Static_assert(CNN_MAX_LAYERS + 1 <= GD_MODEL_MAX_LAYERS, "model.h5 must hold every layer");

/* The layers for model.h5: a conv's W is channels x (kh x kw x in channels) and its in and
 * out are W's columns and rows; a pool has no W, and in and out are its sizes. */
static gd_model_layer layer_view(const gd_model *m, const cnn_layer *L, int last)
{
    const cnn *p = m->impl;
    const int weights = has_weights(L);
    return (gd_model_layer){
        .in = weights ? L->aff.in : cnn_size(L->in),
        .out = weights ? L->aff.out : cnn_size(L->out),
        .activation = last ? gd_task_output(m->ops->task)
                      : L->activated ? mlp_activation_name(p->act) : "none",
        .W = weights ? m->w + L->aff.w : NULL, .b = weights ? m->w + L->aff.b : NULL,
        .kind = L->spec.kind == CNN_FC ? NULL : kind_names[L->spec.kind],
        .in_shape = {L->in.h, L->in.w, L->in.c}, .out_shape = {L->out.h, L->out.w, L->out.c},
        .kernel = {L->spec.kh, L->spec.kw}, .stride = L->spec.stride, .padding = L->spec.pad,
    };
}

static size_t cnn_layers(const gd_model *m, gd_model_layer *out)
{
    const cnn *p = m->impl;
    for (size_t l = 0; l < p->nlayers; l++)
        out[l] = layer_view(m, &p->layer[l], l + 1 == p->nlayers);
    return p->nlayers;
}

static const gd_model_ops *cnn_specialize(const gd_config *cfg);

/* model.layers by its full name: the attribute "layers" is the layer count (io.c). */
static const char *const cnn_config_keys[] = {"model.layers", "activation", "output",
                                              "data.shape", NULL};

#define CNN_OPS(task_)                                                                       \
    {                                                                                        \
        .name = "cnn", .task = (task_), .setup = cnn_setup, .loss_grad = cnn_loss_grad,      \
        .predict = cnn_predict, .scores = cnn_scores, .weight_count = cnn_weight_count,      \
        .destroy = cnn_destroy, .init = cnn_init, .specialize = cnn_specialize,              \
        .config_keys = cnn_config_keys, .lockstep = 1, .layers = cnn_layers,                 \
    }

/* The registry entry (softmax output), and the variants model.output selects. */
const gd_model_ops gd_model_cnn = CNN_OPS(GD_TASK_CLASSES);
static const gd_model_ops cnn_binary = CNN_OPS(GD_TASK_BINARY);
static const gd_model_ops cnn_regression = CNN_OPS(GD_TASK_REGRESSION);

static const gd_model_ops *cnn_specialize(const gd_config *cfg)
{
    return mlp_output_variant(cfg, &gd_model_cnn, &cnn_binary, &cnn_regression);
}
