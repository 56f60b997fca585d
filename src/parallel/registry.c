#include "gdmpi/parallel.h"

#include <string.h>

extern const gd_strategy_ops gd_strategy_allreduce;

/* The registry: a new strategy is one file in src/parallel/ and one line here. */
static const gd_strategy_ops *const strategies[] = {&gd_strategy_allreduce};
#define NSTRATEGIES (sizeof strategies / sizeof strategies[0])

const gd_strategy_ops *gd_strategy_find(const char *name)
{
    for (size_t i = 0; i < NSTRATEGIES; i++)
        if (!strcmp(strategies[i]->name, name))
            return strategies[i];
    return NULL;
}

const char *gd_strategy_names(void) { return "allreduce"; }
