/* The cnn: the layer-string and data.shape parsers and every error they report; shapes
 * that do not fit, named by layer; the forward pass against PyTorch on fixed weights
 * (cnn_fixture.h, computed offline: torch is not needed here); loss and gradient against a
 * double-precision reference (direct convolution loops, not im2col) by central finite
 * differences, for a strided padded conv, both pools and whole networks; the order and
 * coverage of the gradient slices reported for overlap; model.h5 round trips. */
#include "unit.h"

#include "cnn_fixture.h"
#include "gradcheck.h"
#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/rng.h"
#include "model/cnn.h"

#include <math.h>
#include <mpi.h>

enum { N = 3, MAXP = 2048, MAXV = 1024 };

static gd_config make_config(const char *shape, const char *layers, const char *act)
{
    gd_config c;
    gd_config_defaults(&c);
    snprintf(c.model.type, sizeof c.model.type, "cnn");
    snprintf(c.data.shape, sizeof c.data.shape, "%s", shape);
    snprintf(c.model.layers, sizeof c.model.layers, "%s", layers);
    snprintf(c.model.activation, sizeof c.model.activation, "%s", act);
    return c;
}

static int create(gd_model *m, const gd_config *c, size_t features, size_t classes, size_t rows)
{
    gd_clear_error();
    return gd_model_create(m, "cnn", features, classes, rows, c);
}

/* ---- the double-precision reference: one sample at a time, straight from the formulas ---- */

static double ref_activation(mlp_activation act, double v)
{
    if (act == MLP_RELU)
        return v > 0 ? v : 0;
    return act == MLP_TANH ? tanh(v) : 1 / (1 + exp(-v));
}

/* y[oy][ox][k] = b[k] + sum over r, q, c of W[k][r][q][c] x[oy s + r - pad][ox s + q - pad][c] */
static void ref_conv(const cnn_layer *L, const double *w, const double *x, double *y)
{
    const cnn_spec *s = &L->spec;
    for (size_t oy = 0; oy < L->out.h; oy++)
        for (size_t ox = 0; ox < L->out.w; ox++)
            for (size_t k = 0; k < L->out.c; k++) {
                double sum = L->aff.bn ? 0 : w[L->aff.b + k];
                for (size_t r = 0; r < s->kh; r++)
                    for (size_t q = 0; q < s->kw; q++) {
                        long iy = (long)(oy * s->stride + r) - (long)s->pad;
                        long ix = (long)(ox * s->stride + q) - (long)s->pad;
                        if (iy < 0 || ix < 0 || iy >= (long)L->in.h || ix >= (long)L->in.w)
                            continue;
                        for (size_t c = 0; c < L->in.c; c++)
                            sum += w[L->aff.w + k * L->aff.in + (r * s->kw + q) * L->in.c + c] *
                                   x[((size_t)iy * L->in.w + (size_t)ix) * L->in.c + c];
                    }
                y[(oy * L->out.w + ox) * L->out.c + k] = sum;
            }
}

static void ref_pool(const cnn_layer *L, const double *x, double *y)
{
    const cnn_spec *s = &L->spec;
    for (size_t oy = 0; oy < L->out.h; oy++)
        for (size_t ox = 0; ox < L->out.w; ox++)
            for (size_t c = 0; c < L->in.c; c++) {
                double best = -INFINITY, sum = 0;
                for (size_t r = 0; r < s->kh; r++)
                    for (size_t q = 0; q < s->kw; q++) {
                        double v = x[((oy * s->stride + r) * L->in.w + ox * s->stride + q) * L->in.c + c];
                        best = fmax(best, v);
                        sum += v;
                    }
                y[(oy * L->out.w + ox) * L->out.c + c] =
                    s->kind == CNN_MAXPOOL ? best : sum / (double)(s->kh * s->kw);
            }
}

static void ref_fc(const cnn_layer *L, const double *w, const double *x, double *y)
{
    for (size_t j = 0; j < L->aff.out; j++) {
        y[j] = L->aff.bn ? 0 : w[L->aff.b + j];
        for (size_t c = 0; c < L->aff.in; c++)
            y[j] += w[L->aff.w + j * L->aff.in + c] * x[c];
    }
}

