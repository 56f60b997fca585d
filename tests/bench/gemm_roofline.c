/* The compute roofline of an epoch: only the cblas_sgemm calls that one epoch of gdmpi
 * makes on the same shapes, over a shard of the same size, in contiguous batches:
 *   softmax (SIZES = D,K): forward Z = X W^T, backward dW += dZ^T X per batch;
 *   mlp (SIZES = D,H1,...,K): per layer forward Z = A W^T; backward dW += dZ^T A, and
 *   dA = dZ W for every layer but the first (no gradient for the input);
 *   cnn (SIZES = PxINxOUT,...: a layer of P GEMM rows per sample, IN columns, OUT outputs):
 *   the same three GEMMs per layer; a conv's rows are its im2col rows (P = output pixels,
 *   IN = kernel height x width x input channels), an fc's P is 1. Each layer then reads a
 *   buffer of its own: the im2col rows are not built, col2im and the pools are not run.
 * Nothing else: no bias, activation, loss, gather, optimizer step or communication.
 * scripts/bench.sh compares gdmpi's epoch time with it.
 * usage: gemm_roofline ROWS BATCH SIZES [REPEATS]    e.g. 60000 64 784,256,128,10
 *        or 60000 64 784x25x6,100x150x16,1x400x120,1x120x84,1x84x10 (LeNet-5)
 * prints the best of REPEATS (5) epochs, in seconds, and the GFLOP/s it reached. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 16

typedef struct layer {
    int p, in, out;  /* GEMM rows per sample, columns, outputs */
    int chained;     /* reads the previous layer's output (mlp), else a buffer of its own */
    float *w, *g;    /* out x in */
    float *a;        /* batch*p x in: what it reads (NULL for the first chained layer: x) */
    float *z;        /* batch*p x out: its output, and dLoss/dz in backward */
    float *da;       /* batch*p x in: dLoss/da, for every layer but the first */
} layer;

typedef struct net {
    int nlayers;
    layer l[MAX_LAYERS];
} net;

/* "784,256,10": chained layers, one GEMM row per sample. */
static int parse_chain(char *text, net *m)
{
    int size[MAX_LAYERS + 1], n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LAYERS + 1 || atoi(tok) < 1)
            return -1;
        size[n++] = atoi(tok);
    }
    for (int i = 0; i + 1 < n; i++)
        m->l[i] = (layer){.p = 1, .in = size[i], .out = size[i + 1], .chained = 1};
    m->nlayers = n - 1;
    return n >= 2 ? 0 : -1;
}

/* "784x25x6,100x150x16": independent layers. */
static int parse_layers(char *text, net *m)
{
    char *save = NULL;
    m->nlayers = 0;
    for (char *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        layer *L = &m->l[m->nlayers];
        if (m->nlayers == MAX_LAYERS || sscanf(tok, "%dx%dx%d", &L->p, &L->in, &L->out) != 3 ||
            L->p < 1 || L->in < 1 || L->out < 1)
            return -1;
        m->nlayers++;
    }
    return m->nlayers ? 0 : -1;
}

static int parse_sizes(const char *text, net *m)
{
    char *copy = strdup(text);
    int rc = strchr(copy, 'x') ? parse_layers(copy, m) : parse_chain(copy, m);
    free(copy);
    return rc;
}

static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static int allocate(net *m, size_t batch)
{
    for (int i = 0; i < m->nlayers; i++) {
        layer *L = &m->l[i];
        size_t rows = batch * (size_t)L->p;
        L->w = zeros((size_t)L->in * L->out);
        L->g = zeros((size_t)L->in * L->out);
        L->z = zeros(rows * L->out);
        L->a = L->chained ? (i ? m->l[i - 1].z : NULL) : zeros(rows * L->in);
        L->da = i ? zeros(rows * L->in) : NULL;
        if (!L->w || !L->g || !L->z || (!L->chained && !L->a) || (i && !L->da))
            return -1;
    }
    return 0;
}

static void gemm_forward(net *m, const float *x, int n)
{
    for (int i = 0; i < m->nlayers; i++) {
        layer *L = &m->l[i];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n * L->p, L->out, L->in, 1.0f,
                    L->a ? L->a : x, L->in, L->w, L->in, 0.0f, L->z, L->out);
    }
}

/* Each layer's delta is the next one's dA when they are chained, else its own z. */
static void gemm_backward(net *m, const float *x, int n)
{
    for (int i = m->nlayers - 1; i >= 0; i--) {
        layer *L = &m->l[i];
        const int rows = n * L->p;
        const float *delta = i + 1 < m->nlayers && m->l[i + 1].chained ? m->l[i + 1].da : L->z;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->out, L->in, rows, 1.0f, delta,
                    L->out, L->a ? L->a : x, L->in, 1.0f, L->g, L->in);
        if (i)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, L->in, L->out, 1.0f,
                        delta, L->out, L->w, L->in, 0.0f, L->da, L->in);
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
        const float *xb = x + (size_t)r * m->l[0].in;
        gemm_forward(m, xb, n);
        gemm_backward(m, xb, n);
    }
    return now() - start;
}

static double epoch_flops(const net *m, int rows)
{
    double f = 0;
    for (int i = 0; i < m->nlayers; i++)
        f += 2.0 * rows * m->l[i].p * m->l[i].in * m->l[i].out * (i ? 3 : 2);
    return f;
}

int main(int argc, char **argv)
{
    net m = {0};
    if (argc < 4 || parse_sizes(argv[3], &m)) {
        fprintf(stderr, "usage: gemm_roofline ROWS BATCH SIZES [REPEATS]   (SIZES: 784,10 or "
                        "784,256,128,10; cnn layers: 784x25x6,100x150x16,1x400x10)\n");
        return 2;
    }
    int rows = atoi(argv[1]), batch = atoi(argv[2]);
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    openblas_set_num_threads(1);
    float *x = malloc(sizeof(float) * (size_t)rows * m.l[0].in);
    if (!x || rows < 1 || batch < 1 || allocate(&m, (size_t)batch))
        return 1;
    for (size_t i = 0; i < (size_t)rows * m.l[0].in; i++)
        x[i] = (float)(i % 255) / 255.0f;
    double best = 1e30;
    for (int i = 0; i < repeats; i++) {
        double s = epoch_seconds(&m, x, rows, batch);
        best = s < best ? s : best;
    }
    printf("%.6f %.2f\n", best, epoch_flops(&m, rows) / best / 1e9);
    return 0; /* the buffers go with the process */
}
