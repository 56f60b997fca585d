/* Shared kernels of the linear models: parameters are W (outputs x features,
 * row-major) followed by b (outputs); the scratch holds Z (max_batch x outputs). */
#ifndef GDMPI_MODEL_LINEAR_H
#define GDMPI_MODEL_LINEAR_H

#include "gdmpi/model.h"

int linear_setup(gd_model *m);
size_t linear_weight_count(const gd_model *m);
/* Z = X W^T + b into m->scratch; returns Z. */
float *linear_forward(gd_model *m, const float *x, size_t n);
/* grad += [dZ^T X, column sums of dZ], with dZ in m->scratch. */
/* gd_model_ops.scores: Z = X W^T + b into out (n x outputs). */
void linear_scores(gd_model *m, const float *x, size_t n, float *out);
void linear_backward(gd_model *m, const float *x, size_t n, float *grad);
void linear_destroy(gd_model *m);

#endif
