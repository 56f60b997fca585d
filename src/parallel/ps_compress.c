/* Compressed ps-async pushes (parallel.compress with parallel.mode = ps-async): the same
 * compressors as the compressed allreduce (gdmpi/compress.h), point to point.
 *
 * Per slice. A worker keeps one compressor per server, on that server's slice of the flat
 * vector, with its own error-feedback residual and its own random stream (seed, rank +
 * ranks x slice, GD_RNG_COMPRESS: with one server, the allreduce's (seed, rank)). Each push
 * to server j is then a self-contained code of slice j that server j decodes alone, of a
 * size fixed at setup: no index crosses a slice, and messages keep one length (a whole
 * vector's top-k split after the selection would give each server a different count at
 * every push). The price: top-k selects within each slice (k_j = ceil(ratio len_j)),
 * not over the whole vector, and the scaled codes' 512-buckets start at each slice.
 *
 * A push, on the worker, of the accumulated gradient sums a_j (ps_async.c's accumulator):
 *   p = a_j + e_j;  code = C(p);  e_j = p - D(code);  a_j <- D(code)
 * so everything after it (the norm for clipping, the conservation counts) sees exactly what
 * the server will apply; the server decodes the code into a scratch slice and applies it as
 * it would an uncompressed push. A push with no samples is not encoded (the server ignores
 * it): the residual waits for the next one. compress = none takes none of this: the push is
 * the float32 slice, as before.
 *
 * Checkpoints: the residuals and streams are staged in one per-rank buffer each (all
 * slices, in slice order) when a save is declared, and put back into the compressors after
 * a resume (ps_zip_resumed). A record the file does not describe (rank 0's lone mid-run
 * checkpoint: docs/checkpoints.md) reads as zeros: the residual starts at zero and the
 * stream is drawn afresh for the epoch, as the batcher's is (fresh_record). */
#include "ps.h"

#include "gdmpi/error.h"

#include <stdlib.h>
#include <string.h>

struct ps_zip {
    int count;           /* compressors: one per slice on a worker, 1 (a decoder) on a server */
    gd_compressor *c;
    size_t *payload;     /* per server: bytes of a push's code */
    ps_msg **out;        /* worker, per server: a header and the code, as sent */
    float *dense;        /* server: a push decoded */
    float *residual;     /* checkpoints: every slice's residual (worker: nparams floats) */
    uint64_t *rng;       /* checkpoints: every slice's stream (worker: 4 a slice) */
};

int ps_zip_check(const gd_config *c)
{
    if (!gd_compress_enabled(c))
        return GD_OK;
    gd_compress_params p = gd_compress_config(c, 0);
    return gd_compressor_check_push(c->parallel.compress, &p, c->parallel.mode);
}

/* Slice j's compressor on this rank: a worker's encoder, or a server's decoder (the same
 * parameters; a decoder never touches its memory). */
static int create_for_slice(gd_step_ctx *ctx, ps_state *s, gd_compressor *c, int j)
{
    gd_compress_params p = gd_compress_config(ctx->cfg, ctx->rank + ctx->size * j);
    return gd_compressor_create(c, ctx->cfg->parallel.compress, &p, s->len[j], 1);
}

/* Every slice's code size: a server creates the others' for a moment (the summary). */
static int plan_payloads(gd_step_ctx *ctx, ps_state *s, ps_zip *z)
{
    for (int j = 0; j < s->S; j++) {
        if (!ctx->serving || j == s->me) {
            z->payload[j] = z->c[ctx->serving ? 0 : j].msg_bytes;
            continue;
        }
        gd_compressor probe;
        int rc = create_for_slice(ctx, s, &probe, j);
        z->payload[j] = probe.msg_bytes;
        gd_compressor_destroy(&probe);
        if (rc)
            return rc;
    }
    return GD_OK;
}

static int worker_buffers(gd_step_ctx *ctx, ps_state *s, ps_zip *z)
{
    size_t *code = gd_alloc((size_t)s->S, sizeof *code, "compressed pushes");
    if (!code)
        return GD_ERR;
    for (int j = 0; j < s->S; j++)
        code[j] = (z->payload[j] + sizeof(float) - 1) / sizeof(float); /* floats to hold it */
    z->out = ps_alloc_msgs(s->S, code, 0);
    free(code);
    z->residual = gd_alloc(ctx->model->nparams + 1, sizeof *z->residual, "ps residuals");
    z->rng = gd_alloc(4 * (size_t)s->S, sizeof *z->rng, "ps compressor streams");
    return z->out && z->residual && z->rng ? GD_OK : GD_ERR;
}

static int zip_create(gd_step_ctx *ctx, ps_state *s, ps_zip *z)
{
    z->count = ctx->serving ? 1 : s->S;
    z->c = gd_alloc((size_t)z->count, sizeof *z->c, "ps compressors");
    z->payload = gd_alloc((size_t)s->S, sizeof *z->payload, "ps compressors");
    if (!z->c || !z->payload)
        return GD_ERR;
    for (int k = 0; k < z->count; k++) {
        int rc = create_for_slice(ctx, s, &z->c[k], ctx->serving ? s->me : k);
        if (rc)
            return rc;
    }
    int rc = plan_payloads(ctx, s, z);
    if (rc)
        return rc;
    if (!ctx->serving)
        return worker_buffers(ctx, s, z);
    z->dense = gd_alloc(s->len[s->me] + 1, sizeof *z->dense, "decoded push");
    z->residual = gd_alloc(1, sizeof *z->residual, "ps residuals"); /* declared empty */
    z->rng = gd_alloc(4, sizeof *z->rng, "ps compressor streams");
    return z->dense && z->residual && z->rng ? GD_OK : GD_ERR;
}

