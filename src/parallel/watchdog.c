/* The stall watchdog (see gdmpi/watchdog.h): one thread per rank that ends the process
 * when the communication the main thread is blocked in has lasted too long.
 *
 * The main thread publishes what it waits in with plain atomic stores; the watchdog
 * reads them as a seqlock: `gen` is odd while an enter is being written, and a reading
 * whose gen changed is thrown away and retried at the next tick. `since_ns` is 0 when
 * the main thread is not blocked. */
#include "gdmpi/watchdog.h"

#include "gdmpi/error.h"
#include "gdmpi/thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    /* written by the main thread in enter/leave, read by the watchdog */
    atomic_ulong gen;
    atomic_llong since_ns;
    _Atomic(const char *) what;
    atomic_long step;
    atomic_int peer;
    /* set at start, fixed while the thread runs */
    double timeout_s;
    long long started_ns; /* when start was called: the thread's first tick counts from it */
    int rank;
    int running;
    atomic_int stopping;
    int watch_calls; /* gd_watchdog_enter_call watches (main thread only) */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} wd = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void gd_watchdog_enter_peer(const char *what, long step, int peer)
{
    if (!wd.running)
        return;
    atomic_fetch_add_explicit(&wd.gen, 1, memory_order_relaxed); /* odd: writing */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&wd.what, what, memory_order_relaxed);
    atomic_store_explicit(&wd.step, step, memory_order_relaxed);
    atomic_store_explicit(&wd.peer, peer, memory_order_relaxed);
    atomic_store_explicit(&wd.since_ns, now_ns(), memory_order_relaxed);
    atomic_fetch_add_explicit(&wd.gen, 1, memory_order_release); /* even: done */
}

void gd_watchdog_enter(const char *what, long step) { gd_watchdog_enter_peer(what, step, -1); }

int gd_watchdog_enter_call(const char *what, int peer)
{
    if (!wd.running || !wd.watch_calls ||
        atomic_load_explicit(&wd.since_ns, memory_order_relaxed) != 0)
        return 0; /* off, or the caller brackets this call itself */
    gd_watchdog_enter_peer(what, atomic_load_explicit(&wd.step, memory_order_relaxed), peer);
    return 1;
}

void gd_watchdog_watch_calls(int on) { wd.watch_calls = on; }

void gd_watchdog_leave(void)
{
    if (!wd.running)
        return;
    atomic_fetch_add_explicit(&wd.gen, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&wd.since_ns, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&wd.gen, 1, memory_order_release);
}

/* Prints the one line and ends the process: the job cannot go on, and MPI cannot be
 * called from here (the main thread is inside it), so no MPI_Abort; mpirun sees the
 * non-zero exit and ends the other ranks. The exit waits a short grace (a tenth of the
 * timeout, 1 s at most) so that every other rank stuck in the same call, whose watchdog
 * fires a moment later, still gets its line out before mpirun kills it: the ranks that
 * report are all the waiting ones, and those that do not are the ones they wait for. */
static _Noreturn void report_stall(const char *what, long step, int peer, double waited)
{
    char msg[512], whom[64];
    if (peer >= 0)
        snprintf(whom, sizeof whom, "rank %d", peer);
    else
        snprintf(whom, sizeof whom, "the other ranks");
    int len = snprintf(msg, sizeof msg,
                       "gdmpi: error: rank %d: no progress for %.0f s in %s at step %ld; "
                       "waiting for %s (stall_timeout)\n",
                       wd.rank, waited, what ? what : "communication", step, whom);
    if (len > (int)sizeof msg - 1)
        len = (int)sizeof msg - 1;
    ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
    (void)w;
    double grace = wd.timeout_s / 10 < 1 ? wd.timeout_s / 10 : 1;
    struct timespec ts = {.tv_sec = (time_t)grace,
                          .tv_nsec = (long)((grace - (double)(time_t)grace) * 1e9)};
    nanosleep(&ts, NULL);
    _exit(GD_WATCHDOG_EXIT);
}

