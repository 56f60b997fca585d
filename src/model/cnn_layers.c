/* The cnn's two small languages: model.layers ("conv5x5x6p2,pool2,conv5x5x16,pool2,fc120")
 * and data.shape ("28x28x1"), and the shape arithmetic that checks a layer fits its input.
 * Every error is GD_ECONFIG and names the key and the token, so that a typo in a long layer
 * string is found at once. */
#include "cnn.h"

#include "gdmpi/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* How each kind is written; the pools' window is square. */
static const struct {
    const char *prefix;
    cnn_kind kind;
    size_t dims;       /* numbers joined by 'x' after the prefix */
    int windowed;      /* takes sS (and pP for conv) */
    const char *usage;
} kinds[] = {
    {"conv", CNN_CONV, 3, 1, "convKxKxC with optional sS (stride) and pP (padding): conv5x5x6, "
                             "conv3x3x16s2p1"},
    {"maxpool", CNN_MAXPOOL, 1, 1, "maxpoolK with optional sS (stride): maxpool2, maxpool3s2"},
    {"avgpool", CNN_AVGPOOL, 1, 1, "avgpoolK with optional sS (stride): avgpool2, avgpool3s2"},
    {"pool", CNN_MAXPOOL, 1, 1, "poolK (max pool) with optional sS (stride): pool2, pool3s2"},
    {"fc", CNN_FC, 1, 0, "fcN (N units): fc120"},
};

/* A decimal in 1..CNN_MAX_DIM (0.. when zero_ok) at *p; advances *p. */
static int read_number(const char **p, size_t *v, int zero_ok)
{
    size_t n = 0, digits = 0;
    for (; isdigit((unsigned char)**p) && digits < 8; (*p)++, digits++)
        n = n * 10 + (size_t)(**p - '0');
    *v = n;
    return digits > 0 && !isdigit((unsigned char)**p) && n <= CNN_MAX_DIM && (n > 0 || zero_ok);
}

/* The numbers after the prefix: dims of them joined by 'x', then sS and pP if allowed. */
static int read_body(const char *p, cnn_spec *s, size_t dims, int kind_is_conv)
{
    size_t v[3];
    for (size_t i = 0; i < dims; i++)
        if ((i && *p++ != 'x') || !read_number(&p, &v[i], 0))
            return 0;
    s->kh = s->kw = v[0];
    s->units = v[0];
    if (dims == 3) {
        s->kw = v[1];
        s->units = v[2];
    }
    s->stride = s->kind == CNN_CONV ? 1 : s->kh;
    s->pad = 0;
    if (*p == 's' && (s->kind == CNN_FC || (p++, !read_number(&p, &s->stride, 0))))
        return 0;
    if (*p == 'p' && (!kind_is_conv || (p++, !read_number(&p, &s->pad, 1))))
        return 0;
    return *p == '\0';
}

static int parse_token(const char *token, size_t index, cnn_spec *s)
{
    snprintf(s->token, sizeof s->token, "%s", token);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t len = strlen(kinds[k].prefix);
        if (strncmp(token, kinds[k].prefix, len) || !isdigit((unsigned char)token[len]))
            continue;
        s->kind = kinds[k].kind;
        if (read_body(token + len, s, kinds[k].dims, s->kind == CNN_CONV))
            return GD_OK;
        return gd_fail(GD_ECONFIG, "model.layers: layer %zu '%s': expected %s", index, token,
                       kinds[k].usage);
    }
    return gd_fail(GD_ECONFIG, "model.layers: layer %zu '%s': unknown layer (known: convKxKxC, "
                   "poolK, maxpoolK, avgpoolK, fcN; docs/models.md)", index, token);
}

int cnn_parse_layers(const char *text, cnn_spec *specs, size_t *count)
{
    *count = 0;
    const char *p = text;
    while (*p == ' ')
        p++;
    while (*p) {
        char token[sizeof specs->token];
        size_t len = strcspn(p, ","), end = len;
        while (end && p[end - 1] == ' ')
            end--;
        if (*count == CNN_MAX_LAYERS)
            return gd_fail(GD_ECONFIG, "model.layers: more than %d layers", CNN_MAX_LAYERS);
        snprintf(token, sizeof token, "%.*s", (int)(end < sizeof token - 1 ? end : sizeof token - 1), p);
        int rc = parse_token(token, *count + 1, &specs[*count]);
        if (rc)
            return rc;
        (*count)++;
        p += len;
        const int comma = *p == ',';
        p += comma;
        while (*p == ' ')
            p++;
        if (comma && *p == '\0')
            return gd_fail(GD_ECONFIG, "model.layers = '%s': ends with a comma", text);
    }
    return GD_OK;
}

/* The side of a square of `features` values, or 0. */
static size_t square_side(size_t features)
{
    size_t side = 1;
    while (side * side < features)
        side++;
    return side * side == features ? side : 0;
}

int cnn_parse_shape(const char *text, size_t features, cnn_shape *shape)
{
    if (!text[0]) {
        size_t side = square_side(features);
        if (!side)
            return gd_fail(GD_ECONFIG, "data.shape is empty and %zu features are not a square "
                           "image: set data.shape = HxWxC", features);
        *shape = (cnn_shape){side, side, 1};
        return GD_OK;
    }
    const char *p = text;
    size_t v[3];
    int ok = 1;
    for (size_t i = 0; ok && i < 3; i++)
        ok = (!i || *p++ == 'x') && read_number(&p, &v[i], 0);
    if (!ok || *p)
        return gd_fail(GD_ECONFIG, "data.shape = '%s': expected HxWxC (height, width, channels: "
                       "28x28x1)", text);
    *shape = (cnn_shape){v[0], v[1], v[2]};
    if (cnn_size(*shape) != features)
        return gd_fail(GD_ECONFIG, "data.shape = '%s' is %zu values a row; the data has %zu "
                       "features", text, cnn_size(*shape), features);
    return GD_OK;
}

/* One side of a windowed layer's output: floor((in + 2 pad - k) / stride) + 1, as
 * torch.nn.functional.conv2d and max_pool2d (ceil_mode = False); 0 when it does not fit. */
static size_t window_out(size_t in, size_t k, size_t pad, size_t stride)
{
    return in + 2 * pad < k ? 0 : (in + 2 * pad - k) / stride + 1;
}

int cnn_output_shape(const cnn_spec *s, size_t index, cnn_shape in, cnn_shape *out)
{
    if (s->kind == CNN_FC) {
        *out = (cnn_shape){1, 1, s->units};
        return GD_OK;
    }
    if (s->pad >= s->kh || s->pad >= s->kw)
        return gd_fail(GD_ECONFIG, "model.layers: layer %zu '%s': padding %zu must be smaller "
                       "than the %zux%zu kernel", index, s->token, s->pad, s->kh, s->kw);
    *out = (cnn_shape){window_out(in.h, s->kh, s->pad, s->stride),
                       window_out(in.w, s->kw, s->pad, s->stride),
                       s->kind == CNN_CONV ? s->units : in.c};
    if (out->h && out->w)
        return GD_OK;
    return gd_fail(GD_ECONFIG, "model.layers: layer %zu '%s': its %zux%zu window does not fit "
                   "its %zux%zux%zu input (padding %zu)", index, s->token, s->kh, s->kw, in.h,
                   in.w, in.c, s->pad);
}
