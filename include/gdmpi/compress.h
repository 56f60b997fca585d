/* Gradient compression (the comm layer: core only below it). As in the GRACE framework
 * (Xu et al. 2021, "GRACE: A Compressed Communication Framework for Distributed Machine
 * Learning"), a compressor (how a vector goes on the wire: compress, decompress, the bytes)
 * is kept apart from the memory that feeds back what it lost (error feedback: compensate,
 * update), so that any compressor composes with any memory. A new compressor is one file in
 * src/comm/ and one line in its registry (src/comm/compress.c).
 *
 * One exchange, on every rank of w->comm, of a vector x of n floats (a gradient sum):
 *   p      = compensate(x)            p = x + e            (memory; e = 0 without feedback)
 *   msg    = C(p)                     this rank's message  (compressor)
 *   sent   = D(msg)                   what the others will read of it
 *   e      = update(p, sent)          e = p - sent         (memory)
 *   out    = sum over the ranks r of D(msg_r)   (or the compressor's own: sign's vote)
 * The messages travel by an allgather (sparse and quantised codes), an allreduce with a
 * reduction of their own (fp16, bf16), or the compressor's own exchange (powersgd). docs:
 * docs/parallel-modes.md, "Gradient compression". */
#ifndef GDMPI_COMPRESS_H
#define GDMPI_COMPRESS_H

#include "gdmpi/config.h"
#include "gdmpi/rng.h"
#include "gdmpi/state.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes on the wire, this rank's running totals. Collectives count what the ring
 * (bandwidth-optimal) algorithm moves per rank: an allgather of B bytes a rank sends and
 * receives (P - 1) B; an allreduce of B bytes 2 (P - 1) / P B each way. Point-to-point
 * counts its bytes exactly. dense: what an uncompressed float32 allreduce of the same
 * vectors would have sent, for the compression ratio. */
enum { GD_WIRE_SENT, GD_WIRE_RECV, GD_WIRE_DENSE, GD_WIRE_COUNT };

typedef struct gd_wire {
    MPI_Comm comm;
    int size;
    double *bytes; /* GD_WIRE_COUNT running totals (the step context's, checkpointed) */
} gd_wire;

/* Bytes this rank sent and received by point-to-point messages (counted exactly). */
void gd_wire_count(gd_wire *w, double sent, double recv);
/* Collectives that count what they move; buf in place. */
void gd_wire_allreduce(gd_wire *w, void *buf, int count, MPI_Datatype type, MPI_Op op);
void gd_wire_allgather(gd_wire *w, const void *mine, void *all, size_t bytes);
/* Counts an uncompressed allreduce of bytes into GD_WIRE_DENSE, and when the caller moved
 * it (compress = none, the loss and count sums) into sent and received too. */
void gd_wire_count_allreduce(gd_wire *w, double bytes, int moved);

/* A weight matrix inside the flat vector (PowerSGD compresses these; the rest goes dense). */
typedef struct gd_matrix_view {
    size_t offset, rows, cols; /* row-major rows x cols at x + offset */
} gd_matrix_view;

#define GD_COMPRESS_MAX_MATRICES 64

typedef struct gd_compress_params {
    double ratio;    /* topk, randomk: k = ceil(ratio n), ratio in (0, 1] */
    long levels;     /* qsgd: s quantisation levels */
    long rank;       /* powersgd: r */
    int feedback;    /* error feedback on (resolved: the compressor's default for auto) */
    double momentum; /* parallel.momentum_correction: DGC's local momentum (0: off) */
    uint64_t seed;   /* random streams: (seed, rank, GD_RNG_COMPRESS) */
    int rank_id;     /* this MPI rank */
    size_t nmatrices;
    gd_matrix_view matrix[GD_COMPRESS_MAX_MATRICES];
} gd_compress_params;

typedef struct gd_compressor gd_compressor;

typedef struct gd_compressor_ops {
    const char *name;
    int biased;  /* 1: E[D(C(x))] != x, error feedback on by default */
    int random;  /* 1: draws from the rank's stream (saved in checkpoints) */
    /* Optional: GD_ECONFIG naming the key when the parameters cannot work for n floats. */
    int (*check)(const gd_compress_params *p, size_t n);
    /* Optional: GD_ECONFIG saying why, when the compressor cannot compress a point-to-point
     * message that one receiver decodes alone (ps-async pushes): its exchange is collective
     * (sign's majority vote, PowerSGD's allreduced P and Q). NULL: it can. */
    int (*check_push)(const gd_compress_params *p);
    /* Allocates c->impl and whatever the hot loop needs; sets c->msg_bytes (bytes of one
     * rank's message, the same on every rank). */
    int (*setup)(gd_compressor *c);
    /* msg = C(p), exactly c->msg_bytes bytes. */
    void (*compress)(gd_compressor *c, const float *p, void *msg);
    /* acc += D(msg). */
    void (*decompress_add)(const gd_compressor *c, const void *msg, float *acc);
    /* Optional: the whole exchange of p (compensated) into out (the sum over ranks), with
     * sent = D(C(p)) of this rank; replaces the allgather (fp16's reduction, sign's majority
     * vote, PowerSGD's two allreduces). */
    void (*exchange)(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent);
    /* Optional: declares the compressor's own state for checkpoints (PowerSGD's Q). */
    void (*declare)(gd_compressor *c, gd_state *s);
    void (*destroy)(gd_compressor *c);
} gd_compressor_ops;

