/* compress = randomk: each rank sends k = ceil(compress_ratio n) coordinates drawn uniformly
 * without replacement from its own stream (Stich et al. 2018, rand_k in eq. 2), as (index,
 * value) pairs, unscaled: biased (E = k/n x), so error feedback is on by default. The draw
 * is a partial Fisher-Yates shuffle of the identity, so that a step's subset depends on the
 * stream alone, which checkpoints save: a resumed run draws the same subsets. */
#include "sparse.h"

/* Uniform in [0, bound), bound < 2^32 (Lemire's multiply-shift; its bias is below 2^-32). */
static size_t below(gd_rng *r, size_t bound)
{
    return (size_t)(((gd_rng_next(r) >> 32) * (uint64_t)bound) >> 32);
}

static void randomk_compress(gd_compressor *c, const float *p, void *msg)
{
    sparse_code *s = c->impl;
    for (size_t i = 0; i < c->n; i++)
        s->idx[i] = (uint32_t)i;
    for (size_t j = 0; j < s->k; j++) {
        size_t r = j + below(&c->rng, c->n - j);
        uint32_t t = s->idx[j];
        s->idx[j] = s->idx[r];
        s->idx[r] = t;
    }
    sparse_encode(c, p, msg);
}

const gd_compressor_ops gd_compress_randomk = {
    .name = "randomk", .biased = 1, .random = 1, .check = sparse_check, .setup = sparse_setup,
    .compress = randomk_compress, .decompress_add = sparse_decompress_add,
    .destroy = sparse_destroy,
};
