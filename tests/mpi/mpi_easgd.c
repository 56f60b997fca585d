/* Run under mpirun -np 2 as `mpi_easgd`: elastic averaging SGD at the level of the paper's
 * equations (Zhang, Choromanska & LeCun 2015), against values computed by hand.
 *   easgd (synchronous, eqs. 5 and 6, tau = 1, alpha = 0.25, p = 2): two steps, each an
 *   exchange from the values before it, then the rank's own SGD step.
 *   easgd-async (Algorithm 1, one server, one worker): the worker's recovery of the elastic
 *   difference from the center the server answers with, and the center after the worker's
 *   last exchange (model.h5's parameters).
 * Parameters (w, b) of a linreg with one feature; x_r starts at w0 + (r + 1)(1, -1) around
 * the center w0 = (1, 2); rank r's gradient is (r + 1)(0.5, 1) (one sample); SGD, lr 0.1.
 * The hand computation is in the comments; rank 0 prints ok/not ok. */
#include "ctx.h"

#include <math.h>
#include <stdio.h>

static const double LR = 0.1, TOL = 1e-6;

static void configure(gd_config *c, const char *mode)
{
    gd_config_defaults(c);
    snprintf(c->parallel.mode, sizeof c->parallel.mode, "%s", mode);
    c->parallel.alpha = 0.25;
    c->parallel.tau = 1;
}

static void make_run(test_run *r, const gd_config *c, int servers)
{
    gd_optim_hparams hp = {.lr = LR};
    test_run_init(r, c, MPI_COMM_WORLD, "linreg", 1, 1, 1, &hp, LR);
    if (servers)
        test_run_servers(r, servers);
    r->model.w[0] = 1, r->model.w[1] = 2; /* w0: every rank starts at the center */
    r->ops = gd_strategy_find(c->parallel.mode);
    if (r->ops->setup(&r->x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
}

/* After setup (the center is w0): this rank's own x, w0 + k (1, -1). */
static void offset(test_run *r, int k)
{
    r->model.w[0] += (float)k, r->model.w[1] -= (float)k;
}

/* One step with gradient sums k (0.5, 1) of one sample. */
static void step(test_run *r, int k)
{
    r->model.g[0] = 0.5f * (float)k, r->model.g[1] = 1.0f * (float)k;
    r->x.batch_loss = 0, r->x.batch_count = 1;
    if (r->ops->step(&r->x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    r->x.step++;
}

static int near(const float *w, double a, double b)
{
    return fabs(w[0] - a) < TOL && fabs(w[1] - b) < TOL;
}

static void report(int good, const char *what)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s - easgd: %s\n", good ? "ok" : "not ok", what);
}

/* Step 1: x0 = (2,1), x1 = (3,0), c = (1,2).
 *   x_i <- x_i - a (x_i - c):  x0 = (1.75, 1.25), x1 = (2.5, 0.5)
 *   c <- c + a sum_i (x_i - c) = (1,2) + 0.25 (3,-3) = (1.75, 1.25)
 *   SGD: x0 = (1.70, 1.15), x1 = (2.4, 0.3)
 * Step 2: x0 - c = (-0.05, -0.1), x1 - c = (0.65, -0.95)
 *   x0 = (1.7125, 1.175), x1 = (2.2375, 0.5375), c = (1.9, 0.9875)
 *   SGD: x0 = (1.6625, 1.075), x1 = (2.1375, 0.3375) */
static void test_sync(void)
{
    gd_config c;
    test_run r;
    configure(&c, "easgd");
    make_run(&r, &c, 0);
    const int k = r.x.rank + 1;
    offset(&r, k);
    step(&r, k);
    report(k == 1 ? near(r.model.w, 1.70, 1.15) : near(r.model.w, 2.4, 0.3),
           "sync, step 1: exchange (eqs. 5, 6) then the rank's own step");
    step(&r, k);
    report(k == 1 ? near(r.model.w, 1.6625, 1.075) : near(r.model.w, 2.1375, 0.3375),
           "sync, step 2: the exchange uses the values before it, on every rank");
    r.ops->epoch_row(&r.x, 1); /* the row describes the center */
    report(near(r.model.w, 1.9, 0.9875), "sync: the center after 2 exchanges (eq. 6)");
    r.ops->epoch_row(&r.x, 0);
    test_run_free(&r);
}

/* Worker x = (2,1), server c = (1,2).
 * Step 1: the server: c = (1,2) + 0.25 ((2,1) - (1,2)) = (1.25, 1.75); the worker recovers
 *   e = a / (1 - a) (x - c_new) = (1/3)(0.75, -0.75) and moves x = (1.75, 1.25) (= x - a (x - c));
 *   SGD: x = (1.70, 1.15).
 * Step 2: c = (1.25, 1.75) + 0.25 (0.45, -0.6) = (1.3625, 1.6); x = x - (1/3)(0.3375, -0.45)
 *   = (1.5875, 1.3); SGD: x = (1.5375, 1.2).
 * Finish: the last message is one more exchange: c = (1.3625, 1.6) + 0.25 (0.175, -0.4)
 *   = (1.40625, 1.5), which rank 0 (the server) holds as the model. */
static void test_async(void)
{
    gd_config c;
    test_run r;
    configure(&c, "easgd-async");
    make_run(&r, &c, 1);
    int first = 1, second = 1; /* the worker's, reported once every rank is out of serve */
    if (r.x.serving) {
        if (r.ops->serve(&r.x))
            gd_abort(MPI_COMM_WORLD, GD_ERR);
    } else {
        offset(&r, 1);
        step(&r, 1);
        first = near(r.model.w, 1.70, 1.15);
        step(&r, 1);
        second = near(r.model.w, 1.5375, 1.2);
    }
    if (r.ops->finish(&r.x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    report(first, "async, step 1: the worker recovers the elastic difference");
    report(second, "async, step 2: the same from the center as other exchanges left it");
    report(r.x.rank != 0 || near(r.model.w, 1.40625, 1.5),
           "async: the center after the worker's last exchange is the model");
    test_run_free(&r);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    test_sync();
    test_async();
    MPI_Finalize();
    return 0;
}
