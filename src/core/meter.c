/* The redrawing line of include/gdmpi/meter.h. */
#include "gdmpi/meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 1 when path names a terminal device. */
static int names_terminal(const char *path)
{
    return !strncmp(path, "/dev/pts/", 9) || !strncmp(path, "/dev/tty", 8) ||
           !strcmp(path, "/dev/console");
}

/* mpirun gives its ranks a pseudo-terminal whatever its own stdout is (a log file, a
 * pipe), so under Open MPI the answer is the launcher's: the parent's stdout, read from
 * /proc (readlink has no side effect on a pipe, unlike an open). A remote daemon's stdout
 * is no terminal: plain lines there, as under srun. */
int gd_stdout_is_terminal(void)
{
    if (!isatty(STDOUT_FILENO))
        return 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE"))
        return 1;
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/%ld/fd/1", (long)getppid());
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return names_terminal(target);
}

int gd_meter_due(gd_meter *m, double now)
{
    if (!m->on || now < m->next_draw)
        return 0;
    m->next_draw = now + 1.0 / GD_METER_HZ;
    return 1;
}

void gd_meter_draw(gd_meter *m, const char *line)
{
    int n = (int)strlen(line);
    printf("\r%s%*s", line, m->width > n ? m->width - n : 0, "");
    fflush(stdout); /* no newline: line buffering would hold it */
    m->width = n > m->width ? n : m->width;
}

void gd_meter_clear(gd_meter *m)
{
    if (!m->width)
        return;
    printf("\r%*s\r", m->width, "");
    fflush(stdout);
    m->width = 0;
}

void gd_meter_count(gd_meter *m, const char *what, size_t done, size_t total)
{
    if (!m->on)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (m->next_draw == 0) { /* the first call: a job done within half a second draws none */
        m->next_draw = now + 0.5;
        return;
    }
    if (!gd_meter_due(m, now))
        return;
    char line[160];
    snprintf(line, sizeof line, "%s %zu/%zu (%.0f%%)", what, done, total,
             total ? 100.0 * (double)done / (double)total : 100.0);
    gd_meter_draw(m, line);
}
