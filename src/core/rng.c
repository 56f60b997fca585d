#include "gdmpi/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gd_rng_mix(uint64_t x) { return splitmix64(&x); }

void gd_rng_seed(gd_rng *r, uint64_t seed, uint64_t rank, uint64_t purpose)
{
    /* Mix the triple through splitmix so nearby seeds give unrelated streams. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ (rank * 0xd1b54a32d192ed03ULL);
    h = splitmix64(&x);
    x = h ^ (purpose * 0x8cb92ba72f3d8dd7ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t gd_rng_next(gd_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gd_rng_uniform(gd_rng *r) { return (double)(gd_rng_next(r) >> 11) * 0x1.0p-53; }

double gd_rng_normal(gd_rng *r)
{
    /* Box-Muller without caching the second value keeps the state a plain 4 words. */
    double u1 = gd_rng_uniform(r);
    double u2 = gd_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void gd_rng_permute(gd_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(gd_rng_next(r) % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* One Feistel round's function: a keyed hash of the right half to `bits` bits. */
static uint64_t feistel_f(uint64_t half, uint64_t key, int round, int bits)
{
    uint64_t x = half ^ (key + 0x9e3779b97f4a7c15ULL * (uint64_t)(round + 1));
    return splitmix64(&x) & ((1ULL << bits) - 1);
}

/* A bijection of [0, 4^half_bits): four rounds over two halves of half_bits bits each. */
static uint64_t feistel(uint64_t v, uint64_t key, int half_bits)
{
    const uint64_t mask = (1ULL << half_bits) - 1;
    uint64_t left = v >> half_bits, right = v & mask;
    for (int round = 0; round < 4; round++) {
        const uint64_t next = left ^ feistel_f(right, key, round, half_bits);
        left = right;
        right = next;
    }
    return (left << half_bits) | right;
}

uint64_t gd_permute(uint64_t i, uint64_t n, uint64_t key)
{
    int half_bits = 1;
    while (half_bits < 31 && (1ULL << (2 * half_bits)) < n)
        half_bits++;
    uint64_t v = i; /* cycle walking: a bijection of the larger domain, restricted to [0, n),
                       is a bijection of [0, n) (each orbit leaves and comes back) */
    do
        v = feistel(v, key, half_bits);
    while (v >= n);
    return v;
}

/* Marsaglia & Tsang (2000), "A simple method for generating gamma variables": for
 * shape >= 1 a squeeze-accepted cube of a normal; below 1, Gamma(shape + 1) U^(1/shape). */
double gd_rng_gamma(gd_rng *r, double shape)
{
    if (shape < 1) {
        double u = gd_rng_uniform(r);
        return gd_rng_gamma(r, shape + 1) * pow(u > 0 ? u : 1e-300, 1 / shape);
    }
    const double d = shape - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = gd_rng_normal(r), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = gd_rng_uniform(r);
        if (u < 1 - 0.0331 * x * x * x * x || log(u > 0 ? u : 1e-300) < 0.5 * x * x + d * (1 - v + log(v)))
            return d * v;
    }
}
