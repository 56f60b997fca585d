/* The stall watchdog: ends the job when a blocking communication makes no progress.
 *
 * TCP can wait for minutes before it notices that a peer host is gone, and an MPI
 * collective then blocks every surviving rank forever. As Horovod's stall inspector
 * does, each rank runs one thread that watches the call it is blocked in: the training
 * code brackets every blocking communication with gd_watchdog_enter() / _leave(), and
 * when one has lasted longer than parallel.stall_timeout seconds the thread prints
 *
 *   gdmpi: error: rank R: no progress for T s in WHAT at step S; waiting for the other
 *   ranks (stall_timeout)
 *
 * (or "waiting for rank P" after gd_watchdog_enter_peer) to stderr and ends the process
 * with _exit(GD_WATCHDOG_EXIT); mpirun then ends the whole job. The ranks that report
 * are the ones waiting; those that do not report are the ones they wait for.
 *
 * A blocking call that nothing brackets is watched too: the profiling layer
 * (src/pmpi/wrap.c) wraps every blocking MPI function gdmpi calls (collectives,
 * MPI_Send, MPI_Recv, MPI_Wait, MPI_Waitall) in gd_watchdog_enter_call() / _leave(), named
 * by the MPI function, so that a host lost during an epoch's bookkeeping or the writing of
 * the outputs cannot hang the job either. The trainer turns that off where a rank may
 * wait for another for long without a stall (an asynchronous worker that has done its
 * epochs waits in finish for the others).
 *
 * enter/leave cost two atomic stores and a clock read (vDSO) each: cheap enough for
 * every step. They are for the thread that calls MPI; calls do not nest (an enter
 * replaces the current one). The watchdog never calls MPI itself. */
#ifndef GDMPI_WATCHDOG_H
#define GDMPI_WATCHDOG_H

/* The exit status of a process that the watchdog ends. */
#define GD_WATCHDOG_EXIT 4

/* Starts the watchdog thread for this rank. timeout_s <= 0 turns it off: enter and leave
 * then do nothing. Returns GD_OK, or GD_ERR with a message if the thread cannot start
 * or a watchdog is already running. */
int gd_watchdog_start(double timeout_s, int rank);

/* This rank is about to block in `what` (a string that outlives the call, e.g. a
 * literal such as "allreduce") during optimizer step `step`, waiting for all other
 * ranks (a collective) or for rank `peer` (point to point; peer < 0: the other ranks). */
void gd_watchdog_enter(const char *what, long step);
void gd_watchdog_enter_peer(const char *what, long step, int peer);

/* A blocking MPI call `what` (e.g. "MPI_Allreduce") waiting for rank `peer` (< 0: the
 * others) is about to start. When the watchdog runs, calls are watched (the default) and
 * no enter is in force, it enters `what` at the step last entered and returns 1: leave
 * when the call returns. Otherwise it does nothing and returns 0. */
int gd_watchdog_enter_call(const char *what, int peer);

/* Whether gd_watchdog_enter_call watches (on = 1, the default at start) or not. */
void gd_watchdog_watch_calls(int on);

/* The blocking call returned: progress. */
void gd_watchdog_leave(void);

/* Stops and joins the thread (at the end of training, before MPI_Finalize or after it). */
void gd_watchdog_stop(void);

#endif
