/* Test functions of two parameters (w = (x, y)), for watching optimizers move, as in
 * the figures of Ruder's overview. No data: the trainer gives each step one empty
 * "sample", so loss_grad returns n f(w) and adds n grad f(w) plus the sum of n samples'
 * noise, N(0, n noise^2) (sums, DESIGN rule 2): the mean over n is the exact gradient plus
 * N(0, noise^2 / n) per component, drawn from a stream of this rank's own, so that a
 * larger batch and more ranks reduce the gradient's variance as they would with data.
 *
 *   rosenbrock  (1 - x)^2 + 100 (y - x^2)^2                   minimum (1, 1),   start (-1.5, 2)
 *   beale       (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2
 *               + (2.625 - x + xy^3)^2                         minimum (3, 0.5), start (1, 1.5)
 *   saddle      x^2 - y^2                                      saddle (0, 0),    start (1, 1e-3)
 *   booth       (x + 2y - 7)^2 + (2x + y - 5)^2                minimum (1, 3),   start (-5, 5)
 */
#include "gdmpi/error.h"
#include "gdmpi/model.h"
#include "gdmpi/registry.h"
#include "gdmpi/rng.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef double (*testfn_value)(double x, double y, double grad[2]);

static double rosenbrock(double x, double y, double g[2])
{
    double a = 1 - x, b = y - x * x;
    g[0] = -2 * a - 400 * x * b;
    g[1] = 200 * b;
    return a * a + 100 * b * b;
}

static double beale(double x, double y, double g[2])
{
    double t1 = 1.5 - x + x * y, t2 = 2.25 - x + x * y * y, t3 = 2.625 - x + x * y * y * y;
    g[0] = 2 * t1 * (y - 1) + 2 * t2 * (y * y - 1) + 2 * t3 * (y * y * y - 1);
    g[1] = 2 * t1 * x + 2 * t2 * 2 * x * y + 2 * t3 * 3 * x * y * y;
    return t1 * t1 + t2 * t2 + t3 * t3;
}

static double saddle(double x, double y, double g[2])
{
    g[0] = 2 * x;
    g[1] = -2 * y;
    return x * x - y * y;
}

static double booth(double x, double y, double g[2])
{
    double a = x + 2 * y - 7, b = 2 * x + y - 5;
    g[0] = 2 * a + 4 * b;
    g[1] = 4 * a + 2 * b;
    return a * a + b * b;
}

typedef struct {
    const char *name;
    testfn_value value;
    double start[2];
} testfn_entry;

static const testfn_entry fn_rosenbrock = {"rosenbrock", rosenbrock, {-1.5, 2}},
                          fn_beale = {"beale", beale, {1, 1.5}},
                          fn_saddle = {"saddle", saddle, {1, 1e-3}},
                          fn_booth = {"booth", booth, {-5, 5}};
/* The registry of model.function: a new function is one entry and one line here. */
static const testfn_entry *const functions[] = {&fn_rosenbrock, &fn_beale, &fn_saddle, &fn_booth};

const char *gd_testfn_names(void)
{
    static char names[64];
    return gd_registry_names(GD_REGISTRY(functions), names, sizeof names);
}

int gd_testfn_parse_start(const char *text, double xy[2])
{
    double x, y;
    int end = -1; /* %n: where the parse stopped; anything after the two numbers is refused */
    if (sscanf(text, "%lf , %lf %n", &x, &y, &end) == 2 && end >= 0 && !text[end] &&
        fabs(x) <= FLT_MAX && fabs(y) <= FLT_MAX) { /* finite, also as floats (w) */
        xy[0] = x, xy[1] = y;
        return GD_OK;
    }
    return gd_fail(GD_ECONFIG, "model.start = '%s': expected two finite numbers \"x,y\"", text);
}

typedef struct {
    const testfn_entry *fn;
    double start[2]; /* model.start, or the function's usual start */
    double noise;
    gd_rng rng;
} testfn_impl;

static const testfn_entry *find_function(const char *name)
{
    return gd_registry_find(GD_REGISTRY(functions), name);
}

static int testfn_setup(gd_model *m)
{
    const char *name = m->cfg ? m->cfg->model.function : "rosenbrock";
    testfn_impl *impl = gd_alloc(1, sizeof *impl, "testfn");
    if (!impl)
        return GD_ERR;
    impl->fn = find_function(name);
    if (!impl->fn) {
        free(impl);
        return gd_fail(GD_ECONFIG, "model.function = '%s': unknown (known: %s)", name,
                       gd_testfn_names());
    }
    impl->start[0] = impl->fn->start[0];
    impl->start[1] = impl->fn->start[1];
    const char *start = m->cfg ? m->cfg->model.start : "";
    if (start[0] && gd_testfn_parse_start(start, impl->start)) {
        free(impl);
        return GD_ECONFIG;
    }
    impl->noise = m->cfg ? m->cfg->model.noise : 0;
    gd_rng_seed(&impl->rng, m->cfg ? (uint64_t)m->cfg->train.seed : 0, 0, GD_RNG_TESTFN);
    m->impl = impl;
    m->nparams = 2;
    return GD_OK;
}

static double testfn_loss_grad(gd_model *m, const float *x, const float *y, size_t n,
                               float *grad, size_t *correct)
{
    (void)x, (void)y, (void)correct;
    testfn_impl *impl = m->impl;
    double g[2];
    double f = impl->fn->value(m->w[0], m->w[1], g);
    /* n samples, each with its own N(0, noise^2): their sum's noise is N(0, n noise^2), so
     * the mean gradient's variance is noise^2 / n, as a batch of real samples gives */
    const double spread = impl->noise > 0 ? impl->noise * sqrt((double)n) : 0;
    for (int i = 0; grad && i < 2; i++)
        grad[i] += (float)(n * g[i] + (spread > 0 ? spread * gd_rng_normal(&impl->rng) : 0));
    return n * f;
}

static void testfn_predict(gd_model *m, const float *x, size_t n, float *out)
{
    double g[2];
    float f = (float)((testfn_impl *)m->impl)->fn->value(m->w[0], m->w[1], g);
    (void)x;
    for (size_t i = 0; i < n; i++)
        out[i] = f;
}

static size_t testfn_weight_count(const gd_model *m)
{
    (void)m;
    return 2;
}

/* The start is model.start ("x,y", parsed by setup) or the function's usual one;
 * model.init is ignored. */
/* The start, and the noise stream of this rank: independent per rank, as the samples of
 * different ranks are. */
static void testfn_init(gd_model *m, const gd_config *cfg)
{
    testfn_impl *impl = m->impl;
    int rank = 0;
    MPI_Comm_rank(m->comm, &rank);
    m->w[0] = (float)impl->start[0];
    m->w[1] = (float)impl->start[1];
    gd_rng_seed(&impl->rng, (uint64_t)cfg->train.seed, (uint64_t)rank, GD_RNG_TESTFN);
}

static void testfn_destroy(gd_model *m)
{
    free(m->impl);
    m->impl = NULL;
}

static const char *const testfn_config_keys[] = {"function", "noise", "start", NULL};

static gd_rng *testfn_rng(gd_model *m) { return &((testfn_impl *)m->impl)->rng; }

const gd_model_ops gd_model_testfn = {
    .name = "testfn",
    .task = GD_TASK_REGRESSION,
    .setup = testfn_setup,
    .loss_grad = testfn_loss_grad,
    .predict = testfn_predict,
    .weight_count = testfn_weight_count,
    .destroy = testfn_destroy,
    .init = testfn_init,
    .config_keys = testfn_config_keys,
    .rng = testfn_rng,
    .without_data = 1,
};
