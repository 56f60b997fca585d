/* The state engine (gdmpi/state.h): declared fields, gathered to rank 0 and written as one
 * dataset each, and read back by each rank from its row or slice. */
#include "gdmpi/state.h"

#include "gdmpi/error.h"
#include "gdmpi/rng.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- declaring ------------------------------------------------------------------------ */

static gd_state_field *add(gd_state *s)
{
    if (s->n >= GD_STATE_FIELDS) {
        s->overflow = 1;
        static gd_state_field sink; /* a declaration past the end lands here, and saves fail */
        return &sink;
    }
    gd_state_field *f = &s->f[s->n++];
    memset(f, 0, sizeof *f);
    f->rows = 1;
    return f;
}

gd_state_field *gd_state_add(gd_state *s, gd_state_type type, gd_state_scope scope, void *data,
                             size_t len, const char *name, ...)
{
    gd_state_field *f = add(s);
    va_list ap;
    va_start(ap, name);
    vsnprintf(f->name, sizeof f->name, name, ap);
    va_end(ap);
    f->type = type;
    f->scope = scope;
    f->data = data;
    f->len = len;
    f->total = len;
    return f;
}

gd_state_field *gd_state_add_slice(gd_state *s, gd_state_type type, void *data, size_t rows,
                                   size_t lo, size_t len, size_t total, const char *name)
{
    gd_state_field *f = gd_state_add(s, type, GD_SLICED, data, len, "%s", name);
    f->rows = rows;
    f->lo = lo;
    f->total = total;
    return f;
}

gd_state_field *gd_state_find(gd_state *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->f[i].name, name))
            return &s->f[i];
    return NULL;
}

/* ---- types ---------------------------------------------------------------------------- */

static size_t elem_size(const gd_state_field *f)
{
    switch (f->type) {
    case GD_STATE_F32:
    case GD_STATE_I32:
        return 4;
    case GD_STATE_RECORD:
        return f->size;
    default:
        return 8;
    }
}

static MPI_Datatype mpi_type(gd_state_type t)
{
    switch (t) {
    case GD_STATE_F32: return MPI_FLOAT;
    case GD_STATE_F64: return MPI_DOUBLE;
    case GD_STATE_I64: return MPI_INT64_T;
    case GD_STATE_U64: return MPI_UINT64_T;
    case GD_STATE_I32: return MPI_INT32_T;
    default: return MPI_BYTE;
    }
}

static hid_t mem_type(const gd_state_field *f)
{
    switch (f->type) {
    case GD_STATE_F32: return H5T_NATIVE_FLOAT;
    case GD_STATE_F64: return H5T_NATIVE_DOUBLE;
    case GD_STATE_I64: return H5T_NATIVE_INT64;
    case GD_STATE_U64: return H5T_NATIVE_UINT64;
    case GD_STATE_I32: return H5T_NATIVE_INT32;
    default: return f->memtype;
    }
}

/* Little-endian on disk whatever the machine (records keep their compound type). */
static hid_t file_type(const gd_state_field *f)
{
    switch (f->type) {
    case GD_STATE_F32: return H5T_IEEE_F32LE;
    case GD_STATE_F64: return H5T_IEEE_F64LE;
    case GD_STATE_I64: return H5T_STD_I64LE;
    case GD_STATE_U64: return H5T_STD_U64LE;
    case GD_STATE_I32: return H5T_STD_I32LE;
    default: return f->memtype;
    }
}

/* ---- writing (rank 0) ----------------------------------------------------------------- */

static int write_lengths(hid_t set, const int64_t *lengths, int ranks)
{
    hsize_t n = (hsize_t)ranks;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t a = space < 0 ? -1 : H5Acreate2(set, "lengths", H5T_STD_I64LE, space, H5P_DEFAULT,
                                          H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, lengths);
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? GD_ERR : GD_OK;
}

