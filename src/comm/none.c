/* compress = none: the float32 vector as it is, summed by MPI_Allreduce (the allreduce
 * strategy keeps its own uncompressed path; this one serves the framework's users). */
#include "gdmpi/compress.h"

#include <string.h>

static int none_setup(gd_compressor *c)
{
    c->msg_bytes = 0; /* no message: the vector itself is reduced */
    return 0;
}

static void none_exchange(gd_compressor *c, gd_wire *w, const float *p, float *out, float *sent)
{
    memcpy(sent, p, c->n * sizeof *sent);
    if (out != p)
        memcpy(out, p, c->n * sizeof *out);
    gd_wire_allreduce(w, out, (int)c->n, MPI_FLOAT, MPI_SUM);
}

const gd_compressor_ops gd_compress_none = {
    .name = "none", .setup = none_setup, .exchange = none_exchange,
};
