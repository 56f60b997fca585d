/* data.shuffle = global: the workers' rows redistributed by a seeded permutation of the
 * whole data set, so that every worker sees an IID sample of it, not a fixed block of the
 * file (a file sorted by label would give each worker a few classes: non-IID workers).
 *
 * Every row has a global number g (its place in the file, or in the concatenation of the
 * per-rank files). Epoch e's permutation puts g at place p = gd_permute(g, N, key(e)); the
 * places are cut into the workers' original shard sizes, so worker w holds places
 * [starts[w], starts[w+1]), in place order, and every count (rows, batches, steps) stays
 * as it was. A worker computes the destination of each row it holds and one
 * MPI_Alltoallv moves them (gd_data_reshard). Rows are found by number, not by where they
 * are: so a run resumed at epoch e redistributes the file's shard straight to epoch e's and
 * holds the same rows in the same order as the run that was never stopped. data.order
 * then orders the rows within each worker as usual.
 *
 * The synchronous modes redistribute at every epoch's start (the workers meet anyway). The
 * asynchronous modes' workers never meet during training, so they redistribute once, at
 * setup (a deviation from a per-epoch global shuffle, documented in docs/data.md). */
#include "trainer.h"

#include "gdmpi/error.h"

#include <stdlib.h>
#include <string.h>

/* The worker whose places contain place p (binary search over starts). */
static int owner_of(const uint64_t *starts, int workers, uint64_t p)
{
    int lo = 0, hi = workers - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (starts[mid] <= p)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static uint64_t epoch_key(const gd_trainer *t, long epoch)
{
    return (uint64_t)t->cfg->train.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)GD_RNG_GLOBAL +
           0x632be59bd9b4e019ULL * (uint64_t)epoch;
}

int gd_global_shuffle_epoch(gd_trainer *t, long epoch)
{
    gd_batcher *b = &t->batch;
    const size_t rows = t->train.rows;
    const uint64_t total = b->starts[t->data_size], key = epoch_key(t, epoch);
    int *dest = gd_alloc(rows + 1, sizeof *dest, "global shuffle");
    uint64_t *pos = gd_alloc(rows + 1, sizeof *pos, "global shuffle");
    int rc = gd_agree(t->ctx.role_comm, dest && pos ? GD_OK : GD_ERR);
    for (size_t i = 0; !rc && i < rows; i++) {
        const uint64_t p = gd_permute(b->ids[i], total, key);
        dest[i] = owner_of(b->starts, t->data_size, p);
        pos[i] = p - b->starts[dest[i]];
    }
    if (!rc)
        rc = gd_data_reshard(&t->train, &b->ids, dest, pos, rows, t->ctx.role_comm);
    free(dest);
    free(pos);
    return rc;
}

/* The rows' global numbers and where each worker's places start (collective). */
static int number_rows(gd_trainer *t)
{
    gd_batcher *b = &t->batch;
    const size_t rows = t->train.rows;
    uint64_t mine = rows, first = 0;
    b->ids = gd_alloc(rows + 1, sizeof *b->ids, "global shuffle");
    b->starts = gd_alloc((size_t)t->data_size + 1, sizeof *b->starts, "global shuffle");
    int rc = gd_agree(t->ctx.role_comm, b->ids && b->starts ? GD_OK : GD_ERR);
    if (rc)
        return rc;
    MPI_Exscan(&mine, &first, 1, MPI_UINT64_T, MPI_SUM, t->ctx.role_comm);
    if (t->data_rank == 0)
        first = 0; /* MPI_Exscan leaves rank 0's result undefined */
    MPI_Allgather(&first, 1, MPI_UINT64_T, b->starts, 1, MPI_UINT64_T, t->ctx.role_comm);
    MPI_Allreduce(MPI_IN_PLACE, &mine, 1, MPI_UINT64_T, MPI_SUM, t->ctx.role_comm);
    b->starts[t->data_size] = mine;
    for (size_t i = 0; i < rows; i++)
        b->ids[i] = first + i;
    return GD_OK;
}

int gd_global_shuffle_setup(gd_trainer *t)
{
    gd_batcher *b = &t->batch;
    b->global = !strcmp(t->cfg->data.shuffle, "global");
    if (!b->global || t->ctx.serving || b->streaming) /* a stream deals chunks instead */
        return GD_OK;
    int rc = number_rows(t);
    if (!rc && t->strategy->async) /* workers that never meet: once, now */
        rc = gd_global_shuffle_epoch(t, 0);
    return rc;
}
