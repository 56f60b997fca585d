/* The streaming reader (gdmpi/stream.h): the chunk plan (sizes from the memory budget, the
 * epoch's chunk orders, the global deal) and a stream over a real file: every row once per
 * epoch with the right features and label, the shuffle buffer's draws, a replayed skip, and
 * a reader failure reported to the caller. */
#include "unit.h"

#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/stream.h"

#include <hdf5.h>
#include <unistd.h>

enum { ROWS = 1000, COLS = 3 };

static gd_stream_spec spec_of(size_t chunk, size_t buffer, int shuffle)
{
    return (gd_stream_spec){.xname = "X", .yname = "y", .cols = COLS, .scale = 1,
                            .file_rows = ROWS, .first = 0, .rows = ROWS, .chunk_rows = chunk,
                            .buffer_rows = buffer, .shuffle = shuffle, .workers = 1,
                            .seed = 7};
}

static void test_sizes_fit_the_budget(void **state)
{
    (void)state;
    size_t chunk, buf;
    /* 1 MiB, 100 float features (404 bytes a row): half to the buffer (row + its number) */
    assert_int_equal(gd_stream_size(100, 0, 1, 0, 1, &chunk, &buf), GD_OK);
    assert_int_equal(buf, 524288 / 412);
    assert_true(3 * chunk * 404 + buf * 412 <= 1048576);
    assert_true(3 * (chunk + 1) * 404 + buf * 412 > 1048576);
    /* sequential: no buffer, the ring takes it all; bytes: a quarter of the row */
    assert_int_equal(gd_stream_size(100, 1, 1, 0, 0, &chunk, &buf), GD_OK);
    assert_int_equal(buf, 0);
    assert_int_equal(chunk, 1048576 / (3 * 104));
    /* a buffer that leaves no room for a chunk: refused naming both keys */
    gd_clear_error();
    assert_int_equal(gd_stream_size(100, 0, 1, 5000, 1, &chunk, &buf), GD_ECONFIG);
    assert_non_null(strstr(gd_errmsg(), "data.shuffle_buffer = 5000"));
    assert_non_null(strstr(gd_errmsg(), "data.memory_mb = 1"));
}

static void sort_u64(uint64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
}

static void test_chunk_orders(void **state)
{
    (void)state;
    gd_stream_spec s = spec_of(64, 0, 0);
    s.first = 100, s.rows = 700; /* a shard of the file: chunks 100, 164, ..., 740 (60 rows) */
    uint64_t a[16], b[16], c[16];
    assert_int_equal(gd_stream_max_chunks(&s), 11);
    assert_int_equal(gd_stream_max_rows(&s), 700);
    assert_int_equal(gd_stream_epoch_chunks(&s, 1, a), 11);
    for (size_t i = 0; i < 11; i++)
        assert_int_equal(a[i], 100 + 64 * i);
    assert_int_equal(gd_stream_chunk_count(&s, 740), 60);
    s.shuffle = 1;
    gd_stream_epoch_chunks(&s, 1, a);
    gd_stream_epoch_chunks(&s, 2, b);
    gd_stream_epoch_chunks(&s, 1, c);
    assert_memory_equal(a, c, sizeof a[0] * 11);        /* the same epoch: the same order */
    assert_memory_not_equal(a, b, sizeof a[0] * 11);    /* another epoch: another */
    sort_u64(a, 11);
    for (size_t i = 0; i < 11; i++)                     /* a permutation of the chunks */
        assert_int_equal(a[i], 100 + 64 * i);
}

/* global: the workers' shares of an epoch are all the file's chunks, each once. */
static void test_global_deal(void **state)
{
    (void)state;
    gd_stream_spec s = spec_of(64, 0, 1);
    s.global = 1, s.workers = 3;
    uint64_t all[32], first[16];
    for (long e = 1; e <= 2; e++) {
        size_t n = 0;
        for (int w = 0; w < 3; w++) {
            s.worker = w;
            n += gd_stream_epoch_chunks(&s, e, all + n);
        }
        assert_int_equal(n, 16); /* 1000 rows: 15 chunks of 64 and one of 40 */
        if (e == 1)
            memcpy(first, all, sizeof first);
        else
            assert_memory_not_equal(first, all, sizeof first); /* dealt afresh */
        sort_u64(all, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(all[i], 64 * i);
    }
    assert_int_equal(gd_stream_max_rows(&s), 6 * 64);
}

/* A file whose row i holds features (i, 2i, 3i) and label i % 7. */
static const char *write_file(void)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/stream.h5", unit_tmpdir());
    float *x = malloc(ROWS * COLS * sizeof(float)), y[ROWS];
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < COLS; j++)
            x[i * COLS + j] = (float)(i * (j + 1));
        y[i] = (float)(i % 7);
    }
    hid_t f = gd_h5_create_tmp(path);
    assert_int_equal(gd_h5_write(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x, ROWS, COLS), GD_OK);
    assert_int_equal(gd_h5_write(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, y, ROWS, 0), GD_OK);
    assert_int_equal(gd_h5_commit(f, path), GD_OK);
    free(x);
    return path;
}

