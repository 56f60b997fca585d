/* Helper threads (the stall watchdog, the stream's reader): signals stay with the main
 * thread, whose handler notes them (SIGTERM before a batch job's time limit, SIGINT). */
#ifndef GDMPI_THREAD_H
#define GDMPI_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread; returns its error (0: ok). */
int gd_thread_start(pthread_t *thread, void *(*run)(void *), void *arg);

#endif
