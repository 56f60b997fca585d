#include "gdmpi/parallel.h"

#include "gdmpi/config.h"
#include "gdmpi/registry.h"

#include <stdio.h>
#include <string.h>

extern const gd_strategy_ops gd_strategy_allreduce, gd_strategy_ps, gd_strategy_ps_async;
extern const gd_strategy_ops gd_strategy_hogwild, gd_strategy_easgd, gd_strategy_easgd_async;
extern const gd_strategy_ops gd_strategy_local_sgd, gd_strategy_downpour, gd_strategy_gossip;

/* The registry: a new strategy is one file in src/parallel/ and one line here. */
static const gd_strategy_ops *const strategies[] = {&gd_strategy_allreduce, &gd_strategy_ps,
                                                    &gd_strategy_ps_async,
                                                    &gd_strategy_downpour,
                                                    &gd_strategy_hogwild,
                                                    &gd_strategy_easgd,
                                                    &gd_strategy_easgd_async,
                                                    &gd_strategy_local_sgd,
                                                    &gd_strategy_gossip};

const gd_strategy_ops *gd_strategy_find(const char *name)
{
    return gd_registry_find(GD_REGISTRY(strategies), name);
}

const char *gd_strategy_names(void)
{
    static char names[128];
    return gd_registry_names(GD_REGISTRY(strategies), names, sizeof names);
}

const char *gd_strategy_checkpointing(void)
{
    static char names[128];
    if (!names[0])
        for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++)
            if (strategies[i]->state)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         names[0] ? ", " : "", strategies[i]->name);
    return names;
}

GD_CONFIG_ACCEPTS(mode, "parallel", "mode", gd_strategy_names)
