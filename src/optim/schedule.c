/* The learning-rate schedules and their registry. Each type is one short formula, so
 * they share this file; a new type is one function and its entry in the registry. */
#include "gdmpi/schedule.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/registry.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846 /* M_PI is not in strict C11 */

/* Whole epochs completed after t steps. */
static long epochs_done(const gd_schedule *s, long t) { return t / s->p.steps_per_epoch; }

static double constant_lr(const gd_schedule *s, long t)
{
    (void)t;
    return s->p.lr; /* lr */
}

static double step_lr(const gd_schedule *s, long t)
{
    /* lr gamma^floor(epochs / step_epochs) */
    return s->p.lr * pow(s->p.gamma, (double)(epochs_done(s, t) / s->p.step_epochs));
}

static double exp_lr(const gd_schedule *s, long t)
{
    return s->p.lr * pow(s->p.gamma, (double)epochs_done(s, t)); /* lr gamma^epochs */
}

static double inverse_lr(const gd_schedule *s, long t)
{
    return s->p.lr / (1.0 + s->p.decay * (double)t); /* lr / (1 + decay t) */
}

static double cosine_lr(const gd_schedule *s, long t)
{
    /* min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2, T = the run's steps; min_lr after T */
    double progress = fmin(1.0, (double)t / (double)s->p.total_steps);
    return s->p.min_lr + (s->p.lr - s->p.min_lr) * 0.5 * (1.0 + cos(PI * progress));
}

static const gd_schedule_ops constant = {"constant", constant_lr}, step = {"step", step_lr},
                             exp_decay = {"exp", exp_lr}, inverse = {"inverse", inverse_lr},
                             cosine = {"cosine", cosine_lr};
static const gd_schedule_ops *const schedules[] = {&constant, &step, &exp_decay, &inverse,
                                                   &cosine};

const gd_schedule_ops *gd_schedule_find(const char *name)
{
    return gd_registry_find(GD_REGISTRY(schedules), name);
}

const char *gd_schedule_names(void)
{
    static char names[128];
    return gd_registry_names(GD_REGISTRY(schedules), names, sizeof names);
}

GD_CONFIG_ACCEPTS(type, "schedule", "type", gd_schedule_names)

int gd_schedule_create(gd_schedule *s, const char *name, const gd_schedule_params *p)
{
    s->ops = gd_schedule_find(name);
    if (!s->ops)
        return gd_fail(GD_ECONFIG, "schedule.type = '%s': unknown (known: %s)", name,
                       gd_schedule_names());
    s->p = *p;
    if (s->p.steps_per_epoch < 1)
        s->p.steps_per_epoch = 1;
    if (s->p.total_steps < 1)
        s->p.total_steps = 1;
    if (s->p.step_epochs < 1)
        s->p.step_epochs = 1;
    return GD_OK;
}

double gd_schedule_lr(const gd_schedule *s, long t)
{
    double warmup_steps = s->p.warmup_epochs * (double)s->p.steps_per_epoch;
    double ramp = warmup_steps > 0 ? fmin(1.0, (double)(t + 1) / warmup_steps) : 1.0;
    return ramp * s->ops->lr(s, t); /* linear warm-up: lr (t + 1) / warm-up steps */
}
