/* The timeline (output.trace = true): trace.json in the Chrome trace-event format, which
 * Perfetto (ui.perfetto.dev) and chrome://tracing open. One track per rank; one span
 * ("ph": "X") per timed interval: compute, comm, wait, io, eval, and whatever names
 * strategies add with gd_trace_span (a parameter server's "apply").
 *
 * There is one timeline per process: gd_train opens it, every gd_step_time feeds it (the
 * single place where a timed interval ends), and gd_train writes it next to summary.json.
 * With output.trace = false every call below returns at once.
 *
 * Size: a rank records the spans of optimizer steps 0 .. output.trace_steps - 1 (t->step
 * when the span ends), plus every io and eval span, and never more than
 * GD_TRACE_SPANS(trace_steps) spans in all (about 100 bytes each in trace.json); later
 * spans are counted in otherData.dropped. A rank that takes no steps of its own (a
 * server) thus stops at that cap. */
#ifndef GDMPI_TRACE_H
#define GDMPI_TRACE_H

#include "gdmpi/config.h"

#include <mpi.h>

#define GD_TRACE_SPANS(steps) (16 * (size_t)(steps) + 4096)

/* Collective over comm: starts the timeline when cfg->output.trace is set. The ranks
 * pass a barrier and take their time origin together, so their tracks line up. */
void gd_trace_open(const gd_config *cfg, MPI_Comm comm);

/* Records a span named `name` from t0 to t1 (MPI_Wtime seconds) on this rank's track,
 * counted as part of the current step. `name` must outlive the run (a string literal).
 * For a strategy's own phases, e.g. a server's update:
 *     double t0 = MPI_Wtime(); apply(...); gd_trace_span("apply", t0, MPI_Wtime()); */
void gd_trace_span(const char *name, double t0, double t1);

/* gd_step_time's hook: a span of timer `kind` (gd_timer_kind) that ended at step `step`. */
void gd_trace_timer(int kind, long step, double t0, double t1);

/* Collective: rank 0 writes dir/trace.json (temporary name, fsync, rename) with every
 * rank's spans, received one rank at a time. Returns the agreed status. */
int gd_trace_write(MPI_Comm comm, const char *dir);

/* Frees the timeline (local; safe to call when none is open). */
void gd_trace_close(void);

#endif
