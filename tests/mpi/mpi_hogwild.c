/* Run under mpirun as `mpi_hogwild [group_size]`: parallel.mode = hogwild's shared memory.
 *   1. A write by one rank into its t->model.w is seen by the other ranks of its group (and
 *      by no other group): the vector really is shared.
 *   2. A step taken by each rank in turn (plain SGD) leaves, on every rank of the group, the
 *      initial parameters minus every step of the group, in order.
 *   3. After finish, with several groups, every rank holds the average of the groups'
 *      copies, and summary.json's "hogwild" member counts one update per rank.
 * Rank 0 prints ok/not ok. */
#include "gdmpi/error.h"
#include "gdmpi/train.h"

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

/* A trainer as gd_train sets one up for training, without data. */
static void make_trainer(gd_trainer *t, const gd_config *c)
{
    *t = (gd_trainer){.cfg = c, .comm = MPI_COMM_WORLD, .role_comm = MPI_COMM_WORLD,
                      .agree_comm = MPI_COMM_SELF, .lr = LR};
    MPI_Comm_rank(t->comm, &t->rank);
    MPI_Comm_size(t->comm, &t->size);
    gd_model_create(&t->model, "linreg", FEATURES, 1, 1, c);
    for (size_t i = 0; i < NPARAMS; i++)
        t->model.w[i] = w0(i);
    gd_optim_hparams hp = {.lr = LR};
    gd_optim_create(&t->optim, "sgd", &hp, NPARAMS);
    gd_rng_seed(&t->noise_rng, 42, 0, GD_RNG_NOISE);
}

/* The ranks of this rank's group, as hogwild forms them: consecutive ranks of one node. */
static int group_of(int rank, long group_size) { return group_size ? (int)(rank / group_size) : 0; }

static int all_ok(int good)
{
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return good;
}

static void report(const gd_trainer *t, int good, const char *what)
{
    if (t->rank == 0)
        printf("%s - hogwild np=%d group_size=%ld: %s\n", good ? "ok" : "not ok", t->size,
               t->cfg->parallel.group_size, what);
}

/* 1: the last rank of each group writes its mark; every rank of the group sees it. */
static int test_sharing(gd_trainer *t, long gs)
{
    const int per = gs ? (int)gs : t->size, g = group_of(t->rank, gs);
    const int writer = ((g + 1) * per < t->size ? (g + 1) * per : t->size) - 1; /* its last */
    if (t->rank == writer)
        for (size_t i = 0; i < NPARAMS; i++)
            t->model.w[i] = 100.0f * (float)(g + 1) + (float)i;
    MPI_Barrier(MPI_COMM_WORLD);
    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++)
        good &= t->model.w[i] == 100.0f * (float)(g + 1) + (float)i;
    MPI_Barrier(MPI_COMM_WORLD);
    for (size_t i = 0; t->rank == writer && i < NPARAMS; i++)
        t->model.w[i] = w0(i); /* back to the start for the next test */
    MPI_Barrier(MPI_COMM_WORLD);
    return good;
}

/* 2: rank r steps with grad_of(r) on its turn; the expected vector replays the group's
 * steps in rank order (to float rounding: saxpy may fuse the multiply-add). */
static int test_steps(gd_trainer *t, long gs, float *expect)
{
    for (int r = 0; r < t->size; r++) {
        if (r == t->rank) {
            memset(t->model.g, 0, sizeof(float) * (NPARAMS + GD_GRAD_EXTRA));
            for (size_t i = 0; i < NPARAMS; i++)
                t->model.g[i] = grad_of(r, i);
            t->batch_loss = 1;
            t->batch_count = 1;
            t->strategy->step(t);
            t->step++;
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++) {
        expect[i] = w0(i);
        for (int r = 0; r < t->size; r++)
            if (group_of(r, gs) == group_of(t->rank, gs))
                expect[i] -= LR * grad_of(r, i);
        good &= fabsf(t->model.w[i] - expect[i]) <= 1e-6f * fmaxf(1.0f, fabsf(expect[i]));
    }
    return good;
}

/* 3: the groups' changes from w0 averaged (each group applied updates). */
static int test_finish(gd_trainer *t, long gs, const float *mine)
{
    const int groups = gs ? (int)((t->size + gs - 1) / gs) : 1;
    float sum[NPARAMS];
    int leader = gs ? t->rank % gs == 0 : t->rank == 0;
    for (size_t i = 0; i < NPARAMS; i++)
        sum[i] = leader ? mine[i] - w0(i) : 0;
    MPI_Allreduce(MPI_IN_PLACE, sum, NPARAMS, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    t->strategy->finish(t);
    int good = 1;
    for (size_t i = 0; i < NPARAMS; i++)
        good &= fabsf(t->model.w[i] - (w0(i) + sum[i] / (float)groups)) <= 1e-5f;
    return good;
}

static int summary_counts(const gd_trainer *t)
{
    char *text = NULL, want[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    t->strategy->summary(t, f);
    fclose(f);
    snprintf(want, sizeof want, "\"updates_applied\": %d", t->size);
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
    gd_trainer t;
    make_trainer(&t, &cfg);
    t.strategy = gd_strategy_find("hogwild");
    int good = t.strategy->check(&cfg, t.size) == GD_OK && t.strategy->setup(&t) == GD_OK;
    if (!all_ok(good)) {
        report(&t, 0, "setup");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    report(&t, all_ok(test_sharing(&t, gs)),
           "a write by one rank is seen by the other ranks of its group, and no other");
    float mine[NPARAMS];
    report(&t, all_ok(test_steps(&t, gs, mine)),
           "each rank's lock-free step lands in the group's vector, every rank sees them all");
    report(&t, all_ok(test_finish(&t, gs, mine)),
           "finish leaves every rank the average of the groups' copies");
    if (t.rank == 0)
        report(&t, summary_counts(&t), "summary.json counts one update applied per rank");
    t.strategy->destroy(&t);
    gd_optim_destroy(&t.optim);
    gd_model_destroy(&t.model);
    MPI_Finalize();
    return 0;
}
