/* SIGTERM and SIGINT: what Slurm sends before a time limit (and mpirun passes on to every
 * rank, after odls_base_sigkill_timeout seconds), and Ctrl-C; SIGUSR1 too, which mpirun
 * forwards to the ranks at once and without ending the job itself. The handler only
 * records the signal; the training loop polls it after each step, and the ranks agree on
 * the step at which they all stop, write a checkpoint and the outputs, and exit with
 * GD_EXIT_SIGNAL (see checkpoint.c). A second signal while the first is being handled
 * ends the process at once, as if there were no handler. */
#ifndef GDMPI_SIGNALS_H
#define GDMPI_SIGNALS_H

/* The exit status of a run that a signal stopped after writing its checkpoint. */
#define GD_EXIT_SIGNAL 5

/* Installs the handler for SIGTERM, SIGINT and SIGUSR1 (SA_RESTART: no system call sees
 * EINTR). Returns GD_OK or GD_ERR with a message. */
int gd_signals_install(void);
/* Puts the default dispositions back and forgets a pending signal. */
void gd_signals_uninstall(void);
/* The signal received since install, or 0. */
int gd_signal_pending(void);
/* "SIGTERM", "SIGINT", "SIGUSR1", or "signal N". */
const char *gd_signal_name(int sig);

#endif
