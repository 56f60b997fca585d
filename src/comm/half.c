/* compress = fp16 | bf16: every float rounded to 16 bits (to nearest, ties to even), which
 * halves the allreduce's bytes (Micikevicius et al. 2018 for fp16's range; bf16 keeps
 * float32's exponent and 8 bits of mantissa). The sum runs in float32: a user-defined
 * MPI_Op widens both 16-bit operands to float, adds them and rounds the sum back, so every
 * partial sum of the reduction tree is a float32 addition rounded once (not a 16-bit one,
 * and not a whole float32 accumulation either: each hop rounds; docs/parallel-modes.md).
 * fp16 holds magnitudes up to 65504 and flushes below 6e-8; a gradient sum beyond the range
 * becomes inf, which the update pipeline's finite check reports as divergence. */
#include "gdmpi/compress.h"

#include "gdmpi/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef uint16_t (*half_encode)(float x);
typedef float (*half_decode)(uint16_t h);

typedef struct half_codec {
    half_encode encode;
    half_decode decode;
    MPI_Op sum;
} half_codec;

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* bf16: the upper half of the float, rounded to nearest even; NaN stays a (quiet) NaN. */
static uint16_t bf16_encode(float x)
{
    uint32_t u = bits_of(x);
    if (isnan(x))
        return (uint16_t)(u >> 16 | 0x40u);
    u += 0x7fffu + (u >> 16 & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_decode(uint16_t h) { return float_of((uint32_t)h << 16); }

/* IEEE binary16 from float, round to nearest even, with subnormals, inf and NaN. */
static uint16_t fp16_encode(float x)
{
    uint32_t u = bits_of(x), sign = u >> 16 & 0x8000u;
    uint32_t mag = u & 0x7fffffffu;
    if (mag >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
    if (mag >= 0x477ff000u) /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00u);
    if (mag < 0x38800000u) { /* below 2^-14: a subnormal half (or 0) */
        float f = float_of(mag) * 16777216.0f; /* x / 2^-24: the subnormal's integer */
        return (uint16_t)(sign | (uint32_t)nearbyintf(f));
    }
    uint32_t e = (mag >> 23) - 112, m = mag & 0x7fffffu; /* rebias 127 -> 15 */
    uint32_t h = e << 10 | m >> 13, rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is the right rounding too */
    return (uint16_t)(sign | h);
}

static float fp16_decode(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = h >> 10 & 0x1fu, m = h & 0x3ffu;
    if (e == 0) { /* zero or subnormal: m 2^-24 */
        float f = (float)m * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (e == 31)
        return float_of(sign | 0x7f800000u | m << 13);
    return float_of(sign | (e + 112) << 23 | m << 13);
}

/* The reductions: inout[i] = round16(float(in[i]) + float(inout[i])). MPI_Op functions get
 * no context, hence one per format. */
#define HALF_SUM(name, enc, dec)                                                          \
    static void name(void *in, void *inout, int *len, MPI_Datatype *type)                 \
    {                                                                                     \
        (void)type;                                                                       \
        const uint16_t *a = in;                                                           \
        uint16_t *b = inout;                                                              \
        for (int i = 0; i < *len; i++)                                                    \
            b[i] = enc(dec(a[i]) + dec(b[i]));                                            \
    }
HALF_SUM(fp16_sum, fp16_encode, fp16_decode)
HALF_SUM(bf16_sum, bf16_encode, bf16_decode)

static int half_setup(gd_compressor *c, half_encode enc, half_decode dec,
                      MPI_User_function *sum)
{
    half_codec *h = gd_alloc(1, sizeof *h, "fp16 codec");
    if (!h)
        return GD_ERR;
    c->impl = h;
    h->encode = enc;
    h->decode = dec;
    MPI_Op_create(sum, 1, &h->sum);
    c->msg_bytes = c->n * sizeof(uint16_t);
    return GD_OK;
}

static int fp16_setup(gd_compressor *c) { return half_setup(c, fp16_encode, fp16_decode, fp16_sum); }
static int bf16_setup(gd_compressor *c) { return half_setup(c, bf16_encode, bf16_decode, bf16_sum); }

static void half_compress(gd_compressor *c, const float *p, void *msg)
{
    const half_codec *h = c->impl;
    uint16_t *m = msg;
    for (size_t i = 0; i < c->n; i++)
        m[i] = h->encode(p[i]);
}

static void half_decompress_add(const gd_compressor *c, const void *msg, float *acc)
{
    const half_codec *h = c->impl;
    const uint16_t *m = msg;
    for (size_t i = 0; i < c->n; i++)
        acc[i] += h->decode(m[i]);
}

/* One allreduce of the 16-bit codes with the float32-summing reduction. */
static void half_exchange(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent)
{
    const half_codec *h = c->impl;
    half_compress(c, p, c->msg);
    memset(sent, 0, c->n * sizeof *sent);
    half_decompress_add(c, c->msg, sent);
    gd_wire_allreduce(w, c->msg, (int)c->n, MPI_UINT16_T, h->sum);
    memset(out, 0, c->n * sizeof *out);
    half_decompress_add(c, c->msg, out);
}

static void half_destroy(gd_compressor *c)
{
    half_codec *h = c->impl;
    if (!h)
        return;
    MPI_Op_free(&h->sum);
    free(h);
    c->impl = NULL;
}

const gd_compressor_ops gd_compress_fp16 = {
    .name = "fp16", .setup = fp16_setup, .compress = half_compress,
    .decompress_add = half_decompress_add, .exchange = half_exchange, .destroy = half_destroy,
};

const gd_compressor_ops gd_compress_bf16 = {
    .name = "bf16", .setup = bf16_setup, .compress = half_compress,
    .decompress_add = half_decompress_add, .exchange = half_exchange, .destroy = half_destroy,
};