/* Batch norm per channel over every pixel of every sample, with two-pass statistics in
 * training, the running ones otherwise; then gamma and beta. */
static void ref_batchnorm(const cnn_layer *L, const double *w, double (*v)[MAXV], size_t n, int train)
{
    const size_t k = L->out.c, size = cnn_size(L->out), count = n * size / k;
    for (size_t j = 0; j < k; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t e = j; e < size; e += k)
                mean += v[i][e] / (double)count;
        for (size_t i = 0; i < n; i++)
            for (size_t e = j; e < size; e += k)
                var += (v[i][e] - mean) * (v[i][e] - mean) / (double)count;
        if (!train) {
            mean = L->aff.run_mean[j];
            var = L->aff.run_var[j];
        }
        for (size_t i = 0; i < n; i++)
            for (size_t e = j; e < size; e += k)
                v[i][e] = w[L->aff.gamma + j] * (v[i][e] - mean) / sqrt(var + MLP_BN_EPS) +
                          w[L->aff.beta + j];
    }
}

/* The logits of a batch, layer by layer; dropout reuses the model's masks. */
static void ref_forward(const gd_model *m, const double *w, const float *x, size_t n, int train,
                        double logits[][16])
{
    const cnn *p = m->impl;
    static double a[N][MAXV], b[N][MAXV];
    double (*in)[MAXV] = a, (*out)[MAXV] = b, (*t)[MAXV];
    for (size_t i = 0; i < n; i++)
        for (size_t e = 0; e < m->features; e++)
            a[i][e] = x[i * m->features + e];
    for (size_t l = 0; l < p->nlayers; l++, t = in, in = out, out = t) {
        const cnn_layer *L = &p->layer[l];
        const size_t size = cnn_size(L->out);
        assert_true(size <= MAXV);
        for (size_t i = 0; i < n; i++) {
            if (L->spec.kind == CNN_CONV)
                ref_conv(L, w, in[i], out[i]);
            else if (L->spec.kind == CNN_FC)
                ref_fc(L, w, in[i], out[i]);
            else
                ref_pool(L, in[i], out[i]);
        }
        if (L->aff.bn)
            ref_batchnorm(L, w, out, n, train);
        for (size_t i = 0; L->hidden && i < n; i++)
            for (size_t e = 0; e < size; e++)
                out[i][e] = ref_activation(p->hid.act, out[i][e]) *
                            (train && p->hid.dropout > 0 ? L->aff.mask[i * size + e] : 1.0);
    }
    for (size_t i = 0; i < n; i++)
        memcpy(logits[i], in[i], m->outputs * sizeof(double));
}

/* Softmax cross-entropy summed over the batch. */
static double ref_loss(const gd_model *m, const double *w, const float *x, const float *y,
                       size_t n, int train)
{
    double z[N][16], total = 0;
    ref_forward(m, w, x, n, train, z);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < m->outputs; j++)
            s += exp(z[i][j]);
        total += log(s) - z[i][(size_t)y[i]];
    }
    return total;
}

/* ---- gradient checks ---- */

typedef struct {
    const gd_model *m;
    const float *x, *y;
} model_batch;

static double training_loss(const double *w, const void *ctx)
{
    const model_batch *mb = ctx;
    return ref_loss(mb->m, w, mb->x, mb->y, N, 1);
}

static void random_batch(float *x, float *y, size_t n, size_t features, size_t classes, uint64_t seed)
{
    gd_rng r;
    gd_rng_seed(&r, seed, 0, 99);
    for (size_t i = 0; i < n * features; i++)
        x[i] = (float)gd_rng_normal(&r);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(gd_rng_next(&r) % classes);
}

/* Analytic gradient (float) against central differences of the double reference, for every
 * parameter; the loss itself against the reference's. With batch norm and dropout too. */
