/* Random streams: (seed, rank, purpose) fixes a stream; any change gives another. */
#include "unit.h"

#include <string.h>

#include "gdmpi/rng.h"

#include <math.h>

static void test_same_triple_same_stream(void **state)
{
    (void)state;
    gd_rng a, b;
    gd_rng_seed(&a, 42, 3, GD_RNG_SHUFFLE);
    gd_rng_seed(&b, 42, 3, GD_RNG_SHUFFLE);
    for (int i = 0; i < 1000; i++)
        assert_true(gd_rng_next(&a) == gd_rng_next(&b));
}

static void test_streams_differ(void **state)
{
    (void)state;
    gd_rng base, rank, purpose, seed;
    gd_rng_seed(&base, 42, 0, GD_RNG_SHUFFLE);
    gd_rng_seed(&rank, 42, 1, GD_RNG_SHUFFLE);
    gd_rng_seed(&purpose, 42, 0, GD_RNG_INIT);
    gd_rng_seed(&seed, 43, 0, GD_RNG_SHUFFLE);
    uint64_t x = gd_rng_next(&base);
    assert_true(x != gd_rng_next(&rank));
    assert_true(x != gd_rng_next(&purpose));
    assert_true(x != gd_rng_next(&seed));
}

static void test_normal_moments(void **state)
{
    (void)state;
    gd_rng r;
    gd_rng_seed(&r, 1, 0, 1);
    const int n = 200000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        double v = gd_rng_normal(&r);
        sum += v;
        sq += v * v;
    }
    /* Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; allow 5 sigma. */
    assert_true(fabs(sum / n) < 0.011);
    assert_true(fabs(sq / n - 1) < 0.016);
}

static void test_permute_is_permutation(void **state)
{
    (void)state;
    enum { N = 1000 };
    size_t idx[N];
    int seen[N] = {0};
    for (size_t i = 0; i < N; i++)
        idx[i] = i;
    gd_rng r;
    gd_rng_seed(&r, 5, 0, GD_RNG_SHUFFLE);
    gd_rng_permute(&r, idx, N);
    size_t moved = 0;
    for (size_t i = 0; i < N; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > N / 2);
}

/* gd_permute is a bijection of [0, n) for every n (including odd sizes that make the
 * Feistel domain walk), differs from key to key, and spreads: over 2000 keys, row 0 lands
 * in each tenth of [0, 1000) about 200 times (a fixed point or a bias would not). */
static void test_global_permutation(void **state)
{
    (void)state;
    static unsigned char seen[1000];
    for (uint64_t n = 1; n <= 1000; n += (n < 40 ? 1 : 97)) {
        memset(seen, 0, sizeof seen);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = gd_permute(i, n, 42);
            assert_true(v < n);
            assert_false(seen[v]);
            seen[v] = 1;
        }
    }
    int moved = 0, tenths[10] = {0};
    for (uint64_t key = 0; key < 2000; key++) {
        moved += gd_permute(5, 1000, key) != gd_permute(5, 1000, key + 1);
        tenths[gd_permute(0, 1000, key) / 100]++;
    }
    assert_true(moved > 1900);
    for (int t = 0; t < 10; t++)
        if (tenths[t] < 130 || tenths[t] > 270)
            fail_msg("row 0 landed in tenth %d %d times of 2000", t, tenths[t]);
}

/* Gamma(k, 1) has mean k and variance k, for shapes below and above 1 (two branches). */
static void test_gamma_moments(void **state)
{
    (void)state;
    const double shapes[] = {0.1, 0.5, 1, 3.5};
    for (size_t s = 0; s < 4; s++) {
        gd_rng r;
        gd_rng_seed(&r, 3, 0, 99);
        double sum = 0, sumsq = 0;
        const int n = 200000;
        for (int i = 0; i < n; i++) {
            double g = gd_rng_gamma(&r, shapes[s]);
            assert_true(g >= 0);
            sum += g, sumsq += g * g;
        }
        double mean = sum / n, var = sumsq / n - mean * mean, k = shapes[s];
        if (fabs(mean - k) > 0.02 * k + 0.005 || fabs(var - k) > 0.05 * k + 0.01)
            fail_msg("gamma(%g): mean %g, variance %g", k, mean, var);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_triple_same_stream),
        cmocka_unit_test(test_streams_differ),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_permute_is_permutation),
        cmocka_unit_test(test_global_permutation),
        cmocka_unit_test(test_gamma_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
