/* compress = sign: one bit per coordinate and one float32 scale, the mean magnitude
 * s = ||p||_1 / n. Two aggregations:
 *   error feedback on (the default; the code is biased): EF-signSGD (Karimireddy et al.
 *   2019, "Error feedback fixes SignSGD", Alg. 2): each rank sends s sign(p), p = x + e; the
 *   ranks' scaled signs are summed and e = p - s sign(p);
 *   error feedback off: signSGD with majority vote (Bernstein et al. 2018, "signSGD with
 *   majority vote is communication efficient and fault tolerant", Alg. 1): the combined
 *   vector is sign(sum_k sign(x_k)), a tie giving 0. Bernstein's step is lr x vote; here
 *   the vote is scaled by sum_k s_k, so that the update (which divides by the global sample
 *   count) takes a step of the gradients' mean magnitude and the same lr serves every
 *   compressor. sign(0) is +1 in the code.
 * Wire: 4 + ceil(n / 8) bytes a rank (32x smaller than float32), by an allgather. */
#include "gdmpi/compress.h"

#include "gdmpi/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sign_votes {
    int32_t *votes; /* n: sum over the ranks of +-1 */
} sign_votes;

static int sign_setup(gd_compressor *c)
{
    sign_votes *v = gd_alloc(1, sizeof *v, "sign votes");
    if (!v)
        return GD_ERR;
    c->impl = v;
    v->votes = gd_alloc(c->n ? c->n : 1, sizeof *v->votes, "sign votes");
    c->msg_bytes = sizeof(float) + (c->n + 7) / 8;
    return v->votes ? GD_OK : GD_ERR;
}

static void sign_compress(gd_compressor *c, const float *p, void *msg)
{
    unsigned char *m = msg, *bits = m + sizeof(float);
    double l1 = 0;
    memset(bits, 0, (c->n + 7) / 8);
    for (size_t i = 0; i < c->n; i++) {
        l1 += fabsf(p[i]);
        if (p[i] < 0)
            bits[i / 8] |= (unsigned char)(1u << (i % 8));
    }
    float scale = c->n ? (float)(l1 / (double)c->n) : 0.0f;
    memcpy(m, &scale, sizeof scale);
}

static int negative(const unsigned char *bits, size_t i) { return bits[i / 8] >> (i % 8) & 1; }

static void sign_decompress_add(const gd_compressor *c, const void *msg, float *acc)
{
    const unsigned char *m = msg, *bits = m + sizeof(float);
    float scale;
    memcpy(&scale, m, sizeof scale);
    for (size_t i = 0; i < c->n; i++)
        acc[i] += negative(bits, i) ? -scale : scale;
}

/* Majority vote: out = sign(sum_k sign_k) x sum_k s_k. */
static void sign_vote(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent)
{
    sign_votes *v = c->impl;
    const size_t bytes = c->msg_bytes;
    gd_compress_allgather(c, w, p, sent);
    memset(v->votes, 0, c->n * sizeof *v->votes);
    double scales = 0;
    for (int r = 0; r < w->size; r++) {
        const unsigned char *m = c->all + (size_t)r * bytes;
        float s;
        memcpy(&s, m, sizeof s);
        scales += s;
        for (size_t i = 0; i < c->n; i++)
            v->votes[i] += negative(m + sizeof(float), i) ? -1 : 1;
    }
    for (size_t i = 0; i < c->n; i++)
        out[i] = v->votes[i] > 0 ? (float)scales : v->votes[i] < 0 ? -(float)scales : 0.0f;
}

static void sign_exchange(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent)
{
    if (c->p.feedback)
        gd_compress_gather(c, w, p, out, sent); /* EF-signSGD: the scaled signs summed */
    else
        sign_vote(c, w, p, out, sent);
}

static void sign_destroy(gd_compressor *c)
{
    sign_votes *v = c->impl;
    if (!v)
        return;
    free(v->votes);
    free(v);
    c->impl = NULL;
}

const gd_compressor_ops gd_compress_sign = {
    .name = "sign", .biased = 1, .setup = sign_setup, .compress = sign_compress,
    .decompress_add = sign_decompress_add, .exchange = sign_exchange, .destroy = sign_destroy,
};