static void check_gradient_with(const char *shape, size_t features, const char *layers,
                                const char *act, int bn, double dropout)
{
    enum { CLASSES = 3 };
    gd_config c = make_config(shape, layers, act);
    c.model.batchnorm = bn;
    c.model.dropout = dropout;
    gd_model m;
    assert_int_equal(create(&m, &c, features, CLASSES, N), GD_OK);
    assert_true(m.nparams <= MAXP && features <= MAXV);
    float x[N * MAXV], y[N];
    random_batch(x, y, N, features, CLASSES, 7);
    static double w[MAXP];
    gd_rng r;
    gd_rng_seed(&r, 3, 0, 98);
    for (size_t i = 0; i < m.nparams; i++)
        w[i] = m.w[i] = (float)(0.4 * gd_rng_normal(&r));
    const cnn *p = m.impl;
    for (size_t l = 0; l < p->nlayers; l++) /* gamma near 1 */
        for (size_t j = 0; p->layer[l].aff.bn && j < p->layer[l].aff.out; j++)
            w[p->layer[l].aff.gamma + j] = m.w[p->layer[l].aff.gamma + j] += 1.0f;
    memset(m.g, 0, m.nparams * sizeof(float));
    double loss = m.ops->loss_grad(&m, x, y, N, m.g, NULL);
    char what[256];
    snprintf(what, sizeof what, "%s/%s bn=%d dropout=%g", layers, act, bn, dropout);
    gradcheck(what, loss, m.g, w, m.nparams, training_loss, &(model_batch){&m, x, y}, 5e-4);
    gd_model_destroy(&m);
}

static void check_gradient(const char *shape, size_t features, const char *layers, const char *act)
{
    check_gradient_with(shape, features, layers, act, 0, 0);
}

static void test_gradient_conv_stride_padding(void **state)
{
    (void)state;
    check_gradient("5x5x2", 50, "conv3x3x3s2p1", "tanh");
    check_gradient("6x5x2", 60, "conv3x2x2s2p1,conv2x2x2s1p1", "sigmoid");
}

static void test_gradient_pools(void **state)
{
    (void)state;
    check_gradient("6x6x2", 72, "conv3x3x3p1,maxpool2", "tanh");
    check_gradient("6x6x2", 72, "conv3x3x3p1,maxpool3s2", "relu"); /* overlapping windows */
    check_gradient("6x6x2", 72, "conv3x3x3p1,avgpool2", "tanh");
    check_gradient("6x6x2", 72, "conv3x3x3,avgpool3s1", "sigmoid");
}

static void test_gradient_network(void **state)
{
    (void)state;
    check_gradient("8x8x1", 64, "conv3x3x4p1,pool2,conv3x3x5s1p1,avgpool2,fc6,fc5", "tanh");
    check_gradient("8x8x1", 64, "conv3x3x4p1,pool2,conv2x2x5s2,fc6", "relu");
    check_gradient("", 36, "fc7,fc4", "relu"); /* the square default; an mlp in disguise */
}

/* Batch norm over channels (a conv's statistics cover every pixel of every sample) and over
 * units (fc); dropout after every hidden activation, conv and fc. */
static void test_gradient_batchnorm_dropout(void **state)
{
    (void)state;
    check_gradient_with("6x6x2", 72, "conv3x3x3p1,maxpool2,conv2x2x4s1,fc5", "tanh", 1, 0);
    check_gradient_with("6x6x2", 72, "conv3x3x3s2p1,fc5", "sigmoid", 1, 0);
    check_gradient_with("6x6x2", 72, "conv3x3x3p1,avgpool2,fc5", "relu", 0, 0.3);
    check_gradient_with("6x6x2", 72, "conv3x3x3p1,maxpool2,fc5", "tanh", 1, 0.4);
}

/* One training call moves a conv's running statistics, per channel over every pixel of
 * the batch, by momentum 0.1; evaluation then uses them (the reference with running
 * statistics) and is the same twice under dropout. */
