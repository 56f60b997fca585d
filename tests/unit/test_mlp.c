/* The MLP: loss and gradient against a double-precision reference (central finite
 * differences) for every activation, with and without batch norm and dropout, for every
 * output; running statistics and evaluation mode; the order and coverage of the gradient
 * slices reported for overlap; initialisation; model.h5 round trips; config errors. */
#include "unit.h"

#include "gradcheck.h"
#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/rng.h"
#include "model/mlp.h"

#include <math.h>
#include <mpi.h>

enum { N = 7, D = 5, K = 3, MAXW = 8 };

typedef struct {
    float x[N * D], y[N];
} batch;

static gd_config make_config(const char *act, const char *out, int bn, double dropout)
{
    gd_config c;
    gd_config_defaults(&c);
    snprintf(c.model.type, sizeof c.model.type, "mlp");
    snprintf(c.model.hidden, sizeof c.model.hidden, "4,3");
    snprintf(c.model.activation, sizeof c.model.activation, "%s", act);
    snprintf(c.model.output, sizeof c.model.output, "%s", out);
    c.model.batchnorm = bn;
    c.model.dropout = dropout;
    return c;
}

static void make_batch(batch *b, gd_task task, uint64_t seed)
{
    gd_rng r;
    gd_rng_seed(&r, seed, 0, 99);
    for (size_t i = 0; i < N * D; i++)
        b->x[i] = (float)gd_rng_normal(&r);
    for (size_t i = 0; i < N; i++)
        b->y[i] = task == GD_TASK_REGRESSION ? (float)gd_rng_normal(&r)
                                             : (float)(gd_rng_next(&r) % (task == GD_TASK_BINARY ? 2 : K));
}

/* Random parameters everywhere (biases and beta too); gamma near 1. */
static void randomise(gd_model *m, double *w)
{
    const mlp *p = m->impl;
    gd_rng r;
    gd_rng_seed(&r, 3, 0, 98);
    for (size_t i = 0; i < m->nparams; i++)
        m->w[i] = (float)(0.5 * gd_rng_normal(&r));
    for (size_t l = 0; l < p->nlayers; l++)
        for (size_t j = 0; p->layer[l].bn && j < p->layer[l].out; j++)
            m->w[p->layer[l].gamma + j] += 1.0f;
    for (size_t i = 0; i < m->nparams; i++)
        w[i] = m->w[i];
}

static double ref_activation(mlp_activation act, double v)
{
    if (act == MLP_RELU)
        return v > 0 ? v : 0;
    if (act == MLP_TANH)
        return tanh(v);
    return 1 / (1 + exp(-v));
}

/* Batch norm in double with two-pass statistics: batch (train) or running (eval). */
static void ref_batchnorm(const mlp_layer *L, const double *w, double z[N][MAXW], int train)
{
    for (size_t j = 0; j < L->out; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < N; i++)
            mean += z[i][j] / N;
        for (size_t i = 0; i < N; i++)
            var += (z[i][j] - mean) * (z[i][j] - mean) / N;
        if (!train) {
            mean = L->run_mean[j];
            var = L->run_var[j];
        }
        for (size_t i = 0; i < N; i++)
            z[i][j] = w[L->gamma + j] * (z[i][j] - mean) / sqrt(var + MLP_BN_EPS) + w[L->beta + j];
    }
}

static double ref_output_loss(const gd_model *m, double z[N][MAXW], const float *y)
{
    const mlp *p = m->impl;
    double total = 0;
    for (size_t i = 0; i < N; i++) {
        if (p->out == MLP_OUT_LINEAR) {
            total += 0.5 * (z[i][0] - y[i]) * (z[i][0] - y[i]);
        } else if (p->out == MLP_OUT_SIGMOID) {
            double q = 1 / (1 + exp(-z[i][0]));
            total -= y[i] > 0.5 ? log(q) : log(1 - q);
        } else {
            double s = 0;
            for (size_t j = 0; j < m->outputs; j++)
                s += exp(z[i][j]);
            total += log(s) - z[i][(size_t)y[i]];
        }
    }
    return total;
}

