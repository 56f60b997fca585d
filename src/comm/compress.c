/* The compressor framework: the registry, the error-feedback memories, the counted
 * collectives and the exchange (include/gdmpi/compress.h). */
#include "gdmpi/compress.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const gd_compressor_ops gd_compress_none, gd_compress_fp16, gd_compress_bf16;
extern const gd_compressor_ops gd_compress_topk, gd_compress_randomk, gd_compress_qsgd;
extern const gd_compressor_ops gd_compress_sign, gd_compress_powersgd;

/* The registry: a new compressor is one file in src/comm/ and one line here. */
static const gd_compressor_ops *const compressors[] = {
    &gd_compress_none, &gd_compress_fp16,  &gd_compress_bf16, &gd_compress_topk,
    &gd_compress_randomk, &gd_compress_qsgd, &gd_compress_sign, &gd_compress_powersgd};

const gd_compressor_ops *gd_compressor_find(const char *name)
{
    return gd_registry_find(GD_REGISTRY(compressors), name);
}

const char *gd_compressor_names(void)
{
    static char names[128];
    return gd_registry_names(GD_REGISTRY(compressors), names, sizeof names);
}

GD_CONFIG_ACCEPTS(compress, "parallel", "compress", gd_compressor_names)

/* ---- memories ------------------------------------------------------------------------ */

static void plain_compensate(gd_compressor *c, const float *x)
{
    if (c->pbuf != x)
        memcpy(c->pbuf, x, c->n * sizeof *x);
}

static void plain_update(gd_compressor *c)
{
    (void)c;
}

/* Error feedback (Seide et al. 2014; Stich et al. 2018, "Sparsified SGD with memory",
 * Alg. 1; Karimireddy et al. 2019, "Error feedback fixes SignSGD", Alg. 2): what the
 * compressor did not send is added to the next vector. */
static void residual_compensate(gd_compressor *c, const float *x)
{
    const float *e = c->residual;
    for (size_t i = 0; i < c->n; i++)
        c->pbuf[i] = x[i] + e[i];
}

static void residual_update(gd_compressor *c)
{
    const float *p = c->pbuf, *sent = c->sent;
    for (size_t i = 0; i < c->n; i++)
        c->residual[i] = p[i] - sent[i];
}

/* Deep Gradient Compression's momentum correction (Lin et al. 2018, section 3.2, eqs. 4
 * and 5, and Algorithm 1 lines 7-12 without the clipping): momentum is accumulated on the
 * rank before the compressor, u <- m u + x, and the residual accumulates the velocity,
 * p = e + u, instead of the gradient, so that what is sent late still carries the momentum
 * it would have had. The optimizer's own momentum must then be off (optimizer.type = sgd:
 * w <- w - lr sum). Momentum factor masking (section 3.3): where a coordinate was sent,
 * its velocity is cleared along with its residual, so that a stale velocity does not keep
 * pushing it. "Sent" is where the decoded message is non-zero. */
static void dgc_compensate(gd_compressor *c, const float *x)
{
    const float m = (float)c->p.momentum;
    float *u = c->velocity;
    for (size_t i = 0; i < c->n; i++) {
        u[i] = m * u[i] + x[i];
        c->pbuf[i] = c->residual[i] + u[i];
    }
}

static void dgc_update(gd_compressor *c)
{
    for (size_t i = 0; i < c->n; i++) {
        c->residual[i] = c->pbuf[i] - c->sent[i];
        if (c->sent[i] != 0.0f)
            c->velocity[i] = 0.0f;
    }
}

static const gd_memory_ops memory_none = {"none", plain_compensate, plain_update};
static const gd_memory_ops memory_residual = {"residual", residual_compensate, residual_update};
static const gd_memory_ops memory_dgc = {"dgc", dgc_compensate, dgc_update};

const gd_memory_ops *gd_memory_find(const gd_compress_params *p)
{
    if (!p->feedback)
        return &memory_none;
    return p->momentum > 0 ? &memory_dgc : &memory_residual;
}

/* ---- counted collectives ------------------------------------------------------------- */

void gd_wire_count(gd_wire *w, double sent, double recv)
{
    w->bytes[GD_WIRE_SENT] += sent;
    w->bytes[GD_WIRE_RECV] += recv;
}

/* The ring allreduce's volume per rank: a reduce-scatter and an allgather of B / P each
 * step, P - 1 steps each. */
static double ring_allreduce_bytes(double bytes, int size)
{
    return size > 1 ? 2.0 * (size - 1) / size * bytes : 0.0;
}

