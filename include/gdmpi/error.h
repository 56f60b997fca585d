/* Errors: every call that can fail returns a status; the message is kept here.
 *
 * A failing function records one message with gd_fail() and returns its code.
 * Before a collective that follows a local step that can fail, the ranks call
 * gd_agree() so that all of them learn the first failing rank's message and exit
 * together instead of hanging (DESIGN rule 4). */
#ifndef GDMPI_ERROR_H
#define GDMPI_ERROR_H

#include <mpi.h>

enum {
    GD_OK = 0,
    GD_ERR = 1,       /* data, I/O, training failure: exit status 1 */
    GD_ECONFIG = 2,   /* bad config or command line: exit status 2 */
    GD_EDIVERGED = 3  /* non-finite loss or gradient: exit status 3 */
};

#define GD_ERRMSG_MAX 1024

/* Records a printf-style message (the first one wins until gd_clear_error) and returns code. */
int gd_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *gd_errmsg(void);
void gd_clear_error(void);
/* Puts a printf-style prefix and ": " before the recorded message (the message says what
 * went wrong, the caller adds where: a file, a --set, a rank) and returns code. */
int gd_fail_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Collective: returns the largest status over comm; on failure every rank holds the
 * message of the lowest failing rank, prefixed with that rank when comm has several. */
int gd_agree(MPI_Comm comm, int status);

/* Ends the whole job from one rank in the middle of training: prints and MPI_Abort. */
_Noreturn void gd_abort(MPI_Comm comm, int code);

/* malloc/calloc that record a clear error on failure (and on size overflow). */
void *gd_alloc(size_t count, size_t size, const char *what);

#endif
