/* The compute roofline of a linear-model epoch: only the cblas_sgemm calls that one
 * epoch of softmax regression makes (forward Z = X W^T and backward G = dZ^T X per
 * batch), on the same shapes, over a shard of the same size. gdmpi's epoch time is
 * compared with this in scripts/bench.sh.
 * usage: gemm_roofline ROWS FEATURES CLASSES BATCH [REPEATS]; prints seconds per epoch. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static double epoch_seconds(const float *x, float *w, float *z, float *g, int rows, int d, int k,
                            int batch)
{
    double start = MPI_Wtime();
    for (int r = 0; r < rows; r += batch) {
        int n = rows - r < batch ? rows - r : batch;
        const float *xb = x + (size_t)r * d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, d, 1.0f, xb, d, w, d, 0.0f, z, k);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, d, n, 1.0f, z, k, xb, d, 1.0f, g, d);
    }
    return MPI_Wtime() - start;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: gemm_roofline ROWS FEATURES CLASSES BATCH [REPEATS]\n");
        return 2;
    }
    int rows = atoi(argv[1]), d = atoi(argv[2]), k = atoi(argv[3]), batch = atoi(argv[4]);
    int repeats = argc > 5 ? atoi(argv[5]) : 5;
    openblas_set_num_threads(1);
    float *x = malloc(sizeof(float) * (size_t)rows * d), *w = calloc((size_t)k * d, sizeof(float));
    float *z = malloc(sizeof(float) * (size_t)batch * k), *g = calloc((size_t)k * d, sizeof(float));
    if (!x || !w || !z || !g)
        return 1;
    for (size_t i = 0; i < (size_t)rows * d; i++)
        x[i] = (float)(i % 255) / 255.0f;
    double best = 1e30;
    for (int i = 0; i < repeats; i++) {
        double s = epoch_seconds(x, w, z, g, rows, d, k, batch);
        best = s < best ? s : best;
    }
    printf("%.6f\n", best);
    free(x);
    free(w);
    free(z);
    free(g);
    return 0;
}
