/* The MLP's layer kernels: one job each, on whole-batch row-major buffers.
 * Matrix products are cblas_sgemm over the batch; the rest are single passes.
 *
 * Batch normalization, per feature j over the batch's N rows (N over all ranks with sync_bn):
 *   forward   x^ = (z - mean) / sqrt(var + eps),  y = gamma x^ + beta
 *   backward  dgamma = sum dy x^,  dbeta = sum dy,
 *             dz = gamma / sqrt(var + eps) * (dy - sum dy / N - x^ sum(dy x^) / N)
 * The sums are taken in double, so var = E[z^2] - mean^2 loses nothing that matters, and
 * sync_bn needs a single allreduce of (sum z, sum z^2, N) forward and of
 * (sum dy, sum dy x^) backward. Evaluation uses the running statistics instead. */
#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void mlp_report(const gd_model *m, size_t offset, size_t len)
{
    if (m->grad_ready)
        m->grad_ready(m->grad_ready_ctx, offset, len);
}

static float sigmoidf_stable(float v)
{
    return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
}

void mlp_affine_forward(const gd_model *m, const mlp_layer *L, const float *x, size_t n)
{
    const int in = (int)L->in, out = (int)L->out;
    if (n == 0) /* an empty batch on a lockstep rank: nothing to multiply */
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, out, in, 1.0f, x, in,
                m->w + L->w, in, 0.0f, L->z, out);
}

void mlp_bias_forward(const gd_model *m, const mlp_layer *L, size_t n)
{
    const float *b = m->w + L->b;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < L->out; j++)
            L->z[i * L->out + j] += b[j];
}

/* Sums of z and z^2 per feature (and the row count), over all ranks under sync_bn; sets
 * mean and inv_std and moves the running statistics towards them. */
static void batch_statistics(gd_model *m, mlp_hidden *p, mlp_layer *L, size_t n)
{
    const size_t k = L->out;
    double *s = L->sums;
    memset(s, 0, (2 * k + 1) * sizeof *s);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            double z = L->z[i * k + j];
            s[j] += z;
            s[k + j] += z * z;
        }
    s[2 * k] = (double)n;
    if (p->sync_bn)
        MPI_Allreduce(MPI_IN_PLACE, s, (int)(2 * k + 1), MPI_DOUBLE, MPI_SUM, m->comm);
    const double N = s[2 * k], unbias = N > 1 ? N / (N - 1) : 1;
    L->bn_count = N;
    for (size_t j = 0; N > 0 && j < k; j++) {
        double mean = s[j] / N, var = fmax(s[k + j] / N - mean * mean, 0.0);
        L->mean[j] = (float)mean;
        L->inv_std[j] = (float)(1.0 / sqrt(var + MLP_BN_EPS));
        L->run_mean[j] = (float)((1 - MLP_BN_MOMENTUM) * L->run_mean[j] + MLP_BN_MOMENTUM * mean);
        L->run_var[j] =
            (float)((1 - MLP_BN_MOMENTUM) * L->run_var[j] + MLP_BN_MOMENTUM * var * unbias);
    }
}

static void running_statistics(mlp_layer *L)
{
    for (size_t j = 0; j < L->out; j++) {
        L->mean[j] = L->run_mean[j];
        L->inv_std[j] = (float)(1.0 / sqrt((double)L->run_var[j] + MLP_BN_EPS));
    }
}

void mlp_batchnorm_forward(gd_model *m, mlp_hidden *hid, mlp_layer *L, size_t n, int train)
{
    if (train)
        batch_statistics(m, hid, L, n);
    else
        running_statistics(L);
    const size_t k = L->out;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            L->z[i * k + j] = (L->z[i * k + j] - L->mean[j]) * L->inv_std[j];
}

void mlp_activate(mlp_activation act, const float *v, float *h, size_t count)
{
    switch (act) {
    case MLP_RELU:
        for (size_t e = 0; e < count; e++)
            h[e] = v[e] > 0 ? v[e] : 0.0f;
        break;
    case MLP_TANH:
        for (size_t e = 0; e < count; e++)
            h[e] = tanhf(v[e]);
        break;
    case MLP_SIGMOID:
        for (size_t e = 0; e < count; e++)
            h[e] = sigmoidf_stable(v[e]);
        break;
    }
}