/* The loss sum in double precision, from the formulas; dropout reuses the model's masks. */
static double reference_loss(const gd_model *m, const double *w, const batch *b, int train)
{
    const mlp *p = m->impl;
    double a[N][MAXW], z[N][MAXW];
    for (size_t i = 0; i < N; i++)
        for (size_t c = 0; c < D; c++)
            a[i][c] = b->x[i * D + c];
    for (size_t l = 0; l < p->nlayers; l++) {
        const mlp_layer *L = &p->layer[l];
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < L->out; j++) {
                z[i][j] = L->bn ? 0 : w[L->b + j];
                for (size_t c = 0; c < L->in; c++)
                    z[i][j] += w[L->w + j * L->in + c] * a[i][c];
            }
        if (l + 1 == p->nlayers)
            break;
        if (L->bn)
            ref_batchnorm(L, w, z, train);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < L->out; j++)
                a[i][j] = ref_activation(p->hid.act, z[i][j]) *
                          (train && p->hid.dropout > 0 ? L->mask[i * L->out + j] : 1.0);
    }
    return ref_output_loss(m, z, b->y);
}

/* A D-4-3-K model of config c with random parameters (copied into w) and a batch. */
static void small_model(gd_model *m, const gd_config *c, batch *b, uint64_t seed, double *w)
{
    assert_int_equal(gd_model_create(m, "mlp", D, K, N, c), GD_OK);
    assert_true(m->nparams <= 256);
    gd_model_init(m, c);
    make_batch(b, m->ops->task, seed);
    randomise(m, w);
}

typedef struct {
    const gd_model *m;
    const batch *b;
} model_batch;

static double training_loss(const double *w, const void *ctx)
{
    const model_batch *mb = ctx;
    return reference_loss(mb->m, w, mb->b, 1);
}

/* Analytic gradient (float) against central differences of the double reference. */
static void check_gradient(const char *act, const char *out, int bn, double dropout)
{
    gd_config c = make_config(act, out, bn, dropout);
    gd_model m;
    batch b;
    double w[256];
    small_model(&m, &c, &b, 7, w);
    memset(m.g, 0, m.nparams * sizeof(float));
    double loss = m.ops->loss_grad(&m, b.x, b.y, N, m.g, NULL);
    char what[128];
    snprintf(what, sizeof what, "%s/%s bn=%d dropout=%g", act, out, bn, dropout);
    gradcheck(what, loss, m.g, w, m.nparams, training_loss, &(model_batch){&m, &b}, 2e-4);
    gd_model_destroy(&m);
}

static void test_gradients(void **state)
{
    (void)state;
    const char *acts[] = {"relu", "tanh", "sigmoid"};
    const char *outs[] = {"softmax", "sigmoid", "linear"};
    for (int a = 0; a < 3; a++)
        for (int o = 0; o < 3; o++)
            for (int bn = 0; bn < 2; bn++)
                check_gradient(acts[a], outs[o], bn, 0);
}

static void test_gradients_dropout(void **state)
{
    (void)state;
    check_gradient("relu", "softmax", 0, 0.3);
    check_gradient("tanh", "linear", 1, 0.5);
}

static void test_output_follows_config(void **state)
{
    (void)state;
    const char *outs[] = {"softmax", "sigmoid", "linear"};
    const gd_task tasks[] = {GD_TASK_CLASSES, GD_TASK_BINARY, GD_TASK_REGRESSION};
    for (int o = 0; o < 3; o++) {
        gd_config c = make_config("relu", outs[o], 0, 0);
        assert_int_equal(gd_model_find_config(&c)->task, tasks[o]);
        gd_model m;
        assert_int_equal(gd_model_create(&m, "mlp", D, K, N, &c), GD_OK);
        assert_int_equal(m.ops->task, tasks[o]);
        assert_int_equal(m.outputs, o == 0 ? K : 1);
        /* weights lead: weight_count is D*4 + 4*3 + 3*outputs */
        assert_int_equal(m.ops->weight_count(&m), D * 4 + 4 * 3 + 3 * m.outputs);
        gd_model_destroy(&m);
    }
}

/* One training call moves the running statistics by momentum towards the batch's;
 * evaluation (grad == NULL) then uses them, and is deterministic under dropout. */
