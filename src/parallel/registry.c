#include "gdmpi/parallel.h"

#include <string.h>

extern const gd_strategy_ops gd_strategy_allreduce, gd_strategy_ps, gd_strategy_ps_async;
extern const gd_strategy_ops gd_strategy_hogwild, gd_strategy_easgd, gd_strategy_easgd_async;
extern const gd_strategy_ops gd_strategy_local_sgd;

/* The registry: a new strategy is one file in src/parallel/ and one line here. */
static const gd_strategy_ops *const strategies[] = {&gd_strategy_allreduce, &gd_strategy_ps,
                                                    &gd_strategy_ps_async,
                                                    &gd_strategy_hogwild,
                                                    &gd_strategy_easgd,
                                                    &gd_strategy_easgd_async,
                                                    &gd_strategy_local_sgd};
#define NSTRATEGIES (sizeof strategies / sizeof strategies[0])

const gd_strategy_ops *gd_strategy_find(const char *name)
{
    for (size_t i = 0; i < NSTRATEGIES; i++)
        if (!strcmp(strategies[i]->name, name))
            return strategies[i];
    return NULL;
}

const char *gd_strategy_names(void)
{
    static char names[128]; /* built once from the registry, so the two never disagree */
    if (!names[0])
        for (size_t i = 0; i < NSTRATEGIES; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "",
                     strategies[i]->name);
    return names;
}
