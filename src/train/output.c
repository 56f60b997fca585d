/* Run outputs. Rank 0 writes every file to "<name>.tmp", fsyncs it and renames it over
 * the real name, so a reader (or a crash) only ever sees a whole old or whole new file. */
#include "ckpt.h"
#include "gdmpi/error.h"
#include "gdmpi/inject.h"
#include "gdmpi/provenance.h"
#include "gdmpi/real.h"
#include "gdmpi/signals.h"
#include "trainer.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* NaN (no validation data, or no classes) is written as an empty field. */
static void csv_num(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (!isnan(v))
        fprintf(f, fmt, v);
}

int gd_write_metrics(const gd_trainer *t)
{
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    FILE *f = gd_open_tmp(t->cfg->output.dir, "metrics.csv", tmp, path, sizeof tmp);
    if (!f)
        return GD_ERR;
    fprintf(f, "epoch,step,wall_s,samples,train_loss,val_loss,val_acc,lr,samples_per_s,"
               "compute_frac,comm_frac,wait_frac,bytes_sent,bytes_recv,compression,eval_s\n");
    for (long i = 0; i < t->metrics.nrows; i++) {
        const gd_metrics_row *r = &t->metrics.rows[i];
        fprintf(f, "%ld,%ld,%.4f,%.0f", r->epoch, r->step, r->wall, r->samples);
        csv_num(f, r->train_loss, "%.8g");
        csv_num(f, r->val_loss, "%.8g");
        csv_num(f, r->val_acc, "%.6f");
        csv_num(f, r->lr, "%.8g");
        csv_num(f, r->samples_per_s, "%.1f");
        csv_num(f, r->compute_frac, "%.4f");
        csv_num(f, r->comm_frac, "%.4f");
        csv_num(f, r->wait_frac, "%.4f");
        csv_num(f, r->bytes_sent, "%.0f");
        csv_num(f, r->bytes_recv, "%.0f");
        csv_num(f, r->bytes_sent > 0 ? r->bytes_dense / r->bytes_sent : NAN, "%.2f");
        csv_num(f, r->eval_s, "%.4f");
        fputc('\n', f);
    }
    return gd_close_and_commit(f, tmp, path);
}

void gd_versions(char *mpi, size_t mpi_len, char *blas, size_t blas_len, char *hdf5,
                 size_t hdf5_len)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    lib[strcspn(lib, ",\n")] = '\0';
    snprintf(mpi, mpi_len, "%s", lib);
    snprintf(blas, blas_len, "%s", openblas_get_config());
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    snprintf(hdf5, hdf5_len, "%u.%u.%u", maj, min, rel);
}

/* JSON has no NaN: absent figures are null. */
static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fputs(gd_real(v).text, f);
    else
        fprintf(f, "null");
}

static void json_config(FILE *f, const gd_config *c)
{
    const char *section = "";
    char value[GD_PATH_MAX + 32];
    fprintf(f, "  \"config\": {");
    for (size_t i = 0; i < gd_nkeys; i++) {
        const gd_key *k = &gd_keys[i];
        if (strcmp(section, k->section)) {
            fprintf(f, "%s\n    \"%s\": {", i ? "\n    }," : "", k->section);
            section = k->section;
        } else {
            fputc(',', f);
        }
        gd_config_format(c, k, value, sizeof value);
        fprintf(f, "\n      \"%s\": ", k->name);
        gd_json_string(f, value);
    }
    fprintf(f, "\n    }\n  },\n");
}

static void json_final(FILE *f, const gd_trainer *t)
{
    fprintf(f, "  \"final\": {");
    if (t->metrics.nrows) {
        const gd_metrics_row *r = &t->metrics.rows[t->metrics.nrows - 1];
        fprintf(f, "\"epoch\": %ld, \"step\": %ld, \"wall_s\": ", r->epoch, r->step);
        json_num(f, r->wall);
        fprintf(f, ", \"samples\": %.0f, \"train_loss\": ", r->samples);
        json_num(f, r->train_loss);
        fprintf(f, ", \"val_loss\": ");
        json_num(f, r->val_loss);
        fprintf(f, ", \"val_acc\": ");
        json_num(f, r->val_acc);
        fprintf(f, ", \"samples_per_s\": ");
        json_num(f, r->samples_per_s);
    }
    fprintf(f, "},\n");
}