/* Inverted dropout: kept units are scaled by 1/(1-p) so evaluation needs no rescaling. */
static void dropout_forward(mlp_hidden *p, mlp_layer *L, size_t count)
{
    const float keep = (float)(1.0 / (1.0 - p->dropout));
    for (size_t e = 0; e < count; e++) {
        L->mask[e] = gd_rng_uniform(&p->dropout_rng) < p->dropout ? 0.0f : keep;
        L->a[e] = L->h[e] * L->mask[e];
    }
}

/* Without batch norm: h = act(z + b) in one pass over z (issue 14: one read of the GEMM's
 * output instead of two). A conv's rows are its few channels, too short to vectorize, so
 * the bias is tiled over BIAS_TILE floats (whole rows) and that many rows go as one flat
 * run. The same float operations as a bias pass then an activation pass: the same bits. */
enum { BIAS_TILE = 256 };

static void bias_activation(mlp_activation act, const float *restrict z, const float *b,
                            float *restrict h, size_t n, size_t k)
{
    float tile[BIAS_TILE];
    const size_t rows = k <= BIAS_TILE ? BIAS_TILE / k : 1;
    for (size_t r = 0; r < rows && rows > 1; r++)
        memcpy(tile + r * k, b, k * sizeof(float));
    const float *restrict bias = rows > 1 ? tile : b;
    for (size_t i = 0; i < n; i += rows) {
        const size_t len = (n - i < rows ? n - i : rows) * k;
        const float *restrict zi = z + i * k;
        float *restrict hi = h + i * k;
        switch (act) {
        case MLP_RELU:
            for (size_t e = 0; e < len; e++) {
                const float v = zi[e] + bias[e];
                hi[e] = v > 0 ? v : 0.0f;
            }
            break;
        case MLP_TANH:
            for (size_t e = 0; e < len; e++)
                hi[e] = tanhf(zi[e] + bias[e]);
            break;
        case MLP_SIGMOID:
            for (size_t e = 0; e < len; e++)
                hi[e] = sigmoidf_stable(zi[e] + bias[e]);
            break;
        }
    }
}

void mlp_activation_forward(const gd_model *m, mlp_hidden *p, mlp_layer *L, size_t n, int train)
{
    const size_t k = L->out, count = n * k;
    if (L->bn) {
        const float *gamma = m->w + L->gamma, *beta = m->w + L->beta;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++)
                L->h[i * k + j] = gamma[j] * L->z[i * k + j] + beta[j];
        mlp_activate(p->act, L->h, L->h, count); /* z keeps x-hat for the backward pass */
    } else {
        bias_activation(p->act, L->z, m->w + L->b, L->h, n, k);
    }
    if (train && p->dropout > 0)
        dropout_forward(p, L, count);
}

void mlp_activation_backward(mlp_activation act, const float *restrict h, float *restrict delta,
                             size_t count)
{
    switch (act) {
    case MLP_RELU:
        for (size_t e = 0; e < count; e++)
            delta[e] = h[e] > 0 ? delta[e] : 0.0f;
        break;
    case MLP_TANH:
        for (size_t e = 0; e < count; e++)
            delta[e] *= 1.0f - h[e] * h[e];
        break;
    case MLP_SIGMOID:
        for (size_t e = 0; e < count; e++)
            delta[e] *= h[e] * (1.0f - h[e]);
        break;
    }
}

void mlp_bias_backward(const gd_model *m, const mlp_layer *L, const float *delta, size_t n,
                       float *grad)
{
    float *gb = grad + L->b;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < L->out; j++)
            gb[j] += delta[i * L->out + j];
    mlp_report(m, L->b, L->out);
}

/* dgamma and dbeta into grad (reported), then delta from dL/dy to dL/dz. */
static void batchnorm_backward(gd_model *m, const mlp_hidden *p, mlp_layer *L, float *delta,
                               size_t n, float *grad)
{
    const size_t k = L->out;
    double *s = L->sums; /* [0, k): sum dy; [k, 2k): sum dy x^ */
    memset(s, 0, 2 * k * sizeof *s);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            s[j] += delta[i * k + j];
            s[k + j] += (double)delta[i * k + j] * L->z[i * k + j];
        }
    for (size_t j = 0; j < k; j++) {
        grad[L->gamma + j] += (float)s[k + j];
        grad[L->beta + j] += (float)s[j];
    }
    mlp_report(m, L->gamma, 2 * k); /* gamma and beta are adjacent */
    if (p->sync_bn)
        MPI_Allreduce(MPI_IN_PLACE, s, (int)(2 * k), MPI_DOUBLE, MPI_SUM, m->comm);
    if (L->bn_count <= 0)
        return;
    for (size_t j = 0; j < 2 * k; j++)
        s[j] /= L->bn_count;
    const float *gamma = m->w + L->gamma;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            float *d = &delta[i * k + j];
            *d = gamma[j] * L->inv_std[j] *
                 (*d - (float)s[j] - L->z[i * k + j] * (float)s[k + j]);
        }
}

