/* Real numbers as text (core). Every double gdmpi prints for a person to read back (the
 * resolved config, summary.json, error messages) is in its shortest round-trip form, so
 * that `lr = 0.1` prints as 0.1, not 0.10000000000000001, and still reads back exactly. */
#ifndef GDMPI_REAL_H
#define GDMPI_REAL_H

/* Large enough for "%.17g" of any double ("-1.2345678901234567e-308"). */
typedef struct gd_real_text {
    char text[32];
} gd_real_text;

/* The fewest significant digits (1 to 17) that strtod reads back as x; non-finite values
 * as printf's %g ("nan", "inf"). Returned by value, so that a printf argument can be
 * gd_real(x).text: the array lives until the end of the full expression (C11 6.2.4). */
gd_real_text gd_real(double x);

#endif
