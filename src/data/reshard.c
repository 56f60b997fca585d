/* Moving rows between ranks (gd_data_reshard): data.shuffle = global redistributes the
 * training rows by a permutation of all of them at each epoch. Each row travels as one
 * record: its place at the destination, its id, its label and its features (floats, or
 * the bytes of an 8-bit shard), so one MPI_Alltoallv of bytes moves everything. */
#include "gdmpi/data.h"

#include "gdmpi/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct record_head {
    uint64_t pos, id;
    float y;
    uint32_t pad;
} record_head;

static size_t feature_bytes(const gd_dataset *ds)
{
    return ds->cols * (ds->x8 ? sizeof(uint8_t) : sizeof(float));
}

/* Bytes of one record, a multiple of 8 so that every head is aligned. */
static size_t record_bytes(const gd_dataset *ds)
{
    return (sizeof(record_head) + feature_bytes(ds) + 7) / 8 * 8;
}

/* Counts and byte displacements, per rank, of the records this rank sends. */
static int plan_sends(const int *dest, size_t rows, int ranks, size_t rec, int *counts,
                      int *displs)
{
    size_t *n = gd_alloc((size_t)ranks, sizeof *n, "reshard counts");
    if (!n)
        return GD_ERR;
    for (size_t i = 0; i < rows; i++)
        n[dest[i]]++;
    size_t at = 0;
    int rc = GD_OK;
    for (int r = 0; r < ranks; r++) {
        if (n[r] * rec > INT_MAX || at > INT_MAX)
            rc = gd_fail(GD_ERR, "data.shuffle = global: more than 2^31 bytes to move at once");
        counts[r] = (int)(n[r] * rec);
        displs[r] = (int)at;
        at += n[r] * rec;
    }
    free(n);
    return rc;
}

/* Packs every row into its destination's part of out (rows keep their order there). */
/* Row i's features as stored (bytes or floats), feature_bytes(ds) of them. */
static const char *row_features(const gd_dataset *ds, size_t i)
{
    return ds->x8 ? (const char *)(ds->x8 + i * ds->cols) : (const char *)(ds->x + i * ds->cols);
}

static void pack(const gd_dataset *ds, const uint64_t *ids, const int *dest, const uint64_t *pos,
                 size_t rec, const int *displs, int *next, char *out)
{
    const size_t fb = feature_bytes(ds);
    for (size_t i = 0; i < ds->rows; i++) {
        char *r = out + displs[dest[i]] + next[dest[i]]++ * rec;
        const record_head h = {.pos = pos[i], .id = ids[i], .y = ds->y[i]};
        memcpy(r, &h, sizeof h);
        memcpy(r + sizeof h, row_features(ds, i), fb);
    }
}

/* The arrived records into fresh arrays, each at its place; every place filled once. */
static int unpack(gd_dataset *ds, uint64_t **ids, const char *in, size_t nrec, size_t rec,
                  size_t new_rows)
{
    const size_t fb = feature_bytes(ds);
    const int bytes = ds->x8 != NULL;
    void *x = gd_alloc(new_rows * ds->cols + 1, bytes ? 1 : sizeof(float), "shard features");
    float *y = gd_alloc(new_rows + 1, sizeof(float), "shard labels");
    uint64_t *id = gd_alloc(new_rows + 1, sizeof(uint64_t), "shard row ids");
    unsigned char *filled = gd_alloc(new_rows + 1, 1, "shard places");
    int rc = x && y && id && filled && nrec == new_rows ? GD_OK : GD_ERR;
    if (!rc && nrec != new_rows)
        rc = gd_fail(GD_ERR, "data.shuffle: %zu rows arrived for %zu places", nrec, new_rows);
    for (size_t k = 0; !rc && k < nrec; k++) {
        record_head h;
        memcpy(&h, in + k * rec, sizeof h);
        if (h.pos >= new_rows || filled[h.pos])
            rc = gd_fail(GD_ERR, "data.shuffle: place %llu given twice or out of range",
                         (unsigned long long)h.pos);
        else {
            filled[h.pos] = 1;
            memcpy((char *)x + h.pos * fb, in + k * rec + sizeof h, fb);
            y[h.pos] = h.y;
            id[h.pos] = h.id;
        }
    }
    free(filled);
    if (rc) {
        free(x), free(y), free(id);
        return rc;
    }
    gd_data_free(ds);
    if (bytes)
        ds->x8 = x;
    else
        ds->x = x;
    ds->y = y;
    ds->rows = new_rows;
    free(*ids);
    *ids = id;
    return GD_OK;
}

int gd_data_reshard(gd_dataset *ds, uint64_t **ids, const int *dest, const uint64_t *pos,
                    size_t new_rows, MPI_Comm comm)
{
    int ranks;
    MPI_Comm_size(comm, &ranks);
    const size_t rec = record_bytes(ds);
    int *plan = gd_alloc(5 * (size_t)ranks, sizeof(int), "reshard plan"); /* zeroed */
    char *out = gd_alloc(ds->rows * rec + 1, 1, "reshard buffer");
    int rc = plan && out ? plan_sends(dest, ds->rows, ranks, rec, plan, plan + ranks) : GD_ERR;
    rc = gd_agree(comm, rc);
    char *in = NULL;
    if (!rc) {
        int *rcounts = plan + 2 * ranks, *rdispls = plan + 3 * ranks;
        pack(ds, *ids, dest, pos, rec, plan + ranks, plan + 4 * ranks, out);
        MPI_Alltoall(plan, 1, MPI_INT, rcounts, 1, MPI_INT, comm);
        size_t total = 0;
        for (int r = 0; r < ranks; r++) {
            rdispls[r] = (int)total;
            total += (size_t)rcounts[r];
        }
        in = gd_alloc(total + 1, 1, "reshard buffer");
        rc = gd_agree(comm, in && total <= INT_MAX ? GD_OK : GD_ERR);
        if (!rc)
            MPI_Alltoallv(out, plan, plan + ranks, MPI_BYTE, in, rcounts, rdispls, MPI_BYTE, comm);
        free(out);
        out = NULL;
        rc = rc ? rc : gd_agree(comm, unpack(ds, ids, in, total / rec, rec, new_rows));
    }
    free(in);
    free(out);
    free(plan);
    return rc;
}

int gd_data_subset(const gd_dataset *ds, const size_t *rows, size_t n, gd_dataset *out)
{
    const size_t fb = feature_bytes(ds);
    gd_dataset d = {.scale = ds->scale, .rows = n, .cols = ds->cols, .total_rows = ds->total_rows};
    snprintf(d.path, sizeof d.path, "%s", ds->path);
    void *x = gd_alloc(n * ds->cols + 1, ds->x8 ? 1 : sizeof(float), "shard features");
    d.y = gd_alloc(n + 1, sizeof(float), "shard labels");
    if (!x || !d.y) {
        free(x);
        free(d.y);
        return GD_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy((char *)x + i * fb, row_features(ds, rows[i]), fb);
        d.y[i] = ds->y[rows[i]];
    }
    if (ds->x8)
        d.x8 = x;
    else
        d.x = x;
    *out = d;
    return GD_OK;
}