void mlp_hidden_backward(gd_model *m, mlp_hidden *p, mlp_layer *L, float *delta, size_t n,
                         float *grad)
{
    const size_t count = n * L->out;
    if (p->dropout > 0)
        for (size_t e = 0; e < count; e++)
            delta[e] *= L->mask[e];
    mlp_activation_backward(p->act, L->h, delta, count);
    if (L->bn)
        batchnorm_backward(m, p, L, delta, n, grad);
    else
        mlp_bias_backward(m, L, delta, n, grad);
}

void mlp_weight_backward(gd_model *m, const mlp_layer *L, const float *delta, const float *x,
                         size_t n, float *grad)
{
    /* blocks only pay off when a strategy listens; else one GEMM for the whole matrix */
    size_t block = L->in < MLP_SLICE_FLOATS ? MLP_SLICE_FLOATS / L->in : 1;
    if (!m->grad_ready)
        block = L->out;
    const int in = (int)L->in, out = (int)L->out;
    for (size_t r0 = 0; r0 < L->out; r0 += block) {
        size_t rows = L->out - r0 < block ? L->out - r0 : block;
        float *gw = grad + L->w + r0 * L->in;
        if (n)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, in, (int)n, 1.0f,
                        delta + r0, out, x, in, 1.0f, gw, in);
        mlp_report(m, L->w + r0 * L->in, rows * L->in);
    }
}

void mlp_input_backward(const gd_model *m, const mlp_layer *L, const float *delta, size_t n,
                        float *dx)
{
    if (n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)L->in, (int)L->out,
                    1.0f, delta, (int)L->out, m->w + L->w, (int)L->in, 0.0f, dx, (int)L->in);
}

static size_t argmax(const float *row, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

/* Cross-entropy of softmax(z) against the class labels; z becomes p - onehot(y). */
static double softmax_loss(float *z, const float *y, size_t n, size_t k, size_t *right)
{
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        float *row = z + i * k;
        const size_t label = (size_t)y[i], best = argmax(row, k);
        const float shift = row[best];
        const double z_label = (double)row[label] - shift;
        double total = 0;
        for (size_t j = 0; j < k; j++)
            total += row[j] = expf(row[j] - shift);
        loss += log(total) - z_label;
        *right += best == label;
        for (size_t j = 0; j < k; j++)
            row[j] = (float)(row[j] / total) - (j == label);
    }
    return loss;
}

/* Binary cross-entropy log(1 + e^z) - y z, stable for any z; z becomes sigmoid(z) - y. */
static double sigmoid_loss(float *z, const float *y, size_t n, size_t *right)
{
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        double v = z[i];
        loss += fmax(v, 0.0) - y[i] * v + log1p(exp(-fabs(v)));
        *right += (v > 0) == (y[i] > 0.5f);
        z[i] = sigmoidf_stable(z[i]) - y[i];
    }
    return loss;
}

/* Squared error 1/2 (z - y)^2, as linreg; z becomes z - y. */
static double linear_loss(float *z, const float *y, size_t n)
{
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        z[i] -= y[i];
        loss += 0.5 * (double)z[i] * z[i];
    }
    return loss;
}

double mlp_output_loss(mlp_output out, size_t k, float *z, const float *y, size_t n,
                       size_t *correct)
{
    size_t right = 0;
    double loss = 0;
    switch (out) {
    case MLP_OUT_SOFTMAX:
        loss = softmax_loss(z, y, n, k, &right);
        break;
    case MLP_OUT_SIGMOID:
        loss = sigmoid_loss(z, y, n, &right);
        break;
    case MLP_OUT_LINEAR:
        loss = linear_loss(z, y, n);
        break;
    }
    if (correct)
        *correct += right;
    return loss;
}

void mlp_output_predict(mlp_output kind, size_t k, const float *z, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        if (kind == MLP_OUT_SOFTMAX)
            out[i] = (float)argmax(z + i * k, k);
        else if (kind == MLP_OUT_SIGMOID)
            out[i] = sigmoidf_stable(z[i]);
        else
            out[i] = z[i];
    }
}
