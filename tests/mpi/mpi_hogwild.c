/* Run under mpirun as `mpi_hogwild [group_size]`: parallel.mode = hogwild's shared memory.
 *   1. A write by one rank into its model->w is seen by the other ranks of its group (and
 *      by no other group): the vector really is shared.
 *   2. A step taken by each rank in turn (plain SGD) leaves, on every rank of the group, the
 *      initial parameters minus every step of the group, in order.
 *   3. After finish, with several groups, every rank holds the average of the groups'
 *      copies, and summary.json's "hogwild" member counts one update per rank.
 * Rank 0 prints ok/not ok. */
#include "ctx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FEATURES = 6, NPARAMS = FEATURES + 1 };
static const float LR = 0.1f;

static float w0(size_t i) { return 1.0f + 0.1f * (float)i; }
static float grad_of(int rank, size_t i) { return (float)((rank + 1) * (int)(i + 1)) * 0.5f; }

static void configure(gd_config *c, long group_size)
{
    gd_config_defaults(c);
    snprintf(c->parallel.mode, sizeof c->parallel.mode, "hogwild");
    c->parallel.group_size = group_size;
    c->parallel.average_every = 1000000000; /* no averaging in training: rounds would block
                                               the turns below; finish averages */
}

/* A step context as gd_train sets one up for training, without data: plain SGD at LR from
 * w0. hogwild's setup points the model at the group's shared vector. */
static void make_run(test_run *r, const gd_config *c)
{
    gd_optim_hparams hp = {.lr = LR};
    test_run_init(r, c, MPI_COMM_WORLD, "linreg", FEATURES, 1, 1, &hp, LR);
    for (size_t i = 0; i < NPARAMS; i++)
        r->model.w[i] = w0(i);
}

/* The ranks of this rank's group, as hogwild forms them: consecutive ranks of one node. */
static int group_of(int rank, long group_size) { return group_size ? (int)(rank / group_size) : 0; }

static int all_ok(int good)
{
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return good;
}

static void report(const gd_step_ctx *x, int good, const char *what)
{
    if (x->rank == 0)
        printf("%s - hogwild np=%d group_size=%ld: %s\n", good ? "ok" : "not ok", x->size,
               x->cfg->parallel.group_size, what);
}

/* 1: the last rank of each group writes its mark; every rank of the group sees it. */
static int test_sharing(gd_step_ctx *x, long gs)
{
    float *const w = x->model->w; /* the group's shared vector, since setup */
    const int per = gs ? (int)gs : x->size, g = group_of(x->rank, gs);
    const int writer = ((g + 1) * per < x->size ? (g + 1) * per : x->size) - 1; /* its last */
    if (x->rank == writer)
        for (size_t i = 0; i < NPARAMS; i++)
            w[i] = 100.0f * (float)(g + 1) + (float)i;
    MPI_Barrier(MPI_COMM_WORLD);
    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++)
        good &= w[i] == 100.0f * (float)(g + 1) + (float)i;
    MPI_Barrier(MPI_COMM_WORLD);
    for (size_t i = 0; x->rank == writer && i < NPARAMS; i++)
        w[i] = w0(i); /* back to the start for the next test */
    MPI_Barrier(MPI_COMM_WORLD);
    return good;
}

/* 2: rank r steps with grad_of(r) on its turn; the expected vector replays the group's
 * steps in rank order (to float rounding: saxpy may fuse the multiply-add). */
static int test_steps(test_run *run, long gs, float *expect)
{
    gd_step_ctx *x = &run->x;
    for (int r = 0; r < x->size; r++) {
        if (r == x->rank) {
            memset(x->model->g, 0, sizeof(float) * (NPARAMS + GD_GRAD_EXTRA));
            for (size_t i = 0; i < NPARAMS; i++)
                x->model->g[i] = grad_of(r, i);
            x->batch_loss = 1;
            x->batch_count = 1;
            run->ops->step(x);
            x->step++;
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++) {
        expect[i] = w0(i);
        for (int r = 0; r < x->size; r++)
            if (group_of(r, gs) == group_of(x->rank, gs))
                expect[i] -= LR * grad_of(r, i);
        good &= fabsf(x->model->w[i] - expect[i]) <= 1e-6f * fmaxf(1.0f, fabsf(expect[i]));
    }
    return good;
}

/* 3: the groups' changes from w0 averaged (each group applied updates). */
static int test_finish(test_run *run, long gs, const float *mine)
{
    gd_step_ctx *x = &run->x;
    const int groups = gs ? (int)((x->size + gs - 1) / gs) : 1;
    float sum[NPARAMS];
    int leader = gs ? x->rank % gs == 0 : x->rank == 0;
    for (size_t i = 0; i < NPARAMS; i++)
        sum[i] = leader ? mine[i] - w0(i) : 0;
    MPI_Allreduce(MPI_IN_PLACE, sum, NPARAMS, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    run->ops->finish(x);
    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++)
        good &= fabsf(x->model->w[i] - (w0(i) + sum[i] / (float)groups)) <= 1e-5f;
    return good;
}

static int summary_counts(const test_run *run)
{
    char *text = NULL, want[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    run->ops->summary(&run->x, f);
    fclose(f);
    snprintf(want, sizeof want, "\"updates_applied\": %d", run->x.size);
    int ok = text && strstr(text, want) != NULL;
    free(text);
    return ok;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    long gs = argc > 1 ? atol(argv[1]) : 0;
    gd_config cfg;
    configure(&cfg, gs);
    test_run run;
    make_run(&run, &cfg);
    gd_step_ctx *x = &run.x;
    run.ops = gd_strategy_find("hogwild");
    int good = run.ops->check(&cfg, x->size) == GD_OK && run.ops->setup(x) == GD_OK;
    if (!all_ok(good)) {
        report(x, 0, "setup");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    report(x, all_ok(test_sharing(x, gs)),
           "a write by one rank is seen by the other ranks of its group, and no other");
    float mine[NPARAMS];
    report(x, all_ok(test_steps(&run, gs, mine)),
           "each rank's lock-free step lands in the group's vector, every rank sees them all");
    report(x, all_ok(test_finish(&run, gs, mine)),
           "finish leaves every rank the average of the groups' copies");
    if (x->rank == 0)
        report(x, summary_counts(&run), "summary.json counts one update applied per rank");
    test_run_free(&run);
    MPI_Finalize();
    return 0;
}