static const char *const timer_names[GD_T_COUNT] = {"compute_s", "comm_s", "wait_s", "io_s",
                                                    "eval_s"};

/* Per rank r, RANK_FIGURES doubles from rows + RANK_FIGURES r: its shard rows, its peak
 * resident set (MiB), what parallel.slow_ranks and delay_us injected (gd_inject_totals),
 * then the MiB its shard takes in memory (uint8 features: a quarter of float32's), then the
 * bytes it sent and received over the run (NaN: the strategy does not count them). */
enum { RANK_FIGURES = 8 };

static void json_ranks(FILE *f, const double *all, const double *rows, int size)
{
    fprintf(f, "  \"ranks\": [");
    for (int r = 0; r < size; r++) {
        const double *x = rows + RANK_FIGURES * r;
        fprintf(f, "%s\n    {\"rank\": %d, \"rows\": %.0f, \"peak_rss_mb\": ", r ? "," : "", r,
                x[0]);
        json_num(f, x[1]); /* null if getrusage failed */
        for (int k = 0; k < GD_T_COUNT; k++) {
            fprintf(f, ", \"%s\": ", timer_names[k]);
            json_num(f, all[r * GD_T_COUNT + k]);
        }
        fprintf(f, ", \"shard_mb\": %.1f", x[5]);
        fprintf(f, ", \"bytes_sent\": ");
        json_num(f, x[6]);
        fprintf(f, ", \"bytes_recv\": ");
        json_num(f, x[7]);
        fprintf(f, ", \"injected\": {\"slow_s\": %.6f, \"delay_s\": %.6f, \"delays\": %.0f}}",
                x[2], x[3], x[4]);
    }
    fprintf(f, "\n  ],\n");
}

static void json_versions(FILE *f)
{
    char mpi[256], blas[256], hdf5[64];
    gd_versions(mpi, sizeof mpi, blas, sizeof blas, hdf5, sizeof hdf5);
    fprintf(f, "  \"versions\": {\"gdmpi\": \"%s\", \"commit\": ", GDMPI_VERSION);
    gd_json_string(f, gd_build_commit());
    fprintf(f, ", \"mpi\": ");
    gd_json_string(f, mpi);
    fprintf(f, ", \"openblas\": ");
    gd_json_string(f, blas);
    fprintf(f, ", \"hdf5\": \"%s\"}\n", hdf5);
}

static int write_summary_file(const gd_trainer *t, int status, const char *message,
                              const double *timers, const double *rows, const char *hosts)
{
    char tmp[GD_PATH_MAX + 32], path[GD_PATH_MAX + 32];
    FILE *f = gd_open_tmp(t->cfg->output.dir, "summary.json", tmp, path, sizeof tmp);
    if (!f)
        return GD_ERR;
    fprintf(f, "{\n  \"status\": \"%s\",\n  \"message\": ",
            status == GD_OK ? "ok" : status == GD_EDIVERGED ? "diverged"
                                   : status == GD_EXIT_SIGNAL ? "interrupted" : "failed");
    gd_json_string(f, message);
    fprintf(f, ",\n");
    gd_json_provenance(f, hosts, t->size, MPI_Wtime() - t->clock.t_job);
    fprintf(f, "  \"ranks_total\": %d,\n  \"mode\": ", t->size);
    gd_json_string(f, t->cfg->parallel.mode);
    fprintf(f, ",\n  \"model\": {\"type\": \"%s\", \"features\": %zu, \"outputs\": %zu, "
               "\"parameters\": %zu},\n", t->model.ops ? t->model.ops->name : "",
            t->model.features, t->model.outputs, t->model.nparams);
    fprintf(f, "  \"steps_per_epoch\": %ld,\n  \"train_s\": ", t->ctx.steps_per_epoch);
    json_num(f, t->clock.t_train);
    fprintf(f, ",\n");
    json_final(f, t);
    gd_json_stopping(t, f);
    gd_checkpoint_json(t, f);
    if (t->strategy && t->strategy->summary)
        t->strategy->summary(&t->ctx, f);
    json_config(f, t->cfg);
    json_ranks(f, timers, rows, t->size);
    json_versions(f);
    fprintf(f, "}\n");
    return gd_close_and_commit(f, tmp, path);
}

