/* Common includes for the CMocka unit tests. Each test_*.c is one component's suite. */
#ifndef GDMPI_TESTS_UNIT_H
#define GDMPI_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A fresh scratch directory under /tmp for files a test writes; returns its path. */
static inline const char *unit_tmpdir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/gdmpi-unit-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

#endif
