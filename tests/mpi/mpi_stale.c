/* Run under mpirun -np 3 as `mpi_stale`: ps-async's staleness is stamped per gradient.
 * One server (rank 0), workers A (rank 1) and B (rank 2), push_every = 4, fetch_every = 1,
 * the workers' steps ordered by barriers among them (the server serves throughout):
 *   A: 4 steps (reads version 0 each time), pushes -> version 1
 *   B: step 1 on version 0, fetches 1
 *   A: 4 steps on version 1, pushes -> version 2;      B: step 2 on 1, fetches 2
 *   A: 4 steps on 2, pushes -> 3;                      B: step 3 on 2, fetches 3
 *   A: 4 steps on 3, pushes -> 4;                      B: step 4 on 3, pushes at version 4
 * A's pushes are 0 stale. B's push carries gradients computed on versions 0, 1, 2, 3: its
 * stamp is their mean 1.5 (floor 1), so it is 3 updates stale; stamped when the
 * accumulation began (version 0), it would count 4. summary.json: 5 pushes, max 3. */
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>

static void configure(gd_config *c)
{
    gd_config_defaults(c);
    snprintf(c->parallel.mode, sizeof c->parallel.mode, "ps-async");
    c->parallel.push_every = 4;
    c->parallel.fetch_every = 1;
}

static void step(test_run *r)
{
    r->model.g[0] = 0.5f, r->model.g[1] = 0.25f;
    r->x.batch_loss = 1, r->x.batch_count = 1;
    if (r->ops->step(&r->x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    r->x.step++;
}

/* The workers' script above; `me` is 0 for A, 1 for B. */
static void work(test_run *r, int me)
{
    for (int round = 0; round < 4; round++) {
        for (int k = 0; me == 0 && k < 4; k++)
            step(r);
        MPI_Barrier(r->x.role_comm);
        if (me == 1)
            step(r);
        MPI_Barrier(r->x.role_comm);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    gd_config c;
    configure(&c);
    test_run r;
    gd_optim_hparams hp = {.lr = 0.1};
    test_run_init(&r, &c, MPI_COMM_WORLD, "linreg", 1, 1, 1, &hp, 0.1);
    test_run_servers(&r, 1);
    r.ops = gd_strategy_find("ps-async");
    if (r.ops->setup(&r.x))
        gd_abort(MPI_COMM_WORLD, GD_ERR);
    if (r.x.serving)
        r.ops->serve(&r.x);
    else
        work(&r, r.x.rank - 1);
    r.ops->finish(&r.x);
    if (r.x.rank == 0) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        r.ops->summary(&r.x, f);
        fclose(f);
        const char *want = "\"staleness\": {\"unit\": \"server updates\", \"count\": 5, \"mean\": "
                           "0.6, \"max\": 3,";
        int ok = text && strstr(text, want);
        printf("%s - ps-async: a push's staleness is its gradients' mean (B's: 3, not 4)\n",
               ok ? "ok" : "not ok");
        if (!ok)
            printf("# %s\n", text ? text : "(no summary)");
        free(text);
    }
    test_run_free(&r);
    MPI_Finalize();
    return 0;
}
