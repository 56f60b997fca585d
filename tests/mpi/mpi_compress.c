/* Run under mpirun (np >= 1): the compressors' exchanges across ranks against references
 * computed on every rank from every rank's input: signSGD's majority vote, EF-signSGD's sum
 * of scaled signs, top-k's sum of the ranks' sparse vectors, fp16's float32 sum, PowerSGD's
 * step on the sum of the ranks' matrices, and the bytes each counts. Rank 0 prints ok/not ok. */
#include "gdmpi/compress.h"
#include "gdmpi/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { N = 1203 }; /* three buckets of sign's scales, the last partial */

/* Rank r's input: signs and magnitudes that differ from rank to rank. */
static float input(int rank, size_t i)
{
    unsigned h = (unsigned)(i * 2654435761u + (unsigned)rank * 40503u);
    float mag = (float)(h % 97) / 16.0f + 0.125f;
    return (h >> 7) % 3 == 0 ? -mag : mag;
}

static double bytes[GD_WIRE_COUNT];

static int exchange(const char *name, int feedback, double ratio, float *out, int size)
{
    gd_compress_params p = {.ratio = ratio, .levels = 7, .rank = 1, .feedback = feedback,
                            .seed = 1};
    MPI_Comm_rank(MPI_COMM_WORLD, &p.rank_id);
    gd_compressor c;
    if (gd_compressor_create(&c, name, &p, N, size))
        return 0;
    float x[N];
    for (size_t i = 0; i < N; i++)
        x[i] = input(p.rank_id, i);
    memset(bytes, 0, sizeof bytes);
    gd_wire w = {.comm = MPI_COMM_WORLD, .size = size, .bytes = bytes};
    gd_compressor_exchange(&c, &w, x, out);
    gd_compressor_destroy(&c);
    return 1;
}

/* Rank r's scale for coordinate i: the mean magnitude of its bucket of 512. */
static double mean_magnitude(int rank, size_t i)
{
    size_t lo = i / GD_COMPRESS_BUCKET * GD_COMPRESS_BUCKET;
    size_t hi = lo + GD_COMPRESS_BUCKET < N ? lo + GD_COMPRESS_BUCKET : N;
    double l1 = 0;
    for (size_t j = lo; j < hi; j++)
        l1 += fabsf(input(rank, j));
    return (float)(l1 / (double)(hi - lo));
}

/* signSGD with majority vote: sign(sum_k sign(x_k)) x sum_k s_k, a tie 0. */
static int majority_vote(int size)
{
    float out[N];
    int good = exchange("sign", 0, 1, out, size);
    for (size_t i = 0; good && i < N; i++) {
        double scales = 0;
        for (int r = 0; r < size; r++)
            scales += mean_magnitude(r, i);
        int votes = 0;
        for (int r = 0; r < size; r++)
            votes += input(r, i) < 0 ? -1 : 1;
        double want = votes > 0 ? scales : votes < 0 ? -scales : 0;
        good &= fabs(out[i] - want) <= 1e-5 * scales;
    }
    return good && bytes[GD_WIRE_SENT] == (size - 1) * (3 * 4.0 + (N + 7) / 8);
}

/* EF-signSGD: the sum of s_k sign(x_k). */
static int scaled_signs(int size)
{
    float out[N];
    int good = exchange("sign", 1, 1, out, size);
    for (size_t i = 0; good && i < N; i++) {
        double want = 0;
        for (int r = 0; r < size; r++)
            want += input(r, i) < 0 ? -mean_magnitude(r, i) : mean_magnitude(r, i);
        good &= fabs(out[i] - want) <= 1e-5 * (1 + fabs(want));
    }
    return good;
}

/* out is the plain sum of the ranks' inputs, within tol (1 + |sum|) a coordinate. */
static int is_plain_sum(const float *out, int size, double tol)
{
    int good = 1;
    for (size_t i = 0; i < N; i++) {
        double want = 0;
        for (int r = 0; r < size; r++)
            want += input(r, i);
        good &= fabs(out[i] - want) <= tol * (1 + fabs(want));
    }
    return good;
}

