#include "gdmpi/optim.h"

#include "gdmpi/error.h"

#include <stdlib.h>
#include <string.h>

extern const gd_optim_ops gd_optim_sgd;

/* The registry: a new optimizer is one file in src/optim/ and one line here. */
static const gd_optim_ops *const optimizers[] = {&gd_optim_sgd};
#define NOPTIM (sizeof optimizers / sizeof optimizers[0])

const gd_optim_ops *gd_optim_find(const char *name)
{
    for (size_t i = 0; i < NOPTIM; i++)
        if (!strcmp(optimizers[i]->name, name))
            return optimizers[i];
    return NULL;
}

const char *gd_optim_names(void) { return "sgd"; }

int gd_optim_create(gd_optim *o, const char *name, const gd_optim_hparams *hp, size_t n)
{
    memset(o, 0, sizeof *o);
    o->ops = gd_optim_find(name);
    if (!o->ops)
        return gd_fail(GD_ECONFIG, "optimizer.type = '%s': unknown (known: %s)", name,
                       gd_optim_names());
    o->hp = *hp;
    o->n = n;
    if (o->ops->state_slots) {
        o->state = gd_alloc(n, o->ops->state_slots * sizeof(float), "optimizer state");
        if (!o->state)
            return GD_ERR;
    }
    return GD_OK;
}

void gd_optim_destroy(gd_optim *o)
{
    free(o->state);
    o->state = NULL;
}

void gd_optim_step(gd_optim *o, float *w, const float *g, float lr)
{
    o->t++;
    o->ops->step(o, w, g, o->n, lr);
}
