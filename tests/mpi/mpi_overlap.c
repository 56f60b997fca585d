/* MPI checks of the MLP's distributed pieces (run by tests/mpi/overlap.sh):
 *
 *   mpi_overlap overlap   N steps of the allreduce strategy with parallel.overlap = true and
 *                         false, same data: the parameters agree within 1e-6, and the
 *                         replicas agree across ranks. Uneven batches, one empty, many buckets.
 *   mpi_overlap syncbn    (np = 2) sync_bn over the ranks, each holding half of a batch,
 *                         equals one model on the whole batch: loss, gradient, running
 *                         statistics and evaluation, over a few SGD steps.
 *
 * Prints what it compared on rank 0 and exits non-zero on a mismatch. */
#include "ctx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FEATURES = 30, CLASSES = 4, MAX_ROWS = 24, STEPS = 6 };

static int rank, size;

static gd_config mlp_config(const char *hidden, int bn, int sync_bn, double dropout)
{
    gd_config c;
    gd_config_defaults(&c);
    snprintf(c.model.type, sizeof c.model.type, "mlp");
    snprintf(c.model.hidden, sizeof c.model.hidden, "%s", hidden);
    c.model.batchnorm = bn;
    c.model.sync_bn = sync_bn;
    c.model.dropout = dropout;
    c.parallel.bucket_kb = 2;
    return c;
}

/* Rows of (step, owner): features N(0,1) shifted by the class, so there is something to learn. */
static void make_rows(uint64_t step, uint64_t owner, size_t n, float *x, float *y)
{
    gd_rng r;
    gd_rng_seed(&r, 1000 + step, owner, GD_RNG_DATAGEN);
    for (size_t i = 0; i < n; i++) {
        y[i] = (float)(gd_rng_next(&r) % CLASSES);
        for (size_t c = 0; c < FEATURES; c++)
            x[i * FEATURES + c] = (float)(gd_rng_normal(&r) + (c % CLASSES == (size_t)y[i]));
    }
}

/* This rank's row count at a step: uneven, and rank 1 has none at step 2. */
static size_t rows_at(long step)
{
    if (rank == 1 && step == 2)
        return 0;
    return (size_t)(8 + (rank * 5 + step * 3) % 17);
}

/* Trains STEPS steps through the allreduce strategy, as the training loop drives it. */
static void run_strategy(test_run *run, const gd_config *c)
{
    gd_optim_hparams hp = {0};
    test_run_init(run, c, MPI_COMM_WORLD, "mlp", FEATURES, CLASSES, MAX_ROWS, &hp, 0.2);
    gd_step_ctx *x = &run->x;
    gd_model *m = x->model;
    m->comm = MPI_COMM_WORLD;
    gd_model_init(m, c);
    run->ops = gd_strategy_find("allreduce");
    if (run->ops->setup(x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    float xs[MAX_ROWS * FEATURES], y[MAX_ROWS];
    for (x->step = 0; x->step < STEPS; x->step++) {
        size_t n = rows_at(x->step);
        make_rows((uint64_t)x->step, (uint64_t)rank, n, xs, y);
        memset(m->g, 0, (m->nparams + GD_GRAD_EXTRA) * sizeof(float));
        x->batch_loss = m->ops->loss_grad(m, xs, y, n, m->g, NULL);
        x->batch_count = (double)n;
        run->ops->step(x);
    }
    run->ops->finish(x);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* The largest difference between this rank's w and rank 0's. */
static double replica_spread(const float *w, size_t n)
{
    float *w0 = malloc(n * sizeof *w0);
    memcpy(w0, w, n * sizeof *w0);
    MPI_Bcast(w0, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    double d = max_diff(w, w0, n);
    free(w0);
    MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return d;
}

/* The strategy's summary.json member: it must show the overlap on, in several buckets. */
static int summary_shows_buckets(const test_run *run)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    run->ops->summary(&run->x, f);
    fclose(f);
    const char *b = strstr(text, "\"buckets\": ");
    int ok = strstr(text, "\"overlap\": true") && strstr(text, "\"comm_hidden_s\"") && b &&
             atoi(b + 11) > 1;
    if (rank == 0 && !ok)
        fprintf(stderr, "summary member: %s", text);
    free(text);
    return ok;
}

static int compare_overlap(const char *label, gd_config c)
{
    test_run plain, overlapped;
    snprintf(c.parallel.overlap, sizeof c.parallel.overlap, "false");
    run_strategy(&plain, &c);
    snprintf(c.parallel.overlap, sizeof c.parallel.overlap, "true");
    run_strategy(&overlapped, &c);
    const size_t n = plain.model.nparams;
    double d = max_diff(plain.model.w, overlapped.model.w, n);
    MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double spread = replica_spread(overlapped.model.w, n);
    int ok = d <= 1e-6 && spread == 0 && summary_shows_buckets(&overlapped);
    if (rank == 0)
        printf("%s - overlap %s np=%d: %zu params, max |w_overlap - w_plain| = %.3g, "
               "replica spread %.3g\n", ok ? "ok" : "not ok", label, size, n, d, spread);
    test_run_free(&plain);
    test_run_free(&overlapped);
    return ok ? 0 : 1;
}

static int test_overlap(void)
{
    int bad = compare_overlap("relu", mlp_config("64,32", 0, 0, 0));
    bad += compare_overlap("batchnorm+dropout", mlp_config("64,32", 1, 0, 0.2));
    bad += compare_overlap("sync_bn", mlp_config("40,20,10", 1, 1, 0));
    return bad;
}

/* Loss and gradient sums of a batch, summed over the ranks when comm is not SELF. */
static double loss_grad_sum(gd_model *m, const float *x, const float *y, size_t n, MPI_Comm comm)
{
    memset(m->g, 0, m->nparams * sizeof(float));
    double loss = m->ops->loss_grad(m, x, y, n, m->g, NULL);
    if (comm != MPI_COMM_SELF) {
        MPI_Allreduce(MPI_IN_PLACE, m->g, (int)m->nparams, MPI_FLOAT, MPI_SUM, comm);
        MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, comm);
    }
    return loss;
}

static void sgd(gd_model *m, double rows)
{
    for (size_t i = 0; i < m->nparams; i++)
        m->w[i] -= (float)(0.3 / rows) * m->g[i];
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]) / (1 + fabs((double)b[i])));
    return d;
}

