/* libFuzzer harness for the IDX reader (plain and gzip): any bytes must give a clean
 * error or a buffer of exactly the announced size, never a crash or an overflow. */
#include "gdmpi/data.h"
#include "gdmpi/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/gdmpi-fuzz-idx-%d.idx", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    for (int want = 1; want <= 3; want += 2) {
        size_t dims[3] = {0, 0, 0};
        uint8_t *buf = NULL;
        gd_clear_error();
        if (gd_idx_read(path, want, dims, &buf) == GD_OK) {
            size_t n = dims[0] * (want == 3 ? dims[1] * dims[2] : 1);
            volatile uint8_t sum = 0;
            for (size_t i = 0; i < n; i++) /* touches every byte: ASan checks the size */
                sum += buf[i];
        }
        free(buf);
    }
    return 0;
}
