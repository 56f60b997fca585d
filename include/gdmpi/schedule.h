/* Learning-rate schedules: lr as a function of the steps taken so far. Types by name
 * (DESIGN rule 3): constant, step, exp, inverse, cosine; any of them may have a linear
 * warm-up in front. Epoch-based types change lr at epoch boundaries (whole epochs done
 * = t / steps_per_epoch); inverse, cosine and the warm-up move every step. */
#ifndef GDMPI_SCHEDULE_H
#define GDMPI_SCHEDULE_H

typedef struct gd_schedule gd_schedule;

typedef struct gd_schedule_ops {
    const char *name;
    /* The lr after t steps (t = 0 for the first), before the warm-up ramp. */
    double (*lr)(const gd_schedule *s, long t);
} gd_schedule_ops;

typedef struct gd_schedule_params {
    double lr;            /* the base lr, after the linear scaling rule */
    double gamma;         /* step, exp: the factor per step_epochs / per epoch */
    long step_epochs;     /* step: epochs between two multiplications by gamma */
    double decay;         /* inverse: lr / (1 + decay t), t in steps */
    double min_lr;        /* cosine: the lr at the end of the run */
    double warmup_epochs; /* linear warm-up length (0: none) */
    long steps_per_epoch; /* optimizer steps in one epoch (>= 1) */
    long total_steps;     /* steps in the whole run: cosine's horizon (>= 1) */
} gd_schedule_params;

struct gd_schedule {
    const gd_schedule_ops *ops;
    gd_schedule_params p;
};

const gd_schedule_ops *gd_schedule_find(const char *name);
/* "constant|step|...": the registry's names, for the config's name check. */
const char *gd_schedule_names(void);

int gd_schedule_create(gd_schedule *s, const char *name, const gd_schedule_params *p);
/* The lr in force for the step after t steps: the type's lr times the warm-up ramp
 * min(1, (t + 1) / warm-up steps). */
double gd_schedule_lr(const gd_schedule *s, long t);

#endif
