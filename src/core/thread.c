/* gd_thread_start (gdmpi/thread.h): a thread inherits its creator's signal mask, so the
 * mask is all-blocked only while the thread is created. */
#include "gdmpi/thread.h"

#include <signal.h>

int gd_thread_start(pthread_t *thread, void *(*run)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(thread, NULL, run, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}
