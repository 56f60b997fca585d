#include "gdmpi/model.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/registry.h"
#include "gdmpi/rng.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const gd_model_ops gd_model_linreg, gd_model_logreg, gd_model_softmax, gd_model_mlp,
    gd_model_cnn, gd_model_testfn;

/* The registry: a new model is one file and one line here. */
static const gd_model_ops *const models[] = {&gd_model_linreg, &gd_model_logreg, &gd_model_softmax,
                                             &gd_model_mlp, &gd_model_cnn, &gd_model_testfn};

const gd_model_ops *gd_model_find(const char *name)
{
    return gd_registry_find(GD_REGISTRY(models), name);
}

const char *gd_model_names(void)
{
    static char names[128];
    return gd_registry_names(GD_REGISTRY(models), names, sizeof names);
}

/* The config keys whose names the model layer knows (gdmpi/config.h). */
GD_CONFIG_ACCEPTS(type, "model", "type", gd_model_names)
GD_CONFIG_ACCEPTS(activation, "model", "activation", gd_mlp_activations)
GD_CONFIG_ACCEPTS(output, "model", "output", gd_mlp_outputs)
GD_CONFIG_ACCEPTS(function, "model", "function", gd_testfn_names)

const gd_model_ops *gd_model_find_config(const gd_config *cfg)
{
    const gd_model_ops *ops = gd_model_find(cfg->model.type);
    return ops && ops->specialize ? ops->specialize(cfg) : ops;
}

/* cblas takes int dimensions and MPI int counts: a batch of features (max_batch x features
 * floats, one sgemm operand) and the gradient with its two sums (one allreduce) must stay
 * within INT_MAX elements. Refused here, before anything is allocated for them. */
static int check_int_sizes(const gd_model *m)
{
    const size_t limit = INT_MAX, widest = m->features > m->outputs ? m->features : m->outputs;
    if (widest > limit / m->max_batch)
        return gd_fail(GD_ECONFIG, "a batch of %zu rows x %zu features is more than %d floats, "
                       "the largest matrix cblas takes: lower train.batch_size to at most %zu "
                       "(with batch_size = full, use more ranks)", m->max_batch, widest, INT_MAX,
                       limit / widest);
    if (m->nparams > limit - GD_GRAD_EXTRA)
        return gd_fail(GD_ECONFIG, "the %s model has %zu parameters; MPI and cblas counts stop at "
                       "%d", m->ops->name, m->nparams, INT_MAX - GD_GRAD_EXTRA);
    return GD_OK;
}

int gd_model_create(gd_model *m, const char *type, size_t features, size_t outputs,
                    size_t max_batch, const gd_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = cfg;
    m->comm = MPI_COMM_SELF;
    m->ops = gd_model_find(type);
    if (!m->ops)
        return gd_fail(GD_ECONFIG, "model.type = '%s': unknown (known: %s)", type, gd_model_names());
    if (cfg && m->ops->specialize)
        m->ops = m->ops->specialize(cfg);
    m->features = features;
    m->outputs = outputs;
    m->max_batch = max_batch ? max_batch : 1;
    int rc = m->ops->setup(m);
    if (rc)
        return rc;
    if ((rc = check_int_sizes(m))) {
        gd_model_destroy(m);
        return rc;
    }
    m->w = gd_alloc(m->nparams, sizeof(float), "model parameters");
    m->g = gd_alloc(m->nparams + GD_GRAD_EXTRA, sizeof(float), "model gradients");
    if (!m->w || !m->g) {
        gd_model_destroy(m);
        return GD_ERR;
    }
    return GD_OK;
}

void gd_model_destroy(gd_model *m)
{
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m);
    free(m->w);
    free(m->g);
    free(m->owned_cfg);
    m->w = m->g = NULL;
    m->owned_cfg = NULL;
}

double gd_model_init_std(const char *init, double init_scale, size_t fan_in, size_t fan_out)
{
    if (!strcmp(init, "normal"))
        return init_scale;
    if (!strcmp(init, "he"))
        return sqrt(2.0 / (double)fan_in);
    if (!strcmp(init, "xavier"))
        return sqrt(2.0 / (double)(fan_in + fan_out));
    return 0;
}

void gd_model_init(gd_model *m, const gd_config *cfg)
{
    if (m->ops->init) {
        m->ops->init(m, cfg);
        return;
    }
    double std = gd_model_init_std(cfg->model.init, cfg->model.init_scale, m->features, m->outputs);
    if (std == 0)
        return;
    gd_rng rng;
    gd_rng_seed(&rng, (uint64_t)cfg->train.seed, 0, GD_RNG_INIT);
    size_t nw = m->ops->weight_count(m);
    for (size_t i = 0; i < nw; i++)
        m->w[i] = (float)(std * gd_rng_normal(&rng));
}

double gd_model_evaluate(gd_model *m, const float *x, const float *y, size_t n, size_t *correct)
{
    double loss = 0;
    for (size_t i = 0; i < n; i += m->max_batch) {
        size_t rows = n - i < m->max_batch ? n - i : m->max_batch;
        loss += m->ops->loss_grad(m, x + i * m->features, y + i, rows, NULL, correct);
    }
    return loss;
}

void gd_model_declare(gd_model *m, gd_state *s)
{
    if (m->nstate)
        gd_state_add(s, GD_STATE_F32, GD_PER_RANK, m->state, m->nstate, "model/state")->elastic =
            GD_EL_MEAN; /* batch norm's running figures: each rank's estimate, averaged */
    gd_rng *r = m->ops->rng ? m->ops->rng(m) : NULL;
    if (r)
        gd_state_add(s, GD_STATE_U64, GD_PER_RANK, r->s, 4, "model/rng")->elastic = GD_EL_STREAM;
}

const char *gd_task_output(gd_task task)
{
    return task == GD_TASK_REGRESSION ? "linear" : task == GD_TASK_BINARY ? "sigmoid" : "softmax";
}

size_t gd_model_layers(const gd_model *m, gd_model_layer *out)
{
    if (m->ops->layers)
        return m->ops->layers(m, out);
    if (m->ops->without_data)
        return 0;
    size_t nw = m->ops->weight_count(m);
    out[0] = (gd_model_layer){.in = m->features, .out = m->outputs, .W = m->w, .b = m->w + nw,
                              .activation = gd_task_output(m->ops->task)};
    return 1;
}

int gd_model_without_data(const gd_config *cfg)
{
    const gd_model_ops *ops = gd_model_find(cfg->model.type);
    return ops && ops->without_data;
}
