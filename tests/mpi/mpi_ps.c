/* Run under mpirun as `mpi_ps S`: the synchronous parameter server with S servers. Two
 * steps, with workers holding different sample counts (worker 2 none: an exhausted shard)
 * and l1, l2, clipping, gradient noise and Adam all on, must equal the same two steps of
 * gd_apply_update on one rank with the global mean gradient; every worker must hold those
 * parameters, rank 0 the assembled model after finish, and summary.json's "ps" member must
 * say that every gradient pushed was applied. Rank 0 prints ok/not ok. */
#include "gdmpi/error.h"
#include "gdmpi/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FEATURES = 8, NPARAMS = FEATURES + 1, STEPS = 2 };

static float grad_of(int worker, int step, size_t i)
{
    return (float)((worker + 1) * (i + 1)) * 0.25f * (step % 2 ? -1.0f : 1.0f);
}
static double count_of(int worker) { return (worker + 1) % 3; } /* worker 2: an empty batch */

static void configure(gd_config *c)
{
    gd_config_defaults(c);
    c->model.l1 = 0.01;
    c->train.clip_norm = 1.0;
    c->train.grad_noise = 0.1;
    snprintf(c->optimizer.type, sizeof c->optimizer.type, "adam");
    snprintf(c->parallel.mode, sizeof c->parallel.mode, "ps");
}

/* A trainer as gd_train sets one up for training, without data. */
static void make_trainer(gd_trainer *t, const gd_config *c, MPI_Comm comm, int servers)
{
    *t = (gd_trainer){.cfg = c, .comm = comm, .role_comm = comm, .agree_comm = comm, .lr = 0.05};
    MPI_Comm_rank(comm, &t->rank);
    MPI_Comm_size(comm, &t->size);
    gd_model_create(&t->model, "linreg", FEATURES, 1, 1, c);
    t->model.l2 = 0.1;
    for (size_t i = 0; i < NPARAMS; i++)
        t->model.w[i] = 1.0f + 0.1f * (float)i;
    gd_optim_hparams hp = {.lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    gd_optim_create(&t->optim, "adam", &hp, NPARAMS);
    gd_rng_seed(&t->noise_rng, 42, 0, GD_RNG_NOISE);
    if (servers) {
        t->nservers = servers;
        t->serving = t->rank < servers;
        t->lead = servers;
        MPI_Comm_split(comm, t->serving, t->rank, &t->role_comm);
    }
}

/* The serial reference: STEPS steps of gd_apply_update on the global mean gradient. */
static void reference(const gd_config *c, int workers, float *w, double *loss)
{
    gd_trainer r;
    make_trainer(&r, c, MPI_COMM_SELF, 0);
    double total = 0;
    for (int k = 0; k < workers; k++)
        total += count_of(k);
    for (int step = 0; step < STEPS; step++, r.step++) {
        for (size_t i = 0; i < NPARAMS; i++) {
            double sum = 0;
            for (int k = 0; k < workers; k++)
                sum += count_of(k) ? grad_of(k, step, i) : 0;
            r.model.g[i] = (float)(sum / total);
        }
        r.step_loss = workers;
        r.step_count = total;
        gd_apply_update(&r, r.model.g);
    }
    memcpy(w, r.model.w, sizeof(float) * NPARAMS);
    *loss = r.step_loss;
    gd_optim_destroy(&r.optim);
    gd_model_destroy(&r.model);
}

/* summary.json's "ps" member, as rank 0 would write it. */
static int conserved(gd_trainer *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    t->strategy->summary(t, f);
    fclose(f);
    int ok = text && strstr(text, "\"conservation\": {\"ok\": true") != NULL;
    free(text);
    return ok;
}

static int close_to(const float *a, const float *b)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (fabsf(a[i] - b[i]) > 1e-6f * fmaxf(1.0f, fabsf(b[i])))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int servers = argc > 1 ? atoi(argv[1]) : 1;
    gd_config cfg;
    configure(&cfg);
    gd_trainer t;
    make_trainer(&t, &cfg, MPI_COMM_WORLD, servers);
    const int workers = t.size - servers, me = t.rank - servers;
    t.strategy = gd_strategy_find("ps");
    int good = t.strategy->check(&cfg, t.size) == GD_OK && t.strategy->setup(&t) == GD_OK;
    for (int step = 0; good && step < STEPS; step++, t.step++) {
        memset(t.model.g, 0, sizeof(float) * (NPARAMS + GD_GRAD_EXTRA));
        for (size_t i = 0; !t.serving && count_of(me) && i < NPARAMS; i++)
            t.model.g[i] = grad_of(me, step, i);
        t.batch_loss = t.serving ? 0 : 1;
        t.batch_count = t.serving ? 0 : count_of(me);
        t.strategy->step(&t);
    }
    float expect[NPARAMS];
    double loss;
    reference(&cfg, workers, expect, &loss);
    if (!t.serving)
        good &= close_to(t.model.w, expect) && fabs(t.step_loss - loss) < 1e-9 * fabs(loss);
    t.strategy->finish(&t);
    if (t.rank == 0)
        good &= close_to(t.model.w, expect) && conserved(&t);
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (t.rank == 0)
        printf("%s - ps: %d steps on %d server(s) equal serial steps on the global mean; every "
               "worker holds them, rank 0 assembles them, pushes = applied (np=%d)\n",
               good ? "ok" : "not ok", STEPS, servers, t.size);
    t.strategy->destroy(&t);
    MPI_Comm_free(&t.role_comm);
    gd_optim_destroy(&t.optim);
    gd_model_destroy(&t.model);
    MPI_Finalize();
    return 0;
}
