/* The update pipeline (gdmpi/update.h): penalties, divergence check, clipping, gradient
 * noise and the optimizer step, on the slice of the flat vector that the caller updates. */
#include "gdmpi/update.h"

#include <math.h>

const char *gd_divergence_name(gd_divergence d)
{
    return d == GD_DIV_LOSS ? "loss" : d == GD_DIV_GRADIENT ? "gradient" : NULL;
}

void gd_update_init(gd_update *u, gd_optim *o, size_t nparams, size_t nweights,
                    const gd_config *c)
{
    *u = (gd_update){.optim = o,
                     .nparams = nparams,
                     .nweights = nweights,
                     .l2 = c->model.l2,
                     .l1 = c->model.l1,
                     .clip_norm = c->train.clip_norm,
                     .noise = c->train.grad_noise,
                     .noise_gamma = c->train.grad_noise_gamma,
                     .sumsq = NAN};
    gd_rng_seed(&u->noise_rng, (uint64_t)c->train.seed, 0, GD_RNG_NOISE);
}

double gd_update_penalties(const gd_update *u, const float *w, size_t lo, size_t n, float *g)
{
    size_t nw = u->nweights;
    size_t k = nw <= lo ? 0 : nw - lo < n ? nw - lo : n; /* the weights in the slice */
    return gd_l2_penalty(w + lo, g, k, u->l2) + gd_l1_penalty(w + lo, g, k, u->l1);
}

/* Gradient noise for parameters [lo, lo + n): the shared stream draws one number per
 * parameter in order, so a slice skips the draws of the parameters before and after it and
 * every slice gets what the whole vector would. */
static void add_noise(gd_update *u, size_t lo, size_t n, float *g, long step)
{
    double sd = gd_grad_noise_stddev(u->noise, u->noise_gamma, step);
    for (size_t i = 0; i < lo; i++)
        gd_rng_normal(&u->noise_rng);
    gd_add_grad_noise(g, n, sd, &u->noise_rng);
    for (size_t i = lo + n; i < u->nparams; i++)
        gd_rng_normal(&u->noise_rng);
}

gd_divergence gd_update_step(gd_update *u, float *w, size_t lo, size_t n, float *g,
                             double loss, double sumsq, double lr, long step)
{
    u->sumsq = sumsq;
    if (!isfinite(loss) || !isfinite(sumsq))
        return isfinite(loss) ? GD_DIV_GRADIENT : GD_DIV_LOSS; /* w keeps its last finite values */
    if (u->clip_norm > 0)
        gd_clip_by_norm(g, n, sqrt(sumsq), u->clip_norm);
    if (u->noise > 0)
        add_noise(u, lo, n, g, step);
    gd_optim_step(u->optim, w + lo, g, (float)lr);
    return GD_DIV_NONE;
}

/* The usual case, nothing penalised in the slice, is one pass: divide and sum the squares.
 * With penalties it is three, in the order of the pipeline (divide, add the penalties,
 * sum the squares), since the penalties' loss is a serial sum that would keep the divide
 * and the norm from vectorising. */
double gd_update_prepare(const gd_update *u, const float *w, size_t lo, size_t n, float *g,
                         double count, double *penalty)
{
    const float inv = 1.0f / (float)count;
    const int penalised = (u->l2 != 0 || u->l1 != 0) && lo < u->nweights;
    if (!penalised) {
        *penalty = 0;
        return gd_scale_sumsq(g, n, inv);
    }
    for (size_t i = 0; i < n; i++)
        g[i] *= inv;
    *penalty = gd_update_penalties(u, w, lo, n, g);
    return gd_sumsq(g, n); /* after the penalties: the norm of what the step uses */
}

gd_divergence gd_update_apply(gd_update *u, float *w, size_t lo, size_t n, float *g,
                              double *loss, double count, double lr, long step, MPI_Comm peers)
{
    double sums[2];
    sums[1] = gd_update_prepare(u, w, lo, n, g, count, &sums[0]);
    if (peers != MPI_COMM_NULL)
        MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, peers);
    *loss += count * sums[0];
    return gd_update_step(u, w, lo, n, g, *loss, sums[1], lr, step);
}

void gd_update_declare(gd_update *u, gd_state *s)
{
    /* elastic: a shared stream must stay the same on every rank (they add the same noise to
       one combined gradient); a rank's own stays distinct */
    gd_state_add(s, GD_STATE_U64, GD_PER_RANK, u->noise_rng.s, 4, "update/noise_rng")->elastic =
        u->own_noise ? GD_EL_STREAM : GD_EL_FIRST;
}

void gd_update_own_noise(gd_update *u, uint64_t seed, int rank)
{
    gd_rng_seed(&u->noise_rng, seed, 1 + (uint64_t)rank, GD_RNG_NOISE); /* 0: the shared one */
    u->own_noise = 1;
}
