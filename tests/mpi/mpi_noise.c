/* Run under mpirun as `mpi_noise`: gradient noise (train.grad_noise, Neelakantan et al.
 * 2015) in a mode whose ranks apply their own updates is drawn independently per rank.
 * local-sgd averaging every step (H = 1), a zero gradient, sgd at lr 1, grad_noise = 1 (so
 * the first step's noise is N(0, 1) per coordinate): each rank moves by its own noise, and
 * the average moves by their mean, whose variance is 1 / P. With one stream shared by all
 * ranks it would be 1 (P copies of one vector). Over 20000 coordinates the sample variance
 * is within 5% of the truth with overwhelming probability. Rank 0 prints ok/not ok. */
#include "ctx.h"

#include <stdio.h>

enum { NPARAMS = 20000 };

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    gd_config c;
    gd_config_defaults(&c);
    snprintf(c.parallel.mode, sizeof c.parallel.mode, "local-sgd");
    c.parallel.average_every = 1;
    c.train.grad_noise = 1.0;
    c.train.grad_noise_gamma = 0.55;
    test_run r;
    gd_optim_hparams hp = {.lr = 1};
    test_run_init(&r, &c, MPI_COMM_WORLD, "linreg", NPARAMS - 1, 1, 1, &hp, 1.0);
    r.ops = gd_strategy_find("local-sgd");
    if (r.ops->setup(&r.x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    memset(r.model.g, 0, sizeof(float) * (NPARAMS + GD_GRAD_EXTRA));
    r.x.batch_loss = 0, r.x.batch_count = 1;
    if (r.ops->step(&r.x)) /* step 0, then the average (H = 1) */
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    double sum = 0, sumsq = 0;
    for (size_t i = 0; i < NPARAMS; i++) { /* w started at 0 */
        sum += r.model.w[i];
        sumsq += (double)r.model.w[i] * r.model.w[i];
    }
    const double var = sumsq / NPARAMS - (sum / NPARAMS) * (sum / NPARAMS);
    const double want = 1.0 / r.x.size;
    if (r.x.rank == 0)
        printf("%s - local-sgd np=%d: the averaged noise has variance %.4f, 1/P = %.4f "
               "(independent streams per rank)\n",
               var > 0.95 * want && var < 1.05 * want ? "ok" : "not ok", r.x.size, var, want);
    test_run_free(&r);
    MPI_Finalize();
    return 0;
}
