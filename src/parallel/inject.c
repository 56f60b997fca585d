/* Straggler and network injection; see include/gdmpi/inject.h for the model. The MPI
 * functions that pay the network delay are in the profiling layer, src/pmpi/wrap.c. */
#include "gdmpi/inject.h"

#include "gdmpi/error.h"

#include <errno.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static struct {
    int slow;            /* this rank is a straggler */
    double extra;        /* slow_factor - 1 */
    double delay;        /* seconds per send or collective */
    int armed;
    double slow_owed, delay_owed; /* seconds still to sleep (negative: overshoot credit) */
    gd_inject_totals total;
} inj;

/* Sleeps what is owed, if anything, and returns the seconds actually slept; *owed keeps the
 * difference, so an overshoot (the wake-up latency) is paid back by the next calls. */
static double pay(double *owed, double amount)
{
    *owed += amount;
    if (*owed <= 0)
        return 0;
    double start = MPI_Wtime();
    struct timespec ts = {.tv_sec = (time_t)*owed,
                          .tv_nsec = (long)((*owed - (double)(time_t)*owed) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    double slept = MPI_Wtime() - start;
    *owed -= slept;
    return slept;
}

/* "1,3" (spaces allowed): marks whether `rank` is among them; every entry must be a rank. */
static int parse_slow_ranks(const char *list, int rank, int size)
{
    inj.slow = 0;
    for (const char *p = list; *p;) {
        char *end;
        errno = 0;
        long r = strtol(p, &end, 10);
        while (*end == ' ')
            end++;
        if (end == p || errno || (*end && *end != ','))
            return gd_fail(GD_ECONFIG, "parallel.slow_ranks = '%s': not a comma-separated list "
                           "of ranks (e.g. 1,3)", list);
        if (r < 0 || r >= size)
            return gd_fail(GD_ECONFIG, "parallel.slow_ranks = '%s': rank %ld does not exist "
                           "(this job has ranks 0..%d)", list, r, size - 1);
        inj.slow |= r == rank;
        p = *end ? end + 1 : end;
    }
    return GD_OK;
}

int gd_inject_setup(const gd_config *c, int rank, int size)
{
    memset(&inj, 0, sizeof inj);
    int rc = parse_slow_ranks(c->parallel.slow_ranks, rank, size);
    if (rc)
        return rc;
    inj.extra = c->parallel.slow_factor - 1;
    inj.delay = (double)c->parallel.delay_us * 1e-6;
#ifdef __linux__
    /* the default 50 us timer slack would swamp sleeps of tens of microseconds */
    if ((inj.slow && inj.extra > 0) || inj.delay > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    return GD_OK;
}

void gd_inject_arm(int on) { inj.armed = on; }

void gd_inject_slow(double compute_s)
{
    if (inj.slow && inj.extra > 0)
        inj.total.slow_s += pay(&inj.slow_owed, inj.extra * compute_s);
}

gd_inject_totals gd_inject_totals_get(void) { return inj.total; }

void gd_inject_delay(MPI_Comm comm)
{
    int size = 1;
    if (!inj.armed || inj.delay <= 0 || comm == MPI_COMM_NULL)
        return;
    PMPI_Comm_size(comm, &size);
    if (size < 2)
        return;
    inj.total.delay_s += pay(&inj.delay_owed, inj.delay);
    inj.total.delays += 1;
}