void gd_wire_allreduce(gd_wire *w, void *buf, int count_, MPI_Datatype type, MPI_Op op)
{
    int tsize = 0;
    MPI_Type_size(type, &tsize);
    MPI_Allreduce(MPI_IN_PLACE, buf, count_, type, op, w->comm);
    double b = ring_allreduce_bytes((double)count_ * tsize, w->size);
    gd_wire_count(w, b, b);
}

void gd_wire_allgather(gd_wire *w, const void *mine, void *all, size_t bytes)
{
    MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, w->comm);
    double b = (double)(w->size - 1) * (double)bytes;
    gd_wire_count(w, b, b);
}

void gd_wire_count_allreduce(gd_wire *w, double bytes, int moved)
{
    double b = ring_allreduce_bytes(bytes, w->size);
    w->bytes[GD_WIRE_DENSE] += b;
    if (moved)
        gd_wire_count(w, b, b);
}

/* ---- bit packing --------------------------------------------------------------------- */

/* Little-endian bit order: bit j of the array is bit j % 8 of byte j / 8. */
void gd_bits_put(unsigned char *buf, size_t i, unsigned bits, uint32_t v)
{
    size_t at = i * bits;
    for (unsigned b = 0; b < bits; b++, at++) {
        unsigned char mask = (unsigned char)(1u << (at % 8));
        if (v >> b & 1u)
            buf[at / 8] |= mask;
        else
            buf[at / 8] &= (unsigned char)~mask;
    }
}

uint32_t gd_bits_get(const unsigned char *buf, size_t i, unsigned bits)
{
    uint32_t v = 0;
    size_t at = i * bits;
    for (unsigned b = 0; b < bits; b++, at++)
        v |= (uint32_t)(buf[at / 8] >> (at % 8) & 1u) << b;
    return v;
}

/* ---- life cycle ---------------------------------------------------------------------- */

gd_compress_params gd_compress_config(const gd_config *c, int rank_id)
{
    const gd_compressor_ops *ops = gd_compressor_find(c->parallel.compress);
    const char *fb = c->parallel.error_feedback;
    gd_compress_params p = {.ratio = c->parallel.compress_ratio, .levels = c->parallel.qsgd_levels,
                            .rank = c->parallel.powersgd_rank, .seed = (uint64_t)c->train.seed,
                            .rank_id = rank_id};
    p.feedback = !strcmp(fb, "auto") ? ops && ops->biased : !strcmp(fb, "true");
    p.momentum = c->parallel.momentum_correction;
    return p;
}

int gd_compress_enabled(const gd_config *c)
{
    return strcmp(c->parallel.compress, "none") != 0;
}

int gd_momentum_correction_check(const gd_config *c)
{
    const double m = c->parallel.momentum_correction;
    const char *name = c->parallel.compress;
    if (m == 0)
        return GD_OK;
    if (m < 0 || m >= 1)
        return gd_fail(GD_ECONFIG, "parallel.momentum_correction = %g: must be in [0, 1) (0: off)",
                       m);
    if (strcmp(c->parallel.mode, "allreduce"))
        return gd_fail(GD_ECONFIG, "parallel.momentum_correction = %g: allreduce only, not "
                       "parallel.mode = %s (ps-async's per-slice memories keep no velocity)",
                       m, c->parallel.mode);
    if (strcmp(name, "topk"))
        return gd_fail(GD_ECONFIG, "parallel.momentum_correction = %g: needs parallel.compress = "
                       "topk (Deep Gradient Compression's selection), not %s", m, name);
    if (!gd_compress_config(c, 0).feedback)
        return gd_fail(GD_ECONFIG, "parallel.momentum_correction = %g: needs error feedback "
                       "(parallel.error_feedback = true or auto): the residual holds the "
                       "velocity not yet sent", m);
    if (strcmp(c->optimizer.type, "sgd"))
        return gd_fail(GD_ECONFIG, "parallel.momentum_correction = %g: the momentum is applied "
                       "before the compressor; optimizer.type = %s would apply its own after "
                       "it (use optimizer.type = sgd)", m, c->optimizer.type);
    return GD_OK;
}

int gd_compressor_check(const char *name, const gd_compress_params *p, size_t n)
{
    const gd_compressor_ops *ops = gd_compressor_find(name);
    if (!ops)
        return gd_fail(GD_ECONFIG, "parallel.compress = '%s': unknown name (known: %s)", name,
                       gd_compressor_names());
    return ops->check ? ops->check(p, n) : GD_OK;
}

int gd_compressor_check_push(const char *name, const gd_compress_params *p, const char *mode)
{
    const gd_compressor_ops *ops = gd_compressor_find(name);
    if (!ops)
        return gd_compressor_check(name, p, 0); /* the unknown name's message */
    if (!ops->check_push)
        return GD_OK; /* the parameters are checked with the vector's length, at setup */
    int rc = ops->check_push(p);
    return rc ? gd_fail_prefix(rc, "parallel.compress = %s: not with parallel.mode = %s, whose "
                               "pushes go point to point", name, mode)
              : GD_OK;
}

