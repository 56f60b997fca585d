/* The sparse code shared by topk and randomk: k (index, value) pairs, uint32 then float32,
 * 8 k bytes a message. */
#ifndef GDMPI_COMM_SPARSE_H
#define GDMPI_COMM_SPARSE_H

#include "gdmpi/compress.h"

typedef struct sparse_code {
    size_t k;
    uint32_t *idx; /* n entries: a permutation of [0, n) whose first k are sent */
} sparse_code;

/* k = ceil(ratio n), at least 1; idx = 0, 1, ..., n - 1; c->msg_bytes = 8 k. */
int sparse_setup(gd_compressor *c);
/* parallel.compress_ratio in (0, 1] and the indices within uint32. */
int sparse_check(const gd_compress_params *p, size_t n);
/* msg = the pairs (idx[j], p[idx[j]]) for j < k. */
void sparse_encode(const gd_compressor *c, const float *p, void *msg);
void sparse_decompress_add(const gd_compressor *c, const void *msg, float *acc);
void sparse_destroy(gd_compressor *c);

#endif
