/* Run under mpirun: the allreduce strategy must give every rank the same parameters,
 * equal to one serial SGD step on the global mean gradient, even when the ranks hold
 * different sample counts (including an empty batch). Rank 0 prints ok/not ok. */
#include "ctx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NPARAMS = 9 };

static float grad_of(int rank, size_t i) { return (float)((rank + 1) * (i + 1)) * 0.25f; }
/* Rank r contributes r samples (rank 0 contributes none: an exhausted shard). */
static double count_of(int rank) { return rank; }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    gd_config cfg;
    gd_config_defaults(&cfg);
    gd_optim_hparams hp = {0};
    test_run run;
    test_run_init(&run, &cfg, MPI_COMM_WORLD, "linreg", NPARAMS - 1, 1, 1, &hp, 0.5);
    gd_step_ctx *x = &run.x;
    gd_model *m = x->model;
    run.ops = gd_strategy_find("allreduce");
    if (run.ops->setup(x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);

    double total = 0;
    for (int r = 0; r < x->size; r++)
        total += count_of(r);
    for (size_t i = 0; i < NPARAMS; i++) {
        m->w[i] = 1.0f;
        m->g[i] = x->rank ? grad_of(x->rank, i) : 0.0f;
    }
    x->batch_loss = x->rank;
    x->batch_count = count_of(x->rank);
    run.ops->step(x);

    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++) {
        double sum = 0;
        for (int r = 1; r < x->size; r++)
            sum += grad_of(r, i);
        double expect = total ? 1.0 - 0.5 * sum / total : 1.0;
        good &= fabs(m->w[i] - expect) < 1e-6;
    }
    good &= fabs(x->step_count - total) < 1e-9;
    float *all = malloc(sizeof(float) * NPARAMS * (size_t)x->size);
    MPI_Gather(m->w, NPARAMS, MPI_FLOAT, all, NPARAMS, MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (x->rank == 0)
        for (int r = 1; r < x->size; r++)
            good &= memcmp(all, all + r * NPARAMS, NPARAMS * sizeof(float)) == 0;
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (x->rank == 0)
        printf("%s - allreduce: one global-mean step, identical parameters on all ranks (np=%d)\n",
               good ? "ok" : "not ok", x->size);
    free(all);

    /* The sums are doubles: 2^24 + 1 samples a rank are counted exactly (a float count
     * rounds to 2^24), and a loss sum of 3e38 a rank stays finite over the ranks (a float
     * sum overflows to inf, which the pipeline would read as divergence). */
    const double big_count = 16777217.0;
    x->batch_count = big_count;
    x->batch_loss = 3e38;
    x->diverged = GD_DIV_NONE;
    run.ops->step(x);
    good = x->step_count == big_count * x->size && isfinite(x->step_loss) &&
           x->diverged == GD_DIV_NONE;
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (x->rank == 0)
        printf("%s - allreduce: loss and count summed as doubles (2^24 + 1 samples, 3e38 loss "
               "a rank; np=%d)\n", good ? "ok" : "not ok", x->size);
    test_run_free(&run);
    MPI_Finalize();
    return 0;
}
