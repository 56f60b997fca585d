/* Random streams: every stream comes from (seed, rank, purpose) (DESIGN rule 5).
 * xoshiro256** seeded through splitmix64, so streams are independent and the same
 * triple always gives the same numbers on every platform. */
#ifndef GDMPI_RNG_H
#define GDMPI_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct gd_rng {
    uint64_t s[4];
} gd_rng;

/* Purposes: one constant per use, so adding a stream never shifts another. */
enum {
    GD_RNG_INIT = 1,     /* parameter initialisation (shared by all ranks) */
    GD_RNG_SHUFFLE = 2,  /* per-rank shard permutation */
    GD_RNG_DATAGEN = 3,  /* data generator */
    GD_RNG_NOISE = 4,    /* gradient noise (shared by all ranks) */
    GD_RNG_DROPOUT = 5,  /* per-rank dropout masks */
    GD_RNG_TESTFN = 6,   /* testfn gradient noise */
    GD_RNG_GLOBAL = 7,   /* data.shuffle = global: the epoch's permutation of all rows */
    GD_RNG_PARTITION = 8, /* data.partition = label-skew: the Dirichlet draws (shared) */
    GD_RNG_COMPRESS = 9,  /* per-rank draws of the compressors (randomk, qsgd, powersgd) */
    GD_RNG_CHUNKS = 10,   /* data.stream: the epoch's chunk order (per worker, per epoch) */
    GD_RNG_BUFFER = 11    /* data.stream: the shuffle buffer's draws (per worker, per epoch) */
};

/* splitmix64 of x: a 64-bit value mixed so that nearby inputs give unrelated outputs. */
uint64_t gd_rng_mix(uint64_t x);
void gd_rng_seed(gd_rng *r, uint64_t seed, uint64_t rank, uint64_t purpose);
uint64_t gd_rng_next(gd_rng *r);
double gd_rng_uniform(gd_rng *r);            /* [0, 1) */
double gd_rng_normal(gd_rng *r);             /* N(0, 1), Box-Muller */
double gd_rng_gamma(gd_rng *r, double shape); /* Gamma(shape, 1), Marsaglia & Tsang 2000 */
void gd_rng_permute(gd_rng *r, size_t *idx, size_t n); /* Fisher-Yates on idx[0..n) */
/* A pseudo-random permutation of [0, n), one per key, evaluated at i in O(1) time and
 * memory (a 4-round Feistel network on the smallest even power of two >= n, walked until
 * it lands below n), so that every rank computes any row's place in a permutation of
 * rows it cannot hold. The same (i, n, key) gives the same place on every platform. */
uint64_t gd_permute(uint64_t i, uint64_t n, uint64_t key);

#endif
