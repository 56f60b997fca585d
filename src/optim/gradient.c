/* What happens to the combined mean gradient before the optimizer step: the global
 * norm, clipping, the L1 subgradient and Neelakantan et al.'s gradient noise. Plain
 * vector code, like the optimizers: none of it knows the model. */
#include "gdmpi/optim.h"

#include <math.h>

/* Eight independent partial sums: one running sum is a serial chain of dependent adds that
 * the compiler cannot vectorise (measured at ~7 us per MLP step). Only the rounding differs
 * from a serial sum. The last n % 8 squares go into the running sum first, then the parts:
 * gd_sumsq and gd_scale_sumsq add in this one order, so they agree to the bit. */
static double add_parts(const double part[8], const float *restrict g, size_t i, size_t n)
{
    double s = 0;
    for (; i < n; i++)
        s += (double)g[i] * g[i];
    for (int k = 0; k < 8; k++)
        s += part[k];
    return s;
}

double gd_sumsq(const float *restrict g, size_t n)
{
    double part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            part[k] += (double)g[i + k] * g[i + k];
    return add_parts(part, g, i, n);
}

double gd_scale_sumsq(float *restrict g, size_t n, float scale)
{
    double part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            g[i + k] *= scale;
            part[k] += (double)g[i + k] * g[i + k];
        }
    for (size_t j = i; j < n; j++)
        g[j] *= scale;
    return add_parts(part, g, i, n);
}

void gd_clip_by_norm(float *g, size_t n, double norm, double max_norm)
{
    if (!(norm > max_norm))
        return;
    const float scale = (float)(max_norm / norm); /* g <- g max_norm / |g| */
    for (size_t i = 0; i < n; i++)
        g[i] *= scale;
}

double gd_l1_penalty(const float *w, float *g, size_t n, double l1)
{
    if (l1 == 0)
        return 0;
    const float l = (float)l1;
    double abs_sum = 0;
    for (size_t i = 0; i < n; i++) {
        abs_sum += fabsf(w[i]);
        if (g)
            g[i] += w[i] > 0 ? l : w[i] < 0 ? -l : 0.0f; /* l1 sign(w), subgradient 0 at 0 */
    }
    return l1 * abs_sum;
}

double gd_l2_penalty(const float *w, float *g, size_t n, double l2)
{
    if (l2 == 0)
        return 0;
    const float l = (float)l2;
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
        sq += (double)w[i] * w[i];
        if (g)
            g[i] += l * w[i];
    }
    return 0.5 * l2 * sq;
}

double gd_grad_noise_stddev(double eta, double gamma, long t)
{
    return sqrt(eta / pow(1.0 + (double)t, gamma)); /* variance eta / (1 + t)^gamma */
}

void gd_add_grad_noise(float *g, size_t n, double stddev, gd_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        g[i] += (float)(stddev * gd_rng_normal(rng));
}
