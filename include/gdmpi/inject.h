/* Straggler and network injection (parallel.slow_ranks, slow_factor, delay_us): conditions
 * like a cluster's, on one machine, so that the strategies can be compared under them.
 *
 * Stragglers. The trainer calls gd_inject_slow after each step's compute (the batch,
 * forward and backward). On a rank listed in parallel.slow_ranks it sleeps (slow_factor - 1)
 * x that time, so the rank computes slow_factor times slower. A sleep overshoots by the
 * kernel's wake-up latency; the overshoot is carried over as credit to the next steps, so
 * over a run the factor is exact.
 *
 * Network. While armed (training: from the first step to the end of the strategy's finish),
 * every send (MPI_Send, MPI_Isend) and every collective on a communicator of more than one
 * rank first sleeps parallel.delay_us on the calling rank: a round trip to a server pays it
 * twice, an allreduce once. It works through the MPI profiling interface: src/pmpi/wrap.c
 * defines those MPI functions, which call gd_inject_delay and then their PMPI_ twins, so the
 * messages of every strategy, present or future, are delayed without a line in its code.
 *
 * Accounting. The injected time stays inside the timer of what it simulates (a straggler's
 * compute, a message's comm or wait), so metrics.csv's fractions look like a real slow rank's
 * or slow network's, and it is also counted apart: summary.json's ranks[].injected gives
 * each rank's slept seconds and delayed calls.
 *
 * The state is per process (one trainer per process); with nothing injected every call
 * below, and every wrapped MPI function, costs a branch. */
#ifndef GDMPI_INJECT_H
#define GDMPI_INJECT_H

#include "gdmpi/config.h"

#include <mpi.h>

typedef struct gd_inject_totals {
    double slow_s;  /* seconds slept as a straggler */
    double delay_s; /* seconds slept before sends and collectives */
    double delays;  /* sends and collectives delayed */
} gd_inject_totals;

/* Parses parallel.slow_ranks against the job's size and resets the totals; unarmed.
 * The verdict needs only the config and the size: the same on every rank. */
int gd_inject_setup(const gd_config *c, int rank, int size);
/* Turns the network delay on (1) or off (0). */
void gd_inject_arm(int on);
/* A straggler's extra time after compute_s seconds of compute (nothing on other ranks). */
void gd_inject_slow(double compute_s);
gd_inject_totals gd_inject_totals_get(void);
/* While armed: the network delay before a send or collective on comm (none on a
 * communicator of one rank). Called by the MPI wrappers in src/pmpi/wrap.c. */
void gd_inject_delay(MPI_Comm comm);

#endif
