/* The timeline: spans recorded in memory during the run, written once at the end as
 * Chrome trace events (see include/gdmpi/trace.h). Rank 0 writes trace.json; the other
 * ranks send it their spans as ready-made JSON text, one rank at a time, so rank 0 never
 * holds more than its own spans and one other rank's. */
#include "gdmpi/trace.h"

#include "gdmpi/error.h"
#include "gdmpi/step.h"
#include "gdmpi/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct span {
    const char *name;
    double t0, t1; /* MPI_Wtime seconds */
    long step;
} span;

typedef struct trace {
    double origin;  /* MPI_Wtime when the ranks left the opening barrier */
    long steps;     /* output.trace_steps: steps 0 .. steps - 1 are recorded */
    long step;      /* the step of the latest timer span */
    size_t n, cap, max;
    size_t dropped; /* spans left out: after the step window, or over max */
    span *spans;
} trace;

#define TRACE_TAG 0x7472 /* point-to-point tag of the spans sent to rank 0 */

static trace timeline; /* one timeline per process */
static trace *tr;      /* &timeline while recording; NULL when off */

static const char *const kind_names[GD_T_COUNT] = {
    [GD_T_COMPUTE] = "compute", [GD_T_COMM] = "comm", [GD_T_WAIT] = "wait",
    [GD_T_IO] = "io",           [GD_T_EVAL] = "eval",
};

void gd_trace_open(const gd_config *cfg, MPI_Comm comm)
{
    gd_trace_close();
    if (!cfg->output.trace)
        return;
    tr = &timeline;
    *tr = (trace){0};
    tr->steps = cfg->output.trace_steps;
    tr->max = GD_TRACE_SPANS(tr->steps);
    tr->spans = malloc(tr->max * sizeof *tr->spans); /* NULL: every span counts as dropped */
    tr->cap = tr->spans ? tr->max : 0;
    MPI_Barrier(comm);
    tr->origin = MPI_Wtime();
}

/* Appends a span; the buffer was sized once for tr->max, so the step loop never allocates. */
static void record(const char *name, double t0, double t1)
{
    if (tr->n == tr->cap) {
        tr->dropped++;
        return;
    }
    tr->spans[tr->n++] = (span){.name = name, .t0 = t0, .t1 = t1, .step = tr->step};
}

void gd_trace_span(const char *name, double t0, double t1)
{
    if (!tr)
        return;
    if (tr->step < tr->steps)
        record(name, t0, t1);
    else
        tr->dropped++;
}

void gd_trace_timer(int kind, long step, double t0, double t1)
{
    if (!tr)
        return;
    tr->step = step;
    const char *name = kind >= 0 && kind < GD_T_COUNT && kind_names[kind] ? kind_names[kind]
                                                                           : "other";
    if (kind == GD_T_IO || kind == GD_T_EVAL) /* a few per epoch: always kept */
        record(name, t0, t1);
    else
        gd_trace_span(name, t0, t1);
}

/* This rank's track as JSON events separated by ",\n": its names, then its spans.
 * Timestamps are microseconds from the common origin. */
static char *rank_events(int rank, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"rank %d\"}},\n"
               "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"sort_index\":%d}},\n"
               "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"rank %d\"}}",
            rank, rank, rank, rank, rank, rank);
    for (size_t i = 0; i < tr->n; i++) {
        const span *s = &tr->spans[i];
        fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"gdmpi\",\"ph\":\"X\",\"pid\":%d,\"tid\":0,"
                   "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"step\":%ld}}",
                s->name, rank, 1e6 * (s->t0 - tr->origin), 1e6 * (s->t1 - s->t0), s->step);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Rank 0: the file's tail, with each rank's dropped span count. */
static void write_tail(FILE *f, const long *info, int size)
{
    fprintf(f, "\n],\n\"displayTimeUnit\": \"ms\",\n\"otherData\": {\"gdmpi\": \"%s\", "
               "\"trace_steps\": %ld, \"max_spans_per_rank\": %zu, \"dropped\": [",
            GDMPI_VERSION, tr->steps, tr->max);
    for (int r = 0; r < size; r++)
        fprintf(f, "%s%ld", r ? ", " : "", info[2 * r + 1]);
    fprintf(f, "]}\n}\n");
}

/* Rank 0: receives rank r's text (len bytes) and appends it to f (NULL after a failure:
 * the text is still received, so that rank r is not left waiting). */
static void receive_rank(FILE *f, MPI_Comm comm, int r, long len)
{
    char *buf = gd_alloc(len > 0 ? (size_t)len : 1, 1, "trace spans");
    if (!buf)
        gd_abort(comm, GD_ERR);
    MPI_Recv(buf, (int)len, MPI_CHAR, r, TRACE_TAG, comm, MPI_STATUS_IGNORE);
    if (f && len > 0) {
        fputs(",\n", f);
        fwrite(buf, 1, (size_t)len, f);
    }
    free(buf);
}

static int write_file(MPI_Comm comm, const char *dir, const char *mine, size_t len,
                      const long *info, int size)
{
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    FILE *f = gd_open_tmp(dir, "trace.json", tmp, path, sizeof tmp);
    if (f) {
        fputs("{\"traceEvents\": [\n", f);
        fwrite(mine, 1, len, f);
    }
    for (int r = 1; r < size; r++)
        receive_rank(f, comm, r, info[2 * r]);
    if (!f)
        return GD_ERR;
    write_tail(f, info, size);
    return gd_close_and_commit(f, tmp, path);
}

int gd_trace_write(MPI_Comm comm, const char *dir)
{
    if (!tr)
        return GD_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    size_t len = 0;
    char *mine = rank_events(rank, &len);
    int rc = mine ? GD_OK : gd_fail(GD_ERR, "trace.json: no memory for rank %d's spans", rank);
    long info[2] = {mine ? (long)len : 0, (long)tr->dropped};
    long *all = rank == 0 ? gd_alloc((size_t)size, sizeof info, "trace") : NULL;
    if (rank == 0 && !all)
        gd_abort(comm, GD_ERR);
    /* every rank takes part in the exchange whatever happened, then they agree */
    MPI_Gather(info, 2, MPI_LONG, all, 2, MPI_LONG, 0, comm);
    if (rank == 0) {
        int wrc = write_file(comm, dir, mine ? mine : "", mine ? len : 0, all, size);
        rc = rc ? rc : wrc;
    } else {
        MPI_Send(mine, (int)info[0], MPI_CHAR, 0, TRACE_TAG, comm);
    }
    free(mine);
    free(all);
    return gd_agree(comm, rc);
}

void gd_trace_close(void)
{
    if (!tr)
        return;
    free(tr->spans);
    tr = NULL;
}
