#include "linear.h"

#include "gdmpi/error.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

int linear_setup(gd_model *m)
{
    m->nparams = m->outputs * m->features + m->outputs;
    m->scratch = gd_alloc(m->max_batch * m->outputs, sizeof(float), "model scratch");
    return m->scratch ? GD_OK : GD_ERR;
}

size_t linear_weight_count(const gd_model *m) { return m->outputs * m->features; }

float *linear_forward(gd_model *m, const float *x, size_t n)
{
    const size_t d = m->features, k = m->outputs;
    const float *W = m->w, *b = m->w + k * d;
    float *Z = m->scratch;
    if (k == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)d, 1.0f, x, (int)d, W, 1, 0.0f, Z, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0f, x,
                    (int)d, W, (int)d, 0.0f, Z, (int)k);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            Z[i * k + j] += b[j];
    return Z;
}

void linear_scores(gd_model *m, const float *x, size_t n, float *out)
{
    memcpy(out, linear_forward(m, x, n), n * m->outputs * sizeof(float));
}

void linear_backward(gd_model *m, const float *x, size_t n, float *grad)
{
    const size_t d = m->features, k = m->outputs;
    const float *dZ = m->scratch;
    float *gW = grad, *gb = grad + k * d;
    if (k == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)n, (int)d, 1.0f, x, (int)d, dZ, 1, 1.0f, gW, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)d, (int)n, 1.0f, dZ,
                    (int)k, x, (int)d, 1.0f, gW, (int)d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            gb[j] += dZ[i * k + j];
}

void linear_destroy(gd_model *m)
{
    free(m->scratch);
    m->scratch = NULL;
}
