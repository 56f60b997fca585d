/* libFuzzer harness for the config parser: any bytes as a config file must give
 * GD_OK or a clean error, never a crash, hang, leak or undefined behaviour. */
#include "gdmpi/config.h"
#include "gdmpi/config_check.h"
#include "gdmpi/error.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/gdmpi-fuzz-config-%d.cfg", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    gd_config cfg;
    gd_clear_error();
    gd_config_from_args(&cfg, path, 0, NULL);
    /* Printing walks every field: catches a value the parser left unterminated. */
    FILE *sink = fopen("/dev/null", "w");
    if (sink) {
        gd_config_print(&cfg, sink);
        fclose(sink);
    }
    return 0;
}