/* top-k: each rank's k largest, summed; here k = N (ratio 1) must be the plain sum, and
 * k = 1 the sum of each rank's single largest coordinate. */
static int topk_sums(int size)
{
    float out[N];
    int good = exchange("topk", 1, 1.0, out, size) && is_plain_sum(out, size, 1e-5);
    good &= bytes[GD_WIRE_SENT] == (size - 1) * 8.0 * N;
    good &= exchange("topk", 1, 1e-9, out, size); /* k = 1 */
    static float want[N];
    memset(want, 0, sizeof want);
    for (int r = 0; r < size; r++) {
        size_t best = 0;
        for (size_t i = 1; i < N; i++)
            if (fabsf(input(r, i)) > fabsf(input(r, best)))
                best = i;
        want[best] += input(r, best);
    }
    for (size_t i = 0; good && i < N; i++)
        good &= fabsf(out[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i]));
    return good;
}

/* fp16: the sum within fp16's rounding of each partial sum (inputs are exact in fp16). */
static int half_sum(int size)
{
    float out[N];
    int good = exchange("fp16", 0, 1, out, size) && is_plain_sum(out, size, size * 1e-3);
    return good && bytes[GD_WIRE_SENT] == 2.0 * (size - 1) / size * 2 * N;
}

/* PowerSGD across the ranks: P and Q are summed by allreduce, so one step on the ranks'
 * matrices M_r equals one step on one rank of their sum (sum M_r) Q, which every rank
 * computes alone on MPI_COMM_SELF from the same Q (drawn from the stream (seed, 0)). A 30 x
 * 40 matrix at offset 0, rank 2; the last 3 coordinates ride dense. */
static int powersgd_sum(int size)
{
    gd_compress_params p = {.rank = 2, .feedback = 1, .seed = 1, .nmatrices = 1,
                            .matrix = {{.offset = 0, .rows = 30, .cols = 40}}};
    MPI_Comm_rank(MPI_COMM_WORLD, &p.rank_id);
    gd_compressor all, one;
    if (gd_compressor_create(&all, "powersgd", &p, N, size) ||
        gd_compressor_create(&one, "powersgd", &p, N, 1))
        return 0;
    static float x[N], sum[N], out[N], want[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = input(p.rank_id, i);
        sum[i] = 0;
        for (int r = 0; r < size; r++)
            sum[i] += input(r, i);
    }
    gd_wire w = {.comm = MPI_COMM_WORLD, .size = size, .bytes = bytes};
    gd_wire self = {.comm = MPI_COMM_SELF, .size = 1, .bytes = bytes};
    gd_compressor_exchange(&all, &w, x, out);
    gd_compressor_exchange(&one, &self, sum, want);
    int good = 1;
    for (size_t i = 0; i < N; i++)
        good &= fabsf(out[i] - want[i]) <= 1e-4f * (1 + fabsf(want[i]));
    gd_compressor_destroy(&all);
    gd_compressor_destroy(&one);
    return good;
}

static void report(int good, const char *what, int size)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Allreduce(MPI_IN_PLACE, &good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s - %s (np=%d)\n", good ? "ok" : "not ok", what, size);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    report(majority_vote(size), "sign without feedback: the majority vote, scaled, ties 0; bytes", size);
    report(scaled_signs(size), "sign with feedback: the sum of the ranks' scaled signs", size);
    report(topk_sums(size), "topk: k = n is the plain sum, k = 1 each rank's largest; bytes", size);
    report(half_sum(size), "fp16: the float32-widening sum of the 16-bit codes; bytes", size);
    report(powersgd_sum(size), "powersgd: one step across the ranks is one step on their sum", size);
    MPI_Finalize();
    return 0;
}
