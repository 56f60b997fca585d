#include "gdmpi/optim.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"
#include "gdmpi/real.h"
#include "gdmpi/registry.h"

#include <stdlib.h>
#include <string.h>

extern const gd_optim_ops gd_optim_sgd, gd_optim_momentum, gd_optim_nesterov, gd_optim_adagrad,
    gd_optim_adadelta, gd_optim_rmsprop, gd_optim_adam, gd_optim_adamax, gd_optim_nadam,
    gd_optim_amsgrad, gd_optim_adamw;

/* The registry: a new optimizer is one file in src/optim/ and one line here. */
static const gd_optim_ops *const optimizers[] = {
    &gd_optim_sgd,      &gd_optim_momentum, &gd_optim_nesterov, &gd_optim_adagrad,
    &gd_optim_adadelta, &gd_optim_rmsprop,  &gd_optim_adam,     &gd_optim_adamax,
    &gd_optim_nadam,    &gd_optim_amsgrad,  &gd_optim_adamw,
};

const gd_optim_ops *gd_optim_find(const char *name)
{
    return gd_registry_find(GD_REGISTRY(optimizers), name);
}

const char *gd_optim_names(void)
{
    static char names[256];
    return gd_registry_names(GD_REGISTRY(optimizers), names, sizeof names);
}

GD_CONFIG_ACCEPTS(type, "optimizer", "type", gd_optim_names)

/* The update formulas divide by 1 - beta^t (bias correction); beta = 1 would divide by 0. */
static int check_hparams(const gd_optim_hparams *hp)
{
    if (hp->beta1 >= 1)
        return gd_fail(GD_ECONFIG, "optimizer.beta1 = %s: must be below 1", gd_real(hp->beta1).text);
    if (hp->beta2 >= 1)
        return gd_fail(GD_ECONFIG, "optimizer.beta2 = %s: must be below 1", gd_real(hp->beta2).text);
    return GD_OK;
}

int gd_optim_create(gd_optim *o, const char *name, const gd_optim_hparams *hp, size_t n)
{
    memset(o, 0, sizeof *o);
    o->ops = gd_optim_find(name);
    if (!o->ops)
        return gd_fail(GD_ECONFIG, "optimizer.type = '%s': unknown (known: %s)", name,
                       gd_optim_names());
    int rc = check_hparams(hp);
    if (rc)
        return rc;
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

void gd_optim_step(gd_optim *o, float *restrict w, const float *restrict g, float lr)
{
    o->t++;
    o->ops->step(o, w, g, o->n, lr);
}

size_t gd_optim_state_len(const gd_optim *o) { return o->ops ? o->n * o->ops->state_slots : 0; }

void gd_optim_declare(gd_optim *o, gd_state *s, gd_state_scope scope, size_t lo, size_t total)
{
    _Static_assert(sizeof(long) == sizeof(int64_t), "step counts are saved as int64");
    if (o->ops->state_slots) {
        gd_state_field *f = gd_state_add_slice(s, GD_STATE_F32, o->state, o->ops->state_slots,
                                               scope == GD_SLICED ? lo : 0, o->n,
                                               scope == GD_SLICED ? total : o->n,
                                               "optimizer/state");
        f->scope = scope;
        f->elastic = GD_EL_MEAN; /* each rank's own (local modes): their mean, as the params */
    }
    /* the steps taken: the same on every rank, or (servers, local modes) as good as */
    gd_state_add(s, GD_STATE_I64, GD_PER_RANK, &o->t, 1, "optimizer/t")->elastic = GD_EL_FIRST;
}
