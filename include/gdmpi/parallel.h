/* Parallel strategies: how the ranks' gradient sums become one optimizer step. */
#ifndef GDMPI_PARALLEL_H
#define GDMPI_PARALLEL_H

#include <stdio.h>

typedef struct gd_trainer gd_trainer;

typedef struct gd_strategy_ops {
    const char *name;
    /* Called once, collectively, after the model and optimizer exist. */
    int (*setup)(gd_trainer *t);
    /* Takes this rank's gradient sums in t->model.g with t->batch_loss and t->batch_count,
     * and leaves t->model.w ready for the next batch. Sets t->step_loss and t->step_count to
     * the sums that the step used (global for synchronous strategies). */
    void (*step)(gd_trainer *t);
    /* Called once after the last step, collectively; leaves the final model in t->model.w. */
    void (*finish)(gd_trainer *t);
    /* Optional, rank 0 only: writes strategy-specific members into summary.json, each line
     * `  "name": value,` (e.g. the allreduce's hidden and exposed communication time). */
    void (*summary)(const gd_trainer *t, FILE *f);
    void (*destroy)(gd_trainer *t);
} gd_strategy_ops;

const gd_strategy_ops *gd_strategy_find(const char *name);
const char *gd_strategy_names(void);

#endif
