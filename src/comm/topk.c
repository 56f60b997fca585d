/* compress = topk: each rank sends its k = ceil(compress_ratio n) largest-magnitude
 * coordinates (Aji & Heafield 2017; Stich et al. 2018, top_k in eq. 2), as (index, value)
 * pairs; biased, so error feedback is on by default. Ties in magnitude go to the lower
 * index, so the set is defined exactly; a NaN counts as the largest, so that it is sent and
 * the update's finite check sees it instead of the residual keeping it forever. The
 * selection is a quickselect over a permutation kept from step to step: O(n) on average,
 * no allocation. */
#include "sparse.h"

#include <math.h>

static float magnitude(float v) { return isnan(v) ? INFINITY : fabsf(v); }

/* 1 when coordinate a ranks before b: larger magnitude, then lower index. */
static int ranks_before(const float *p, uint32_t a, uint32_t b)
{
    float ma = magnitude(p[a]), mb = magnitude(p[b]);
    return ma > mb || (ma == mb && a < b);
}

static void swap(uint32_t *idx, size_t i, size_t j)
{
    uint32_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
}

/* Moves the median of idx[lo], idx[mid], idx[hi] to idx[hi] (the pivot). */
static void median_to_end(const float *p, uint32_t *idx, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2;
    if (ranks_before(p, idx[mid], idx[lo]))
        swap(idx, mid, lo);
    if (ranks_before(p, idx[hi], idx[lo]))
        swap(idx, hi, lo);
    if (ranks_before(p, idx[mid], idx[hi]))
        swap(idx, mid, hi);
}

/* Partitions idx[lo..hi] around the pivot idx[hi]; returns the pivot's place. */
static size_t partition(const float *p, uint32_t *idx, size_t lo, size_t hi)
{
    median_to_end(p, idx, lo, hi);
    size_t store = lo;
    for (size_t i = lo; i < hi; i++)
        if (ranks_before(p, idx[i], idx[hi]))
            swap(idx, i, store++);
    swap(idx, store, hi);
    return store;
}

/* Puts the k coordinates that rank first (a strict total order) in idx[0..k). */
static void select_top(const float *p, uint32_t *idx, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    if (k >= n)
        return;
    while (lo < hi) {
        size_t at = partition(p, idx, lo, hi);
        if (at == k || at + 1 == k)
            return;
        if (at > k)
            hi = at - 1;
        else
            lo = at + 1;
    }
}

static void topk_compress(gd_compressor *c, const float *p, void *msg)
{
    sparse_code *s = c->impl;
    select_top(p, s->idx, c->n, s->k);
    sparse_encode(c, p, msg);
}

const gd_compressor_ops gd_compress_topk = {
    .name = "topk", .biased = 1, .check = sparse_check, .setup = sparse_setup,
    .compress = topk_compress, .decompress_add = sparse_decompress_add,
    .destroy = sparse_destroy,
};
