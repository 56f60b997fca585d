/* Linear regression: z = w.x + b, loss = 1/2 (z - y)^2, dloss/dz = z - y. */
#include "linear.h"

static double linreg_loss_grad(gd_model *m, const float *x, const float *y, size_t n,
                               float *grad, size_t *correct)
{
    (void)correct; /* no classes to count */
    float *z = linear_forward(m, x, n);
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        float r = z[i] - y[i];
        loss += 0.5 * (double)r * r;
        z[i] = r;
    }
    if (grad)
        linear_backward(m, x, n, grad);
    return loss;
}

static void linreg_predict(gd_model *m, const float *x, size_t n, float *out)
{
    const float *z = linear_forward(m, x, n);
    for (size_t i = 0; i < n; i++)
        out[i] = z[i];
}

const gd_model_ops gd_model_linreg = {
    .name = "linreg",
    .task = GD_TASK_REGRESSION,
    .setup = linear_setup,
    .loss_grad = linreg_loss_grad,
    .predict = linreg_predict,
    .scores = linear_scores,
    .weight_count = linear_weight_count,
    .destroy = linear_destroy,
};
