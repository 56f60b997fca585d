/* compress = sign: one bit per coordinate and, per bucket b of GD_COMPRESS_BUCKET (512)
 * coordinates, one float32 scale, its mean magnitude s_b = ||p_b||_1 / |b|. Two
 * aggregations:
 *   error feedback on (the default; the code is biased): EF-signSGD (Karimireddy et al.
 *   2019, "Error feedback fixes SignSGD", Alg. 2 with C(p) = ||p||_1 / d sign(p)): each rank
 *   sends s_b sign(p), p = x + e; the ranks' scaled signs are summed and e = p - s_b sign(p);
 *   error feedback off: signSGD with majority vote (Bernstein et al. 2018, "signSGD with
 *   majority vote is communication efficient and fault tolerant", Alg. 1): the combined
 *   vector is sign(sum_k sign(x_k)), a tie giving 0.
 * Deviations: the paper's scale is one per tensor (Karimireddy et al. scale each layer);
 * here it is one per bucket of the flat vector, which the compressor sees without layers
 * (one scale for the whole vector let the output layer's residual grow without bound on
 * the Fashion-MNIST mlp, and the run died). Bernstein's step is lr x vote; here the vote is
 * scaled by sum_k s_b,k, so that the update (which divides by the global sample count)
 * takes a step of the gradients' mean magnitude and one lr serves every compressor. sign(0)
 * is +1 in the code. Wire: 4 ceil(n / 512) + ceil(n / 8) bytes a rank (about 30x smaller
 * than float32), by an allgather. */
#include "gdmpi/compress.h"

#include "gdmpi/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sign_votes {
    int32_t *votes; /* n: sum over the ranks of +-1 */
    double *scales; /* buckets: sum over the ranks of s_b */
} sign_votes;

static size_t scale_bytes(size_t n) { return gd_compress_buckets(n) * sizeof(float); }

static int sign_setup(gd_compressor *c)
{
    sign_votes *v = gd_alloc(1, sizeof *v, "sign votes");
    if (!v)
        return GD_ERR;
    c->impl = v;
    v->votes = gd_alloc(c->n ? c->n : 1, sizeof *v->votes, "sign votes");
    v->scales = gd_alloc(gd_compress_buckets(c->n) + 1, sizeof *v->scales, "sign votes");
    c->msg_bytes = scale_bytes(c->n) + (c->n + 7) / 8;
    return v->votes && v->scales ? GD_OK : GD_ERR;
}

static void sign_compress(gd_compressor *c, const float *p, void *msg)
{
    unsigned char *m = msg, *bits = m + scale_bytes(c->n);
    memset(bits, 0, (c->n + 7) / 8);
    for (size_t b = 0, lo = 0; lo < c->n; b++, lo += GD_COMPRESS_BUCKET) {
        size_t hi = lo + GD_COMPRESS_BUCKET < c->n ? lo + GD_COMPRESS_BUCKET : c->n;
        double l1 = 0;
        for (size_t i = lo; i < hi; i++) {
            l1 += fabsf(p[i]);
            if (p[i] < 0)
                bits[i / 8] |= (unsigned char)(1u << (i % 8));
        }
        float scale = (float)(l1 / (double)(hi - lo));
        memcpy(m + b * sizeof(float), &scale, sizeof scale);
    }
}

static int negative(const unsigned char *bits, size_t i) { return bits[i / 8] >> (i % 8) & 1; }

static float scale_of(const unsigned char *msg, size_t bucket)
{
    float s;
    memcpy(&s, msg + bucket * sizeof(float), sizeof s);
    return s;
}

static void sign_decompress_add(const gd_compressor *c, const void *msg, float *acc)
{
    const unsigned char *m = msg, *bits = m + scale_bytes(c->n);
    for (size_t i = 0; i < c->n; i++) {
        float scale = scale_of(m, i / GD_COMPRESS_BUCKET);
        acc[i] += negative(bits, i) ? -scale : scale;
    }
}

/* Majority vote: out = sign(sum_k sign_k) x sum_k s_b,k. */
static void sign_vote(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent)
{
    sign_votes *v = c->impl;
    const size_t bytes = c->msg_bytes, nb = gd_compress_buckets(c->n);
    gd_compress_allgather(c, w, p, sent);
    memset(v->votes, 0, c->n * sizeof *v->votes);
    memset(v->scales, 0, nb * sizeof *v->scales);
    for (int r = 0; r < w->size; r++) {
        const unsigned char *m = c->all + (size_t)r * bytes, *bits = m + scale_bytes(c->n);
        for (size_t b = 0; b < nb; b++)
            v->scales[b] += scale_of(m, b);
        for (size_t i = 0; i < c->n; i++)
            v->votes[i] += negative(bits, i) ? -1 : 1;
    }
    for (size_t i = 0; i < c->n; i++) {
        float s = (float)v->scales[i / GD_COMPRESS_BUCKET];
        out[i] = v->votes[i] > 0 ? s : v->votes[i] < 0 ? -s : 0.0f;
    }
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
    free(v->scales);
    free(v);
    c->impl = NULL;
}

/* A push is decoded by its server alone: EF-signSGD's scaled signs can be, the majority
 * vote over the workers cannot (no server sees every worker's signs at once). */
static int sign_check_push(const gd_compress_params *p)
{
    return p->feedback ? GD_OK
                       : gd_fail(GD_ECONFIG, "signSGD's majority vote (error_feedback = false) "
                                 "needs every rank's signs at once; EF-signSGD (error_feedback "
                                 "= auto or true) works");
}

const gd_compressor_ops gd_compress_sign = {
    .name = "sign", .biased = 1, .check_push = sign_check_push, .setup = sign_setup,
    .compress = sign_compress, .decompress_add = sign_decompress_add, .exchange = sign_exchange,
    .destroy = sign_destroy,
};
