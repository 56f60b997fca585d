/* Synchronous data parallelism: one MPI_Allreduce moves the gradient sums, the loss
 * sum and the sample count together (the model's gradient buffer has two spare floats
 * for them); every rank divides by the global count and takes the same optimizer step,
 * so the replicas stay identical. */
#include "gdmpi/error.h"
#include "gdmpi/train.h"

#include <math.h>

static int allreduce_setup(gd_trainer *t)
{
    (void)t;
    return GD_OK;
}

static void allreduce_step(gd_trainer *t)
{
    const size_t n = t->model.nparams;
    float *g = t->model.g;
    g[n] = (float)t->batch_loss;
    g[n + 1] = (float)t->batch_count;
    double since = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, g, (int)(n + GD_GRAD_EXTRA), MPI_FLOAT, MPI_SUM, t->comm);
    gd_timer_add(t, GD_T_COMM, &since);
    t->step_loss = g[n];
    t->step_count = g[n + 1];
    if (t->step_count <= 0)
        return;
    float inv = 1.0f / (float)t->step_count;
    for (size_t i = 0; i < n; i++)
        g[i] *= inv;
    t->step_loss += t->step_count * gd_model_penalty(&t->model, g);
    gd_optim_step(&t->optim, t->model.w, g, (float)t->lr);
    gd_timer_add(t, GD_T_COMPUTE, &since);
}

static void allreduce_finish(gd_trainer *t) { (void)t; }
static void allreduce_destroy(gd_trainer *t) { (void)t; }

const gd_strategy_ops gd_strategy_allreduce = {
    .name = "allreduce",
    .setup = allreduce_setup,
    .step = allreduce_step,
    .finish = allreduce_finish,
    .destroy = allreduce_destroy,
};
