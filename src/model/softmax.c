/* Softmax regression over K classes: p = softmax(z),
 * loss = logsumexp(z) - z_y  (shifted by max z for stability), dloss/dz = p - onehot(y). */
#include "linear.h"

#include <math.h>

/* Turns row z (k logits) into probabilities in place; returns logsumexp(z). */
static double softmax_row(float *z, size_t k, size_t *argmax)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (z[j] > z[best])
            best = j;
    float zmax = z[best];
    double sum = 0;
    for (size_t j = 0; j < k; j++) {
        z[j] = expf(z[j] - zmax);
        sum += z[j];
    }
    float inv = (float)(1.0 / sum);
    for (size_t j = 0; j < k; j++)
        z[j] *= inv;
    *argmax = best;
    return zmax + log(sum);
}

static double softmax_loss_grad(gd_model *m, const float *x, const float *y, size_t n,
                                float *grad, size_t *correct)
{
    const size_t k = m->outputs;
    float *z = linear_forward(m, x, n);
    double loss = 0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        float *row = z + i * k;
        size_t label = (size_t)y[i], best;
        double zy = row[label];
        loss += softmax_row(row, k, &best) - zy;
        right += best == label;
        row[label] -= 1.0f;
    }
    if (correct)
        *correct += right;
    if (grad)
        linear_backward(m, x, n, grad);
    return loss;
}

static void softmax_predict(gd_model *m, const float *x, size_t n, float *out)
{
    const size_t k = m->outputs;
    float *z = linear_forward(m, x, n);
    for (size_t i = 0; i < n; i++) {
        size_t best;
        softmax_row(z + i * k, k, &best);
        out[i] = (float)best;
    }
}

const gd_model_ops gd_model_softmax = {
    .name = "softmax",
    .task = GD_TASK_CLASSES,
    .setup = linear_setup,
    .loss_grad = softmax_loss_grad,
    .predict = softmax_predict,
    .scores = linear_scores,
    .weight_count = linear_weight_count,
    .destroy = linear_destroy,
};