/* Error-feedback memory (GRACE's Memory): compensate before compressing (c->pbuf from x),
 * update after (from c->pbuf and c->sent). */
typedef struct gd_memory_ops {
    const char *name;
    void (*compensate)(gd_compressor *c, const float *x); /* p = x + e */
    void (*update)(gd_compressor *c);                     /* e = p - sent */
} gd_memory_ops;

struct gd_compressor {
    const gd_compressor_ops *ops;
    const gd_memory_ops *memory;
    gd_compress_params p;
    size_t n;          /* floats per exchange */
    size_t msg_bytes;  /* one rank's message */
    gd_rng rng;        /* (seed, rank, GD_RNG_COMPRESS) */
    void *impl;        /* the compressor's own */
    float *residual;   /* e, n floats (zeros without feedback) */
    float *velocity;   /* u, n floats: DGC's local momentum (NULL without it) */
    float *pbuf, *sent; /* scratch: the compensated input p, D(C(p)) */
    unsigned char *msg, *all; /* this rank's message; every rank's (size x msg_bytes) */
};

const gd_compressor_ops *gd_compressor_find(const char *name);
const char *gd_compressor_names(void);
const gd_memory_ops *gd_memory_find(const gd_compress_params *p);

/* The config's parameters (parallel.compress_ratio, qsgd_levels, powersgd_rank,
 * momentum_correction, error_feedback resolved: auto is on for the biased compressors;
 * train.seed) for MPI rank
 * rank_id; no weight matrices. */
gd_compress_params gd_compress_config(const gd_config *c, int rank_id);
/* parallel.compress is other than none. */
int gd_compress_enabled(const gd_config *c);
/* parallel.momentum_correction against the other keys (compressor, feedback, optimizer,
 * mode): GD_ECONFIG naming the key that excludes it. */
int gd_momentum_correction_check(const gd_config *c);
/* Checks the parameters for a vector of n floats: GD_ECONFIG with a message naming the key. */
int gd_compressor_check(const char *name, const gd_compress_params *p, size_t n);
/* Checks that the compressor can compress point-to-point pushes (check_push), for mode. */
int gd_compressor_check_push(const char *name, const gd_compress_params *p, const char *mode);
/* Creates a compressor for vectors of n floats exchanged among size ranks. */
int gd_compressor_create(gd_compressor *c, const char *name, const gd_compress_params *p,
                         size_t n, int size);
void gd_compressor_destroy(gd_compressor *c);
/* Collective over w->comm: out = the combined (summed) vector of the ranks' x, compressed
 * with error feedback as set up. out may be x. No allocation. */
void gd_compressor_exchange(gd_compressor *c, gd_wire *w, const float *x, float *out);
/* A point-to-point message (ps-async pushes): p = x + e, msg = C(p) (c->msg_bytes bytes at
 * msg), c->sent = D(msg), e = p - c->sent. No allocation, no communication. */
void gd_compressor_encode(gd_compressor *c, const float *x, void *msg);
/* The receiver's side: out = D(msg) (c->n floats). */
void gd_compressor_decode(const gd_compressor *c, const void *msg, float *out);
/* msg = C(p), sent = D(msg), then every rank's message into c->all (rank order). */
void gd_compress_allgather(gd_compressor *c, gd_wire *w, const float *p, float *sent);
/* The default exchange: gd_compress_allgather, then out = the sum of the ranks' D(msg). */
void gd_compress_gather(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent);
/* Checkpoints: the residual and the random stream, per rank ("compress/..."). */
void gd_compressor_declare(gd_compressor *c, gd_state *s);

/* PowerSGD's orthogonalisation (modified Gram-Schmidt on the r columns of the row-major
 * rows x r matrix P), exposed for its reference test. */
void gd_powersgd_orthogonalize(float *P, size_t rows, size_t r);

/* The scaled codes (qsgd's norms, sign's mean magnitudes) carry one float32 scale per bucket
 * of this many coordinates (QSGD's d = 512): one scale for a whole vector of layers whose
 * gradients differ by orders of magnitude would let the small ones drown or the large ones
 * pile up in the residual. */
#define GD_COMPRESS_BUCKET 512
static inline size_t gd_compress_buckets(size_t n)
{
    return (n + GD_COMPRESS_BUCKET - 1) / GD_COMPRESS_BUCKET;
}

/* Bit packing for the quantised codes: value v (< 2^bits) at position i of a packed array. */
void gd_bits_put(unsigned char *buf, size_t i, unsigned bits, uint32_t v);
uint32_t gd_bits_get(const unsigned char *buf, size_t i, unsigned bits);

#endif