static void test_running_statistics_and_eval(void **state)
{
    (void)state;
    gd_config c = make_config("tanh", "softmax", 1, 0.4);
    gd_model m;
    batch b;
    double w[256];
    small_model(&m, &c, &b, 11, w);
    const mlp *p = m.impl;
    const mlp_layer *L = &p->layer[0];
    m.ops->loss_grad(&m, b.x, b.y, N, m.g, NULL);
    for (size_t j = 0; j < L->out; j++) {
        double z[N], mean = 0, var = 0;
        for (size_t i = 0; i < N; i++) {
            z[i] = 0; /* the affine output again (batch-norm layers have no bias) */
            for (size_t k = 0; k < D; k++)
                z[i] += w[L->w + j * D + k] * b.x[i * D + k];
            mean += z[i] / N;
        }
        for (size_t i = 0; i < N; i++)
            var += (z[i] - mean) * (z[i] - mean) / (N - 1);
        assert_true(fabs(L->run_mean[j] - 0.1 * mean) < 1e-5);
        assert_true(fabs(L->run_var[j] - (0.9 + 0.1 * var)) < 1e-5);
    }
    size_t right1 = 0, right2 = 0;
    double e1 = m.ops->loss_grad(&m, b.x, b.y, N, NULL, &right1);
    double e2 = m.ops->loss_grad(&m, b.x, b.y, N, NULL, &right2);
    assert_true(e1 == e2 && right1 == right2);
    double ref = reference_loss(&m, w, &b, 0);
    assert_true(fabs(e1 - ref) < 1e-5 * (1 + fabs(ref)));
    float pred[N];
    m.ops->predict(&m, b.x, N, pred);
    size_t agree = 0;
    for (size_t i = 0; i < N; i++)
        agree += pred[i] == b.y[i];
    assert_int_equal(agree, right1);
    gd_model_destroy(&m);
}

typedef struct {
    size_t *count; /* nparams: how often each gradient float was reported */
    size_t offsets[64], calls;
} slices;

static void record_slice(void *ctx, size_t offset, size_t len)
{
    slices *s = ctx;
    if (len && s->calls < 64)
        s->offsets[s->calls++] = offset;
    for (size_t i = offset; i < offset + len; i++)
        s->count[i]++;
}

/* Every gradient float is reported exactly once, the output layer first and the first
 * layer's weights last (in several blocks); an empty batch (a rank whose shard ran out)
 * reports the same slices with a zero gradient. */
static void check_slices(int bn, size_t n)
{
    enum { WIDE = 200 };
    gd_config c = make_config("relu", "softmax", bn, 0);
    snprintf(c.model.hidden, sizeof c.model.hidden, "300,4");
    gd_model m;
    assert_int_equal(gd_model_create(&m, "mlp", WIDE, K, N, &c), GD_OK);
    gd_model_init(&m, &c);
    batch b;
    make_batch(&b, m.ops->task, 5);
    float *x = calloc(N * WIDE, sizeof(float));
    for (size_t i = 0; i < N * WIDE; i++)
        x[i] = b.x[i % (N * D)];
    slices rec = {.count = calloc(m.nparams, sizeof(size_t))};
    m.grad_ready = record_slice;
    m.grad_ready_ctx = &rec;
    memset(m.g, 0, m.nparams * sizeof(float));
    m.ops->loss_grad(&m, n ? x : NULL, b.y, n, m.g, NULL);
    for (size_t i = 0; i < m.nparams; i++) {
        assert_int_equal(rec.count[i], 1);
        if (n == 0)
            assert_true(m.g[i] == 0);
    }
    const mlp *p = m.impl;
    const size_t first_w = MLP_SLICE_FLOATS / WIDE * WIDE; /* one block of layer 1's rows */
    assert_true(rec.offsets[0] >= m.ops->weight_count(&m)); /* the output layer's bias */
    assert_int_equal(rec.offsets[1], p->layer[p->nlayers - 1].w); /* then its weights */
    assert_true(rec.calls > 5);
    assert_int_equal(rec.offsets[rec.calls - 1], first_w); /* layer 1's 2nd, last block */
    free(rec.count);
    free(x);
    gd_model_destroy(&m);
}

static void test_slices(void **state)
{
    (void)state;
    check_slices(0, N);
    check_slices(1, N);
    check_slices(1, 0);
}

/* Sample standard deviation of layer l's weights. */
static double weight_std(const gd_model *m, size_t l)
{
    const mlp_layer *L = &((const mlp *)m->impl)->layer[l];
    double sum = 0, sq = 0, n = (double)(L->in * L->out);
    for (size_t i = 0; i < L->in * L->out; i++) {
        sum += m->w[L->w + i];
        sq += (double)m->w[L->w + i] * m->w[L->w + i];
    }
    return sqrt(sq / n - (sum / n) * (sum / n));
}

static void check_init(const char *init, const char *act, double expect_first)
{
    gd_config c = make_config(act, "softmax", 1, 0);
    snprintf(c.model.hidden, sizeof c.model.hidden, "400");
    snprintf(c.model.init, sizeof c.model.init, "%s", init);
    gd_model m;
    assert_int_equal(gd_model_create(&m, "mlp", 100, 10, 4, &c), GD_OK);
    gd_model_init(&m, &c);
    double std = weight_std(&m, 0);
    if (fabs(std - expect_first) > 0.05 * expect_first)
        fail_msg("init %s/%s: std %g, expected %g", init, act, std, expect_first);
    const mlp_layer *L = &((const mlp *)m.impl)->layer[0];
    for (size_t j = 0; j < L->out; j++) {
        assert_true(m.w[L->gamma + j] == 1.0f && m.w[L->beta + j] == 0.0f);
        assert_true(L->run_mean[j] == 0.0f && L->run_var[j] == 1.0f);
    }
    gd_model_destroy(&m);
}

