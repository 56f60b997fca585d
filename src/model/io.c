/* model.h5: dataset `params` (float32, the flat parameter vector) with attributes
 * model_type, features, outputs; linear models also get `W` (outputs x features) and
 * `b` (outputs) as plain views for h5py and h5dump users. */
#include "gdmpi/error.h"
#include "gdmpi/h5util.h"
#include "gdmpi/model.h"

#include <string.h>

int gd_model_save(const gd_model *m, const char *path)
{
    gd_h5_quiet();
    hid_t f = gd_h5_create_tmp(path);
    if (f < 0)
        return GD_ERR;
    size_t nw = m->ops->weight_count(m);
    int rc = gd_h5_write(f, "params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->w, m->nparams, 0);
    if (!rc && nw == m->outputs * m->features) {
        rc = gd_h5_write(f, "W", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->w, m->outputs, m->features);
        if (!rc)
            rc = gd_h5_write(f, "b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->w + nw, m->nparams - nw, 0);
    }
    if (!rc)
        rc = gd_h5_attr_string(f, "model_type", m->ops->name);
    if (!rc)
        rc = gd_h5_attr_long(f, "features", (long)m->features);
    if (!rc)
        rc = gd_h5_attr_long(f, "outputs", (long)m->outputs);
    if (rc) {
        H5Fclose(f);
        return gd_fail(GD_ERR, "%s: cannot write model", path);
    }
    return gd_h5_commit(f, path);
}

int gd_model_load(gd_model *m, const char *path, size_t max_batch)
{
    gd_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return gd_fail(GD_ERR, "%s: cannot open model (missing or not HDF5)", path);
    char type[64];
    long features = 0, outputs = 0;
    int rc = gd_h5_read_attr_string(f, "model_type", type, sizeof type);
    if (!rc)
        rc = gd_h5_read_attr_long(f, "features", &features);
    if (!rc)
        rc = gd_h5_read_attr_long(f, "outputs", &outputs);
    if (!rc && (features <= 0 || outputs <= 0))
        rc = gd_fail(GD_ERR, "%s: bad model shape %ld x %ld", path, outputs, features);
    if (!rc)
        rc = gd_model_create(m, type, (size_t)features, (size_t)outputs, max_batch, NULL);
    if (!rc)
        rc = gd_h5_read_vector(f, path, "params", H5T_NATIVE_FLOAT, m->w, m->nparams);
    H5Fclose(f);
    if (rc && m->w)
        gd_model_destroy(m);
    return rc;
}