static void test_batchnorm_running_statistics(void **state)
{
    (void)state;
    gd_config c = make_config("6x6x2", "conv3x3x3p1,maxpool2,fc5", "tanh");
    c.model.batchnorm = 1;
    c.model.dropout = 0.3;
    gd_model m;
    assert_int_equal(create(&m, &c, 72, 3, N), GD_OK);
    gd_model_init(&m, &c);
    float x[N * 72], y[N];
    random_batch(x, y, N, 72, 3, 17);
    static double w[MAXP];
    for (size_t i = 0; i < m.nparams; i++)
        w[i] = m.w[i];
    m.ops->loss_grad(&m, x, y, N, m.g, NULL);
    const cnn_layer *L = &((const cnn *)m.impl)->layer[0];
    static double v[N][MAXV];
    for (size_t i = 0; i < N; i++) {
        double in[72];
        for (size_t e = 0; e < 72; e++)
            in[e] = x[i * 72 + e];
        ref_conv(L, w, in, v[i]);
    }
    const size_t k = L->out.c, count = N * cnn_size(L->out) / k;
    for (size_t j = 0; j < k; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t e = j; e < cnn_size(L->out); e += k)
                mean += v[i][e] / (double)count;
        for (size_t i = 0; i < N; i++)
            for (size_t e = j; e < cnn_size(L->out); e += k)
                var += (v[i][e] - mean) * (v[i][e] - mean) / (double)(count - 1);
        assert_true(fabs(L->aff.run_mean[j] - 0.1 * mean) < 1e-5);
        assert_true(fabs(L->aff.run_var[j] - (0.9 + 0.1 * var)) < 1e-5);
    }
    size_t right1 = 0, right2 = 0;
    double e1 = m.ops->loss_grad(&m, x, y, N, NULL, &right1);
    double e2 = m.ops->loss_grad(&m, x, y, N, NULL, &right2);
    assert_true(e1 == e2 && right1 == right2);
    double ref = ref_loss(&m, w, x, y, N, 0);
    if (fabs(e1 - ref) > 1e-5 * (1 + fabs(ref)))
        fail_msg("evaluation loss %.9g, reference with running statistics %.9g", e1, ref);
    gd_model_destroy(&m);
}

/* ---- forward against PyTorch (cnn_fixture.h) ---- */

static void expect_close(const char *what, const float *got, const float *want, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (fabsf(got[i] - want[i]) > 1e-5f * (1 + fabsf(want[i])))
            fail_msg("%s[%zu]: gdmpi %.8g, torch %.8g", what, i, got[i], want[i]);
}

static void test_forward_matches_torch(void **state)
{
    (void)state;
    gd_config c = make_config(FIXTURE_SHAPE, FIXTURE_LAYERS, "relu");
    gd_model m;
    const size_t features = sizeof fixture_x / sizeof *fixture_x / FIXTURE_N;
    assert_int_equal(create(&m, &c, features, FIXTURE_CLASSES, FIXTURE_N), GD_OK);
    assert_int_equal(m.nparams, sizeof fixture_params / sizeof *fixture_params);
    memcpy(m.w, fixture_params, sizeof fixture_params);
    float scores[FIXTURE_N * FIXTURE_CLASSES];
    m.ops->scores(&m, fixture_x, FIXTURE_N, scores);
    const cnn *p = m.impl;
    const float *want[] = {fixture_y1, fixture_y2, fixture_y3, fixture_y4};
    const size_t sizes[] = {sizeof fixture_y1, sizeof fixture_y2, sizeof fixture_y3,
                            sizeof fixture_y4};
    const char *names[] = {"conv2d s2 p1 + relu", "max_pool2d 2 s1", "conv2d p1 + relu",
                           "avg_pool2d 2"};
    assert_int_equal(p->nlayers, 5);
    for (size_t l = 0; l < 4; l++) {
        assert_int_equal(FIXTURE_N * cnn_size(p->layer[l].out) * sizeof(float), sizes[l]);
        const cnn_layer *L = &p->layer[l];
        expect_close(names[l], L->spec.kind == CNN_CONV ? L->aff.h : L->y, want[l],
                     sizes[l] / sizeof(float));
    }
    expect_close("linear (logits)", scores, fixture_logits, FIXTURE_N * FIXTURE_CLASSES);
    gd_model_destroy(&m);
}

/* ---- shapes, layout, and the parsers' errors ---- */