static int test_syncbn(void)
{
    enum { HALF = 10 };
    gd_config sync = mlp_config("16,8", 1, 1, 0), local = mlp_config("16,8", 1, 0, 0);
    gd_model split, whole;
    if (gd_model_create(&split, "mlp", FEATURES, CLASSES, HALF, &sync) ||
        gd_model_create(&whole, "mlp", FEATURES, CLASSES, 2 * HALF, &local))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    split.comm = MPI_COMM_WORLD;
    gd_model_init(&split, &sync);
    gd_model_init(&whole, &local);
    float x[2 * HALF * FEATURES], y[2 * HALF];
    double worst = 0, loss_gap = 0;
    for (uint64_t step = 0; step < 4; step++) {
        make_rows(step, 0, 2 * HALF, x, y);
        const float *mine = x + (size_t)rank * HALF * FEATURES, *my_y = y + (size_t)rank * HALF;
        double l1 = loss_grad_sum(&split, mine, my_y, HALF, MPI_COMM_WORLD);
        double l2 = loss_grad_sum(&whole, x, y, 2 * HALF, MPI_COMM_SELF);
        loss_gap = fmax(loss_gap, fabs(l1 - l2) / (1 + fabs(l2)));
        worst = fmax(worst, rel_diff(split.g, whole.g, whole.nparams));
        sgd(&split, 2 * HALF);
        sgd(&whole, 2 * HALF);
    }
    worst = fmax(worst, rel_diff(split.state, whole.state, whole.nstate));
    double e1 = gd_model_evaluate(&split, x + (size_t)rank * HALF * FEATURES,
                                  y + (size_t)rank * HALF, HALF, NULL);
    MPI_Allreduce(MPI_IN_PLACE, &e1, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double e2 = gd_model_evaluate(&whole, x, y, 2 * HALF, NULL);
    double eval_gap = fabs(e1 - e2) / (1 + fabs(e2));
    int ok = worst < 1e-5 && loss_gap < 1e-6 && eval_gap < 1e-5;
    if (rank == 0)
        printf("%s - sync_bn np=2 equals np=1 on the concatenated batch: grad/state %.3g, "
               "loss %.3g, eval %.3g\n", ok ? "ok" : "not ok", worst, loss_gap, eval_gap);
    gd_model_destroy(&split);
    gd_model_destroy(&whole);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int bad = 1;
    if (argc == 2 && !strcmp(argv[1], "overlap"))
        bad = test_overlap();
    else if (argc == 2 && !strcmp(argv[1], "syncbn") && size == 2)
        bad = test_syncbn();
    else if (rank == 0)
        fprintf(stderr, "usage: mpirun -np N mpi_overlap overlap | mpirun -np 2 mpi_overlap syncbn\n");
    MPI_Finalize();
    return bad;
}
