/* Parameter servers, private to src/parallel/: the state and messages that the
 * synchronous (ps_sync.c) and asynchronous (ps_async.c) strategies share. The protocol,
 * its tags and its termination are described at the top of ps.c. */
#ifndef GDMPI_PARALLEL_PS_H
#define GDMPI_PARALLEL_PS_H

#include "gdmpi/parallel.h"

#include <stdint.h>

/* MPI tags on the world communicator (ctx->comm). */
enum {
    PS_TAG_PUSH = 7001,  /* worker -> server: a header and the gradient sums of the slice */
    PS_TAG_REPLY = 7002, /* server -> worker: a header and (when fetched) the slice */
    PS_TAG_ROW = 7003,   /* lead worker -> rank 0 (ps-async): one metrics.csv row */
    PS_TAG_STATE = 7004, /* lead worker -> rank 0 (finish): the model's non-trained state */
    PS_TAG_SNAP = 7005,  /* rank 0 -> server (ps-async checkpoints): send your state, or stop */
    PS_TAG_SNAP_REPLY = 7006 /* server -> rank 0: version, optimizer step, slice, state */
};

/* ps_header.flags of a worker's message. */
enum { PS_PUSH = 1, PS_FETCH = 2, PS_DONE = 4,
       PS_ACCRUED = 8 /* downpour: the push holds a sum of mean gradients, applied as is */ };

/* Staleness histograms: bins 0 .. PS_HIST-2, and the last bin for anything larger. */
#define PS_HIST 64

typedef struct ps_header {
    double loss, count;  /* push: the loss and sample sums of the gradient (with the
                            penalties, ps-async); reply (ps): the step's global sums */
    double sumsq_other;  /* push (ps-async): squared norm of the mean gradient outside
                            the receiving server's slice, for clipping by the global norm */
    int64_t version;     /* push: the server's version the gradient was computed on;
                            reply: the server's version (updates applied) */
    int64_t clock;       /* push: the server's clock at that read; reply: its clock now
                            (the pushes of the slowest worker still running) */
    int64_t need;        /* push with PS_FETCH, ps-async with a staleness bound: answer
                            only once the server's clock has reached this */
    int32_t flags;       /* push: PS_PUSH | PS_FETCH | PS_DONE; reply: PS_FETCH when the
                            slice's parameters follow the header */
    int32_t stop;        /* reply: a gd_stop_reason decided on the servers (0: go on) */
    int32_t diverged;    /* a gd_divergence (1 the loss, 2 the gradient went non-finite):
                            reply, on the servers; push, on an easgd-async worker */
    int32_t rows;        /* push with PS_DONE from the lead worker: metrics rows it sent */
} ps_header;

typedef struct ps_msg {
    ps_header h;
    float x[]; /* a slice of gradient sums (push) or of parameters (reply) */
} ps_msg;

/* What went from one worker to one server, counted on both ends (conservation). */
typedef struct ps_pair {
    double pushes, samples, gsum; /* non-empty pushes, their samples, sum of their floats */
} ps_pair;

typedef struct ps_stale {
    double hist[PS_HIST], sum, count, max;
} ps_stale;

typedef struct ps_worker {
    ps_msg **push, **reply;   /* one per server; push doubles as the accumulator */
    MPI_Request *req;         /* the round's S receives, then S sends */
    int *flags;               /* this round's flags per server */
    ps_pair *sent;            /* per server */
    double acc_loss, acc_count;
    long steps;               /* steps taken on this worker */
    int64_t clock;            /* pushes sent */
    int64_t *read_version, *read_clock; /* per server, as of the last fetch */
    int64_t *acc_version, *acc_clock;   /* per server: the read the accumulation started on */
    double *acc_vsum;         /* per server: sum over the accrued gradients of samples x the
                                 version each was computed on (its staleness stamp) */
    int64_t *grad_version;    /* downpour, per server: the read this step's gradient used */
    gd_metrics_row row;       /* the lead's row in flight (ps-async) */
    MPI_Request row_req;
    int pending, pending_push; /* downpour: a round in flight, and whether it pushed */
    double acc_steps;         /* downpour: local steps accrued since the last push */
    float *local;             /* downpour's lead: its own copy while it evaluates the servers' */
    int rows_sent;
    double wait_s;
    double wire_at_row[GD_WIRE_COUNT]; /* the lead: ctx->wire when it sent its last row */
} ps_worker;