static void test_init(void **state)
{
    (void)state;
    check_init("he", "tanh", sqrt(2.0 / 100));
    check_init("xavier", "relu", sqrt(2.0 / 500));
    check_init("normal", "relu", 0.01);
    check_init("auto", "relu", sqrt(2.0 / 100));
    check_init("auto", "sigmoid", sqrt(2.0 / 500));
}

/* model.h5 keeps the architecture and the running statistics: the model read back (with no
 * config) predicts exactly what the trained one did. */
static void test_save_load(void **state)
{
    (void)state;
    gd_config c = make_config("sigmoid", "linear", 1, 0.2);
    snprintf(c.model.hidden, sizeof c.model.hidden, "6,5,4");
    gd_model m, back;
    assert_int_equal(gd_model_create(&m, "mlp", D, 1, N, &c), GD_OK);
    gd_model_init(&m, &c);
    batch b;
    make_batch(&b, m.ops->task, 13);
    for (int step = 0; step < 3; step++) /* moves the running statistics */
        m.ops->loss_grad(&m, b.x, b.y, N, m.g, NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/mlp.h5", unit_tmpdir());
    assert_int_equal(gd_model_save(&m, path), GD_OK);
    assert_int_equal(gd_model_load(&back, path, 3), GD_OK);
    assert_int_equal(back.ops->task, GD_TASK_REGRESSION);
    assert_string_equal(back.cfg->model.hidden, "6,5,4");
    assert_int_equal(back.nparams, m.nparams);
    assert_int_equal(back.nstate, m.nstate);
    assert_memory_equal(back.w, m.w, m.nparams * sizeof(float));
    assert_memory_equal(back.state, m.state, m.nstate * sizeof(float));
    float p1[N], p2[N];
    m.ops->predict(&m, b.x, N, p1);
    for (size_t i = 0; i < N; i += 3) /* back holds at most 3 rows at a time */
        back.ops->predict(&back, b.x + i * D, N - i < 3 ? N - i : 3, p2 + i);
    assert_memory_equal(p1, p2, sizeof p1);
    gd_model_destroy(&m);
    gd_model_destroy(&back);
}

static void expect_error(gd_config *c, size_t outputs, const char *needle)
{
    gd_model m;
    gd_clear_error();
    assert_int_equal(gd_model_create(&m, "mlp", D, outputs, N, c), GD_ECONFIG);
    if (!strstr(gd_errmsg(), needle))
        fail_msg("message '%s' lacks '%s'", gd_errmsg(), needle);
}

static void test_config_errors(void **state)
{
    (void)state;
    const char *bad[] = {"12,x", "0", "3,,4", "-2", "4 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_config c = make_config("relu", "softmax", 0, 0);
        snprintf(c.model.hidden, sizeof c.model.hidden, "%s", bad[i]);
        expect_error(&c, K, "model.hidden");
    }
    gd_config c = make_config("relu", "softmax", 0, 0);
    c.model.sync_bn = 1;
    expect_error(&c, K, "model.batchnorm");
    c = make_config("relu", "softmax", 0, 0);
    expect_error(&c, 1, "2 classes");
    gd_config_defaults(&c);
    gd_clear_error();
    assert_int_equal(gd_config_set(&c, "model.activation=gelu"), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "relu|tanh|sigmoid"));
    gd_clear_error();
    assert_int_equal(gd_config_set(&c, "parallel.overlap=maybe"), GD_ECONFIG);
    gd_clear_error();
    assert_int_equal(gd_config_set(&c, "model.init=xavier"), GD_OK);
    c = make_config("relu", "softmax", 0, 0);
    snprintf(c.model.hidden, sizeof c.model.hidden, " ");
    gd_model m;
    assert_int_equal(gd_model_create(&m, "mlp", D, K, N, &c), GD_OK); /* no hidden layer */
    assert_int_equal(m.nparams, D * K + K);
    gd_model_destroy(&m);
}

int main(void)
{
    MPI_Init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_gradients_dropout),
        cmocka_unit_test(test_output_follows_config),
        cmocka_unit_test(test_running_statistics_and_eval),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_config_errors),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
