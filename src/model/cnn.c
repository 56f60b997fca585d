/* Convolutional network (model.type = cnn), LeNet-style (LeCun, Bottou, Bengio and Haffner
 * 1998, "Gradient-Based Learning Applied to Document Recognition"): the layers of
 * model.layers (conv, max and average pools, fc) on images of data.shape, each conv and fc
 * followed by batch norm (model.batchnorm), model.activation and dropout (model.dropout) as
 * the MLP's hidden layers are, then an output fc layer whose loss follows model.output as in
 * the MLP.
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

static int has_weights(const cnn_layer *L)
{
    return L->spec.kind == CNN_CONV || L->spec.kind == CNN_FC;
}

/* Rows of the layer's GEMMs for n samples: a conv's im2col rows, else the samples. */
static size_t gemm_rows(const cnn_layer *L, size_t n)
{
    return L->spec.kind == CNN_CONV ? n * L->out.h * L->out.w : n;
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
        L->hidden = has_weights(L) && l + 1 < p->nlayers;
        L->aff.bn = L->hidden && c->model.batchnorm;
        in = L->out;
    }
    return GD_OK;
}

/* Offsets in the flat buffer: every weight matrix first, then every bias (or gamma and
 * beta). */
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
    for (size_t l = 0; l < p->nlayers; l++) {
        mlp_layer *A = &p->layer[l].aff;
        if (!has_weights(&p->layer[l]))
            continue;
        A->b = A->gamma = off;
        A->beta = off + A->out;
        off += A->bn ? 2 * A->out : A->out;
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

/* What one layer needs for a batch of n samples: floats of workspace, doubles of
 * batch-norm sums, floats of state and maxpool indices. */
typedef struct cnn_needs {
    size_t floats, doubles, state, args;
} cnn_needs;

static cnn_needs layer_needs(const cnn *p, const cnn_layer *L, size_t n)
{
    const size_t rows = gemm_rows(L, n), k = L->aff.out;
    cnn_needs need = {0, 0, 0, 0};
    if (!has_weights(L)) {
        need.floats = n * cnn_size(L->out);
        need.args = L->spec.kind == CNN_MAXPOOL ? need.floats : 0;
        return need;
    }
    need.floats = rows * k * (L->hidden ? (p->hid.dropout > 0 ? 4 : 2) : 1);
    need.floats += L->spec.kind == CNN_CONV ? rows * L->aff.in : 0;
    if (L->aff.bn) {
        need.floats += 2 * k;
        need.doubles = 2 * k + 1;
        need.state = 2 * k;
    }
    return need;
}

/* The largest layer input after the first (the delta buffers) and im2col matrix after the
 * first (dcol), for n samples. */
static void widest(const cnn *p, size_t n, size_t *in, size_t *col)
{
    *in = *col = 0;
    for (size_t l = 1; l < p->nlayers; l++) { /* the first layer's input needs no gradient */
        const cnn_layer *L = &p->layer[l];
        *in = n * cnn_size(L->in) > *in ? n * cnn_size(L->in) : *in;
        if (L->spec.kind == CNN_CONV && gemm_rows(L, n) * L->aff.in > *col)
            *col = gemm_rows(L, n) * L->aff.in;
    }
}

/* A conv or fc layer's buffers, from the cursors into the blocks. */
static void carve_affine(const cnn *p, cnn_layer *L, size_t n, float **f, double **d, float **s)
{
    mlp_layer *A = &L->aff;
    const size_t rows = gemm_rows(L, n), k = A->out;
    A->z = mlp_take(f, rows * k);
    if (L->spec.kind == CNN_CONV)
        L->col = mlp_take(f, rows * A->in);
    if (L->hidden) {
        A->h = A->a = mlp_take(f, rows * k);
        if (p->hid.dropout > 0) {
            A->mask = mlp_take(f, rows * k);
            A->a = mlp_take(f, rows * k);
        }
    }
    if (A->bn) {
        A->mean = mlp_take(f, k);
        A->inv_std = mlp_take(f, k);
        A->run_mean = mlp_take(s, k);
        A->run_var = mlp_take(s, k);
        A->sums = *d;
        *d += 2 * k + 1;
    }
}

static int allocate(gd_model *m, cnn *p)
{
    const size_t n = m->max_batch;
    cnn_needs all = {0, 0, 0, 0};
    size_t wide_in, wide_col;
    widest(p, n, &wide_in, &wide_col);
    for (size_t l = 0; l < p->nlayers; l++) {
        cnn_needs need = layer_needs(p, &p->layer[l], n);
        all.floats += need.floats;
        all.doubles += need.doubles;
        all.state += need.state;
        all.args += need.args;
    }
    p->block = gd_alloc(all.floats + 2 * wide_in + wide_col, sizeof(float), "cnn activations");
    p->dblock = gd_alloc(all.doubles ? all.doubles : 1, sizeof(double), "cnn batch-norm sums");
    m->state = gd_alloc(all.state ? all.state : 1, sizeof(float), "cnn batch-norm state");
    p->args = gd_alloc(all.args ? all.args : 1, sizeof(uint32_t), "cnn maxpool indices");
    m->nstate = all.state;
    if (!p->block || !p->dblock || !m->state || !p->args)
        return GD_ERR;
    float *f = p->block, *s = m->state;
    double *d = p->dblock;
    uint32_t *a = p->args;
    for (size_t l = 0; l < p->nlayers; l++) {
        cnn_layer *L = &p->layer[l];
        if (has_weights(L)) {
            carve_affine(p, L, n, &f, &d, &s);
            mlp_reset_statistics(&L->aff);
            continue;
        }
        L->y = mlp_take(&f, n * cnn_size(L->out));
        if (L->spec.kind == CNN_MAXPOOL) {
            L->arg = a;
            a += n * cnn_size(L->out);
        }
    }
    p->delta[0] = mlp_take(&f, wide_in);
    p->delta[1] = mlp_take(&f, wide_in);
    p->dcol = f; /* the rest: the widest im2col matrix after the first layer */
    return GD_OK;
}

static void cnn_destroy(gd_model *m)
{
    cnn *p = m->impl;
    if (p) {
        free(p->block);
        free(p->dblock);
        free(p->args);
        free(p);
    }
    free(m->state);
    m->impl = NULL;
    m->state = NULL;
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
    int rc = mlp_hidden_config(c, &p->hid);
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
 * its kh x kw x channels; biases and beta 0, gamma 1; running statistics mean 0, variance
 * 1; dropout masks from (seed, rank). model.init = auto: he for relu, xavier otherwise. */
static void cnn_init(gd_model *m, const gd_config *cfg)
{
    cnn *p = m->impl;
    const char *init = mlp_resolve_init(&p->hid, cfg->model.init);
    gd_rng rng;
    gd_rng_seed(&rng, (uint64_t)cfg->train.seed, 0, GD_RNG_INIT);
    memset(m->w, 0, m->nparams * sizeof(float));
    for (size_t l = 0; l < p->nlayers; l++)
        if (has_weights(&p->layer[l]))
            mlp_init_layer(m, &p->layer[l].aff, init, cfg->model.init_scale, &rng);
    mlp_seed_dropout(m, &p->hid, cfg);
}

static size_t cnn_weight_count(const gd_model *m)
{
    const cnn *p = m->impl;
    const mlp_layer *top = &p->layer[p->nlayers - 1].aff; /* the output layer: an fc */
    return top->w + top->in * top->out;
}

/* What a layer hands to the next: a pool's output, the output layer's z, or a hidden
 * layer's activation (with dropout in training, the masked copy). */
static const float *layer_output(const cnn *p, const cnn_layer *L, int train)
{
    if (!has_weights(L))
        return L->y;
    if (!L->hidden)
        return L->aff.z;
    return train && p->hid.dropout > 0 ? L->aff.a : L->aff.h;
}

static void layer_forward(gd_model *m, cnn_layer *L, const float *x, size_t n, int train)
{
    cnn *p = m->impl;
    const size_t rows = gemm_rows(L, n);
    if (!has_weights(L)) {
        cnn_pool_forward(L, x, n);
        return;
    }
    if (L->spec.kind == CNN_CONV) {
        cnn_im2col(L, x, n, L->col);
        x = L->col;
    }
    mlp_affine_forward(m, &L->aff, x, rows);
    if (!L->hidden) {
        mlp_bias_forward(m, &L->aff, rows);
        return;
    }
    if (L->aff.bn)
        mlp_batchnorm_forward(m, &p->hid, &L->aff, rows, train);
    mlp_activation_forward(m, &p->hid, &L->aff, rows, train);
}

static void forward(gd_model *m, const float *x, size_t n, int train)
{
    cnn *p = m->impl;
    for (size_t l = 0; l < p->nlayers; l++) {
        layer_forward(m, &p->layer[l], x, n, train);
        x = layer_output(p, &p->layer[l], train);
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
    if (L->hidden)
        mlp_hidden_backward(m, &p->hid, &L->aff, dy, rows, grad);
    else
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

/* From dLoss/dz of the output (in its z buffer) down to the first layer; dLoss/dy of each
 * lower layer alternates between the two delta buffers. */
static void backward(gd_model *m, const float *x, size_t n, float *grad)
{
    cnn *p = m->impl;
    float *dy = p->layer[p->nlayers - 1].aff.z;
    for (size_t l = p->nlayers; l-- > 0;) {
        float *dx = l ? (dy == p->delta[0] ? p->delta[1] : p->delta[0]) : NULL;
        const float *in = l ? layer_output(p, &p->layer[l - 1], 1) : x;
        layer_backward(m, &p->layer[l], in, dy, n, grad, dx);
        dy = dx;
    }
}

static double cnn_loss_grad(gd_model *m, const float *x, const float *y, size_t n, float *grad,
                            size_t *correct)
{
    cnn *p = m->impl;
    forward(m, x, n, grad != NULL);
    double loss = mlp_output_loss(p->out, m->outputs, p->layer[p->nlayers - 1].aff.z, y, n, correct);
    if (grad)
        backward(m, x, n, grad);
    return loss;
}

static void cnn_predict(gd_model *m, const float *x, size_t n, float *out)
{
    cnn *p = m->impl;
    forward(m, x, n, 0);
    mlp_output_predict(p->out, m->outputs, p->layer[p->nlayers - 1].aff.z, n, out);
}

static void cnn_scores(gd_model *m, const float *x, size_t n, float *out)
{
    cnn *p = m->impl;
    forward(m, x, n, 0);
    memcpy(out, p->layer[p->nlayers - 1].aff.z, n * m->outputs * sizeof(float));
}

_Static_assert(CNN_MAX_LAYERS + 1 <= GD_MODEL_MAX_LAYERS, "model.h5 must hold every layer");

/* The layers for model.h5: a conv's W is channels x (kh x kw x in channels) and its in and
 * out are W's columns and rows; a pool has no W, and in and out are its sizes. */
static gd_model_layer layer_view(const gd_model *m, const cnn_layer *L, int last)
{
    const cnn *p = m->impl;
    const mlp_layer *A = &L->aff;
    const int weights = has_weights(L);
    return (gd_model_layer){
        .in = weights ? A->in : cnn_size(L->in),
        .out = weights ? A->out : cnn_size(L->out),
        .activation = last ? gd_task_output(m->ops->task)
                      : L->hidden ? mlp_activation_name(p->hid.act) : "none",
        .W = weights ? m->w + A->w : NULL, .b = weights && !A->bn ? m->w + A->b : NULL,
        .gamma = A->bn ? m->w + A->gamma : NULL, .beta = A->bn ? m->w + A->beta : NULL,
        .running_mean = A->bn ? A->run_mean : NULL, .running_var = A->bn ? A->run_var : NULL,
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
                                              "batchnorm", "data.shape", NULL};

static gd_rng *cnn_rng(gd_model *m) { return &((cnn *)m->impl)->hid.dropout_rng; }

#define CNN_OPS(task_)                                                                       \
    {                                                                                        \
        .name = "cnn", .task = (task_), .setup = cnn_setup, .loss_grad = cnn_loss_grad,      \
        .predict = cnn_predict, .scores = cnn_scores, .weight_count = cnn_weight_count,      \
        .destroy = cnn_destroy, .init = cnn_init, .specialize = cnn_specialize,              \
        .config_keys = cnn_config_keys, .lockstep = 1, .rng = cnn_rng, .layers = cnn_layers, \
    }

/* The registry entry (softmax output), and the variants model.output selects. */
const gd_model_ops gd_model_cnn = CNN_OPS(GD_TASK_CLASSES);
static const gd_model_ops cnn_binary = CNN_OPS(GD_TASK_BINARY);
static const gd_model_ops cnn_regression = CNN_OPS(GD_TASK_REGRESSION);

static const gd_model_ops *cnn_specialize(const gd_config *cfg)
{
    return mlp_output_variant(cfg, &gd_model_cnn, &cnn_binary, &cnn_regression);
}
