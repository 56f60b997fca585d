/* The compressors (src/comm/) against references, on one rank (MPI_COMM_SELF): top-k's set
 * with ties and its exact residual, QSGD's unbiasedness, the 16-bit roundings, the message
 * sizes of every encoding, one and two PowerSGD steps against a double-precision
 * reference. Across ranks (the majority vote, sums): tests/mpi/mpi_compress.c. */
#include "unit.h"

#include "gdmpi/compress.h"
#include "gdmpi/error.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

static double wire_bytes[GD_WIRE_COUNT];
static gd_wire self_wire(void)
{
    return (gd_wire){.comm = MPI_COMM_SELF, .size = 1, .bytes = wire_bytes};
}

static gd_compress_params params(double ratio, long levels, int feedback)
{
    return (gd_compress_params){.ratio = ratio, .levels = levels, .rank = 2,
                                .feedback = feedback, .seed = 7};
}

static void make(gd_compressor *c, const char *name, gd_compress_params p, size_t n)
{
    assert_int_equal(gd_compressor_create(c, name, &p, n, 1), GD_OK);
}

/* Top-k by hand: ties in magnitude go to the lower index; what was not sent stays, exactly. */
static void test_topk_ties_and_residual(void **state)
{
    (void)state;
    gd_compressor c;
    gd_wire w = self_wire();
    make(&c, "topk", params(0.25, 0, 1), 6); /* k = ceil(1.5) = 2 */
    const float x[6] = {1.0f, -3.0f, 3.0f, 2.0f, -3.0f, 0.5f};
    float out[6];
    gd_compressor_exchange(&c, &w, x, out);
    const float want[6] = {0, -3.0f, 3.0f, 0, 0, 0}; /* |-3| at 1, 2, 4: 1 and 2 win */
    for (int i = 0; i < 6; i++) {
        assert_true(out[i] == want[i]);
        assert_true(c.residual[i] == x[i] - want[i]); /* exactly what was not sent */
    }
    const float zero[6] = {0};
    gd_compressor_exchange(&c, &w, zero, out); /* the residual's turn: -3 at 4, then 2 at 3 */
    const float next[6] = {0, 0, 0, 2.0f, -3.0f, 0};
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == next[i]);
    gd_compressor_destroy(&c);
}

/* DGC's momentum correction and factor masking by hand (m = 0.5, k = 1 of 4): the velocity
 * u = m u + x feeds the residual, and where a coordinate was sent both are cleared. Plain
 * error feedback would send coordinate 2 at the second step (p = 2, 2, 3, 0); without the
 * masking the fourth coordinate's velocity would live on (-2, then -1). */
static void test_momentum_correction(void **state)
{
    (void)state;
    gd_compressor c;
    gd_wire w = self_wire();
    gd_compress_params p = params(0.25, 0, 1);
    p.momentum = 0.5;
    make(&c, "topk", p, 4);
    const float x[3][4] = {{1, 2, 0, -4}, {1, 0, 3, 0}, {0, 0, 0, 0}};
    const float out_want[3][4] = {{0, 0, 0, -4}, {0, 3, 0, 0}, {0, 0, 4.5f, 0}};
    const float e_want[3][4] = {{1, 2, 0, 0}, {2.5f, 0, 3, 0}, {3.25f, 0, 0, 0}};
    const float u_want[3][4] = {{1, 2, 0, 0}, {1.5f, 0, 3, 0}, {0.75f, 0, 0, 0}};
    float out[4];
    for (int t = 0; t < 3; t++) {
        gd_compressor_exchange(&c, &w, x[t], out);
        for (int i = 0; i < 4; i++) {
            assert_true(out[i] == out_want[t][i]);
            assert_true(c.residual[i] == e_want[t][i]);
            assert_true(c.velocity[i] == u_want[t][i]);
        }
    }
    gd_compressor_destroy(&c);
}

/* A point-to-point push (ps-async): the receiver decodes exactly what the sender's memory
 * counted as sent, the residual keeps the rest, and on one rank the code is the exchange's
 * (the same compressor and stream give the same message both ways). */
