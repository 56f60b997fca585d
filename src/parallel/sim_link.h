/* gdmpi-sim's correction to SimGrid's flow model for a server's replies (docs/scaling.md,
 * "Same time on a real slow network"). SimGrid shares a link's bandwidth evenly between the
 * messages in flight, so two replies sent together both arrive after twice one reply's
 * time; a real host's send queue puts them on the wire one after the other, and the first
 * arrives after one. With two ps-async workers the shared replies held the simulated ones
 * in lockstep (1.14-1.38 x the measured epoch at np = 3) where the real ones settle half a
 * cycle apart. In the real build the call is nothing. */
#ifndef GDMPI_SIM_LINK_H
#define GDMPI_SIM_LINK_H

#include <stddef.h>

#ifdef GDMPI_SIM
/* Before a send of bytes from this host: waits (a simulated sleep) until its link has put
 * the previous such send on the wire, then books this one's time on it. */
void sim_send_queue(size_t bytes);
#else
static inline void sim_send_queue(size_t bytes) { (void)bytes; }
#endif

#endif
