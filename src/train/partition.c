/* data.partition = label-skew: non-IID workers on purpose, to study how an architecture
 * copes with them (as the federated-learning literature does, e.g. Hsu, Qi & Brown 2019).
 * Each class c's rows are split among the W workers by proportions p_c ~ Dirichlet(alpha)
 * (one draw per class, from a stream every rank shares, so every rank computes the same
 * split): in the order of the file, the first round(p_c1 N_c) rows of class c go to
 * worker 0, the next to worker 1, and so on. A worker's rows are its classes' chunks, class
 * by class. Small alpha gives each worker few classes; large alpha approaches an even
 * split. Shard sizes then differ: steps per epoch follow the largest shard, and a worker
 * whose shard runs out takes empty steps (as with uneven shards). One MPI_Alltoallv at
 * setup moves the rows (gd_data_reshard); the split is reported in summary.json. */
#include "trainer.h"

#include "gdmpi/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct split {
    long classes;
    int workers;
    uint64_t *cut;   /* classes x (workers + 1): class c's rows [cut[c][w], cut[c][w+1]) go
                        to worker w, counted in file order among class c's rows */
    uint64_t *first; /* per class: this rank's first row among class c's rows */
} split;

static uint64_t *cut_of(const split *sp, long c) { return sp->cut + c * (sp->workers + 1); }

/* Every rank draws the same proportions and cuts each class by them (g: one double per
 * worker, scratch). */
static void draw_cuts(split *sp, const uint64_t *totals, const gd_config *cfg, double *g)
{
    gd_rng r;
    gd_rng_seed(&r, (uint64_t)cfg->train.seed, 0, GD_RNG_PARTITION);
    for (long c = 0; c < sp->classes; c++) {
        double sum = 0;
        for (int w = 0; w < sp->workers; w++)
            sum += g[w] = gd_rng_gamma(&r, cfg->data.partition_alpha);
        uint64_t *cut = cut_of(sp, c);
        double acc = 0;
        cut[0] = 0;
        for (int w = 0; w < sp->workers; w++) {
            acc += g[w] / sum;
            cut[w + 1] = w + 1 == sp->workers ? totals[c] : (uint64_t)llround(acc * (double)totals[c]);
        }
    }
}

/* Where each of this rank's rows goes, its place there, and this rank's new row count
 * (seen: one zeroed counter per class, scratch). */
static size_t route(const split *sp, const gd_dataset *ds, int me, int *dest, uint64_t *pos,
                    uint64_t *seen)
{
    size_t mine = 0;
    for (long c = 0; c < sp->classes; c++)
        mine += cut_of(sp, c)[me + 1] - cut_of(sp, c)[me];
    for (size_t i = 0; i < ds->rows; i++) {
        const long c = (long)ds->y[i];
        const uint64_t j = sp->first[c] + seen[c]++, *cut = cut_of(sp, c);
        int w = 0;
        while (j >= cut[w + 1])
            w++;
        uint64_t before = 0; /* the chunks of the classes before c at worker w */
        for (long k = 0; k < c; k++)
            before += cut_of(sp, k)[w + 1] - cut_of(sp, k)[w];
        dest[i] = w;
        pos[i] = before + (j - cut[w]);
    }
    return mine;
}

/* The first worker prints the split (every rank holds it): rows per worker and class. */
static void print_split(const split *sp, double alpha)
{
    printf("data.partition = label-skew (alpha %g): rows per worker by class\n", alpha);
    for (int w = 0; w < sp->workers; w++) {
        printf("  worker %d:", w);
        for (long c = 0; c < sp->classes; c++)
            printf(" %llu", (unsigned long long)(cut_of(sp, c)[w + 1] - cut_of(sp, c)[w]));
        printf("\n");
    }
    fflush(stdout);
}

/* Collective: the classes, this rank's first row of each class and each class's total. */
static int count_classes(gd_trainer *t, split *sp, uint64_t **totals)
{
    const gd_dataset *ds = &t->train;
    long bad = -1;
    for (size_t i = 0; i < ds->rows && bad < 0; i++)
        if (ds->y[i] < 0 || ds->y[i] != floorf(ds->y[i]) || ds->y[i] > 1e6f)
            bad = (long)i;
    int rc = gd_agree(t->ctx.role_comm, bad < 0 ? GD_OK
                      : gd_fail(GD_ECONFIG, "%s: data.partition = label-skew needs integer class "
                                "labels; row %zu has %g", ds->path, ds->first_row + (size_t)bad,
                                ds->y[bad]));
    if (rc)
        return rc;
    sp->classes = gd_data_count_classes(ds, t->ctx.role_comm);
    uint64_t *n = gd_alloc((size_t)sp->classes, 2 * sizeof *n, "partition");
    sp->first = gd_alloc((size_t)sp->classes, sizeof *sp->first, "partition");
    sp->cut = gd_alloc((size_t)sp->classes * ((size_t)sp->workers + 1), sizeof *sp->cut, "partition");
    rc = gd_agree(t->ctx.role_comm, n && sp->first && sp->cut ? GD_OK : GD_ERR);
    if (rc) {
        free(n);
        return rc;
    }
    for (size_t i = 0; i < ds->rows; i++)
        n[(long)ds->y[i]]++;
    MPI_Exscan(n, sp->first, (int)sp->classes, MPI_UINT64_T, MPI_SUM, t->ctx.role_comm);
    if (t->data_rank == 0)
        memset(sp->first, 0, (size_t)sp->classes * sizeof *sp->first);
    *totals = n + sp->classes;
    MPI_Allreduce(n, *totals, (int)sp->classes, MPI_UINT64_T, MPI_SUM, t->ctx.role_comm);
    return GD_OK;
}

int gd_partition_setup(gd_trainer *t)
{
    if (strcmp(t->cfg->data.partition, "label-skew") || t->ctx.serving)
        return GD_OK;
    split sp = {.workers = t->data_size};
    uint64_t *totals = NULL;
    int rc = count_classes(t, &sp, &totals);
    const size_t rows = t->train.rows;
    int *dest = rc ? NULL : gd_alloc(rows + 1, sizeof *dest, "partition");
    uint64_t *pos = rc ? NULL : gd_alloc(rows + 1, sizeof *pos, "partition");
    uint64_t *ids = rc ? NULL : gd_alloc(rows + 1, sizeof *ids, "partition");
    uint64_t *seen = rc ? NULL : gd_alloc((size_t)sp.classes, sizeof *seen, "partition");
    double *g = rc ? NULL : gd_alloc((size_t)sp.workers, sizeof *g, "partition");
    if (!rc) /* every scratch buffer, or none of the ranks goes on (a short one would
                send the cut search past the last worker) */
        rc = gd_agree(t->ctx.role_comm, dest && pos && ids && seen && g ? GD_OK : GD_ERR);
    if (!rc) {
        draw_cuts(&sp, totals, t->cfg, g);
        for (size_t i = 0; i < rows; i++)
            ids[i] = t->train.first_row + i;
        if (t->data_rank == 0)
            print_split(&sp, t->cfg->data.partition_alpha);
        size_t mine = route(&sp, &t->train, t->data_rank, dest, pos, seen);
        rc = gd_data_reshard(&t->train, &ids, dest, pos, mine, t->ctx.role_comm);
    }
    if (!rc) { /* the rows' numbers in the file, for GDMPI_ROW_LOG */
        t->batch.ids = ids;
        ids = NULL;
    }
    free(totals ? totals - sp.classes : NULL);
    free(sp.first);
    free(sp.cut);
    free(dest);
    free(pos);
    free(ids);
    free(seen);
    free(g);
    return rc;
}