typedef struct ps_server {
    ps_msg **push, **reply;   /* one per worker (ps replies with reply[0] to all) */
    MPI_Request *req;         /* W receives, rank 0's row receive, then W reply sends */
    ps_pair *applied;         /* per worker */
    int64_t version;          /* updates applied */
    int64_t *clock;           /* per worker: pushes received; INT64_MAX once it is done */
    int64_t *need;            /* per worker: a held fetch reply waits for this clock (-1: none) */
    int live;                 /* workers not done */
    int stop;                 /* a gd_stop_reason to tell the workers (0: none) */
    ps_stale stale, lag;      /* staleness in updates; SSP clock lag */
    double row_loss, row_count; /* rank 0 (ps-async): sums since the last metrics row */
    gd_metrics_row row;       /* rank 0: the row being received */
    int rows_expected, rows_got;
    double idle_s;
    ps_header snap_ask;       /* servers but rank 0: rank 0's snapshot request (ps_ckpt.c) */
    int released;             /* rank 0 has said it will ask no more */
} ps_server;

/* Rank 0's figures for summary.json, gathered by ps_finish. */
typedef struct ps_report {
    int ready;
    double *updates;          /* per server */
    double *worker_updates;   /* per worker: its pushes that server 0 applied */
    double *wait_s, *idle_s;  /* per worker, per server */
    ps_stale stale, lag;      /* over all servers */
    ps_pair sent, applied;    /* totals */
    int conserved;            /* every pair's pushes, samples and sums match */
} ps_report;

typedef struct ps_state ps_state;
typedef struct ps_zip ps_zip; /* ps_compress.c: compressed pushes */

/* A server's update of its slice with one push, x (the push's floats, which it may change
 * in place), h its header, stale its staleness in updates. Returns the divergence when the
 * result is not finite (GD_DIV_NONE: applied). NULL in ps_state.update: Downpour's optimizer step on the mean
 * gradient; easgd-async: the elastic move of the center variable. */
typedef gd_divergence (*ps_update_fn)(gd_step_ctx *ctx, ps_state *s, float *x, const ps_header *h,
                            int64_t stale);

struct ps_state {
    int async;
    int S, W;                 /* servers and workers */
    int me;                   /* index among the servers or among the workers */
    long bound;               /* parallel.staleness (-1: none) */
    int inverse_lr;           /* parallel.staleness_lr = inverse */
    size_t *lo, *len;         /* per server: its slice of the flat vector */
    ps_worker w;
    ps_server s;
    ps_report rep;
    ps_update_fn update;      /* ps-async servers' update of a push (NULL: Downpour's) */
    int downpour;             /* Downpour as published (downpour): accrued pushes */
    int exchange;             /* a push carries parameters, not gradients: applied even with
                                 no samples (easgd-async's elastic exchange) */
    void *ext;                /* a strategy built on this one keeps its own state here
                                 (easgd-async); it frees it before ps_destroy */
    /* Checkpoints (ps_ckpt.c). */
    int snapshots;            /* ps-async, several servers, checkpoint_every: rank 0 may ask */
    ps_msg *snap;             /* a snapshot reply (rank 0 receives, the others send it) */
    float *snap_optim;        /* rank 0: every slice's optimizer state, slots x nparams */
    int64_t *versions, *optim_t; /* per server: updates applied and optimizer steps */
    gd_wire wire;             /* counts every push and reply into ctx->wire, exactly */
    ps_zip *zip;              /* parallel.compress (ps-async; NULL: none, float32 pushes) */
};