static void test_lenet_shapes(void **state)
{
    (void)state;
    gd_config c = make_config("28x28x1", "conv5x5x6p2,pool2,conv5x5x16,pool2,fc120,fc84", "relu");
    gd_model m;
    assert_int_equal(create(&m, &c, 784, 10, 4), GD_OK);
    const cnn *p = m.impl;
    const size_t h[] = {28, 14, 10, 5, 1, 1, 1}, ch[] = {6, 6, 16, 16, 120, 84, 10};
    assert_int_equal(p->nlayers, 7);
    for (size_t l = 0; l < 7; l++) {
        assert_int_equal(p->layer[l].out.h, h[l]);
        assert_int_equal(p->layer[l].out.w, h[l]);
        assert_int_equal(p->layer[l].out.c, ch[l]);
    }
    /* LeNet-5's counts: 156 + 2416 + 48120 + 10164 + 850 */
    assert_int_equal(m.nparams, 61706);
    assert_int_equal(m.ops->weight_count(&m), 61706 - (6 + 16 + 120 + 84 + 10));
    gd_model_destroy(&m);
}

static void expect_error(const char *shape, size_t features, const char *layers, const char *needle)
{
    gd_config c = make_config(shape, layers, "relu");
    gd_model m;
    assert_int_equal(create(&m, &c, features, 3, N), GD_ECONFIG);
    if (!strstr(gd_errmsg(), needle))
        fail_msg("layers '%s', shape '%s': message '%s' lacks '%s'", layers, shape, gd_errmsg(),
                 needle);
}

static void test_config_errors(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"conv5x5", "layer 1 'conv5x5': expected convKxKxC"},
        {"conv5x5x6,pool", "layer 2 'pool': unknown layer"},
        {"conv3x3x0", "layer 1 'conv3x3x0'"},
        {"conv3x3x4q1", "layer 1 'conv3x3x4q1'"},
        {"conv3x3x4p1s2", "layer 1 'conv3x3x4p1s2'"}, /* s before p */
        {"fc10s2", "layer 1 'fc10s2': expected fcN"},
        {"avgpool2p1", "layer 1 'avgpool2p1': expected avgpoolK"},
        {"dense10", "layer 1 'dense10': unknown layer"},
        {"fc10,", "ends with a comma"},
        {"fc10, ", "ends with a comma"},
        {"fc10,,fc3", "layer 2 '': unknown layer"},
        {"conv9x9x4", "layer 1 'conv9x9x4': its 9x9 window does not fit its 8x8x1 input"},
        {"conv3x3x4p3", "layer 1 'conv3x3x4p3': padding 3 must be smaller than the 3x3 kernel"},
        {"conv3x3x4,pool2,pool2,pool2", "layer 4 'pool2': its 2x2 window does not fit its 1x1x4"},
        {"fc5,conv2x2x3", "layer 2 'conv2x2x3': its 2x2 window does not fit its 1x1x5 input"},
        {"conv99999999x1x1", "layer 1 'conv99999999x1x1'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error("8x8x1", 64, bad[i][0], bad[i][1]);
    expect_error("8x8", 64, "fc3", "data.shape = '8x8': expected HxWxC");
    expect_error("8x8x2", 64, "fc3", "data.shape = '8x8x2' is 128 values a row; the data has 64");
    expect_error("", 50, "fc3", "data.shape is empty and 50 features are not a square image");
    gd_config c = make_config("8x8x1", "fc3", "relu");
    c.model.sync_bn = 1;
    gd_model m;
    assert_int_equal(create(&m, &c, 64, 3, N), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "model.sync_bn = true needs model.batchnorm = true"));
    c = make_config("8x8x1", " conv3x3x2 , pool2 ", "relu"); /* spaces around tokens */
    assert_int_equal(create(&m, &c, 64, 3, N), GD_OK);
    assert_int_equal(((cnn *)m.impl)->nlayers, 3);
    gd_model_destroy(&m);
}

/* ---- overlap: the slices backward reports ---- */

typedef struct {
    size_t *count;
    size_t first_offset, calls;
} slices;

static void record_slice(void *ctx, size_t offset, size_t len)
{
    slices *s = ctx;
    if (len && s->calls++ == 0)
        s->first_offset = offset;
    for (size_t i = offset; i < offset + len; i++)
        s->count[i]++;
}

