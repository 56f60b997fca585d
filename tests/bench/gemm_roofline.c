/* The compute roofline of an epoch: only the cblas_sgemm calls that one epoch of gdmpi
 * makes on the same shapes, over a shard of the same size, in contiguous batches:
 *   softmax (SIZES = D,K): forward Z = X W^T, backward dW += dZ^T X per batch;
 *   mlp (SIZES = D,H1,...,K): per layer forward Z = A W^T; backward dW += dZ^T A, and
 *   dA = dZ W for every layer but the first (no gradient for the input).
 * Nothing else: no bias, activation, loss, gather, optimizer step or communication.
 * scripts/bench.sh compares gdmpi's epoch time with it.
 * usage: gemm_roofline ROWS BATCH SIZES [REPEATS]    e.g. 60000 64 784,256,128,10
 * prints the best of REPEATS (5) epochs, in seconds, and the GFLOP/s it reached. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 16

typedef struct net {
    int nsizes, size[MAX_LAYERS + 1];
    float *w[MAX_LAYERS], *g[MAX_LAYERS]; /* layer l: size[l+1] x size[l] */
    float *a[MAX_LAYERS + 1];             /* activations: batch x size[l] (a[0] unused) */
    float *d[2];                          /* deltas: batch x the widest layer */
} net;

static int parse_sizes(const char *text, net *m)
{
    char *copy = strdup(text), *save = NULL;
    m->nsizes = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (m->nsizes == MAX_LAYERS + 1 || atoi(tok) < 1) {
            free(copy);
            return -1;
        }
        m->size[m->nsizes++] = atoi(tok);
    }
    free(copy);
    return m->nsizes >= 2 ? 0 : -1;
}

static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static int allocate(net *m, int batch)
{
    int widest = 0;
    for (int l = 0; l < m->nsizes; l++) {
        widest = m->size[l] > widest ? m->size[l] : widest;
        m->a[l] = l ? zeros((size_t)batch * m->size[l]) : NULL;
        if (l && !m->a[l])
            return -1;
    }
    for (int l = 0; l + 1 < m->nsizes; l++) {
        m->w[l] = zeros((size_t)m->size[l] * m->size[l + 1]);
        m->g[l] = zeros((size_t)m->size[l] * m->size[l + 1]);
        if (!m->w[l] || !m->g[l])
            return -1;
    }
    m->d[0] = zeros((size_t)batch * widest);
    m->d[1] = zeros((size_t)batch * widest);
    return m->d[0] && m->d[1] ? 0 : -1;
}

static void gemm_forward(net *m, const float *x, int n)
{
    for (int l = 0; l + 1 < m->nsizes; l++) {
        int in = m->size[l], out = m->size[l + 1];
        const float *a = l ? m->a[l] : x;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, a, in, m->w[l], in,
                    0.0f, m->a[l + 1], out);
    }
}

static void gemm_backward(net *m, const float *x, int n)
{
    float *delta = m->a[m->nsizes - 1];
    for (int l = m->nsizes - 2, k = 0; l >= 0; l--, k ^= 1) {
        int in = m->size[l], out = m->size[l + 1];
        const float *a = l ? m->a[l] : x;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, delta, out, a, in,
                    1.0f, m->g[l], in);
        if (l) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, delta, out,
                        m->w[l], in, 0.0f, m->d[k], in);
            delta = m->d[k];
        }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double epoch_seconds(net *m, const float *x, int rows, int batch)
{
    double start = now();
    for (int r = 0; r < rows; r += batch) {
        int n = rows - r < batch ? rows - r : batch;
        const float *xb = x + (size_t)r * m->size[0];
        gemm_forward(m, xb, n);
        gemm_backward(m, xb, n);
    }
    return now() - start;
}

static double epoch_flops(const net *m, int rows)
{
    double f = 0;
    for (int l = 0; l + 1 < m->nsizes; l++)
        f += 2.0 * rows * m->size[l] * m->size[l + 1] * (l ? 3 : 2);
    return f;
}

int main(int argc, char **argv)
{
    net m = {0};
    if (argc < 4 || parse_sizes(argv[3], &m)) {
        fprintf(stderr, "usage: gemm_roofline ROWS BATCH SIZES [REPEATS]   (SIZES: 784,10 or "
                        "784,256,128,10)\n");
        return 2;
    }
    int rows = atoi(argv[1]), batch = atoi(argv[2]);
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    openblas_set_num_threads(1);
    float *x = malloc(sizeof(float) * (size_t)rows * m.size[0]);
    if (!x || rows < 1 || batch < 1 || allocate(&m, batch))
        return 1;
    for (size_t i = 0; i < (size_t)rows * m.size[0]; i++)
        x[i] = (float)(i % 255) / 255.0f;
    double best = 1e30;
    for (int i = 0; i < repeats; i++) {
        double s = epoch_seconds(&m, x, rows, batch);
        best = s < best ? s : best;
    }
    printf("%.6f %.2f\n", best, epoch_flops(&m, rows) / best / 1e9);
    return 0; /* the buffers go with the process */
}
