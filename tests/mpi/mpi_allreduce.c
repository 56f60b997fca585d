/* Run under mpirun: the allreduce strategy must give every rank the same parameters,
 * equal to one serial SGD step on the global mean gradient, even when the ranks hold
 * different sample counts (including an empty batch). Rank 0 prints ok/not ok. */
#include "gdmpi/error.h"
#include "gdmpi/train.h"

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
    gd_trainer t = {.cfg = &cfg, .comm = MPI_COMM_WORLD, .lr = 0.5};
    MPI_Comm_rank(MPI_COMM_WORLD, &t.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &t.size);
    gd_model_create(&t.model, "linreg", NPARAMS - 1, 1, 1, &cfg);
    gd_optim_hparams hp = {0};
    gd_optim_create(&t.optim, "sgd", &hp, t.model.nparams);
    t.strategy = gd_strategy_find("allreduce");
    t.strategy->setup(&t);

    double total = 0;
    for (int r = 0; r < t.size; r++)
        total += count_of(r);
    for (size_t i = 0; i < NPARAMS; i++) {
        t.model.w[i] = 1.0f;
        t.model.g[i] = t.rank ? grad_of(t.rank, i) : 0.0f;
    }
    t.batch_loss = t.rank;
    t.batch_count = count_of(t.rank);
    t.strategy->step(&t);

    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++) {
        double sum = 0;
        for (int r = 1; r < t.size; r++)
            sum += grad_of(r, i);
        double expect = total ? 1.0 - 0.5 * sum / total : 1.0;
        good &= fabs(t.model.w[i] - expect) < 1e-6;
    }
    good &= fabs(t.step_count - total) < 1e-9;
    float *all = malloc(sizeof(float) * NPARAMS * (size_t)t.size);
    MPI_Gather(t.model.w, NPARAMS, MPI_FLOAT, all, NPARAMS, MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (t.rank == 0)
        for (int r = 1; r < t.size; r++)
            good &= memcmp(all, all + r * NPARAMS, NPARAMS * sizeof(float)) == 0;
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (t.rank == 0)
        printf("%s - allreduce: one global-mean step, identical parameters on all ranks (np=%d)\n",
               good ? "ok" : "not ok", t.size);
    free(all);
    if (t.strategy->destroy)
        t.strategy->destroy(&t);
    gd_optim_destroy(&t.optim);
    gd_model_destroy(&t.model);
    MPI_Finalize();
    return 0;
}