/* Every gradient float is reported exactly once, the output layer's bias first; with an
 * empty batch (a rank whose shard ran out) too, with a zero gradient. */
static void check_slices(size_t n)
{
    gd_config c = make_config("8x8x1", "conv3x3x4p1,pool2,conv3x3x5,avgpool2,fc6", "relu");
    gd_model m;
    assert_int_equal(create(&m, &c, 64, 3, N), GD_OK);
    gd_model_init(&m, &c);
    float x[N * 64], y[N];
    random_batch(x, y, N, 64, 3, 5);
    slices rec = {.count = calloc(m.nparams, sizeof(size_t))};
    m.grad_ready = record_slice;
    m.grad_ready_ctx = &rec;
    memset(m.g, 0, m.nparams * sizeof(float));
    m.ops->loss_grad(&m, n ? x : NULL, y, n, m.g, NULL);
    for (size_t i = 0; i < m.nparams; i++) {
        assert_int_equal(rec.count[i], 1);
        assert_true(n ? 1 : m.g[i] == 0);
    }
    const cnn *p = m.impl;
    assert_int_equal(rec.first_offset, p->layer[p->nlayers - 1].aff.b);
    free(rec.count);
    gd_model_destroy(&m);
}

static void test_slices(void **state)
{
    (void)state;
    check_slices(N);
    check_slices(0);
}

/* ---- model.h5 ---- */

/* The model read back (with no config) has the layers and predicts what the trained one did. */
static void test_save_load(void **state)
{
    (void)state;
    gd_config c = make_config("6x6x2", "conv3x3x3p1,maxpool2,fc5", "tanh");
    gd_model m, back;
    assert_int_equal(create(&m, &c, 72, 4, N), GD_OK);
    gd_model_init(&m, &c);
    float x[N * 72], y[N];
    random_batch(x, y, N, 72, 4, 13);
    char path[256];
    snprintf(path, sizeof path, "%s/cnn.h5", unit_tmpdir());
    assert_int_equal(gd_model_save(&m, path), GD_OK);
    assert_int_equal(gd_model_load(&back, path, 2), GD_OK);
    assert_string_equal(back.cfg->model.layers, "conv3x3x3p1,maxpool2,fc5");
    assert_string_equal(back.cfg->data.shape, "6x6x2");
    assert_string_equal(back.cfg->model.activation, "tanh");
    assert_int_equal(back.nparams, m.nparams);
    assert_memory_equal(back.w, m.w, m.nparams * sizeof(float));
    float p1[N * 4], p2[N * 4];
    m.ops->scores(&m, x, N, p1);
    for (size_t i = 0; i < N; i += 2) /* back holds at most 2 rows at a time */
        back.ops->scores(&back, x + i * 72, N - i < 2 ? N - i : 2, p2 + i * 4);
    assert_memory_equal(p1, p2, sizeof p1);
    gd_model_layer layers[GD_MODEL_MAX_LAYERS];
    assert_int_equal(gd_model_layers(&back, layers), 4);
    assert_string_equal(layers[0].kind, "conv");
    assert_int_equal(layers[0].in, 3 * 3 * 2);
    assert_int_equal(layers[0].out, 3);
    assert_string_equal(layers[1].kind, "maxpool");
    assert_null(layers[1].W);
    assert_int_equal(layers[1].out_shape[0], 3);
    assert_null(layers[2].kind);
    assert_string_equal(layers[2].activation, "tanh");
    assert_string_equal(layers[3].activation, "softmax");
    gd_model_destroy(&m);
    gd_model_destroy(&back);
}

int main(void)
{
    MPI_Init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_conv_stride_padding),
        cmocka_unit_test(test_gradient_pools),
        cmocka_unit_test(test_gradient_network),
        cmocka_unit_test(test_gradient_batchnorm_dropout),
        cmocka_unit_test(test_batchnorm_running_statistics),
        cmocka_unit_test(test_forward_matches_torch),
        cmocka_unit_test(test_lenet_shapes),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_save_load),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
