/* A line that redraws in place on a terminal ('\r'), at most GD_METER_HZ times a second,
 * for what takes a while: training's progress line, data gen, predict. Into a file or a
 * pipe (a batch job's log) it draws nothing, so logs hold only whole lines. */
#ifndef GDMPI_METER_H
#define GDMPI_METER_H

#include <stddef.h>

#define GD_METER_HZ 4

typedef struct gd_meter {
    int on;           /* draws at all: set by the caller (rank 0, and stdout a terminal) */
    int width;        /* the length of the line on screen (0: none) */
    double next_draw; /* the clock value before which no redraw */
} gd_meter;

/* Whether a person watches stdout. Under Open MPI the ranks' stdout is a pseudo-terminal
 * whatever mpirun's own is, so there the answer is mpirun's. */
int gd_stdout_is_terminal(void);

/* Whether the line is due at clock value now (seconds); if so, the next is 1/GD_METER_HZ s
 * later. Always 0 when the meter is off. */
int gd_meter_due(gd_meter *m, double now);

/* Draws line over the previous one (padding over a longer one drawn before). */
void gd_meter_draw(gd_meter *m, const char *line);

/* Wipes the line, so that whole lines follow on a clean row. */
void gd_meter_clear(gd_meter *m);

/* A counting line, "WHAT DONE/TOTAL (P%)", drawn when due by the monotonic clock, from
 * half a second after the first call (a quick job draws nothing); cheap enough to call
 * for every row. */
void gd_meter_count(gd_meter *m, const char *what, size_t done, size_t total);

#endif
