/* Logistic regression, labels 0/1: p = sigmoid(z),
 * loss = log(1 + e^z) - y z = max(z, 0) - y z + log1p(e^-|z|)  (stable for any z),
 * dloss/dz = p - y. */
#include "linear.h"

#include <math.h>

static float sigmoid(float z)
{
    return z >= 0 ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

static double logreg_loss_grad(gd_model *m, const float *x, const float *y, size_t n,
                               float *grad, size_t *correct)
{
    float *z = linear_forward(m, x, n);
    double loss = 0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        double zi = z[i];
        loss += fmax(zi, 0.0) - y[i] * zi + log1p(exp(-fabs(zi)));
        right += (zi > 0) == (y[i] > 0.5f);
        z[i] = sigmoid(z[i]) - y[i];
    }
    if (correct)
        *correct += right;
    if (grad)
        linear_backward(m, x, n, grad);
    return loss;
}

static void logreg_predict(gd_model *m, const float *x, size_t n, float *out)
{
    const float *z = linear_forward(m, x, n);
    for (size_t i = 0; i < n; i++)
        out[i] = sigmoid(z[i]);
}

const gd_model_ops gd_model_logreg = {
    .name = "logreg",
    .task = GD_TASK_BINARY,
    .setup = linear_setup,
    .loss_grad = logreg_loss_grad,
    .predict = logreg_predict,
    .scores = linear_scores,
    .weight_count = linear_weight_count,
    .destroy = linear_destroy,
};
