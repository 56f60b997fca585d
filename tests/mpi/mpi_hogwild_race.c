/* Run under mpirun as `mpi_hogwild_race`: Hogwild!'s ranks really racing on one shared
 * vector (Niu et al. 2011, the sparse case their analysis covers): every rank steps at the
 * same time, with no barrier between steps, on a gradient whose support is its own
 * coordinates (i mod ranks == rank: interleaved, so the ranks write the same cache lines).
 * With disjoint supports no update may be lost: after K steps each coordinate must be
 * exactly w0 - K lr g (values chosen to be exact in float, whatever the rounding or FMA).
 * A rank that wrote back coordinates outside its gradient's support (a dense update)
 * could undo another rank's write, which this catches. Rank 0 prints ok/not ok. */
#include "ctx.h"

#include <stdio.h>

enum { NPARAMS = 4096, STEPS = 1000 };
static const float LR = 0.5f, G = 1.0f / 64, W0 = 16.0f; /* lr g = 2^-7: exact steps */

static void configure(gd_config *c)
{
    gd_config_defaults(c);
    snprintf(c->parallel.mode, sizeof c->parallel.mode, "hogwild");
}

/* This rank's gradient: G on its own coordinates, 0 elsewhere (one sample). */
static void own_gradient(gd_step_ctx *x)
{
    memset(x->model->g, 0, sizeof(float) * (NPARAMS + GD_GRAD_EXTRA));
    for (size_t i = (size_t)x->rank; i < NPARAMS; i += (size_t)x->size)
        x->model->g[i] = G;
    x->batch_loss = 1;
    x->batch_count = 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    gd_config cfg;
    configure(&cfg);
    test_run run;
    gd_optim_hparams hp = {.lr = LR};
    test_run_init(&run, &cfg, MPI_COMM_WORLD, "linreg", NPARAMS - 1, 1, 1, &hp, LR);
    for (size_t i = 0; i < NPARAMS; i++)
        run.model.w[i] = W0;
    gd_step_ctx *x = &run.x;
    run.ops = gd_strategy_find("hogwild");
    if (run.ops->setup(x))
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Barrier(MPI_COMM_WORLD); /* then all race */
    for (int k = 0; k < STEPS; k++) {
        own_gradient(x);
        run.ops->step(x);
        x->step++;
    }
    run.ops->finish(x); /* waits for the group, then copies the shared vector */
    const float want = W0 - (float)STEPS * LR * G;
    long lost = 0;
    for (size_t i = 0; i < NPARAMS; i++)
        lost += x->model->w[i] != want;
    MPI_Allreduce(MPI_IN_PLACE, &lost, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
    if (x->rank == 0)
        printf("%s - hogwild np=%d: %d steps each, racing on disjoint supports: every update "
               "lands (%ld coordinates off)\n", lost ? "not ok" : "ok", x->size, STEPS, lost);
    test_run_free(&run);
    MPI_Finalize();
    return 0;
}