/* This process's peak resident set so far (Linux: ru_maxrss in KiB), MiB. */
static double peak_rss_mb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss / 1024.0 : NAN;
}

int gd_write_summary(const gd_trainer *t, int status, const char *message)
{
    enum { PER_RANK = GD_T_COUNT + RANK_FIGURES }; /* the timers, then json_ranks' figures */
    gd_inject_totals inj = gd_inject_totals_get();
    double mine[PER_RANK];
    memcpy(mine, t->ctx.timers, sizeof t->ctx.timers);
    mine[GD_T_COUNT] = (double)t->train.rows;
    mine[GD_T_COUNT + 1] = peak_rss_mb();
    mine[GD_T_COUNT + 2] = inj.slow_s;
    mine[GD_T_COUNT + 3] = inj.delay_s;
    mine[GD_T_COUNT + 4] = inj.delays;
    mine[GD_T_COUNT + 5] = (double)(t->batch.streaming ? gd_stream_bytes(&t->batch.spec)
                                                        : gd_data_bytes(&t->train)) /
                           (1024.0 * 1024.0); /* a stream: its chunks and buffer */
    mine[GD_T_COUNT + 6] = t->ctx.counts_wire ? t->ctx.wire[GD_WIRE_SENT] : NAN;
    mine[GD_T_COUNT + 7] = t->ctx.counts_wire ? t->ctx.wire[GD_WIRE_RECV] : NAN;
    double *gathered = t->rank == 0 ? gd_alloc((size_t)t->size, sizeof mine, "summary") : NULL;
    if (t->rank == 0 && !gathered)
        gd_abort(t->comm, GD_ERR);
    MPI_Gather(mine, PER_RANK, MPI_DOUBLE, gathered, PER_RANK, MPI_DOUBLE, 0, t->comm);
    char *hosts = gd_gather_hosts(t->comm, 0);
    if (t->rank != 0)
        return GD_OK;
    double *timers = gd_alloc((size_t)t->size, sizeof t->ctx.timers, "summary");
    double *rows = gd_alloc((size_t)t->size, RANK_FIGURES * sizeof(double), "summary");
    int rc = GD_ERR;
    if (timers && rows) {
        for (int r = 0; r < t->size; r++) {
            memcpy(timers + r * GD_T_COUNT, gathered + r * PER_RANK, sizeof t->ctx.timers);
            memcpy(rows + RANK_FIGURES * r, gathered + r * PER_RANK + GD_T_COUNT,
                   RANK_FIGURES * sizeof(double));
        }
        rc = write_summary_file(t, status, message, timers, rows, hosts);
    }
    free(hosts);
    free(gathered);
    free(timers);
    free(rows);
    return rc;
}

/* metrics.csv's row as an HDF5 record (built once; HDF5 frees it at exit). */
static hid_t row_type(void)
{
    static hid_t type = -1;
    if (type >= 0)
        return type;
    type = H5Tcreate(H5T_COMPOUND, sizeof(gd_metrics_row));
#define ROW_MEMBER(m, h5) H5Tinsert(type, #m, offsetof(gd_metrics_row, m), h5)
    ROW_MEMBER(epoch, H5T_NATIVE_LONG);
    ROW_MEMBER(step, H5T_NATIVE_LONG);
    ROW_MEMBER(wall, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(samples, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(train_loss, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(val_loss, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(val_acc, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(lr, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(samples_per_s, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(compute_frac, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(comm_frac, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(wait_frac, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(bytes_sent, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(bytes_recv, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(bytes_dense, H5T_NATIVE_DOUBLE);
    ROW_MEMBER(eval_s, H5T_NATIVE_DOUBLE);
#undef ROW_MEMBER
    return type;
}

void gd_metrics_declare(gd_trainer *t, gd_state *s, long *rows)
{
    gd_state_field *f = gd_state_add(s, GD_STATE_RECORD, GD_SHARED, t->metrics.rows, 1,
                                     "metrics/rows");
    f->rows = (size_t)t->cfg->train.epochs;
    f->count = rows;
    f->memtype = row_type();
    f->size = sizeof(gd_metrics_row);
}
