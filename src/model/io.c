/* model.h5 (docs/outputs.md): the flat `params` (and `state`, batch-norm running statistics)
 * that eval and the tests read; one group per layer (layer1/W, layer1/b, ..., with the
 * layer's in, out, activation and batchnorm) for readers that do not know the flat layout;
 * linear models also keep `W` and `b` at the root. Attributes: model_type, features,
 * outputs, task, classes, layers, format, version, the input (data.features, data.labels,
 * data.scale) and, for models whose shape comes from the config (mlp, cnn), one string per
 * architecture key (hidden, activation, ...; the cnn's layers and data.shape). Image layers
 * (cnn) add their kind and shapes to their group. Checkpoints have their own layout. */
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/model.h"

#include <stdlib.h>
#include <string.h>

/* 1: params, state and the attributes; 2: the input, the task and the per-layer groups. */
#define GD_MODEL_FILE_VERSION 2

/* A name of ops->config_keys: a [model] key, or section.key for one of another section
 * (the cnn's data.shape). */
static const gd_key *architecture_key(const char *name)
{
    const char *dot = strchr(name, '.');
    char section[GD_NAME_MAX];
    if (!dot)
        return gd_config_find("model", name);
    snprintf(section, sizeof section, "%.*s", (int)(dot - name), name);
    return gd_config_find(section, dot + 1);
}

/* The keys in ops->config_keys, as attributes, formatted as `gdmpi config` does. */
static int save_architecture(const gd_model *m, hid_t f)
{
    const char *const *keys = m->ops->config_keys;
    for (size_t i = 0; keys && keys[i]; i++) {
        const gd_key *k = architecture_key(keys[i]);
        char value[GD_PATH_MAX];
        if (!k || !m->cfg)
            return GD_ERR;
        gd_config_format(m->cfg, k, value, sizeof value);
        if (gd_h5_attr_string(f, keys[i], value))
            return GD_ERR;
    }
    return GD_OK;
}

/* Rebuilds the config a model was trained with from its attributes (defaults elsewhere);
 * *out stays NULL for types without architecture keys. */
static int load_architecture(hid_t f, const char *path, const gd_model_ops *ops, gd_config **out)
{
    *out = NULL;
    if (!ops || !ops->config_keys)
        return GD_OK;
    gd_config *c = gd_alloc(1, sizeof *c, "model config");
    if (!c)
        return GD_ERR;
    gd_config_defaults(c);
    for (size_t i = 0; ops->config_keys[i]; i++) {
        char value[GD_PATH_MAX], set[GD_PATH_MAX + 64];
        int rc = gd_h5_read_attr_string(f, ops->config_keys[i], value, sizeof value);
        if (!rc) {
            snprintf(set, sizeof set, "%s%s=%s", strchr(ops->config_keys[i], '.') ? "" : "model.",
                     ops->config_keys[i], value);
            rc = gd_config_set(c, set);
        }
        if (rc) {
            free(c);
            gd_clear_error();
            return gd_fail(GD_ERR, "%s: bad or missing attribute '%s' of a %s model", path,
                           ops->config_keys[i], ops->name);
        }
    }
    *out = c;
    return GD_OK;
}

gd_model_input gd_model_input_of(const gd_model *m)
{
    if (m->input.recorded)
        return m->input;
    gd_model_input in = {.features = "X", .labels = "y", .scale = 1.0, .recorded = 1};
    if (m->cfg) {
        snprintf(in.features, sizeof in.features, "%s", m->cfg->data.features);
        snprintf(in.labels, sizeof in.labels, "%s", m->cfg->data.labels);
        in.scale = m->cfg->data.scale;
    }
    return in;
}

/* The task's name and its class count (0 for regression), for readers of the file. */
static int save_task(const gd_model *m, hid_t f)
{
    static const char *const names[] = {"regression", "binary", "classes"};
    gd_task task = m->ops->task;
    long classes = task == GD_TASK_REGRESSION ? 0 : task == GD_TASK_BINARY ? 2 : (long)m->outputs;
    int rc = gd_h5_attr_string(f, "task", names[task]);
    return rc ? rc : gd_h5_attr_long(f, "classes", classes);
}

/* What eval and predict need to read new data as training read it: data.features,
 * data.labels and data.scale, as attributes named by their keys. */
