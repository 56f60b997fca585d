/* gdmpi-sim only (send_queue.h): a host's small messages leave its link one after the
 * other. */
#include "send_queue.h"

#ifdef GDMPI_SIM
#include <mpi.h>
#include <simgrid/host.h>
#include <simgrid/link.h>
#include <time.h>
#include <xbt/dynar.h>

/* Why: send_queue.h. How: a message under the eager limit (Open MPI's btl_tcp_eager_limit,
 * 64 KiB: handed to the kernel whole) starts when the last one has left the link, not
 * when it has arrived (the link is free once the last byte is on it, whatever the route's
 * latency). The time on the link is the bytes over the bandwidth of the host's own link
 * (the first of a route from it; SMPI's per-size bandwidth factors are not applied). The
 * sender waits (a simulated sleep) just before the send, so whatever it computed since
 * the last send (a ps-async server's update) overlaps that send's time on the link, as on
 * a real host; but during the wait it is blocked, where a real MPI_Isend returns at once
 * and a server could apply a push that arrives meanwhile. Larger messages go in 128 KiB
 * fragments that interleave on a real link: they keep SimGrid's sharing and book no time
 * on the link (not measured). Every rank's statics are its own in SMPI, and the platforms
 * put one rank on a host. */
static double nic_free; /* simulated time at which the host's link has sent the last message */

static double nic_bandwidth(void)
{
    static double bw = -1;
    if (bw >= 0)
        return bw;
    bw = 0;
    sg_host_t self = sg_host_self(), *hosts = sg_host_list();
    const size_t n = sg_host_count();
    for (size_t k = 0; k < n && bw == 0; k++) {
        if (hosts[k] == self)
            continue;
        xbt_dynar_t links = xbt_dynar_new(sizeof(sg_link_t), NULL);
        sg_host_get_route(self, hosts[k], links);
        if (!xbt_dynar_is_empty(links))
            bw = sg_link_get_bandwidth(xbt_dynar_get_as(links, 0, sg_link_t));
        xbt_dynar_free(&links);
    }
    xbt_free(hosts);
    return bw;
}

void gd_send_queue(size_t bytes)
{
    if (bytes >= 65536) /* fragments, interleaved with the other replies' on a real link */
        return;
    const double bw = nic_bandwidth(), now = MPI_Wtime();
    if (nic_free > now) {
        const double s = nic_free - now;
        struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
        nanosleep(&ts, NULL); /* SMPI: a simulated sleep */
    }
    if (bw > 0)
        nic_free = (nic_free > now ? nic_free : now) + (double)bytes / bw;
}
#endif