int ps_zip_setup(gd_step_ctx *ctx, ps_state *s)
{
    if (!gd_compress_enabled(ctx->cfg))
        return GD_OK;
    s->zip = gd_alloc(1, sizeof *s->zip, "ps compression");
    return s->zip ? zip_create(ctx, s, s->zip) : GD_ERR;
}

size_t ps_push_bytes(const ps_state *s, int j)
{
    return s->zip ? sizeof(ps_msg) + s->zip->payload[j] : ps_msg_bytes(s->len[j]);
}

size_t ps_push_floats(const ps_state *s, int j)
{
    const size_t code = s->zip ? (s->zip->payload[j] + sizeof(float) - 1) / sizeof(float) : 0;
    return code > s->len[j] ? code : s->len[j];
}

void ps_zip_encode(ps_state *s)
{
    ps_worker *w = &s->w;
    if (!s->zip || w->acc_count <= 0)
        return;
    for (int j = 0; j < s->S; j++) {
        gd_compressor *c = &s->zip->c[j];
        gd_compressor_encode(c, w->push[j]->x, s->zip->out[j]->x);
        memcpy(w->push[j]->x, c->sent, s->len[j] * sizeof(float));
    }
}

const ps_msg *ps_zip_outgoing(ps_state *s, int j)
{
    ps_msg *m = s->zip->out[j];
    m->h = s->w.push[j]->h;
    return m;
}

float *ps_zip_decode(ps_state *s, const ps_msg *m)
{
    gd_compressor_decode(&s->zip->c[0], m->x, s->zip->dense);
    return s->zip->dense;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static void stage(ps_state *s, ps_zip *z)
{
    for (int j = 0; j < z->count; j++) {
        memcpy(z->residual + s->lo[j], z->c[j].residual, s->len[j] * sizeof(float));
        memcpy(z->rng + 4 * (size_t)j, z->c[j].rng.s, sizeof z->c[j].rng.s);
    }
}

void ps_zip_declare(gd_step_ctx *ctx, ps_state *s, gd_state *st, gd_state_use use)
{
    ps_zip *z = s->zip;
    if (!z)
        return;
    const size_t n = ctx->serving ? 0 : ctx->model->nparams;
    const size_t streams = ctx->serving ? 0 : 4 * (size_t)s->S;
    if (use == GD_STATE_LOAD) { /* what the file does not describe stays zero */
        memset(z->residual, 0, n * sizeof *z->residual);
        memset(z->rng, 0, streams * sizeof *z->rng);
    } else if (!ctx->serving) {
        stage(s, z);
    }
    /* elastic resume: left zero, as for a worker a lone checkpoint does not describe (its
       slices are cut for the old server count; a zero stream is drawn afresh) */
    if (z->c[0].p.feedback)
        gd_state_add(st, GD_STATE_F32, GD_PER_RANK, z->residual, n, "compress/residual")->elastic =
            GD_EL_SKIP;
    if (z->c[0].ops->random)
        gd_state_add(st, GD_STATE_U64, GD_PER_RANK, z->rng, streams, "compress/rng")->elastic =
            GD_EL_SKIP;
}

static int all_zero(const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return 0;
    return 1;
}

void ps_zip_resumed(gd_step_ctx *ctx, ps_state *s)
{
    ps_zip *z = s->zip;
    if (!z || ctx->serving)
        return;
    const uint64_t fresh =
        (uint64_t)ctx->cfg->train.seed + 0x9e3779b97f4a7c15ULL * (uint64_t)ctx->epoch;
    for (int j = 0; j < z->count; j++) {
        gd_compressor *c = &z->c[j];
        if (z->c[0].p.feedback)
            memcpy(c->residual, z->residual + s->lo[j], s->len[j] * sizeof(float));
        if (!z->c[0].ops->random)
            continue;
        if (all_zero(z->rng + 4 * (size_t)j, 4)) /* unknown: drawn afresh, as fresh_record does */
            gd_rng_seed(&c->rng, fresh, (uint64_t)c->p.rank_id, GD_RNG_COMPRESS);
        else
            memcpy(c->rng.s, z->rng + 4 * (size_t)j, sizeof c->rng.s);
    }
}

/* ---- summary and teardown --------------------------------------------------------------- */

void ps_zip_summary(const gd_step_ctx *ctx, const ps_state *s, FILE *f)
{
    const ps_zip *z = s->zip;
    fprintf(f, "  \"compress\": {\"compressor\": \"%s\", \"error_feedback\": %s, \"push_bytes\": [",
            ctx->cfg->parallel.compress, z && z->c[0].p.feedback ? "true" : "false");
    for (int j = 0; j < s->S; j++)
        fprintf(f, "%s%zu", j ? ", " : "", ps_push_bytes(s, j));
    fprintf(f, "], \"push_bytes_dense\": [");
    for (int j = 0; j < s->S; j++)
        fprintf(f, "%s%zu", j ? ", " : "", ps_msg_bytes(s->len[j]));
    fprintf(f, "]},\n");
}

void ps_zip_destroy(ps_state *s)
{
    ps_zip *z = s->zip;
    if (!z)
        return;
    for (int k = 0; z->c && k < z->count; k++)
        gd_compressor_destroy(&z->c[k]);
    ps_free_msgs(z->out, s->S);
    free(z->c);
    free(z->payload);
    free(z->dense);
    free(z->residual);
    free(z->rng);
    free(z);
    s->zip = NULL;
}