/* Draws an epoch (after skip) into ids[]; checks each row's features and label. */
static size_t draw_epoch(gd_stream *st, long epoch, size_t skip, uint64_t *ids)
{
    float x[10 * COLS], y[10];
    size_t total = 0, n;
    int rc;
    assert_int_equal(gd_stream_epoch(st, epoch, skip), GD_OK);
    while ((n = gd_stream_next(st, 10, x, y, ids + total, &rc)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const float r = (float)ids[total + i];
            assert_true(x[i * COLS] == r && x[i * COLS + 2] == 3 * r);
            assert_true(y[i] == (float)(ids[total + i] % 7));
        }
        total += n;
    }
    assert_int_equal(rc, GD_OK);
    return total;
}

static void assert_each_once(const uint64_t *ids, size_t n)
{
    static unsigned char seen[ROWS];
    memset(seen, 0, sizeof seen);
    assert_int_equal(n, ROWS);
    for (size_t i = 0; i < n; i++) {
        assert_true(ids[i] < ROWS && !seen[ids[i]]);
        seen[ids[i]] = 1;
    }
}

static void test_stream_every_row_once(void **state)
{
    (void)state;
    gd_stream_spec s = spec_of(64, 100, 1);
    s.path = write_file();
    gd_stream *st;
    static uint64_t e1[ROWS], e2[ROWS], replay[ROWS];
    assert_int_equal(gd_stream_open(&st, &s), GD_OK);
    assert_each_once(e1, draw_epoch(st, 1, 0, e1));
    assert_each_once(e2, draw_epoch(st, 2, 0, e2)); /* the ring runs on into epoch 2 */
    assert_memory_not_equal(e1, e2, sizeof e1);
    size_t local = 0; /* the buffer mixes: some row leaves more than a chunk from its place */
    for (size_t i = 0; i < ROWS; i++)
        local += (e1[i] > i ? e1[i] - i : i - e1[i]) < 64;
    assert_true(local < ROWS / 2);
    /* a resume in mid-epoch 1: the draw replayed, 300 rows dropped, the rest as before */
    assert_int_equal(draw_epoch(st, 1, 300, replay), ROWS - 300);
    assert_memory_equal(replay, e1 + 300, (ROWS - 300) * sizeof *replay);
    gd_stream_close(st);
}

static void test_sequential_in_file_order(void **state)
{
    (void)state;
    gd_stream_spec s = spec_of(64, 0, 0);
    s.path = write_file();
    s.first = 200, s.rows = 500;
    gd_stream *st;
    static uint64_t ids[ROWS];
    assert_int_equal(gd_stream_open(&st, &s), GD_OK);
    assert_int_equal(draw_epoch(st, 1, 0, ids), 500);
    for (size_t i = 0; i < 500; i++)
        assert_int_equal(ids[i], 200 + i);
    gd_stream_close(st);
}

static void test_failure_reported(void **state)
{
    (void)state;
    gd_stream_spec s = spec_of(64, 0, 0);
    s.path = write_file();
    s.xname = "missing";
    gd_stream *st;
    float x[10 * COLS], y[10];
    uint64_t ids[10];
    int rc;
    gd_clear_error(); /* the first message sticks: an earlier test's must not be read */
    assert_int_equal(gd_stream_open(&st, &s), GD_OK);
    assert_int_equal(gd_stream_epoch(st, 1, 0), GD_OK);
    assert_int_equal(gd_stream_next(st, 10, x, y, ids, &rc), 0);
    assert_int_equal(rc, GD_ERR);
    assert_non_null(strstr(gd_errmsg(), "stream.h5: cannot open the file"));
    assert_non_null(strstr(gd_errmsg(), "rows 0..1000"));
    gd_stream_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_fit_the_budget),
        cmocka_unit_test(test_chunk_orders),
        cmocka_unit_test(test_global_deal),
        cmocka_unit_test(test_stream_every_row_once),
        cmocka_unit_test(test_sequential_in_file_order),
        cmocka_unit_test(test_failure_reported),
    };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