int gd_compressor_create(gd_compressor *c, const char *name, const gd_compress_params *p,
                         size_t n, int size)
{
    memset(c, 0, sizeof *c);
    int rc = gd_compressor_check(name, p, n);
    if (rc)
        return rc;
    c->ops = gd_compressor_find(name);
    c->memory = gd_memory_find(p);
    c->p = *p;
    c->n = n;
    gd_rng_seed(&c->rng, p->seed, (uint64_t)p->rank_id, GD_RNG_COMPRESS);
    const size_t len = n ? n : 1;
    c->residual = gd_alloc(len, sizeof(float), "compression residual");
    c->pbuf = gd_alloc(len, sizeof(float), "compression scratch");
    c->sent = gd_alloc(len, sizeof(float), "compression scratch");
    if (c->memory == &memory_dgc)
        c->velocity = gd_alloc(len, sizeof(float), "compression velocity");
    if (!c->residual || !c->pbuf || !c->sent || (c->memory == &memory_dgc && !c->velocity))
        return GD_ERR;
    if ((rc = c->ops->setup(c)))
        return rc;
    c->msg = gd_alloc(c->msg_bytes ? c->msg_bytes : 1, 1, "compressed message");
    c->all = gd_alloc((size_t)size * (c->msg_bytes ? c->msg_bytes : 1), 1, "compressed messages");
    return c->msg && c->all ? GD_OK : GD_ERR;
}

void gd_compressor_destroy(gd_compressor *c)
{
    if (c->ops && c->ops->destroy)
        c->ops->destroy(c);
    free(c->residual);
    free(c->velocity);
    free(c->sent);
    free(c->pbuf);
    free(c->msg);
    free(c->all);
    memset(c, 0, sizeof *c);
}

void gd_compressor_decode(const gd_compressor *c, const void *msg, float *out)
{
    memset(out, 0, c->n * sizeof *out);
    c->ops->decompress_add(c, msg, out);
}

/* This rank's own message: msg = C(p), sent = D(msg). */
static void compress_own(gd_compressor *c, const float *p, void *msg, float *sent)
{
    c->ops->compress(c, p, msg);
    gd_compressor_decode(c, msg, sent);
}

void gd_compressor_encode(gd_compressor *c, const float *x, void *msg)
{
    c->memory->compensate(c, x);
    compress_own(c, c->pbuf, msg, c->sent);
    c->memory->update(c);
}

void gd_compress_allgather(gd_compressor *c, gd_wire *w, const float *p, float *sent)
{
    compress_own(c, p, c->msg, sent);
    gd_wire_allgather(w, c->msg, c->all, c->msg_bytes);
}

void gd_compress_gather(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent)
{
    gd_compress_allgather(c, w, p, sent);
    memset(out, 0, c->n * sizeof *out);
    for (int r = 0; r < w->size; r++)
        c->ops->decompress_add(c, c->all + (size_t)r * c->msg_bytes, out);
}

void gd_compressor_exchange(gd_compressor *c, gd_wire *w, const float *x, float *out)
{
    c->memory->compensate(c, x);
    if (c->ops->exchange)
        c->ops->exchange(c, w, c->pbuf, out, c->sent);
    else
        gd_compress_gather(c, w, c->pbuf, out, c->sent);
    c->memory->update(c);
    gd_wire_count_allreduce(w, (double)c->n * sizeof(float), 0);
}

void gd_compressor_declare(gd_compressor *c, gd_state *s)
{
    /* An elastic resume takes the mean: both are gradient sums of one rank's batch, which
       enter the ranks' sum and are divided by the global count (Q x batch_size after a
       resume at Q ranks); Q ranks at the mean add up to Q/P of the P ranks' sum, so the
       step they still make, per sample, is the one they would have made at P. */
    if (c->p.feedback)
        gd_state_add(s, GD_STATE_F32, GD_PER_RANK, c->residual, c->n, "compress/residual")
            ->elastic = GD_EL_MEAN;
    if (c->velocity)
        gd_state_add(s, GD_STATE_F32, GD_PER_RANK, c->velocity, c->n, "compress/velocity")
            ->elastic = GD_EL_MEAN;
    if (c->ops->random)
        gd_state_add(s, GD_STATE_U64, GD_PER_RANK, c->rng.s, 4, "compress/rng")->elastic =
            GD_EL_STREAM;
    if (c->ops->declare)
        c->ops->declare(c, s);
}