/* One dataset at f->name (its groups made on the way), and for PER_RANK its lengths. */
static int write_set(hid_t file, const gd_state_field *f, const void *data, int nd,
                     const hsize_t *dims, const int64_t *lengths, int ranks)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0)
        H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(nd, dims, NULL);
    hid_t set = space < 0 || lcpl < 0 ? -1 : H5Dcreate2(file, f->name, file_type(f), space, lcpl,
                                                         H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = set < 0 ? -1 : H5Dwrite(set, mem_type(f), H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (rc >= 0 && lengths)
        rc = write_lengths(set, lengths, ranks);
    if (set >= 0)
        H5Dclose(set);
    if (space >= 0)
        H5Sclose(space);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return rc < 0 ? gd_fail(GD_ERR, "cannot write dataset '%s'", f->name) : GD_OK;
}

/* A SHARED field's shape: [len] for one row, [rows] for rows of one value (records),
 * else [rows x len]. */
static int shared_shape(const gd_state_field *f, size_t rows, hsize_t *dims)
{
    dims[0] = !f->count && f->rows == 1 ? f->len : rows;
    dims[1] = f->len;
    return (!f->count && f->rows == 1) || f->len == 1 ? 1 : 2;
}

static int write_shared(hid_t file, const gd_state_field *f)
{
    if (f->count && (*f->count < 0 || (size_t)*f->count > f->rows))
        return gd_fail(GD_ERR, "checkpoint: '%s' uses %ld of its %zu rows (a bug)", f->name,
                       *f->count, f->rows);
    hsize_t dims[2];
    int nd = shared_shape(f, f->count ? (size_t)*f->count : f->rows, dims);
    return write_set(file, f, f->data, nd, dims, NULL, 0);
}

static int write_sliced(hid_t file, const gd_state_field *f, const void *whole)
{
    const hsize_t dims[2] = {f->rows, f->total};
    return f->rows == 1 ? write_set(file, f, whole, 1, dims + 1, NULL, 0)
                        : write_set(file, f, whole, 2, dims, NULL, 0);
}

static int write_per_rank(hid_t file, const gd_state_field *f, const void *rows, int ranks,
                          size_t width, const int64_t *lengths)
{
    const hsize_t dims[2] = {(hsize_t)ranks, width};
    return write_set(file, f, rows, 2, dims, lengths, ranks);
}

/* ---- gathering (collective) ------------------------------------------------------------- */

/* Every rank declared the same fields: their count and a hash of names and scopes. */
static int same_fields(MPI_Comm comm, const gd_state *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < s->n; i++) {
        for (const char *p = s->f[i].name; *p; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
        const gd_state_field *f = &s->f[i];
        /* what decides the number and kind of gathers must agree, not only the names */
        uint64_t shape[4] = {(uint64_t)f->scope, (uint64_t)f->type,
                             f->scope == GD_SLICED ? f->rows : 0,
                             f->scope == GD_SLICED ? f->total : 0};
        for (int k = 0; k < 4; k++)
            h = (h ^ shape[k]) * 0x100000001b3ULL;
    }
    uint64_t v[4] = {h, (uint64_t)s->n, ~h, ~(uint64_t)s->n}, m[4];
    MPI_Allreduce(v, m, 4, MPI_UINT64_T, MPI_MAX, comm);
    int same = m[0] == ~m[2] && m[1] == ~m[3] && !s->overflow;
    return same ? GD_OK : gd_fail(GD_ERR, "checkpoint: the ranks declared different state "
                                  "(a bug: %d fields here)", s->n);
}

/* Values a rank sends for field f: all its rows (PER_RANK), one row's slice (SLICED). */
static int64_t sent_values(const gd_state_field *f)
{
    return f->scope == GD_PER_RANK ? (int64_t)(f->rows * f->len) : (int64_t)f->len;
}

static int by_lo(const void *a, const void *b)
{
    const int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
    return (x > y) - (x < y);
}

/* Rank 0: whether the owners' (lo, len) pairs of field i cover [0, total) once each. */
static int slices_tile(const gd_state_field *f, const int64_t *all, int n, int i, int ranks)
{
    int64_t *pairs = gd_alloc((size_t)ranks, 2 * sizeof(int64_t), "checkpoint plan");
    if (!pairs)
        return GD_ERR;
    for (int r = 0; r < ranks; r++) {
        pairs[2 * r] = all[(size_t)r * 2 * n + 2 * i];
        pairs[2 * r + 1] = all[(size_t)r * 2 * n + 2 * i + 1];
    }
    qsort(pairs, (size_t)ranks, 2 * sizeof(int64_t), by_lo);
    int64_t at = 0;
    for (int r = 0; r < ranks; r++)
        if (pairs[2 * r + 1] > 0) {
            if (pairs[2 * r] != at)
                break;
            at += pairs[2 * r + 1];
        }
    free(pairs);
    return at == (int64_t)f->total ? GD_OK
                                   : gd_fail(GD_ERR, "checkpoint: the slices of '%s' do not cover "
                                             "its %zu values once each (a bug)", f->name, f->total);
}

/* Rank 0: what the gathered field needs, and whether its slices tile the vector. */
static int plan_field(const gd_state_field *f, const int64_t *all, int n, int i, int ranks,
                      size_t *width, size_t *bytes)
{
    int64_t sum = 0, max = 0;
    for (int r = 0; r < ranks; r++) {
        const int64_t lo = all[(size_t)r * 2 * n + 2 * i], len = all[(size_t)r * 2 * n + 2 * i + 1];
        if (f->scope == GD_SLICED && (lo < 0 || lo + len > (int64_t)f->total))
            return gd_fail(GD_ERR, "checkpoint: rank %d's slice of '%s' is out of range", r,
                           f->name);
        sum += len;
        max = len > max ? len : max;
    }
    *width = (size_t)max;
    *bytes = 0;
    if (f->scope == GD_SHARED)
        return GD_OK; /* rank 0 writes its own */
    if (f->type == GD_STATE_RECORD)
        return gd_fail(GD_ERR, "checkpoint: '%s': records are shared only", f->name);
    if (f->scope == GD_SLICED && (sum != (int64_t)f->total || slices_tile(f, all, n, i, ranks)))
        return gd_fail(GD_ERR, "checkpoint: the slices of '%s' cover %" PRId64 " of its %zu "
                       "values, or overlap (a bug)", f->name, sum, f->total);
    const size_t values = f->scope == GD_SLICED ? f->rows * f->total : (size_t)ranks * *width;
    if (values > INT_MAX || (size_t)ranks * *width > INT_MAX)
        return gd_fail(GD_ERR, "checkpoint: '%s' has more than 2^31 values", f->name);
    *bytes = values * elem_size(f);
    return GD_OK;
}

typedef struct gather_plan {
    int64_t *all;   /* rank 0: per rank, per field: lo and values sent */
    size_t *width;  /* rank 0: per field, the widest rank's values */
    int *counts, *displs;
    char *buf;
} gather_plan;

static void free_plan(gather_plan *p)
{
    free(p->all);
    free(p->width);
    free(p->counts);
    free(p->buf);
}

/* Collective: every rank's lo and lengths to rank 0, which checks them and allocates the
 * largest field's buffer. */
static int make_plan(MPI_Comm comm, const gd_state *s, int rank, int ranks, gather_plan *p)
{
    const int n = s->n;
    int64_t *mine = gd_alloc((size_t)n + 1, 2 * sizeof(int64_t), "checkpoint plan");
    int rc = GD_OK;
    if (rank == 0) {
        p->all = gd_alloc((size_t)ranks * (size_t)n + 1, 2 * sizeof(int64_t), "checkpoint plan");
        p->width = gd_alloc((size_t)n + 1, sizeof(size_t), "checkpoint plan");
        p->counts = gd_alloc((size_t)ranks, 2 * sizeof(int), "checkpoint plan");
        rc = p->all && p->width && p->counts ? GD_OK : GD_ERR;
    }
    rc = gd_agree(comm, mine ? rc : GD_ERR);
    if (rc) {
        free(mine);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        mine[2 * i] = (int64_t)s->f[i].lo;
        mine[2 * i + 1] = sent_values(&s->f[i]);
    }
    MPI_Gather(mine, 2 * n, MPI_INT64_T, p->all, 2 * n, MPI_INT64_T, 0, comm);
    free(mine);
    size_t most = 0;
    for (int i = 0; rank == 0 && !rc && i < n; i++) {
        size_t bytes = 0;
        rc = plan_field(&s->f[i], p->all, n, i, ranks, &p->width[i], &bytes);
        most = bytes > most ? bytes : most;
    }
    if (rank == 0 && !rc) {
        p->displs = p->counts + ranks;
        p->buf = gd_alloc(most + 1, 1, "checkpoint buffer");
        rc = p->buf ? GD_OK : GD_ERR;
    }
    return gd_agree(comm, rc);
}

static void gather_per_rank(MPI_Comm comm, const gd_state_field *f, gather_plan *p, int i,
                            int n, int rank, int ranks)
{
    const MPI_Datatype t = mpi_type(f->type);
    if (rank == 0) {
        for (int r = 0; r < ranks; r++) {
            p->counts[r] = (int)p->all[(size_t)r * 2 * n + 2 * i + 1];
            p->displs[r] = r * (int)p->width[i];
        }
        memset(p->buf, 0, (size_t)ranks * p->width[i] * elem_size(f));
    }
    MPI_Gatherv(f->data, (int)sent_values(f), t, p->buf, p->counts, p->displs, t, 0, comm);
}

static void gather_sliced(MPI_Comm comm, const gd_state_field *f, gather_plan *p, int i, int n,
                          int rank, int ranks)
{
    const MPI_Datatype t = mpi_type(f->type);
    const size_t el = elem_size(f);
    if (rank == 0)
        for (int r = 0; r < ranks; r++) {
            p->displs[r] = (int)p->all[(size_t)r * 2 * n + 2 * i];
            p->counts[r] = (int)p->all[(size_t)r * 2 * n + 2 * i + 1];
        }
    for (size_t k = 0; k < f->rows; k++) {
        const char *mine = f->len ? (const char *)f->data + k * f->len * el : NULL;
        MPI_Gatherv(mine, (int)f->len, t, p->buf ? p->buf + k * f->total * el : NULL, p->counts,
                    p->displs, t, 0, comm);
    }
}

/* Rank 0's lengths attribute of a gathered PER_RANK field. */
static int64_t *lengths_of(const gather_plan *p, int i, int n, int ranks)
{
    int64_t *l = gd_alloc((size_t)ranks, sizeof *l, "checkpoint lengths");
    for (int r = 0; l && r < ranks; r++)
        l[r] = p->all[(size_t)r * 2 * n + 2 * i + 1];
    return l;
}

static int save_field(MPI_Comm comm, const gd_state_field *f, gather_plan *p, int i, int n,
                      int rank, int ranks, hid_t file)
{
    if (f->scope == GD_SHARED)
        return rank == 0 ? write_shared(file, f) : GD_OK;
    if (f->scope == GD_SLICED) {
        gather_sliced(comm, f, p, i, n, rank, ranks);
        return rank == 0 ? write_sliced(file, f, p->buf) : GD_OK;
    }
    gather_per_rank(comm, f, p, i, n, rank, ranks);
    if (rank != 0)
        return GD_OK;
    int64_t *lengths = lengths_of(p, i, n, ranks);
    int rc = lengths ? write_per_rank(file, f, p->buf, ranks, p->width[i], lengths) : GD_ERR;
    free(lengths);
    return rc;
}

int gd_state_save(MPI_Comm comm, const gd_state *s, hid_t file)
{
    int rank, ranks;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    gather_plan p = {0};
    int rc = same_fields(comm, s);
    rc = rc ? rc : make_plan(comm, s, rank, ranks, &p);
    if (rc) {
        free_plan(&p);
        return rc;
    }
    for (int i = 0; i < s->n; i++) { /* every gather runs, even after rank 0's write failed */
        int frc = save_field(comm, &s->f[i], &p, i, s->n, rank, ranks, file);
        rc = rc ? rc : frc;
    }
    free_plan(&p);
    return gd_agree(comm, rc);
}

static int save_lone_per_rank(hid_t file, const gd_state_field *f, int ranks)
{
    const size_t width = f->rows * f->len, el = elem_size(f);
    char *rows = gd_alloc((size_t)ranks * width + 1, el, "checkpoint rows");
    int64_t *lengths = gd_alloc((size_t)ranks, sizeof *lengths, "checkpoint lengths");
    int rc = rows && lengths ? GD_OK : GD_ERR;
    if (!rc) {
        if (width) /* memcpy of nothing from NULL is still undefined */
            memcpy(rows, f->data, width * el);
        lengths[0] = (int64_t)width;
        for (int r = 1; r < ranks; r++)
            lengths[r] = -1; /* unknown: that rank was elsewhere when rank 0 wrote */
        rc = write_per_rank(file, f, rows, ranks, width, lengths);
    }
    free(rows);
    free(lengths);
    return rc;
}

int gd_state_save_lone(const gd_state *s, hid_t file, int ranks)
{
    int rc = s->overflow ? gd_fail(GD_ERR, "checkpoint: too many fields (a bug)") : GD_OK;
    for (int i = 0; !rc && i < s->n; i++) {
        const gd_state_field *f = &s->f[i];
        if (f->scope == GD_SHARED)
            rc = write_shared(file, f);
        else if (f->scope == GD_PER_RANK)
            rc = save_lone_per_rank(file, f, ranks);
        else if (f->lo != 0 || f->len != f->total)
            rc = gd_fail(GD_ERR, "checkpoint: '%s' is not whole on rank 0", f->name);
        else
            rc = write_sliced(file, f, f->data);
    }
    return rc;
}

/* ---- reading (each rank) ---------------------------------------------------------------- */

/* count values at [row][off] (nd 2) or [off] (nd 1) of set into buf. */
static int read_span(hid_t set, const gd_state_field *f, int nd, hsize_t row, hsize_t off,
                     hsize_t count, void *buf)
{
    if (count == 0)
        return GD_OK;
    hid_t space = H5Dget_space(set);
    hsize_t start[2] = {row, off}, cnt[2] = {1, count};
    if (nd == 1) {
        start[0] = off;
        cnt[0] = count;
    }
    int ok = space >= 0 && H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0;
    hid_t mem = ok ? H5Screate_simple(1, &count, NULL) : -1;
    ok = ok && mem >= 0 && H5Dread(set, mem_type(f), mem, space, H5P_DEFAULT, buf) >= 0;
    if (mem >= 0)
        H5Sclose(mem);
    if (space >= 0)
        H5Sclose(space);
    return ok ? GD_OK : gd_fail(GD_ERR, "cannot read dataset '%s'", f->name);
}

static int bad_shape(const gd_state_field *f, int nd, const hsize_t *dims)
{
    return gd_fail(GD_ERR, "dataset '%s' has the wrong shape (%d-D, %llu x %llu)", f->name, nd,
                   (unsigned long long)dims[0], (unsigned long long)(nd > 1 ? dims[1] : 1));
}

static int load_shared(hid_t set, const gd_state_field *f, int nd, const hsize_t *dims)
{
    hsize_t want[2];
    const int one_row = !f->count && f->rows == 1;
    const hsize_t rows = one_row ? 1 : dims[0];
    const hsize_t width = nd == 2 ? dims[1] : one_row ? dims[0] : 1;
    if (nd != shared_shape(f, 0, want) || width != f->len || rows > f->rows ||
        (!f->count && rows != f->rows))
        return bad_shape(f, nd, dims);
    if (f->count)
        *f->count = (long)rows;
    if (rows * width == 0)
        return GD_OK;
    return H5Dread(set, mem_type(f), H5S_ALL, H5S_ALL, H5P_DEFAULT, f->data) < 0
               ? gd_fail(GD_ERR, "cannot read dataset '%s'", f->name)
               : GD_OK;
}

/* Elastic, a SHARED vector with one value per server whose count changed (GD_EL_FIRST):
 * every value takes the file's first. */
static int load_shared_resized(hid_t set, const gd_state_field *f)
{
    const size_t el = elem_size(f);
    int rc = read_span(set, f, 1, 0, 0, 1, f->data);
    for (size_t i = 1; !rc && i < f->len; i++)
        memcpy((char *)f->data + i * el, f->data, el);
    return rc;
}

/* The lengths attribute of PER_RANK dataset set, ranks entries, into a fresh array. */
static int64_t *read_lengths(hid_t set, const gd_state_field *f, hsize_t ranks)
{
    int64_t *lengths = gd_alloc(ranks, sizeof *lengths, "checkpoint lengths");
    hid_t a = lengths ? H5Aopen(set, "lengths", H5P_DEFAULT) : -1;
    hid_t space = a >= 0 ? H5Aget_space(a) : -1;
    /* one entry a row: a longer attribute (a damaged file) must not overrun the array */
    int ok = space >= 0 && H5Sget_simple_extent_npoints(space) == (hssize_t)ranks &&
             H5Aread(a, H5T_NATIVE_INT64, lengths) >= 0;
    if (space >= 0)
        H5Sclose(space);
    if (a >= 0)
        H5Aclose(a);
    if (!ok && lengths) {
        gd_fail(GD_ERR, "dataset '%s': attribute 'lengths' missing or not one entry a row",
                f->name);
        free(lengths);
        return NULL;
    }
    return lengths;
}

static int differing_length(const gd_state_field *f, int rank, int64_t have, int64_t want)
{
    return gd_fail(GD_ECONFIG, "'%s': rank %d holds %" PRId64 " values there, %" PRId64
                   " here%s%s", f->name, rank, have, want, f->hint ? ": " : "",
                   f->hint ? f->hint : "");
}

static int load_per_rank(hid_t set, const gd_state_field *f, int nd, const hsize_t *dims,
                         int rank, int *unknown)
{
    if (nd != 2 || dims[0] <= (hsize_t)rank)
        return bad_shape(f, nd, dims);
    int64_t *lengths = read_lengths(set, f, dims[0]);
    if (!lengths)
        return GD_ERR;
    const int64_t have = lengths[rank], want = (int64_t)(f->rows * f->len);
    free(lengths);
    if (have < 0) {
        (*unknown)++;
        return GD_OK;
    }
    if (have != want || (hsize_t)have > dims[1])
        return differing_length(f, rank, have, want);
    return read_span(set, f, 2, (hsize_t)rank, 0, (hsize_t)want, f->data);
}

static int load_sliced(hid_t set, const gd_state_field *f, int nd, const hsize_t *dims)
{
    const int flat = f->rows == 1;
    if (nd != (flat ? 1 : 2) || (flat ? dims[0] : dims[1]) != f->total ||
        (!flat && dims[0] != f->rows))
        return bad_shape(f, nd, dims);
    const size_t el = elem_size(f);
    int rc = GD_OK;
    for (size_t k = 0; !rc && k < f->rows; k++)
        rc = read_span(set, f, nd, k, f->lo, f->len, (char *)f->data + k * f->len * el);
    return rc;
}

/* ---- elastic loads (a checkpoint of another rank count) ----------------------------------- */

/* The rows of a PER_RANK field that a file describes must be as long as this rank's; *known
 * receives how many it describes (a save by rank 0 alone describes only row 0). */
static int check_rows(hid_t set, const gd_state_field *f, int nd, const hsize_t *dims,
                      int ranks_then, int *known, int *first_known)
{
    if (nd != 2 || dims[0] != (hsize_t)ranks_then)
        return bad_shape(f, nd, dims);
    int64_t *lengths = read_lengths(set, f, dims[0]);
    if (!lengths)
        return GD_ERR;
    const int64_t want = (int64_t)(f->rows * f->len);
    int rc = (hsize_t)want > dims[1] ? bad_shape(f, nd, dims) : GD_OK;
    *known = 0;
    *first_known = lengths[0] >= 0;
    for (int r = 0; !rc && r < ranks_then; r++)
        if (lengths[r] >= 0 && lengths[r] != want)
            rc = differing_length(f, r, lengths[r], want);
        else
            *known += lengths[r] >= 0;
    free(lengths);
    return rc;
}

/* The first want values of rows [lo, lo + ranks), converted to memtype, into out (ranks x
 * want). */
static int read_all_rows(hid_t set, const gd_state_field *f, hid_t memtype, hsize_t lo,
                         hsize_t ranks, hsize_t want, void *out)
{
    hid_t space = H5Dget_space(set);
    hsize_t start[2] = {lo, 0}, cnt[2] = {ranks, want};
    int ok = space >= 0 && H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0;
    hid_t mem = ok ? H5Screate_simple(2, cnt, NULL) : -1;
    ok = ok && mem >= 0 && H5Dread(set, memtype, mem, space, H5P_DEFAULT, out) >= 0;
    if (mem >= 0)
        H5Sclose(mem);
    if (space >= 0)
        H5Sclose(space);
    return ok ? GD_OK : gd_fail(GD_ERR, "cannot read dataset '%s'", f->name);
}

/* An elastic load's view of the rows: the rank takes its rows from those of its own role
 * (servers from the servers' rows, workers from the workers'), as the q-th of `now`. */
typedef struct el_group {
    int lo, then; /* the role's rows in the file: [lo, lo + then) */
    int q, now;   /* this rank's index in its role now, and the role's ranks now */
} el_group;

/* MEAN and SPREAD: column sums of the group's rows, divided, in the field's own type. */
static int load_divided(hid_t set, const gd_state_field *f, const el_group *g, double divisor)
{
    const size_t want = f->rows * f->len;
    double *all = gd_alloc((size_t)g->then * want + 1, sizeof *all, "elastic rows");
    int rc = all ? read_all_rows(set, f, H5T_NATIVE_DOUBLE, (hsize_t)g->lo, (hsize_t)g->then,
                                 want, all)
                 : GD_ERR;
    for (size_t i = 0; !rc && i < want; i++) {
        double sum = 0;
        for (int r = 0; r < g->then; r++)
            sum += all[(size_t)r * want + i];
        sum /= divisor;
        if (f->type == GD_STATE_F32)
            ((float *)f->data)[i] = (float)sum;
        else if (f->type == GD_STATE_F64)
            ((double *)f->data)[i] = sum;
        else if (f->type == GD_STATE_I64)
            ((int64_t *)f->data)[i] = (int64_t)(sum + (sum < 0 ? -0.5 : 0.5));
        else
            rc = gd_fail(GD_ERR, "'%s': only numbers can be averaged", f->name);
    }
    free(all);
    return rc;
}

static int load_stream(hid_t set, const gd_state_field *f, const el_group *g)
{
    const size_t want = f->rows * f->len;
    uint64_t *v = gd_alloc(want + 1, sizeof *v, "elastic rows");
    int rc = v ? read_span(set, f, 2, (hsize_t)(g->lo + g->q % g->then), 0, want, v) : GD_ERR;
    for (size_t i = 0; !rc && i < want; i++)
        ((uint64_t *)f->data)[i] =
            g->q < g->then ? v[i] : gd_rng_mix(v[i] ^ (0xd1b54a32d192ed03ULL * (uint64_t)g->q + i));
    free(v);
    return rc;
}

static int refuse(const gd_state_field *f, int ranks_then, int ranks_now)
{
    return gd_fail(GD_ECONFIG, "'%s' is each rank's own and cannot be carried from %d to %d "
                   "ranks%s%s", f->name, ranks_then, ranks_now, f->hint ? ": " : "",
                   f->hint ? f->hint : "");
}

/* A rule that needs rows the file does not describe leaves the field as it is and counts
 * it in *unknown (an asynchronous job's workers start afresh). */
static int load_elastic_rows(hid_t set, const gd_state_field *f, int nd, const hsize_t *dims,
                             int ranks_then, const el_group *g, int *unknown)
{
    if (f->elastic == GD_EL_REFUSE)
        return refuse(f, ranks_then, g->lo ? g->lo + g->now : g->now);
    int known = 0, first = 0;
    int rc = check_rows(set, f, nd, dims, ranks_then, &known, &first);
    const int all = known == ranks_then, n = (int)(f->rows * f->len);
    if (rc || n == 0)
        return rc;
    if (f->elastic == GD_EL_FIRST ? !first : f->elastic == GD_EL_OWN ? !all && g->q < g->then : !all) {
        (*unknown)++;
        return GD_OK;
    }
    /* the same ranks in the role (a remainder epoch's checkpoint): its own row, exact */
    const gd_state_elastic rule = g->then == g->now && f->elastic != GD_EL_FIRST
                                      ? GD_EL_OWN : f->elastic;
    switch (rule) {
    case GD_EL_FIRST:
        return read_span(set, f, 2, 0, 0, (hsize_t)n, f->data);
    case GD_EL_OWN:
        return g->q < g->then ? read_span(set, f, 2, (hsize_t)(g->lo + g->q), 0, (hsize_t)n, f->data)
                              : GD_OK;
    case GD_EL_MEAN:
        return load_divided(set, f, g, g->then);
    case GD_EL_SPREAD:
        return load_divided(set, f, g, g->now);
    case GD_EL_STREAM:
        return f->type == GD_STATE_U64 ? load_stream(set, f, g)
                                       : gd_fail(GD_ERR, "'%s': a stream is uint64", f->name);
    default:
        return GD_OK;
    }
}

/* ranks_then 0: an ordinary load; else an elastic one (gd_state_load_elastic). */
static int load_field(hid_t file, const gd_state_field *f, int rank, int *unknown,
                      int ranks_then, const el_group *g)
{
    if (f->scope != GD_PER_RANK && f->len == 0)
        return GD_OK; /* nothing of it lives on this rank */
    if (ranks_then && f->scope == GD_PER_RANK && f->elastic == GD_EL_SKIP)
        return GD_OK;
    hid_t set = H5Dopen2(file, f->name, H5P_DEFAULT);
    if (set < 0)
        return gd_fail(GD_ERR, "missing dataset '%s'", f->name);
    hid_t space = H5Dget_space(set);
    hsize_t dims[2] = {0, 0};
    int nd = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    int rc;
    if (nd < 1 || nd > 2)
        rc = bad_shape(f, nd, dims);
    else if (f->scope == GD_SHARED && ranks_then && f->elastic == GD_EL_FIRST && nd == 1 &&
             f->rows == 1 && dims[0] >= 1 && dims[0] != f->len)
        rc = load_shared_resized(set, f);
    else if (f->scope == GD_SHARED)
        rc = load_shared(set, f, nd, dims);
    else if (f->scope == GD_PER_RANK && ranks_then)
        rc = load_elastic_rows(set, f, nd, dims, ranks_then, g, unknown);
    else if (f->scope == GD_PER_RANK)
        rc = load_per_rank(set, f, nd, dims, rank, unknown);
    else
        rc = load_sliced(set, f, nd, dims);
    H5Dclose(set);
    return rc;
}

int gd_state_load(const gd_state *s, hid_t file, int rank, int *unknown)
{
    *unknown = 0;
    int rc = GD_OK;
    for (int i = 0; !rc && i < s->n; i++)
        rc = load_field(file, &s->f[i], rank, unknown, 0, NULL);
    return rc;
}

int gd_state_load_elastic(const gd_state *s, hid_t file, const gd_state_ranks *r, int *unknown)
{
    *unknown = 0;
    const int serving = r->rank < r->servers_now;
    const el_group g = {.lo = serving ? 0 : r->servers_then,
                        .then = serving ? r->servers_then : r->then - r->servers_then,
                        .q = serving ? r->rank : r->rank - r->servers_now,
                        .now = serving ? r->servers_now : r->now - r->servers_now};
    if (g.then < 1 || g.now < 1)
        return gd_fail(GD_ERR, "%d ranks with %d servers cannot be loaded from %d with %d",
                       r->now, r->servers_now, r->then, r->servers_then);
    int rc = GD_OK;
    for (int i = 0; !rc && i < s->n; i++)
        rc = load_field(file, &s->f[i], r->rank, unknown, r->then, &g);
    return rc;
}

int gd_state_read_rows(hid_t file, const char *name, gd_state_type type, size_t ranks,
                       size_t len, void *out)
{
    gd_state_field f = {.type = type, .scope = GD_PER_RANK, .rows = 1, .len = len};
    snprintf(f.name, sizeof f.name, "%s", name);
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    if (set < 0)
        return gd_fail(GD_ERR, "missing dataset '%s'", name);
    hid_t space = H5Dget_space(set);
    hsize_t dims[2] = {0, 0};
    int nd = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    int known = 0, first = 0;
    int rc = check_rows(set, &f, nd, dims, (int)ranks, &known, &first);
    if (!rc && known != (int)ranks)
        rc = gd_fail(GD_ERR, "'%s': the file does not describe every rank", name);
    rc = rc ? rc : read_all_rows(set, &f, mem_type(&f), 0, ranks, len, out);
    H5Dclose(set);
    return rc;
}
