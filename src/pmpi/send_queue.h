/* gdmpi-sim's correction to SimGrid's flow model for a host's sends (docs/scaling.md,
 * "Same time on a real slow network"). SimGrid shares a link's bandwidth evenly between the
 * messages in flight, so two messages sent together both arrive after twice one message's
 * time; a real host's send queue puts them on the wire one after the other, and the first
 * arrives after one. With two ps-async workers the server's shared replies held the
 * simulated workers in lockstep (1.14-1.38 x the measured epoch at np = 3) where the real
 * ones settle half a cycle apart. The profiling layer's MPI_Send and MPI_Isend (wrap.c)
 * call it, so every mode's point-to-point sends queue alike; collectives are SMPI's own.
 * In the real build the call is nothing. */
#ifndef GDMPI_SEND_QUEUE_H
#define GDMPI_SEND_QUEUE_H

#include <stddef.h>

#ifdef GDMPI_SIM
/* Before a send of bytes from this host: waits (a simulated sleep) until its link has put
 * the previous such send on the wire, then books this one's time on it. */
void gd_send_queue(size_t bytes);
#else
static inline void gd_send_queue(size_t bytes) { (void)bytes; }
#endif

#endif
