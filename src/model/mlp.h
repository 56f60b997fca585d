/* The multi-layer perceptron's private structure, shared by mlp.c (setup, ops, the step
 * top to bottom) and mlp_kernels.c (one function per layer kernel), and read by the tests.
 *
 * Parameter layout in the one flat buffer (m->w, and m->g the same way):
 *   W_1 | W_2 | ... | W_L | tail_1 | tail_2 | ... | tail_L
 * W_l is out_l x in_l, row-major. The weights lead so that weight_count() is one prefix
 * (the part model.l2 penalises). tail_l is b_l (out_l), or, for a batch-norm layer,
 * gamma_l then beta_l (out_l each): batch norm's beta replaces the bias, which the mean
 * subtraction would cancel anyway.
 *
 * m->state holds, per batch-norm layer, running mean then running variance (out_l each). */
#ifndef GDMPI_MODEL_MLP_H
#define GDMPI_MODEL_MLP_H

#include "gdmpi/model.h"
#include "gdmpi/rng.h"

typedef enum { MLP_RELU, MLP_TANH, MLP_SIGMOID } mlp_activation;
typedef enum { MLP_OUT_SOFTMAX, MLP_OUT_SIGMOID, MLP_OUT_LINEAR } mlp_output;

#define MLP_MAX_HIDDEN 32
#define MLP_BN_EPS 1e-5
#define MLP_BN_MOMENTUM 0.1
/* With a grad_ready listener, the gradient rows of a weight matrix are computed and reported
 * in blocks of about this many floats, so that an overlapping strategy can start reducing the
 * first blocks of the largest layer (the first, which backward reaches last) while the GEMMs
 * for the others run. */
#define MLP_SLICE_FLOATS 32768

typedef struct mlp_layer {
    size_t in, out;
    size_t w;           /* offset of W in m->w and m->g */
    size_t b;           /* offset of the bias (layers without batch norm) */
    size_t gamma, beta; /* offsets of the batch-norm scale and shift */
    int bn;             /* batch normalization after the affine map */
    float *z;           /* n x out: affine output; batch norm overwrites it with x-hat */
    float *h;           /* n x out: activation output (hidden layers) */
    float *mask;        /* n x out: dropout factors, 0 or 1/(1-p); NULL without dropout */
    float *a;           /* n x out: what the next layer reads: h, or h * mask */
    float *mean, *inv_std;     /* out: the statistics the last forward normalised with */
    float *run_mean, *run_var; /* out: running statistics, inside m->state */
    double *sums;       /* 2 out + 1: batch sums, reduced in one allreduce under sync_bn */
    double bn_count;    /* rows behind its last batch statistics (global under sync_bn; a
                           cnn's conv counts every pixel) */
} mlp_layer;

/* What the hidden layers' kernels share beyond each layer: the activation, batch norm's
 * reduction, dropout and its stream. The mlp and the cnn each hold one. */
typedef struct mlp_hidden {
    mlp_activation act;
    int sync_bn;
    double dropout;
    gd_rng dropout_rng; /* (seed, rank, GD_RNG_DROPOUT), seeded by init */
} mlp_hidden;

typedef struct mlp {
    size_t nlayers;     /* hidden layers + the output layer */
    mlp_layer *layer;
    mlp_hidden hid;
    mlp_output out;
    float *delta[2];    /* n x widest hidden layer: backward ping-pong for dA */
    float *block;       /* the one float allocation behind every buffer above */
    double *dblock;     /* the one double allocation behind the sums */
} mlp;

/* Hidden layers (mlp.c), shared with the cnn. From the config: model.activation (known),
 * model.sync_bn (needs model.batchnorm) and model.dropout; GD_ECONFIG otherwise. */
int mlp_hidden_config(const gd_config *c, mlp_hidden *hid);
/* model.init = auto: he for relu, xavier for the saturating activations. */
const char *mlp_resolve_init(const mlp_hidden *hid, const char *init);
/* W from rng with model.init's deviation for L's fan-in and fan-out; gamma 1 (batch norm);
 * the running statistics mean 0, variance 1. Biases and beta stay as they are (0). */
void mlp_init_layer(gd_model *m, mlp_layer *L, const char *init, double init_scale, gd_rng *rng);
void mlp_reset_statistics(mlp_layer *L);
/* The dropout stream of this rank: (train.seed, rank, GD_RNG_DROPOUT). */
void mlp_seed_dropout(const gd_model *m, mlp_hidden *hid, const gd_config *cfg);

/* The next count floats of a block being carved into buffers. */
static inline float *mlp_take(float **cursor, size_t count)
{
    float *p = *cursor;
    *cursor += count;
    return p;
}

/* Kernels (mlp_kernels.c). n is the batch's row count; train selects batch statistics,
 * dropout and running-statistic updates. Each works on whole-batch buffers. */
/* z = x W^T, the GEMM alone: an output layer adds its bias with mlp_bias_forward, a hidden
 * one inside mlp_activation_forward (fused with the activation) or none (batch norm). */
void mlp_affine_forward(const gd_model *m, const mlp_layer *L, const float *x, size_t n);
/* z += b (the output layer). */
void mlp_bias_forward(const gd_model *m, const mlp_layer *L, size_t n);
void mlp_batchnorm_forward(gd_model *m, mlp_hidden *hid, mlp_layer *L, size_t n, int train);
void mlp_activation_forward(const gd_model *m, mlp_hidden *hid, mlp_layer *L, size_t n, int train);
/* delta (n x out) holds dLoss/da on entry and dLoss/dz on return; the batch-norm and bias
 * gradients go into grad. */
void mlp_hidden_backward(gd_model *m, mlp_hidden *hid, mlp_layer *L, float *delta, size_t n,
                         float *grad);
/* grad b += column sums of delta (dLoss/dz), reported. */
void mlp_bias_backward(const gd_model *m, const mlp_layer *L, const float *delta, size_t n,
                       float *grad);
/* grad W += delta^T x, in row blocks reported to grad_ready as they become final. */
void mlp_weight_backward(gd_model *m, const mlp_layer *L, const float *delta, const float *x,
                         size_t n, float *grad);
/* dx (n x in) = delta W. */
void mlp_input_backward(const gd_model *m, const mlp_layer *L, const float *delta, size_t n,
                        float *dx);
/* h = act(v) elementwise (h may be v). */
void mlp_activate(mlp_activation act, const float *v, float *h, size_t count);
/* delta *= f'(.), written in terms of the activation's output h. */
void mlp_activation_backward(mlp_activation act, const float *h, float *delta, size_t count);
/* Loss sum of the output z (n x k) against y; turns z into dLoss/dz. */
double mlp_output_loss(mlp_output out, size_t k, float *z, const float *y, size_t n,
                       size_t *correct);
/* Writes one prediction per row from the output z (n x k). */
void mlp_output_predict(mlp_output out, size_t k, const float *z, size_t n, float *dst);

/* An activation's name (mlp.c), shared with the cnn. */
const char *mlp_activation_name(mlp_activation act);
/* Sets *out from m's task variant and m->outputs (1 unless softmax); GD_ECONFIG for softmax
 * on fewer than 2 classes. */
int mlp_output_setup(gd_model *m, mlp_output *out);
/* The variant of a model type that model.output selects (the ops' specialize). */
const gd_model_ops *mlp_output_variant(const gd_config *cfg, const gd_model_ops *softmax,
                                       const gd_model_ops *binary, const gd_model_ops *regression);
/* Tells the strategy that grad[offset, offset+len) is final. */
void mlp_report(const gd_model *m, size_t offset, size_t len);

#endif
