/* A run's state as data: each component declares the buffers that its future depends on
 * (fields), and one engine saves them to a checkpoint file and loads them back (as PETSc's
 * View and Load, but declared once: the same declaration drives both directions, so they
 * cannot drift apart). The trainer, the model, the optimizer and each strategy declare
 * their own fields; src/train/checkpoint_file.c only orchestrates.
 *
 * A field is rows blocks of len values, contiguous at data, and has a scope:
 *   GD_SHARED    the same on every rank that holds it: rank 0's copy is saved, as [len] or
 *                [rows x len]; every rank that declares len > 0 loads it (a rank that sees
 *                it through a shared window declares 0 and leaves it to its group's leader).
 *   GD_PER_RANK  one value per rank: saved as [ranks x max] with an attribute `lengths`
 *                (int64 per rank; -1 for a rank the file does not describe); each rank loads
 *                its own row, which must have the length it declares.
 *   GD_SLICED    one vector of total values split among owners, each holding [lo, lo+len)
 *                (parameter servers; a rank that owns nothing declares len 0): saved whole,
 *                as [total] or [rows x total]; each owner loads its slice.
 * Every rank declares the same fields in the same order (lengths may differ). A SHARED field
 * with `count` set has a variable number of rows (at most rows): *count of them are saved,
 * and a load sets *count. A SHARED field may also be an array of records (memtype: an HDF5
 * compound type that the component builds). The names are the datasets' paths, one group
 * per component ("model/params"). */
#ifndef GDMPI_STATE_H
#define GDMPI_STATE_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>

typedef enum { GD_STATE_F32, GD_STATE_F64, GD_STATE_I64, GD_STATE_U64, GD_STATE_I32,
               GD_STATE_RECORD } gd_state_type;
typedef enum { GD_SHARED, GD_PER_RANK, GD_SLICED } gd_state_scope;
/* What a declaration is for: a save on every rank (collective: the declaring component may
 * communicate first), a save by rank 0 alone while the others run on, or a load (each rank
 * on its own: no communication). */
typedef enum { GD_STATE_SAVE, GD_STATE_SAVE_LONE, GD_STATE_LOAD } gd_state_use;
/* How a PER_RANK field crosses an elastic resume (a checkpoint of P ranks loaded by Q != P
 * ranks; gd_state_load_elastic). The declaring component says what its rows mean:
 *   GD_EL_REFUSE  (the default) they cannot be carried: the resume is refused, naming it
 *   GD_EL_FIRST   the same on every rank (synchronous figures): every rank takes row 0
 *   GD_EL_MEAN    every rank takes the mean of the P rows (local models: an average;
 *                 error-feedback residuals, per-rank gradient sums divided by the count)
 *   GD_EL_SPREAD  every rank takes the sum over P rows / Q, so the Q rows sum to what the
 *                 P rows did (sample counts)
 *   GD_EL_STREAM  each rank's own random stream: rank q takes row q mod P, mixed with q
 *                 when q >= P, so no two ranks draw the same stream (a stream that every
 *                 rank shares says GD_EL_FIRST)
 *   GD_EL_OWN     rank q < P takes row q, the others keep what they hold (timers, bytes)
 *   GD_EL_SKIP    left as it is: the caller rebuilds it (the shard order)
 * P, Q and q count the rank's own role (gd_state_ranks: servers, or workers): with
 * parameter servers a worker's rules run over the workers' rows only. At the same count in
 * the role (a remainder epoch's checkpoint) every rule but FIRST loads the rank's own row.
 * A SHARED vector of one value per server may say GD_EL_FIRST too: when the server count
 * changed, every value takes the file's first. */
typedef enum { GD_EL_REFUSE, GD_EL_FIRST, GD_EL_MEAN, GD_EL_SPREAD, GD_EL_STREAM, GD_EL_OWN,
               GD_EL_SKIP } gd_state_elastic;

#define GD_STATE_NAME 48
#define GD_STATE_FIELDS 64

typedef struct gd_state_field {
    char name[GD_STATE_NAME];
    gd_state_type type;
    gd_state_scope scope;
    void *data;
    size_t rows, len;   /* rows blocks of len values (SLICED: this rank's len of each) */
    size_t lo, total;   /* SLICED: this rank's offset in each block of total values */
    long *count;        /* SHARED: the rows in use (NULL: all of them) */
    hid_t memtype;      /* GD_STATE_RECORD: the record's compound type */
    size_t size;        /* GD_STATE_RECORD: bytes per record */
    const char *hint;   /* PER_RANK: what a length that differs on load means */
    gd_state_elastic elastic; /* PER_RANK: what an elastic resume does with the rows */
} gd_state_field;

typedef struct gd_state {
    gd_state_field f[GD_STATE_FIELDS];
    int n;
    int overflow;       /* more than GD_STATE_FIELDS were declared (a programming error) */
} gd_state;

/* Declares a field of len values (rows 1); returns it, so that the caller may set rows,
 * count or a slice. name is printf-style. */
gd_state_field *gd_state_add(gd_state *s, gd_state_type type, gd_state_scope scope, void *data,
                             size_t len, const char *name, ...)
    __attribute__((format(printf, 6, 7)));
/* A GD_SLICED field: rows blocks of total values, this rank's [lo, lo + len) of each. */
gd_state_field *gd_state_add_slice(gd_state *s, gd_state_type type, void *data, size_t rows,
                                   size_t lo, size_t len, size_t total, const char *name);
gd_state_field *gd_state_find(gd_state *s, const char *name);

/* Collective over comm: gathers every field to rank 0, which writes it into file (only
 * rank 0's file is used). Returns the status agreed over comm. */
int gd_state_save(MPI_Comm comm, const gd_state *s, hid_t file);
/* Rank 0 alone, while the other ranks run on (an asynchronous job): its own view, with
 * ranks rows in each PER_RANK field of which only row 0 is known; a SLICED field must be
 * whole on rank 0 (lo 0, len total). */
int gd_state_save_lone(const gd_state *s, hid_t file, int ranks);
/* Each rank alone: loads its part of every field from file. *unknown counts the PER_RANK
 * fields that the file does not describe for this rank (left as they were). Errors name
 * the dataset. */
int gd_state_load(const gd_state *s, hid_t file, int rank, int *unknown);
/* Who loads an elastic resume: ranks [0, servers) serve and the others work, in the file
 * (then) and now. A rank takes its PER_RANK rows from those of its own role, as the q-th
 * of its role's ranks: a worker never takes a server's row (a batch stream servers never
 * seeded, a model they never trained), and MEAN and SPREAD run over the role's rows. */
typedef struct gd_state_ranks {
    int rank, then, now, servers_then, servers_now;
} gd_state_ranks;

/* Each rank alone, from a file that r->then ranks wrote, loaded by r->now ranks (an
 * elastic resume): SHARED and SLICED fields load as with gd_state_load (a slice is read at
 * this rank's lo, whatever the owners were), PER_RANK ones by their elastic rule; every
 * rule needs rows that the file does not describe (a save by rank 0 alone) is left as it
 * was and counted in *unknown. A field with GD_EL_REFUSE is an error naming it, with its
 * hint. */
int gd_state_load_elastic(const gd_state *s, hid_t file, const gd_state_ranks *r, int *unknown);
/* Reads the whole of PER_RANK dataset name ([ranks x len] values of type, all rows known)
 * into out, which holds ranks * len values. */
int gd_state_read_rows(hid_t file, const char *name, gd_state_type type, size_t ranks,
                       size_t len, void *out);

#endif
