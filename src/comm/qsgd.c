/* compress = qsgd: QSGD (Alistarh et al. 2017, "QSGD: Communication-efficient SGD via
 * gradient quantization and encoding", eq. 1 and section 3.1). The vector is cut into
 * buckets of GD_COMPRESS_BUCKET (512, the paper's d) coordinates; in a bucket b with norm
 * ||b||_2, v goes as ||b|| sign(v) xi(v, s) with s = parallel.qsgd_levels and xi the stochastic rounding of
 * s |v| / ||b|| to one of its two neighbouring integers l or l + 1, up with probability
 * s |v| / ||b|| - l: E[xi] = s |v| / ||b||, so the code is unbiased (error feedback off by
 * default). Wire: each bucket's norm as float32, then per coordinate a sign bit and the
 * level in ceil(log2(s + 1)) bits, bit-packed (s = 7: 4 bits a coordinate, 8x smaller than
 * float32). The paper's Elias coding of the levels' run lengths (its section 3.2) would
 * shrink this further where most levels are 0 (small s against large buckets), at the price
 * of variable-length messages (an allgatherv of the lengths first); not done here. */
#include "gdmpi/compress.h"

#include "gdmpi/error.h"

#include <math.h>
#include <string.h>

static unsigned level_bits(long s)
{
    unsigned b = 0;
    while ((1L << b) < s + 1)
        b++;
    return b;
}

static unsigned code_bits(const gd_compressor *c) { return 1 + level_bits(c->p.levels); }

static int qsgd_check(const gd_compress_params *p, size_t n)
{
    (void)n;
    if (p->levels < 1 || p->levels > 32767)
        return gd_fail(GD_ECONFIG, "parallel.qsgd_levels = %ld: must be in [1, 32767]",
                       p->levels);
    return GD_OK;
}

static int qsgd_setup(gd_compressor *c)
{
    c->msg_bytes = gd_compress_buckets(c->n) * sizeof(float) + (c->n * code_bits(c) + 7) / 8;
    return GD_OK;
}

static float bucket_norm(const float *p, size_t lo, size_t hi)
{
    double sq = 0;
    for (size_t i = lo; i < hi; i++)
        sq += (double)p[i] * p[i];
    return (float)sqrt(sq);
}

/* xi: the level of |v| / norm among s, rounded stochastically (eq. 1). */
static uint32_t stochastic_level(gd_rng *r, float v, float norm, long s)
{
    double x = (double)s * fabs((double)v) / norm, l = floor(x);
    if (!(norm > 0) || !isfinite(x)) /* a zero bucket; or inf/NaN: the norm carries it */
        return 0;
    if (gd_rng_uniform(r) < x - l)
        l += 1;
    return (uint32_t)(l < (double)s ? l : (double)s);
}

static void qsgd_compress(gd_compressor *c, const float *p, void *msg)
{
    unsigned char *m = msg, *bits = m + gd_compress_buckets(c->n) * sizeof(float);
    const unsigned width = code_bits(c);
    memset(bits, 0, c->msg_bytes - gd_compress_buckets(c->n) * sizeof(float));
    for (size_t b = 0, lo = 0; lo < c->n; b++, lo += GD_COMPRESS_BUCKET) {
        size_t hi = lo + GD_COMPRESS_BUCKET < c->n ? lo + GD_COMPRESS_BUCKET : c->n;
        float norm = bucket_norm(p, lo, hi);
        memcpy(m + b * sizeof(float), &norm, sizeof norm);
        for (size_t i = lo; i < hi; i++) {
            uint32_t level = stochastic_level(&c->rng, p[i], norm, c->p.levels);
            gd_bits_put(bits, i, width, level << 1 | (p[i] < 0));
        }
    }
}

static void qsgd_decompress_add(const gd_compressor *c, const void *msg, float *acc)
{
    const unsigned char *m = msg, *bits = m + gd_compress_buckets(c->n) * sizeof(float);
    const unsigned width = code_bits(c);
    for (size_t b = 0, lo = 0; lo < c->n; b++, lo += GD_COMPRESS_BUCKET) {
        size_t hi = lo + GD_COMPRESS_BUCKET < c->n ? lo + GD_COMPRESS_BUCKET : c->n;
        float norm;
        memcpy(&norm, m + b * sizeof(float), sizeof norm);
        const float unit = norm / (float)c->p.levels;
        for (size_t i = lo; i < hi; i++) {
            uint32_t code = gd_bits_get(bits, i, width);
            float v = unit * (float)(code >> 1);
            acc[i] += code & 1u ? -v : v;
        }
    }
}

const gd_compressor_ops gd_compress_qsgd = {
    .name = "qsgd", .random = 1, .check = qsgd_check, .setup = qsgd_setup,
    .compress = qsgd_compress, .decompress_add = qsgd_decompress_add,
};