static void test_encode_decode(void **state)
{
    (void)state;
    const char *names[] = {"fp16", "bf16", "topk", "randomk", "qsgd", "sign"};
    float x[40], got[40], out[40];
    for (int i = 0; i < 40; i++)
        x[i] = (float)sin(1.7 * i) * (float)(1 + i % 7);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        gd_compressor a, b;
        gd_wire w = self_wire();
        make(&a, names[k], params(0.2, 7, 1), 40);
        make(&b, names[k], params(0.2, 7, 1), 40);
        unsigned char *msg = gd_alloc(a.msg_bytes, 1, "test message");
        assert_non_null(msg);
        gd_compressor_encode(&a, x, msg);
        gd_compressor_decode(&a, msg, got);
        gd_compressor_exchange(&b, &w, x, out);
        for (int i = 0; i < 40; i++) {
            assert_true(got[i] == a.sent[i]);
            assert_true(a.residual[i] == x[i] - got[i]);
            assert_true(got[i] == out[i]);
        }
        free(msg);
        gd_compressor_destroy(&a);
        gd_compressor_destroy(&b);
    }
}

/* Which compressors go point to point: every one but the collective exchanges. */
static void test_check_push(void **state)
{
    (void)state;
    gd_compress_params fb = params(0.1, 7, 1), nofb = params(0.1, 7, 0);
    const char *fine[] = {"none", "fp16", "bf16", "topk", "randomk", "qsgd", "sign"};
    for (size_t k = 0; k < sizeof fine / sizeof *fine; k++)
        assert_int_equal(gd_compressor_check_push(fine[k], &fb, "ps-async"), GD_OK);
    gd_clear_error();
    assert_int_equal(gd_compressor_check_push("sign", &nofb, "ps-async"), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "parallel.compress = sign: not with parallel.mode = "
                                        "ps-async, whose pushes go point to point: signSGD's "
                                        "majority vote"));
    gd_clear_error();
    assert_int_equal(gd_compressor_check_push("powersgd", &fb, "ps-async"), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "PowerSGD's power iteration allreduces P"));
    gd_clear_error();
    assert_int_equal(gd_compressor_check_push("zip", &fb, "ps-async"), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "unknown name"));
    gd_clear_error();
}

static const float *sort_key;
/* The reference order: larger magnitude first, then lower index. */
static int by_magnitude(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    float mi = fabsf(sort_key[i]), mj = fabsf(sort_key[j]);
    if (mi != mj)
        return mi > mj ? -1 : 1;
    return i < j ? -1 : 1;
}

/* Top-k on 1000 values with many ties, against a full sort. */
static void test_topk_against_sort(void **state)
{
    (void)state;
    enum { N = 1000 };
    static float x[N], out[N];
    static size_t order[N];
    gd_rng r;
    gd_rng_seed(&r, 3, 0, 0);
    for (size_t i = 0; i < N; i++) {
        x[i] = (float)((int)(gd_rng_uniform(&r) * 21) - 10) * 0.5f; /* 21 values: ties */
        order[i] = i;
    }
    sort_key = x;
    qsort(order, N, sizeof *order, by_magnitude);
    gd_compressor c;
    gd_wire w = self_wire();
    make(&c, "topk", params(0.037, 0, 0), N); /* k = 37 */
    gd_compressor_exchange(&c, &w, x, out);
    for (size_t j = 0; j < N; j++) {
        size_t i = order[j];
        assert_true(out[i] == (j < 37 ? x[i] : 0.0f));
    }
    assert_int_equal(c.msg_bytes, 37 * 8);
    gd_compressor_destroy(&c);
}

/* QSGD is unbiased: the mean of D(C(x)) over many draws approaches x. Each coordinate's
 * code is ||b|| / s times one of two neighbouring integers, so its standard deviation is at
 * most ||b|| / (2 s), and the mean of N draws is within 5 ||b|| / (2 s sqrt(N)) of x except
 * with probability below 1e-6 a coordinate. */
