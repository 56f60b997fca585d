/* compress = powersgd: PowerSGD (Vogels et al. 2019, "PowerSGD: Practical low-rank gradient
 * compression for distributed optimization", Alg. 1 with the error feedback of Alg. 2), of
 * rank r = parallel.powersgd_rank, on the model's weight matrices. For each matrix M (rows x
 * cols, the compensated gradient sum) and its warm-started Q (cols x r):
 *   P <- M Q;  P <- allreduce(P);  P^ <- orthogonalize(P);  Q <- M^T P^;  Q <- allreduce(Q)
 *   out = P^ Q^T
 * one power iteration a step, Q kept for the next step (warm start, section 3). Every other
 * coordinate (biases, batch norm) travels dense inside P's allreduce, so a step is two
 * allreduces. The paper averages P and Q; here they are summed, so out is the sum over the
 * ranks as every exchange's is (P's scale does not matter: it is orthogonalised), and the
 * memory keeps e = M - out / ranks, the paper's M - P^ Q^T with Q the mean. Q starts as
 * N(0, 1) from the stream (seed, 0, GD_RNG_COMPRESS), the same on every rank, and is saved
 * in checkpoints (the same on every rank). Gram-Schmidt leaves a column that is zero (a
 * matrix whose gradient is zero) at zero rather than dividing by its norm. */
#include "gdmpi/compress.h"

#include "gdmpi/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct psgd_state {
    size_t r;
    size_t p_at[GD_COMPRESS_MAX_MATRICES], q_at[GD_COMPRESS_MAX_MATRICES];
    size_t np, nq;           /* floats of all the Ps, all the Qs */
    size_t dense_lo[GD_COMPRESS_MAX_MATRICES + 1], dense_hi[GD_COMPRESS_MAX_MATRICES + 1];
    size_t ndense_ranges, ndense;
    float *pbuf;             /* np + ndense: the Ps, then the dense coordinates */
    float *q;                /* nq: the Qs */
} psgd_state;

static int powersgd_check(const gd_compress_params *p, size_t n)
{
    if (p->nmatrices == 0)
        return gd_fail(GD_ECONFIG, "parallel.compress = powersgd: the model has no weight "
                       "matrix to compress");
    for (size_t i = 0; i < p->nmatrices; i++) {
        const gd_matrix_view *m = &p->matrix[i];
        size_t side = m->rows < m->cols ? m->rows : m->cols;
        if (p->rank < 1 || (size_t)p->rank > side)
            return gd_fail(GD_ECONFIG, "parallel.powersgd_rank = %ld: must be in [1, %zu], the "
                           "smaller side of the %zu x %zu weight matrix", p->rank, side,
                           m->rows, m->cols);
        if (m->offset + m->rows * m->cols > n ||
            (i && m->offset < p->matrix[i - 1].offset + p->matrix[i - 1].rows * p->matrix[i - 1].cols))
            return gd_fail(GD_ERR, "powersgd: the weight matrices overlap or leave the vector");
    }
    return GD_OK;
}

/* The coordinates outside every matrix, as ranges. */
static void plan_dense(psgd_state *s, const gd_compress_params *p, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i <= p->nmatrices; i++) {
        size_t end = i < p->nmatrices ? p->matrix[i].offset : n;
        if (end > at) {
            s->dense_lo[s->ndense_ranges] = at;
            s->dense_hi[s->ndense_ranges++] = end;
            s->ndense += end - at;
        }
        if (i < p->nmatrices)
            at = p->matrix[i].offset + p->matrix[i].rows * p->matrix[i].cols;
    }
}

static int powersgd_setup(gd_compressor *c)
{
    psgd_state *s = gd_alloc(1, sizeof *s, "powersgd state");
    if (!s)
        return GD_ERR;
    c->impl = s;
    s->r = (size_t)c->p.rank;
    for (size_t i = 0; i < c->p.nmatrices; i++) {
        s->p_at[i] = s->np;
        s->q_at[i] = s->nq;
        s->np += c->p.matrix[i].rows * s->r;
        s->nq += c->p.matrix[i].cols * s->r;
    }
    plan_dense(s, &c->p, c->n);
    s->pbuf = gd_alloc(s->np + s->ndense + 1, sizeof(float), "powersgd P");
    s->q = gd_alloc(s->nq, sizeof(float), "powersgd Q");
    if (!s->pbuf || !s->q)
        return GD_ERR;
    gd_rng shared;
    gd_rng_seed(&shared, c->p.seed, 0, GD_RNG_COMPRESS);
    for (size_t i = 0; i < s->nq; i++)
        s->q[i] = (float)gd_rng_normal(&shared);
    c->msg_bytes = 0; /* two allreduces, not one message */
    return GD_OK;
}

