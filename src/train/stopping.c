/* Stopping rules as small state machines fed one number per epoch, so that the unit
 * tests can drive them with synthetic loss sequences. The loop (train.c) feeds them and
 * makes every rank agree on the verdict. */
#include "gdmpi/real.h"
#include "trainer.h"

#include <float.h>
#include <limits.h>
#include <math.h>

static const char *const stop_names[GD_STOP_COUNT] = {
    "none", "epochs", "max_steps", "max_seconds", "tol", "early_stopping", "signal", "diverged"};

const char *gd_stop_reason_name(gd_stop_reason r)
{
    return r >= 0 && r < GD_STOP_COUNT ? stop_names[r] : "unknown";
}

void gd_tol_init(gd_tol_rule *r, double tol, long epochs)
{
    *r = (gd_tol_rule){.tol = tol, .prev = NAN, .epochs = epochs < 1 ? 1 : epochs};
}

int gd_tol_update(gd_tol_rule *r, double loss)
{
    double prev = r->prev;
    r->prev = loss;
    if (r->tol <= 0 || isnan(prev))
        return 0;
    /* |L_e - L_(e-1)| / |L_(e-1)|; a loss of exactly 0 twice is no change */
    double change = fabs(loss - prev) / fmax(fabs(prev), DBL_MIN);
    r->calm = change < r->tol ? r->calm + 1 : 0;
    return r->calm >= r->epochs;
}

void gd_early_stop_init(gd_early_stop *r, long patience)
{
    *r = (gd_early_stop){.patience = patience, .best = INFINITY};
}

gd_early_verdict gd_early_stop_update(gd_early_stop *r, long epoch, double val_loss)
{
    if (isfinite(val_loss) && val_loss < r->best) {
        r->best = val_loss;
        r->best_epoch = epoch;
        r->stale = 0;
        return GD_ES_BETTER;
    }
    r->stale++;
    return r->patience > 0 && r->stale >= r->patience ? GD_ES_STOP : GD_ES_WORSE;
}

long gd_deadline_step(double max_seconds, double elapsed, double per_step, double reserve,
                      long step)
{
    double left = max_seconds - elapsed - reserve;
    if (left <= 0)
        return step;
    if (per_step <= 0)
        return step + 1; /* nothing measured yet: take one step, then look again */
    double more = floor(left / per_step);
    return more >= (double)(LONG_MAX - step) ? LONG_MAX : step + (long)more;
}

void gd_json_stopping(const gd_trainer *t, FILE *f)
{
    const gd_early_stop *e = &t->stopping.early;
    fprintf(f, "  \"stop_reason\": \"%s\",\n", gd_stop_reason_name(t->stopping.reason));
    if (e->best_epoch > 0)
        fprintf(f, "  \"best_epoch\": %ld,\n  \"best_val_loss\": %s,\n", e->best_epoch,
                gd_real(e->best).text);
    else
        fprintf(f, "  \"best_epoch\": null,\n  \"best_val_loss\": null,\n");
    int restored = t->stopping.best_w && e->best_epoch > 0 && t->stopping.reason != GD_STOP_DIVERGED;
    fprintf(f, "  \"restored_best\": %s,\n", restored ? "true" : "false");
}

void gd_stopping_declare(gd_trainer *t, gd_state *s)
{
    gd_stopping *st = &t->stopping;
    gd_state_add(s, GD_STATE_F64, GD_SHARED, &st->tol.prev, 1, "stopping/tol_prev");
    gd_state_add(s, GD_STATE_I64, GD_SHARED, &st->tol.calm, 1, "stopping/tol_calm");
    gd_state_add(s, GD_STATE_F64, GD_SHARED, &st->early.best, 1, "stopping/early_best");
    gd_state_add(s, GD_STATE_I64, GD_SHARED, &st->early.best_epoch, 1, "stopping/early_best_epoch");
    gd_state_add(s, GD_STATE_I64, GD_SHARED, &st->early.stale, 1, "stopping/early_stale");
    const gd_state_field *p = gd_state_find(s, "model/params");
    if (!st->best_w || !p)
        return;
    /* the best copy is held as the parameters are, but one copy where each rank trains its
     * own: the row's model (the average, the center) is the same on every rank */
    gd_state_field *b = gd_state_add_slice(s, GD_STATE_F32, st->best_w + p->lo, 1, p->lo, p->len,
                                           p->total, "stopping/best_params");
    b->scope = p->scope;
    if (p->scope == GD_PER_RANK) {
        b->scope = GD_SHARED;
        b->len = b->total = t->model.nparams;
    }
    if (t->model.nstate)
        gd_state_add(s, GD_STATE_F32, GD_PER_RANK, st->best_w + t->model.nparams, t->model.nstate,
                     "stopping/best_state")->elastic = GD_EL_MEAN; /* as model/state */
}
