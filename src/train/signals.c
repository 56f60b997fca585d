/* The SIGTERM / SIGINT / SIGUSR1 handler (see gdmpi/signals.h). It only stores the signal number in
 * a sig_atomic_t: nothing else is async-signal-safe enough to do inside MPI or HDF5. */
#include "gdmpi/signals.h"

#include "gdmpi/error.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t pending;

/* mpirun stops reading its ranks' output (a pty or a pipe) the moment it is signalled,
 * and passes SIGTERM on only later (odls_base_sigkill_timeout): a rank that prints
 * meanwhile fills the buffer and blocks in write() for good, so it could never stop
 * cleanly. So unless stdout is a regular file (which never blocks), the rest of it goes to
 * /dev/null: the blocked write is restarted on it. The final message goes to stderr. */
static void release_stdout(void)
{
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) != 0 || S_ISREG(st.st_mode))
        return;
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
}

static void on_signal(int sig)
{
    if (pending) { /* the second one: the user insists, so die the default way */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    pending = sig;
    if (sig != SIGUSR1) /* mpirun forwards SIGUSR1 and goes on reading the output */
        release_stdout(); /* fstat, open, dup2, close: all async-signal-safe */
}

static int set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int gd_signals_install(void)
{
    pending = 0;
#ifdef GDMPI_SIM
    /* gdmpi-sim: SMPI runs every rank in the one simulator process, which has one handler
     * per signal for all of them, and stopping on a signal is a wall-clock matter. So no
     * handler: SIGTERM and SIGINT end the simulation the default way (docs/simulation.md). */
    return GD_OK;
#endif
    if (set_handler(SIGTERM, on_signal) || set_handler(SIGINT, on_signal) ||
        set_handler(SIGUSR1, on_signal))
        return gd_fail(GD_ERR, "cannot install the SIGTERM/SIGINT/SIGUSR1 handler");
    return GD_OK;
}

void gd_signals_uninstall(void)
{
    set_handler(SIGTERM, SIG_DFL);
    set_handler(SIGINT, SIG_DFL);
    set_handler(SIGUSR1, SIG_DFL);
    pending = 0;
}

int gd_signal_pending(void) { return pending; }

const char *gd_signal_name(int sig)
{
    static char buf[32];
    if (sig == SIGTERM)
        return "SIGTERM";
    if (sig == SIGINT)
        return "SIGINT";
    if (sig == SIGUSR1)
        return "SIGUSR1";
    snprintf(buf, sizeof buf, "signal %d", sig);
    return buf;
}
