/* Shortest round-trip text of a double: %.1g, %.2g, ... until strtod gives x back. */
#include "gdmpi/real.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

gd_real_text gd_real(double x)
{
    gd_real_text r;
    if (!isfinite(x)) {
        snprintf(r.text, sizeof r.text, "%g", x);
        return r;
    }
    /* 17 significant digits always read back (DBL_DECIMAL_DIG), so the loop ends there. */
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(r.text, sizeof r.text, "%.*g", digits, x);
        if (strtod(r.text, NULL) == x)
            break;
    }
    return r;
}