static void test_qsgd_unbiased(void **state)
{
    (void)state;
    enum { N = 600, DRAWS = 4000 };
    static float x[N], out[N];
    static double mean[N];
    gd_rng r;
    gd_rng_seed(&r, 5, 0, 0);
    for (size_t i = 0; i < N; i++)
        x[i] = (float)gd_rng_normal(&r);
    gd_compressor c;
    make(&c, "qsgd", params(1, 3, 0), N);
    for (int d = 0; d < DRAWS; d++) {
        memset(out, 0, sizeof out);
        c.ops->compress(&c, x, c.msg);
        c.ops->decompress_add(&c, c.msg, out);
        for (size_t i = 0; i < N; i++)
            mean[i] += out[i] / DRAWS;
    }
    double norm[2] = {0, 0}; /* buckets [0, 512) and [512, 600) */
    for (size_t i = 0; i < N; i++)
        norm[i / 512] += (double)x[i] * x[i];
    for (size_t i = 0; i < N; i++) {
        double tol = 5 * sqrt(norm[i / 512]) / (2 * 3 * sqrt((double)DRAWS));
        assert_true(fabs(mean[i] - x[i]) < tol);
    }
    gd_compressor_destroy(&c);
}

static uint16_t code16(const char *name, float v)
{
    gd_compressor c;
    make(&c, name, params(1, 1, 0), 1);
    c.ops->compress(&c, &v, c.msg);
    uint16_t h;
    memcpy(&h, c.msg, sizeof h);
    gd_compressor_destroy(&c);
    return h;
}

/* Round to nearest, ties to even; range ends; subnormals (IEEE 754 binary16, bfloat16). */
static void test_half_rounding(void **state)
{
    (void)state;
    assert_int_equal(code16("fp16", 1.0f), 0x3c00);
    assert_int_equal(code16("fp16", -2.0f), 0xc000);
    assert_int_equal(code16("fp16", 65504.0f), 0x7bff);
    assert_int_equal(code16("fp16", 65519.0f), 0x7bff);
    assert_int_equal(code16("fp16", 65520.0f), 0x7c00);       /* rounds past the largest */
    assert_int_equal(code16("fp16", 5.9604645e-8f), 0x0001);  /* 2^-24, the least subnormal */
    assert_int_equal(code16("fp16", 2.9802322e-8f), 0x0000);  /* 2^-25: a tie, to even 0 */
    assert_int_equal(code16("fp16", 1.0f + 0x1p-11f), 0x3c00); /* tie, to even */
    assert_int_equal(code16("fp16", 1.0f + 3 * 0x1p-11f), 0x3c02); /* tie, to even (up) */
    assert_int_equal(code16("fp16", 6.1035156e-5f), 0x0400);  /* 2^-14, the least normal */
    assert_int_equal(code16("bf16", 1.0f), 0x3f80);
    assert_int_equal(code16("bf16", 1.0f + 0x1p-8f), 0x3f80);  /* tie, to even */
    assert_int_equal(code16("bf16", 1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_int_equal(code16("bf16", -3.0e38f), 0xff62);
}

/* Every encoding's message is the size its docs state (n = 1000). */
static void test_message_bytes(void **state)
{
    (void)state;
    struct { const char *name; double ratio; long levels; size_t bytes; } want[] = {
        {"fp16", 1, 1, 2000},   {"bf16", 1, 1, 2000},
        {"topk", 0.01, 1, 80},  {"randomk", 0.0101, 1, 88}, /* k = ceil(10.1) = 11 */
        {"qsgd", 1, 7, 2 * 4 + 1000 * 4 / 8}, {"qsgd", 1, 1, 2 * 4 + 1000 * 2 / 8},
        {"qsgd", 1, 8, 2 * 4 + 1000 * 5 / 8}, {"sign", 1, 1, 2 * 4 + 125},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        gd_compressor c;
        make(&c, want[i].name, params(want[i].ratio, want[i].levels, 0), 1000);
        assert_int_equal(c.msg_bytes, want[i].bytes);
        gd_compressor_destroy(&c);
    }
}

/* Bad parameters are config errors that name the key. */
static void test_bad_parameters(void **state)
{
    (void)state;
    gd_compress_params p = params(0, 7, 0);
    assert_int_equal(gd_compressor_check("topk", &p, 100), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "parallel.compress_ratio = 0"));
    gd_clear_error();
    assert_int_equal(gd_compressor_check("gzip", &p, 100), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "parallel.compress = 'gzip': unknown name"));
    gd_clear_error();
    p.nmatrices = 1;
    p.matrix[0] = (gd_matrix_view){.offset = 0, .rows = 3, .cols = 8};
    p.rank = 4;
    assert_int_equal(gd_compressor_check("powersgd", &p, 24), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "parallel.powersgd_rank = 4: must be in [1, 3]"));
    gd_clear_error();
}