/* Modified Gram-Schmidt on the r columns of P (rows x r, row-major), dots in double. */
void gd_powersgd_orthogonalize(float *P, size_t rows, size_t r)
{
    for (size_t j = 0; j < r; j++) {
        for (size_t k = 0; k < j; k++) {
            double dot = 0;
            for (size_t i = 0; i < rows; i++)
                dot += (double)P[i * r + j] * P[i * r + k];
            for (size_t i = 0; i < rows; i++)
                P[i * r + j] -= (float)dot * P[i * r + k];
        }
        double sq = 0;
        for (size_t i = 0; i < rows; i++)
            sq += (double)P[i * r + j] * P[i * r + j];
        float inv = sq > 0 ? (float)(1.0 / sqrt(sq)) : 0.0f;
        for (size_t i = 0; i < rows; i++)
            P[i * r + j] *= inv;
    }
}

/* P_i = M_i Q_i for every matrix, then the dense coordinates after the Ps. */
static void fill_p(const gd_compressor *c, psgd_state *s, const float *p)
{
    for (size_t i = 0; i < c->p.nmatrices; i++) {
        const gd_matrix_view *m = &c->p.matrix[i];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m->rows, (int)s->r,
                    (int)m->cols, 1.0f, p + m->offset, (int)m->cols, s->q + s->q_at[i],
                    (int)s->r, 0.0f, s->pbuf + s->p_at[i], (int)s->r);
    }
    float *d = s->pbuf + s->np;
    for (size_t k = 0; k < s->ndense_ranges; k++) {
        size_t len = s->dense_hi[k] - s->dense_lo[k];
        memcpy(d, p + s->dense_lo[k], len * sizeof *d);
        d += len;
    }
}

/* The dense coordinates: out = their sum over the ranks, sent exactly. */
static void take_dense(const psgd_state *s, const float *p, float *out, float *sent)
{
    const float *d = s->pbuf + s->np;
    for (size_t k = 0; k < s->ndense_ranges; k++) {
        size_t lo = s->dense_lo[k], len = s->dense_hi[k] - lo;
        memcpy(out + lo, d, len * sizeof *d);
        memcpy(sent + lo, p + lo, len * sizeof *d);
        d += len;
    }
}

/* Q_i = M_i^T P^_i for every matrix. */
static void fill_q(const gd_compressor *c, psgd_state *s, const float *p)
{
    for (size_t i = 0; i < c->p.nmatrices; i++) {
        const gd_matrix_view *m = &c->p.matrix[i];
        float *P = s->pbuf + s->p_at[i];
        gd_powersgd_orthogonalize(P, m->rows, s->r);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m->cols, (int)s->r,
                    (int)m->rows, 1.0f, p + m->offset, (int)m->cols, P, (int)s->r, 0.0f,
                    s->q + s->q_at[i], (int)s->r);
    }
}

/* out_i = P^_i Q_i^T (the sum over the ranks); the memory's sent is its mean. */
static void decompress(const gd_compressor *c, const psgd_state *s, float *out, float *sent,
                       int ranks)
{
    for (size_t i = 0; i < c->p.nmatrices; i++) {
        const gd_matrix_view *m = &c->p.matrix[i];
        float *o = out + m->offset;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->rows, (int)m->cols,
                    (int)s->r, 1.0f, s->pbuf + s->p_at[i], (int)s->r, s->q + s->q_at[i],
                    (int)s->r, 0.0f, o, (int)m->cols);
        const float inv = 1.0f / (float)ranks;
        for (size_t j = 0; j < m->rows * m->cols; j++)
            sent[m->offset + j] = o[j] * inv;
    }
}

static void powersgd_exchange(gd_compressor *c, gd_wire *w, const float *p, float *out,
                              float *sent)
{
    psgd_state *s = c->impl;
    fill_p(c, s, p);
    gd_wire_allreduce(w, s->pbuf, (int)(s->np + s->ndense), MPI_FLOAT, MPI_SUM);
    fill_q(c, s, p); /* reads p: before out (which may be p) is written */
    gd_wire_allreduce(w, s->q, (int)s->nq, MPI_FLOAT, MPI_SUM);
    take_dense(s, p, out, sent);
    decompress(c, s, out, sent, w->size);
}

static void powersgd_declare(gd_compressor *c, gd_state *st)
{
    psgd_state *s = c->impl;
    gd_state_add(st, GD_STATE_F32, GD_SHARED, s->q, s->nq, "compress/powersgd_q");
}

static void powersgd_destroy(gd_compressor *c)
{
    psgd_state *s = c->impl;
    if (!s)
        return;
    free(s->pbuf);
    free(s->q);
    free(s);
    c->impl = NULL;
}

/* P and Q are sums over the ranks, orthogonalised between the two allreduces and Q warm
 * started on every rank alike: no receiver can decode one rank's P alone. */
static int powersgd_check_push(const gd_compress_params *p)
{
    (void)p;
    return gd_fail(GD_ECONFIG, "PowerSGD's power iteration allreduces P, orthogonalises the sum "
                   "and then allreduces Q from it, with Q warm-started alike on every rank; one "
                   "worker's P and Q alone do not decode (use topk, qsgd or sign)");
}

const gd_compressor_ops gd_compress_powersgd = {
    .name = "powersgd", .biased = 1, .check = powersgd_check, .check_push = powersgd_check_push,
    .setup = powersgd_setup, .exchange = powersgd_exchange, .declare = powersgd_declare,
    .destroy = powersgd_destroy,
};
