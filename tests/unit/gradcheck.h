/* The finite-difference check the model suites share: a float gradient against central
 * differences of a double-precision reference loss. */
#ifndef GDMPI_TESTS_GRADCHECK_H
#define GDMPI_TESTS_GRADCHECK_H

#include "unit.h"

#include <math.h>

/* The reference loss at parameters w; ctx is the suite's (the model, the batch). */
typedef double (*gradcheck_loss)(const double *w, const void *ctx);

/* Fails, naming what, unless loss equals the reference at w (1e-5 relative) and every
 * grad[i] its central difference (step 1e-6) within tol x (1 + |difference|). w is left as
 * it was. */
static inline void gradcheck(const char *what, double loss, const float *grad, double *w,
                             size_t n, gradcheck_loss ref, const void *ctx, double tol)
{
    double at = ref(w, ctx);
    if (fabs(loss - at) > 1e-5 * (1 + fabs(at)))
        fail_msg("%s: loss %.9g, reference %.9g", what, loss, at);
    const double h = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double keep = w[i];
        w[i] = keep + h;
        double up = ref(w, ctx);
        w[i] = keep - h;
        double down = ref(w, ctx);
        w[i] = keep;
        double fd = (up - down) / (2 * h);
        if (fabs(fd - grad[i]) > tol * (1 + fabs(fd)))
            fail_msg("%s: param %zu of %zu: grad %.7g, finite difference %.7g", what, i, n,
                     grad[i], fd);
    }
}

#endif