/* ---- PowerSGD against a double-precision reference ----------------------------------- */

enum { ROWS = 6, COLS = 5, R = 2, BIAS = 3, NP = ROWS * COLS + BIAS };

/* Modified Gram-Schmidt on the columns of P (ROWS x R), in double. */
static void orthogonalize_ref(double *P)
{
    for (int j = 0; j < R; j++) {
        for (int k = 0; k < j; k++) {
            double dot = 0;
            for (int i = 0; i < ROWS; i++)
                dot += P[i * R + j] * P[i * R + k];
            for (int i = 0; i < ROWS; i++)
                P[i * R + j] -= dot * P[i * R + k];
        }
        double sq = 0;
        for (int i = 0; i < ROWS; i++)
            sq += P[i * R + j] * P[i * R + j];
        for (int i = 0; i < ROWS; i++)
            P[i * R + j] /= sqrt(sq);
    }
}

/* One power iteration (Vogels et al. 2019, Alg. 1) on M with Q (updated): out = P Q^T. */
static void powersgd_ref(const double *M, double *Q, double *out)
{
    double P[ROWS * R] = {0};
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < R; j++)
            for (int k = 0; k < COLS; k++)
                P[i * R + j] += M[i * COLS + k] * Q[k * R + j];
    orthogonalize_ref(P);
    for (int k = 0; k < COLS; k++)
        for (int j = 0; j < R; j++) {
            Q[k * R + j] = 0;
            for (int i = 0; i < ROWS; i++)
                Q[k * R + j] += M[i * COLS + k] * P[i * R + j];
        }
    for (int i = 0; i < ROWS; i++)
        for (int k = 0; k < COLS; k++) {
            out[i * COLS + k] = 0;
            for (int j = 0; j < R; j++)
                out[i * COLS + k] += P[i * R + j] * Q[k * R + j];
        }
}

/* Two steps with error feedback: the matrix approximated as in double, the warm start
 * carried, the bias sent exactly, the residual M + e - out. */
static void test_powersgd_reference(void **state)
{
    (void)state;
    gd_compress_params p = params(1, 1, 1);
    p.nmatrices = 1;
    p.matrix[0] = (gd_matrix_view){.offset = BIAS, .rows = ROWS, .cols = COLS}; /* bias first */
    gd_compressor c;
    gd_wire w = self_wire();
    make(&c, "powersgd", p, NP);
    double Q[COLS * R], e[ROWS * COLS] = {0}, M[ROWS * COLS], ref[ROWS * COLS];
    gd_rng shared;
    gd_rng_seed(&shared, 7, 0, GD_RNG_COMPRESS);
    for (int i = 0; i < COLS * R; i++)
        Q[i] = (float)gd_rng_normal(&shared);
    gd_rng r;
    gd_rng_seed(&r, 9, 0, 0);
    for (int step = 0; step < 2; step++) {
        float x[NP], out[NP];
        for (int i = 0; i < NP; i++)
            x[i] = (float)gd_rng_normal(&r);
        for (int i = 0; i < ROWS * COLS; i++)
            M[i] = (double)x[BIAS + i] + e[i];
        powersgd_ref(M, Q, ref);
        gd_compressor_exchange(&c, &w, x, out);
        for (int i = 0; i < BIAS; i++)
            assert_true(out[i] == x[i]);
        for (int i = 0; i < ROWS * COLS; i++) {
            assert_true(fabs(out[BIAS + i] - ref[i]) < 1e-4 * (1 + fabs(ref[i])));
            e[i] = M[i] - ref[i];
            assert_true(fabs(c.residual[BIAS + i] - e[i]) < 1e-4 * (1 + fabs(e[i])));
        }
    }
    gd_compressor_destroy(&c);
}

int main(void)
{
    MPI_Init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_ties_and_residual),
        cmocka_unit_test(test_momentum_correction),
        cmocka_unit_test(test_topk_against_sort),
        cmocka_unit_test(test_qsgd_unbiased),
        cmocka_unit_test(test_half_rounding),
        cmocka_unit_test(test_message_bytes),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_powersgd_reference),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_check_push),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