/* What the watchdog thread remembers between ticks: the wait it last saw (its gen) and
 * the time this process was not running during it. */
typedef struct {
    unsigned long gen;
    long long paused_ns;
} watch_state;

/* One look at the main thread at time now; returns only when it is not stalled. late_ns:
 * how much later than due this tick came. A tick that comes far too late means this
 * process was not running (SIGSTOP, a suspended VM or job, an overloaded node): that time
 * is no one's stall and does not count. So a rank that was frozen, and is woken to be
 * ended, does not report a wait of its own. */
static void check_once(watch_state *ws, long long now, long long late_ns)
{
    unsigned long g1 = atomic_load_explicit(&wd.gen, memory_order_acquire);
    if (g1 != ws->gen) { /* another wait (or none) since the last look */
        ws->gen = g1;
        ws->paused_ns = 0;
    }
    ws->paused_ns += late_ns;
    if (g1 & 1)
        return; /* an enter or leave is being written: look again next tick */
    long long since = atomic_load_explicit(&wd.since_ns, memory_order_relaxed);
    const char *what = atomic_load_explicit(&wd.what, memory_order_relaxed);
    long step = atomic_load_explicit(&wd.step, memory_order_relaxed);
    int peer = atomic_load_explicit(&wd.peer, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&wd.gen, memory_order_relaxed) != g1 || since == 0)
        return;
    double waited = (double)(now - since - ws->paused_ns) * 1e-9;
    if (waited > wd.timeout_s)
        report_stall(what, step, peer, waited);
}

static void *watch(void *arg)
{
    (void)arg;
    /* Ticks of a tenth of the timeout (10 ms .. 1 s): a stall is caught within 10%. */
    double tick = wd.timeout_s / 10;
    tick = tick < 0.01 ? 0.01 : tick > 1 ? 1 : tick;
    const long long tick_ns = (long long)(tick * 1e9), too_late_ns = 200000000LL; /* 0.2 s */
    watch_state ws = {.gen = atomic_load(&wd.gen), .paused_ns = 0};
    long long last = wd.started_ns; /* (this thread may first run well after start) */
    pthread_mutex_lock(&wd.lock);
    while (!atomic_load(&wd.stopping)) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long long ns = until.tv_nsec + tick_ns;
        until.tv_sec += (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        pthread_cond_timedwait(&wd.wake, &wd.lock, &until);
        long long now = now_ns(), late = now - last - tick_ns;
        last = now;
        if (!atomic_load(&wd.stopping))
            check_once(&ws, now, late > too_late_ns ? late : 0);
    }
    pthread_mutex_unlock(&wd.lock);
    return NULL;
}

int gd_watchdog_start(double timeout_s, int rank)
{
    if (timeout_s <= 0)
        return GD_OK;
    if (wd.running)
        return gd_fail(GD_ERR, "stall watchdog: already running");
    wd.timeout_s = timeout_s;
    wd.rank = rank;
    wd.started_ns = now_ns();
    atomic_store(&wd.since_ns, 0);
    atomic_store(&wd.stopping, 0);
    wd.watch_calls = 1;

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd.wake, &attr);
    pthread_condattr_destroy(&attr);

    int err = gd_thread_start(&wd.thread, watch, NULL); /* signals stay with the main thread */
    if (err) {
        pthread_cond_destroy(&wd.wake);
        return gd_fail(GD_ERR, "stall watchdog: cannot start its thread: %s", strerror(err));
    }
    wd.running = 1;
    return GD_OK;
}

void gd_watchdog_stop(void)
{
    if (!wd.running)
        return;
    pthread_mutex_lock(&wd.lock);
    atomic_store(&wd.stopping, 1);
    pthread_cond_signal(&wd.wake);
    pthread_mutex_unlock(&wd.lock);
    pthread_join(wd.thread, NULL);
    pthread_cond_destroy(&wd.wake);
    wd.running = 0;
}
