/* Streaming a training shard out of core (data.stream): a reader thread reads chunks of rows
 * by HDF5 hyperslab reads into a ring of GD_STREAM_SLOTS buffers ahead of the step loop, and
 * the step loop takes its rows from them, through a shuffle buffer when the order is
 * shuffled (docs/data.md, "Streaming"). Memory: the ring and the buffer, sized from
 * data.memory_mb by gd_stream_size, whatever the file's size.
 *
 * HDF5 (Debian's build is not thread-safe) is used by one thread at a time: the reader takes
 * gd_h5_lock around each of its calls, and so must the main thread around any HDF5 call it
 * makes while a stream is open (checkpoints). */
#ifndef GDMPI_STREAM_H
#define GDMPI_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Chunks read ahead: one being consumed, two being read or ready (triple buffering). */
#define GD_STREAM_SLOTS 3

typedef struct gd_stream_spec {
    const char *path, *xname, *yname; /* kept by the caller while the stream is open */
    size_t cols;
    int bytes;              /* X holds unsigned bytes: chunks stay bytes, scaled as emitted */
    float scale;            /* data.scale */
    uint64_t file_rows;     /* rows in the file */
    uint64_t first, rows;   /* this worker's rows of the file (its shard) */
    uint64_t id_base;       /* the global number of the file's row 0 (`{rank}` files) */
    size_t chunk_rows;      /* rows per chunk (gd_stream_size) */
    size_t buffer_rows;     /* rows in the shuffle buffer; 0: file order within the chunks */
    int shuffle;            /* permute the chunk order each epoch */
    int global;             /* deal chunks of the whole file to the workers each epoch */
    int worker, workers;    /* global: this worker's place among them */
    uint64_t seed;          /* train.seed */
} gd_stream_spec;

/* Chunk and shuffle-buffer rows that fit memory_mb MiB for rows of cols features (bytes: one
 * byte each, else floats): the buffer takes shuffle_buffer rows (0: half of the memory; none
 * when !shuffle), the ring the rest. GD_ECONFIG naming the keys when no chunk fits. */
int gd_stream_size(size_t cols, int bytes, long memory_mb, long shuffle_buffer, int shuffle,
                   size_t *chunk_rows, size_t *buffer_rows);

/* The chunk plan. Chunks cut the shard (or, global, the whole file) every chunk_rows rows;
 * a chunk is named by its first row in the file. max_chunks: the most one worker reads in an
 * epoch; max_rows: the most rows it gets (what its steps per epoch must cover). */
size_t gd_stream_max_chunks(const gd_stream_spec *s);
uint64_t gd_stream_max_rows(const gd_stream_spec *s);
/* This worker's chunks of epoch e in reading order into out (room for max_chunks); returns
 * their count. Sequential: file order; shuffle: a permutation seeded by (seed, worker,
 * epoch); global: the epoch's permutation of all chunks, cut into the workers' shares. */
size_t gd_stream_epoch_chunks(const gd_stream_spec *s, long epoch, uint64_t *out);
/* Bytes the ring and the buffer of a stream of this plan hold (within data.memory_mb). */
size_t gd_stream_bytes(const gd_stream_spec *s);
/* Rows of the chunk that starts at file row start. */
size_t gd_stream_chunk_count(const gd_stream_spec *s, uint64_t start);

typedef struct gd_stream gd_stream;

/* Allocates the ring and the buffer; the reader starts with the first epoch. */
int gd_stream_open(gd_stream **out, const gd_stream_spec *spec);
/* Starts epoch e: every row of the worker's chunks of e comes out once. The first skip rows
 * are drawn and dropped (a resumed epoch replays its deterministic draw up to where the
 * checkpoint was). A reader that failed: GD_ERR with its message (file and rows). */
int gd_stream_epoch(gd_stream *s, long epoch, size_t skip);
/* Up to n next rows of the epoch as scaled floats into x (n x cols), their labels into y and
 * global row numbers into ids; fewer (0) once the epoch's rows are used up. No allocation.
 * *rc: GD_ERR with gd_fail's message when the reader failed. */
size_t gd_stream_next(gd_stream *s, size_t n, float *x, float *y, uint64_t *ids, int *rc);
/* Stops the reader and frees everything (NULL: nothing). */
void gd_stream_close(gd_stream *s);

#endif
