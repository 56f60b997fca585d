/* The sparse (index, value) code of topk and randomk (sparse.h). */
#include "sparse.h"

#include "gdmpi/error.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sparse_check(const gd_compress_params *p, size_t n)
{
    if (!(p->ratio > 0 && p->ratio <= 1))
        return gd_fail(GD_ECONFIG, "parallel.compress_ratio = %g: must be in (0, 1] (the "
                       "fraction of coordinates each rank sends)", p->ratio);
    if (n > UINT32_MAX)
        return gd_fail(GD_ECONFIG, "parallel.compress: %zu parameters do not fit the sparse "
                       "code's 32-bit indices", n);
    const double bytes = 8 * ceil(p->ratio * (double)n); /* k indices and k values */
    if (bytes > INT_MAX)
        return gd_fail(GD_ECONFIG, "parallel.compress_ratio = %g: a message of %.0f bytes is "
                       "more than MPI's int count can carry; lower it", p->ratio, bytes);
    return GD_OK;
}

int sparse_setup(gd_compressor *c)
{
    sparse_code *s = gd_alloc(1, sizeof *s, "sparse code");
    if (!s)
        return GD_ERR;
    c->impl = s;
    s->k = (size_t)ceil(c->p.ratio * (double)c->n);
    if (s->k < 1)
        s->k = 1;
    if (s->k > c->n)
        s->k = c->n;
    s->idx = gd_alloc(c->n ? c->n : 1, sizeof *s->idx, "sparse indices");
    if (!s->idx)
        return GD_ERR;
    for (size_t i = 0; i < c->n; i++)
        s->idx[i] = (uint32_t)i;
    c->msg_bytes = s->k * (sizeof(uint32_t) + sizeof(float));
    return GD_OK;
}

void sparse_encode(const gd_compressor *c, const float *p, void *msg)
{
    const sparse_code *s = c->impl;
    uint32_t *idx = msg;
    float *val = (float *)(idx + s->k);
    memcpy(idx, s->idx, s->k * sizeof *idx);
    for (size_t j = 0; j < s->k; j++)
        val[j] = p[idx[j]];
}

void sparse_decompress_add(const gd_compressor *c, const void *msg, float *acc)
{
    const sparse_code *s = c->impl;
    const uint32_t *idx = msg;
    const float *val = (const float *)(idx + s->k);
    for (size_t j = 0; j < s->k; j++)
        acc[idx[j]] += val[j];
}

void sparse_destroy(gd_compressor *c)
{
    sparse_code *s = c->impl;
    if (!s)
        return;
    free(s->idx);
    free(s);
    c->impl = NULL;
}
