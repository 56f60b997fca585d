/* Run under mpirun as `mpi_ps S`: the synchronous parameter server with S servers. Two
 * steps, with workers holding different sample counts (worker 2 none: an exhausted shard)
 * and l1, l2, clipping, gradient noise and Adam all on, must equal the same two steps taken
 * serially on the global mean gradient by a reference written out in this file (not the
 * update pipeline that the servers run); every worker must hold those parameters, rank 0
 * the assembled model after finish, and summary.json's "ps" member must say that every
 * gradient pushed was applied. Rank 0 prints ok/not ok. */
#include "ctx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FEATURES = 8, NPARAMS = FEATURES + 1, STEPS = 2 };
static const double LR = 0.05, BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8; /* Adam */

static float grad_of(int worker, int step, size_t i)
{
    return (float)((worker + 1) * (i + 1)) * 0.25f * (step % 2 ? -1.0f : 1.0f);
}
static double count_of(int worker) { return (worker + 1) % 3; } /* worker 2: an empty batch */

static void configure(gd_config *c)
{
    gd_config_defaults(c);
    c->model.l1 = 0.01;
    c->model.l2 = 0.1;
    c->train.clip_norm = 1.0;
    c->train.grad_noise = 0.1;
    snprintf(c->optimizer.type, sizeof c->optimizer.type, "adam");
    snprintf(c->parallel.mode, sizeof c->parallel.mode, "ps");
}

static float w0(size_t i) { return 1.0f + 0.1f * (float)i; }

/* A step context as gd_train sets one up for training, without data. */
static void make_run(test_run *r, const gd_config *c, int servers)
{
    gd_optim_hparams hp = {.lr = LR, .beta1 = BETA1, .beta2 = BETA2, .eps = EPS};
    test_run_init(r, c, MPI_COMM_WORLD, "linreg", FEATURES, 1, 1, &hp, LR);
    test_run_servers(r, servers);
    for (size_t i = 0; i < NPARAMS; i++)
        r->model.w[i] = w0(i);
}

/* The serial reference, written out here in double rather than run through the update
 * pipeline the servers use (gdmpi/update.h): STEPS steps on the global mean gradient of
 *   penalties   g_i += l2 w_i + l1 sign(w_i) on the weights (not the bias); the step's loss
 *               gains count (l2/2 |W|^2 + l1 |W|_1)
 *   clipping    g <- g clip / |g| when |g| > clip
 *   noise       g_i += sqrt(eta / (1 + t)^gamma) N(0,1), one draw per parameter in order from
 *               the stream (train.seed = 42, 0, GD_RNG_NOISE), t = steps taken before
 *   Adam        m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
 *               w <- w - lr (m / (1 - b1^s)) / (sqrt(v / (1 - b2^s)) + eps),  s = t + 1
 * The arithmetic is in double; w is rounded to float after each step, because the model
 * holds its parameters in floats and the last step's penalty loss (checked to 1e-9) is
 * taken on them. The last step's loss sum goes to *loss (each worker reports 1). */
static void reference(const gd_config *c, int workers, float *out, double *loss)
{
    const double l1 = c->model.l1, l2 = c->model.l2, clip = c->train.clip_norm;
    const double eta = c->train.grad_noise, gamma = c->train.grad_noise_gamma;
    double w[NPARAMS], g[NPARAMS], m[NPARAMS] = {0}, v[NPARAMS] = {0};
    gd_rng noise;
    gd_rng_seed(&noise, 42, 0, GD_RNG_NOISE);
    for (size_t i = 0; i < NPARAMS; i++)
        w[i] = w0(i);
    double total = 0;
    for (int k = 0; k < workers; k++)
        total += count_of(k);
    for (int t = 0; t < STEPS; t++) {
        double sq = 0, absum = 0, norm = 0;
        for (size_t i = 0; i < NPARAMS; i++) {
            double sum = 0;
            for (int k = 0; k < workers; k++)
                sum += count_of(k) ? grad_of(k, t, i) : 0;
            g[i] = sum / total;
            if (i < FEATURES) { /* a weight */
                g[i] += l2 * w[i] + l1 * (w[i] > 0 ? 1 : w[i] < 0 ? -1 : 0);
                sq += w[i] * w[i];
                absum += fabs(w[i]);
            }
            norm += g[i] * g[i];
        }
        *loss = workers + total * (0.5 * l2 * sq + l1 * absum);
        norm = sqrt(norm);
        const double sd = sqrt(eta / pow(1.0 + t, gamma));
        for (size_t i = 0; i < NPARAMS; i++) {
            if (clip > 0 && norm > clip)
                g[i] *= clip / norm;
            g[i] += sd * gd_rng_normal(&noise);
            m[i] = BETA1 * m[i] + (1 - BETA1) * g[i];
            v[i] = BETA2 * v[i] + (1 - BETA2) * g[i] * g[i];
            const double mhat = m[i] / (1 - pow(BETA1, t + 1));
            const double vhat = v[i] / (1 - pow(BETA2, t + 1));
            w[i] = (float)(w[i] - LR * mhat / (sqrt(vhat) + EPS));
        }
    }
    for (size_t i = 0; i < NPARAMS; i++)
        out[i] = (float)w[i];
}

/* summary.json's "ps" member, as rank 0 would write it. */
static int conserved(const test_run *run)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    run->ops->summary(&run->x, f);
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
    test_run run;
    make_run(&run, &cfg, servers);
    gd_step_ctx *x = &run.x;
    gd_model *m = x->model;
    const int workers = x->size - servers, me = x->rank - servers;
    run.ops = gd_strategy_find("ps");
    int good = run.ops->check(&cfg, x->size) == GD_OK && run.ops->setup(x) == GD_OK;
    for (int step = 0; good && step < STEPS; step++, x->step++) {
        memset(m->g, 0, sizeof(float) * (NPARAMS + GD_GRAD_EXTRA));
        for (size_t i = 0; !x->serving && count_of(me) && i < NPARAMS; i++)
            m->g[i] = grad_of(me, step, i);
        x->batch_loss = x->serving ? 0 : 1;
        x->batch_count = x->serving ? 0 : count_of(me);
        run.ops->step(x);
    }
    float expect[NPARAMS];
    double loss;
    reference(&cfg, workers, expect, &loss);
    if (!x->serving)
        good &= close_to(m->w, expect) && fabs(x->step_loss - loss) < 1e-9 * fabs(loss);
    run.ops->finish(x);
    if (x->rank == 0)
        good &= close_to(m->w, expect) && conserved(&run);
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (x->rank == 0)
        printf("%s - ps: %d steps on %d server(s) equal serial steps on the global mean; every "
               "worker holds them, rank 0 assembles them, pushes = applied (np=%d)\n",
               good ? "ok" : "not ok", STEPS, servers, x->size);
    test_run_free(&run);
    MPI_Finalize();
    return 0;
}
