/* The cnn's own kernels, on whole-batch NHWC buffers (cnn.h): im2col and its adjoint col2im
 * (Chellapilla et al. 2006), and the max and average pools. The GEMMs are the MLP's kernels.
 * Each is a single pass; none allocates. */
#include "cnn.h"

#include <string.h>

/* The kernel columns [*q0, *q1) of output column ox that fall inside the image, rather than
 * in the padding. With padding smaller than the kernel the range is never empty. */
static void inside_columns(const cnn_layer *L, size_t ox, size_t *q0, size_t *q1)
{
    const cnn_spec *s = &L->spec;
    const size_t x0 = ox * s->stride; /* kernel column 0, in padded coordinates */
    const size_t end = L->in.w + s->pad - x0;
    *q0 = x0 < s->pad ? s->pad - x0 : 0;
    *q1 = end < s->kw ? end : s->kw;
}

/* The offset in a sample of input pixel (iy - pad, ox * stride + q0 - pad); *inside = 0
 * (and offset 0) when row iy (padded coordinates) is in the padding. */
static size_t pixel_at(const cnn_layer *L, size_t iy, size_t ox, size_t q0, int *inside)
{
    const cnn_spec *s = &L->spec;
    *inside = iy >= s->pad && iy - s->pad < L->in.h;
    return *inside ? ((iy - s->pad) * L->in.w + ox * s->stride + q0 - s->pad) * L->in.c : 0;
}

/* The im2col row of output pixel (oy, ox): kh x kw blocks of in.c values, each the input
 * pixel under that kernel position, or zeros in the padding. A kernel row's kw x c values
 * lie side by side in the input (channels fastest), so each is one copy of its inside part.
 * With img, the row is copied from the sample img into row (im2col); else drow's inside
 * values are added back into the sample's gradient dimg (col2im, the adjoint). */
static void move_row(const cnn_layer *L, size_t oy, size_t ox, const float *img, float *row,
                     const float *drow, float *dimg)
{
    const cnn_spec *s = &L->spec;
    const size_t c = L->in.c, run = s->kw * c;
    size_t q0, q1;
    inside_columns(L, ox, &q0, &q1);
    for (size_t r = 0; r < s->kh; r++) {
        int inside;
        const size_t at = pixel_at(L, oy * s->stride + r, ox, q0, &inside);
        const size_t lo = inside ? q0 * c : run, hi = inside ? q1 * c : run;
        if (!img) {
            for (size_t e = lo; e < hi; e++)
                dimg[at + e - lo] += drow[r * run + e];
            continue;
        }
        float *out = row + r * run;
        for (size_t e = 0; e < lo; e++)
            out[e] = 0;
        for (size_t e = lo; e < hi; e++)
            out[e] = img[at + e - lo];
        for (size_t e = hi; e < run; e++)
            out[e] = 0;
    }
}

/* Every im2col row of n samples, in order: copied from x into col (x not NULL), or dcol's
 * added back into dx (the adjoint). */
static void each_row(const cnn_layer *L, size_t n, const float *x, float *col, const float *dcol,
                     float *dx)
{
    const size_t width = L->aff.in, in_size = cnn_size(L->in);
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t oy = 0; oy < L->out.h; oy++)
            for (size_t ox = 0; ox < L->out.w; ox++, at += width) {
                if (x)
                    move_row(L, oy, ox, x + i * in_size, col + at, NULL, NULL);
                else
                    move_row(L, oy, ox, NULL, NULL, dcol + at, dx + i * in_size);
            }
}

void cnn_im2col(const cnn_layer *L, const float *x, size_t n, float *col)
{
    each_row(L, n, x, col, NULL, NULL);
}

void cnn_col2im(const cnn_layer *L, const float *dcol, size_t n, float *dx)
{
    memset(dx, 0, n * cnn_size(L->in) * sizeof *dx);
    each_row(L, n, NULL, NULL, dcol, dx);
}

/* One output pixel's c values of a pool: the maximum (and where it is) or the mean of its
 * window. Ties go to the first in the window, as in torch's max_pool2d. */
static void pool_pixel(cnn_layer *L, const float *img, size_t oy, size_t ox, float *y, uint32_t *arg)
{
    const cnn_spec *s = &L->spec;
    const size_t c = L->in.c, first = (oy * s->stride * L->in.w + ox * s->stride) * c;
    const float scale = 1.0f / (float)(s->kh * s->kw);
    for (size_t k = 0; k < c; k++) {
        size_t best = first + k;
        float sum = 0;
        for (size_t r = 0; r < s->kh; r++)
            for (size_t q = 0; q < s->kw; q++) {
                const size_t at = first + (r * L->in.w + q) * c + k;
                sum += img[at];
                best = img[at] > img[best] ? at : best;
            }
        if (s->kind == CNN_AVGPOOL) {
            y[k] = sum * scale;
            continue;
        }
        y[k] = img[best];
        arg[k] = (uint32_t)best;
    }
}

void cnn_pool_forward(cnn_layer *L, const float *x, size_t n)
{
    const size_t in_size = cnn_size(L->in), c = L->out.c;
    size_t at = 0; /* the output pixel's first value in y (and arg) */
    for (size_t i = 0; i < n; i++)
        for (size_t oy = 0; oy < L->out.h; oy++)
            for (size_t ox = 0; ox < L->out.w; ox++, at += c)
                pool_pixel(L, x + i * in_size, oy, ox, L->y + at, L->arg ? L->arg + at : NULL);
}

/* The average pool's adjoint for one output pixel: dy / (kh kw) to each window value. */
static void avgpool_back_pixel(const cnn_layer *L, const float *dy, size_t oy, size_t ox,
                               float *dimg)
{
    const cnn_spec *s = &L->spec;
    const size_t c = L->in.c, first = (oy * s->stride * L->in.w + ox * s->stride) * c;
    const float scale = 1.0f / (float)(s->kh * s->kw);
    for (size_t r = 0; r < s->kh; r++)
        for (size_t q = 0; q < s->kw; q++)
            for (size_t k = 0; k < c; k++)
                dimg[first + (r * L->in.w + q) * c + k] += dy[k] * scale;
}

void cnn_pool_backward(const cnn_layer *L, const float *dy, size_t n, float *dx)
{
    const size_t in_size = cnn_size(L->in), out_size = cnn_size(L->out), c = L->out.c;
    memset(dx, 0, n * in_size * sizeof *dx);
    if (L->spec.kind == CNN_MAXPOOL) {
        for (size_t i = 0; i < n; i++)
            for (size_t e = 0; e < out_size; e++)
                dx[i * in_size + L->arg[i * out_size + e]] += dy[i * out_size + e];
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t oy = 0; oy < L->out.h; oy++)
            for (size_t ox = 0; ox < L->out.w; ox++, dy += c)
                avgpool_back_pixel(L, dy, oy, ox, dx + i * in_size);
}