/* ps.c: the parts both modes share. */
int ps_check(const gd_config *c, int size, int async);
int ps_setup(gd_step_ctx *ctx, int async);
int ps_finish(gd_step_ctx *ctx);
void ps_summary(const gd_step_ctx *ctx, FILE *f);
void ps_destroy(gd_step_ctx *ctx);
size_t ps_msg_bytes(size_t floats);
/* One buffer per peer: a header and lens[i] floats (or `floats` each when lens is NULL);
 * NULL when one cannot be allocated. */
ps_msg **ps_alloc_msgs(int count, const size_t *lens, size_t floats);
void ps_free_msgs(ps_msg **m, int count);
/* Worker: one round trip with every server (w.flags[j]: what to send server j); returns
 * when every reply is in, and takes the parameters, stop and divergence they bring. */
void ps_worker_round(gd_step_ctx *ctx, ps_state *s);
/* The two halves of a round, for a worker that computes while its messages travel
 * (downpour): post the receives and sends; later, wait for them and take the replies. */
void ps_worker_post(gd_step_ctx *ctx, ps_state *s);
void ps_worker_complete(gd_step_ctx *ctx, ps_state *s);
/* ps_async.c: an asynchronous server's whole run (the strategy's serve), and the lead
 * worker's metrics row to rank 0 (its report); easgd-async uses them too. */
int ps_async_serve(gd_step_ctx *ctx);
int ps_async_report(gd_step_ctx *ctx, const gd_metrics_row *r);
/* ps_ckpt.c: checkpoints. ps_declare is the strategies' state op (with_optimizer = 0:
 * easgd-async, whose servers move the center without one and whose workers keep their own);
 * ps_sync_resumed gives ps workers their copy back; the snapshot requests of rank 0 reach
 * the other ps-async servers in their loop (ps_snap_post, ps_snap_answer), which they leave
 * only once rank 0 releases them (ps_snap_release). */
int ps_snap_setup(gd_step_ctx *ctx, ps_state *s);
int ps_declare(gd_step_ctx *ctx, gd_state *st, gd_state_use use, int with_optimizer);
int ps_sync_resumed(gd_step_ctx *ctx);
/* ps-async and easgd-async servers after a resume: the version and optimizer step saved. */
int ps_resumed_server(gd_step_ctx *ctx);
void ps_snap_post(gd_step_ctx *ctx, ps_state *s);
void ps_snap_answer(gd_step_ctx *ctx, ps_state *s);
void ps_snap_release(gd_step_ctx *ctx, ps_state *s);
/* Bytes this rank sent, and what the uncompressed protocol would have sent (GD_WIRE_DENSE). */
void ps_wire_sent(ps_state *s, size_t bytes, size_t dense);
/* ps_compress.c: compressed pushes (parallel.compress, ps-async). ps_zip_check refuses the
 * compressors that cannot go point to point; without compression s->zip is NULL and every
 * function below leaves the float32 push as it was. */
int ps_zip_check(const gd_config *c);
int ps_zip_setup(gd_step_ctx *ctx, ps_state *s);
/* Bytes of a push to server j as it goes on the wire (header included); the floats a
 * server's receive buffer needs for it. */
size_t ps_push_bytes(const ps_state *s, int j);
size_t ps_push_floats(const ps_state *s, int j);
/* Worker, before a push: each slice's accumulator through its compressor and memory; the
 * accumulator then holds what the server will decode. */
void ps_zip_encode(ps_state *s);
/* Worker: server j's push as sent (its header, then the code). */
const ps_msg *ps_zip_outgoing(ps_state *s, int j);
/* Server: a push's code decoded into a scratch slice. */
float *ps_zip_decode(ps_state *s, const ps_msg *m);
void ps_zip_declare(gd_step_ctx *ctx, ps_state *s, gd_state *st, gd_state_use use);
void ps_zip_resumed(gd_step_ctx *ctx, ps_state *s);
void ps_zip_summary(const gd_step_ctx *ctx, const ps_state *s, FILE *f);
void ps_zip_destroy(ps_state *s);
/* Counts a non-empty push of n floats and count samples into a pair. */
void ps_pair_add(ps_pair *p, const float *x, size_t n, double count);
void ps_stale_add(ps_stale *st, int64_t v);

#endif