static int save_input(const gd_model *m, hid_t f)
{
    gd_model_input in = gd_model_input_of(m);
    int rc = gd_h5_attr_string(f, "data.features", in.features);
    if (!rc)
        rc = gd_h5_attr_string(f, "data.labels", in.labels);
    if (!rc)
        rc = gd_h5_attr_scalar(f, "data.scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &in.scale);
    return rc;
}

/* Reads the input back; a file without data.scale predates it (recorded stays 0). */
static int load_input(hid_t f, const char *path, gd_model_input *in)
{
    memset(in, 0, sizeof *in);
    if (H5Aexists(f, "data.scale") <= 0)
        return GD_OK;
    int rc = gd_h5_read_attr_scalar(f, "data.scale", H5T_NATIVE_DOUBLE, &in->scale);
    if (!rc)
        rc = gd_h5_read_attr_string(f, "data.features", in->features, sizeof in->features);
    if (!rc)
        rc = gd_h5_read_attr_string(f, "data.labels", in->labels, sizeof in->labels);
    if (rc)
        return gd_h5_blame_file(path, rc);
    in->recorded = 1;
    return GD_OK;
}

/* One vector block of a layer, when the layer has it. */
static int save_block(hid_t g, const char *name, const float *v, size_t n)
{
    return v ? gd_h5_write(g, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, n, 0) : GD_OK;
}

/* An image layer's attributes: kind, and the shapes and window as separate integers. */
static int save_image_layer(hid_t g, const gd_model_layer *L)
{
    static const char *const names[] = {"in_height", "in_width", "in_channels", "out_height",
                                        "out_width", "out_channels", "kernel_height",
                                        "kernel_width", "stride", "padding"};
    const size_t values[] = {L->in_shape[0], L->in_shape[1], L->in_shape[2], L->out_shape[0],
                             L->out_shape[1], L->out_shape[2], L->kernel[0], L->kernel[1],
                             L->stride, L->padding};
    int rc = gd_h5_attr_string(g, "kind", L->kind);
    for (size_t i = 0; !rc && i < sizeof names / sizeof *names; i++)
        rc = gd_h5_attr_long(g, names[i], (long)values[i]);
    return rc;
}

/* Group layerN: attributes in, out, activation, batchnorm (and an image layer's kind and
 * shapes); W (out x in, when the layer has weights) and the vectors. */
static int save_layer(hid_t f, size_t index, const gd_model_layer *L)
{
    char name[32];
    snprintf(name, sizeof name, "layer%zu", index + 1);
    hid_t gcpl = gd_h5_untimed(H5P_GROUP_CREATE); /* the same model, the same bytes */
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (g < 0)
        return gd_fail(GD_ERR, "cannot create group '%s'", name);
    int rc = gd_h5_attr_long(g, "in", (long)L->in);
    if (!rc)
        rc = gd_h5_attr_long(g, "out", (long)L->out);
    if (!rc)
        rc = gd_h5_attr_string(g, "activation", L->activation);
    if (!rc)
        rc = gd_h5_attr_long(g, "batchnorm", L->gamma != NULL);
    if (!rc && L->kind)
        rc = save_image_layer(g, L);
    if (!rc && L->W)
        rc = gd_h5_write(g, "W", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, L->W, L->out, L->in);
    const char *names[] = {"b", "gamma", "beta", "running_mean", "running_var"};
    const float *blocks[] = {L->b, L->gamma, L->beta, L->running_mean, L->running_var};
    for (size_t i = 0; !rc && i < sizeof names / sizeof *names; i++)
        rc = save_block(g, names[i], blocks[i], L->out);
    H5Gclose(g);
    return rc;
}

/* The per-layer view (beside the flat params and state, which eval and checkpoints read):
 * what a reader needs to run the model without knowing gdmpi's flat layout. */
static int save_layers(const gd_model *m, hid_t f)
{
    gd_model_layer layers[GD_MODEL_MAX_LAYERS];
    size_t n = gd_model_layers(m, layers);
    int rc = gd_h5_attr_long(f, "layers", (long)n);
    for (size_t i = 0; !rc && i < n; i++)
        rc = save_layer(f, i, &layers[i]);
    return rc;
}

int gd_model_save(const gd_model *m, const char *path)
{
    gd_h5_quiet();
    hid_t f = gd_h5_create_tmp(path);
    if (f < 0)
        return GD_ERR;
    size_t nw = m->ops->weight_count(m);
    int rc = gd_h5_write(f, "params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->w, m->nparams, 0);
    if (!rc && nw == m->outputs * m->features) {
        rc = gd_h5_write(f, "W", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->w, m->outputs, m->features);
        if (!rc)
            rc = gd_h5_write(f, "b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->w + nw, m->nparams - nw, 0);
    }
    if (!rc && m->nstate)
        rc = gd_h5_write(f, "state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->state, m->nstate, 0);
    if (!rc)
        rc = save_architecture(m, f);
    if (!rc)
        rc = save_task(m, f);
    if (!rc)
        rc = save_input(m, f);
    if (!rc)
        rc = save_layers(m, f);
    if (!rc)
        rc = gd_h5_attr_string(f, "format", "gdmpi model");
    if (!rc)
        rc = gd_h5_attr_long(f, "version", GD_MODEL_FILE_VERSION);
    if (!rc)
        rc = gd_h5_attr_string(f, "model_type", m->ops->name);
    if (!rc)
        rc = gd_h5_attr_long(f, "features", (long)m->features);
    if (!rc)
        rc = gd_h5_attr_long(f, "outputs", (long)m->outputs);
    if (rc) {
        gd_h5_discard(f, path);
        return gd_h5_blame_file(path, rc);
    }
    return gd_h5_commit(f, path);
}

int gd_model_load(gd_model *m, const char *path, size_t max_batch)
{
    gd_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open model (missing or not HDF5)", path);
    char type[64];
    long features = 0, outputs = 0;
    int rc = gd_h5_read_attr_string(f, "model_type", type, sizeof type);
    if (!rc)
        rc = gd_h5_read_attr_long(f, "features", &features);
    if (!rc)
        rc = gd_h5_read_attr_long(f, "outputs", &outputs);
    if (!rc && (features <= 0 || outputs <= 0))
        rc = gd_fail(GD_ERR, "%s: bad model shape %ld x %ld", path, outputs, features);
    gd_config *arch = NULL;
    if (!rc)
        rc = load_architecture(f, path, gd_model_find(type), &arch);
    if (!rc)
        rc = gd_model_create(m, type, (size_t)features, (size_t)outputs, max_batch, arch);
    if (!rc)
        m->owned_cfg = arch;
    else
        free(arch);
    if (!rc)
        rc = gd_h5_read_vector(f, path, "params", H5T_NATIVE_FLOAT, m->w, m->nparams);
    if (!rc && m->nstate)
        rc = gd_h5_read_vector(f, path, "state", H5T_NATIVE_FLOAT, m->state, m->nstate);
    if (!rc)
        rc = load_input(f, path, &m->input);
    H5Fclose(f);
    if (rc && m->w)
        gd_model_destroy(m);
    return rc;
}
