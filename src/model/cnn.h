/* The convolutional network's private structure, shared by cnn.c (setup, ops, the step top
 * to bottom), cnn_layers.c (the model.layers and data.shape parsers), cnn_kernels.c (im2col,
 * col2im, the pools) and read by the tests.
 *
 * Images are stored channels fastest: one sample of shape h x w x c is h*w pixels of c
 * values, a batch is n such samples one after the other (NHWC). The rows of the data are
 * read that way (data.shape), and an fc layer reads its input's h*w*c values as they lie
 * (the flatten is free).
 *
 * A conv layer is an affine map on im2col rows (Chellapilla, Puri and Simard 2006, "High
 * Performance Convolutional Neural Networks for Document Processing"): one row per output
 * pixel of every sample in the batch, holding the kh x kw x c input values under the kernel
 * (zeros where it overhangs the padding). Its weights are k x (kh*kw*c), so forward is one
 * GEMM over the whole batch, (n*oh*ow x kh*kw*c) x (kh*kw*c x k) -> n x oh x ow x k, which is
 * already the NHWC output. The conv and fc layers are mlp_layer's and use the MLP's kernels
 * (mlp_affine_forward, mlp_weight_backward, ...).
 *
 * Parameter layout in the one flat buffer (m->w, and m->g the same way):
 *   W of each conv and fc layer in order | tail of each conv and fc layer in order
 * the weights leading, as in the MLP, so that weight_count() is the prefix model.l2
 * penalises; a tail is the bias, or gamma then beta for a batch-norm layer (per channel for
 * a conv). m->state holds each batch-norm layer's running mean then running variance. The
 * output layer is an fc layer to m->outputs units that model.layers does not name. */
#ifndef GDMPI_MODEL_CNN_H
#define GDMPI_MODEL_CNN_H

#include "mlp.h"

#include <stdint.h>

#define CNN_MAX_LAYERS 32
#define CNN_MAX_DIM 1000000 /* any number in a layer string or data.shape */

typedef enum { CNN_CONV, CNN_MAXPOOL, CNN_AVGPOOL, CNN_FC } cnn_kind;

typedef struct cnn_shape {
    size_t h, w, c;
} cnn_shape;

/* One layer as model.layers spells it, before the shapes are known. */
typedef struct cnn_spec {
    cnn_kind kind;
    size_t kh, kw; /* conv, pools: the window */
    size_t units;  /* conv: output channels; fc: units */
    size_t stride, pad;
    char token[64]; /* as written, for messages */
} cnn_spec;

/* A conv or fc layer is an mlp_layer (aff) on its GEMM rows: a conv's im2col rows, an fc's
 * samples. Hidden ones (all but the output layer) go through the mlp's hidden pipeline:
 * batch norm (over channels for a conv: its rows are every pixel of every sample), the
 * activation, dropout. */
typedef struct cnn_layer {
    cnn_spec spec;
    cnn_shape in, out;
    mlp_layer aff;    /* conv, fc: in, out, offsets and the z, h, mask, a, batch-norm buffers */
    float *y;         /* pools: n x size(out), the layer's output */
    float *col;       /* conv: n*oh*ow x kh*kw*in.c, the im2col rows of the last forward */
    uint32_t *arg;    /* maxpool: n x size(out), where each maximum is in its sample's input */
    int hidden;       /* conv and fc before the output layer */
} cnn_layer;

typedef struct cnn {
    size_t nlayers; /* model.layers + the output layer */
    cnn_layer layer[CNN_MAX_LAYERS + 1];
    mlp_hidden hid;  /* activation, batch norm's reduction, dropout */
    mlp_output out;
    cnn_shape input;
    float *delta[2]; /* n x the largest layer input: backward ping-pong for dLoss/dy */
    float *dcol;     /* the largest conv's im2col rows: dLoss/dcol before col2im */
    float *block;    /* the one float allocation behind every buffer above */
    double *dblock;  /* the one double allocation behind the batch-norm sums */
    uint32_t *args;  /* the one allocation behind the maxpools' arg */
} cnn;

static inline size_t cnn_size(cnn_shape s) { return s.h * s.w * s.c; }

/* cnn_layers.c. "conv5x5x6p2,pool2,fc84" -> specs; GD_ECONFIG naming model.layers and the
 * token otherwise. */
int cnn_parse_layers(const char *text, cnn_spec *specs, size_t *count);
/* "28x28x1" -> shape; empty: a square one-channel image of `features` values. GD_ECONFIG
 * naming data.shape otherwise, or when the shape is not `features` values. */
int cnn_parse_shape(const char *text, size_t features, cnn_shape *shape);
/* The output shape of spec on an input shape; GD_ECONFIG naming the layer (index from 1 and
 * token) when it does not fit (a window larger than the padded input, padding not smaller
 * than the kernel). */
int cnn_output_shape(const cnn_spec *spec, size_t index, cnn_shape in, cnn_shape *out);

/* cnn_kernels.c: on whole-batch NHWC buffers of n samples. */
void cnn_im2col(const cnn_layer *L, const float *x, size_t n, float *col);
/* dx = the sum of dcol's values back at the input positions they were copied from. */
void cnn_col2im(const cnn_layer *L, const float *dcol, size_t n, float *dx);
void cnn_pool_forward(cnn_layer *L, const float *x, size_t n);
/* dx = dLoss/dx from dy = dLoss/dy (pools' windows may overlap: dx is summed into). */
void cnn_pool_backward(const cnn_layer *L, const float *dy, size_t n, float *dx);

#endif
