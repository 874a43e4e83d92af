#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "h5store.h"
#include "verify_version.h"

struct h5w {
    hid_t file, group;
    char path[4096], tmp[4200];
    int failed;
};

static void quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

h5w *h5w_open(const char *path, char *err, size_t errlen)
{
    quiet();
    h5w *w = calloc(1, sizeof *w);
    if (!w || strlen(path) >= sizeof w->path) {
        snprintf(err, errlen, "%s: path too long or out of memory", path);
        free(w);
        return NULL;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid());
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        snprintf(err, errlen, "%s: cannot create the HDF5 file (directory missing or not "
                "writable?)", w->tmp);
        free(w);
        return NULL;
    }
    w->group = -1;
    return w;
}

int h5w_group(h5w *w, const char *name)
{
    if (w->failed)
        return -1;
    if (w->group >= 0)
        H5Gclose(w->group);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    w->group = H5Gcreate2(w->file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (w->group < 0)
        w->failed = 1;
    return w->failed ? -1 : 0;
}

static int attr(h5w *w, const char *name, hid_t type, const void *x)
{
    if (w->failed || w->group < 0)
        return w->failed = 1, -1;
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(w->group, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a >= 0 ? H5Awrite(a, type, x) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    if (st < 0)
        w->failed = 1;
    return st < 0 ? -1 : 0;
}

int h5w_attr_double(h5w *w, const char *name, double x) { return attr(w, name, H5T_NATIVE_DOUBLE, &x); }
int h5w_attr_int(h5w *w, const char *name, int64_t x) { return attr(w, name, H5T_NATIVE_INT64, &x); }

int h5w_attr_str(h5w *w, const char *name, const char *s)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    int st = attr(w, name, t, s);
    H5Tclose(t);
    return st;
}

static int dataset(h5w *w, const char *name, size_t rows, size_t cols, hid_t type, const void *x)
{
    if (w->failed || w->group < 0)
        return w->failed = 1, -1;
    hsize_t dims[2] = { rows, cols };
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(w->group, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = d < 0 ? -1 : (rows == 0 ? 0 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x));
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    if (st < 0)
        w->failed = 1;
    return st < 0 ? -1 : 0;
}

int h5w_f32(h5w *w, const char *n, size_t r, size_t c, const float *x) { return dataset(w, n, r, c, H5T_NATIVE_FLOAT, x); }
int h5w_f64(h5w *w, const char *n, size_t r, size_t c, const double *x) { return dataset(w, n, r, c, H5T_NATIVE_DOUBLE, x); }
int h5w_i64(h5w *w, const char *n, size_t r, size_t c, const int64_t *x) { return dataset(w, n, r, c, H5T_NATIVE_INT64, x); }

int h5w_commit(h5w *w, char *err, size_t errlen)
{
    int failed = w->failed;
    if (w->group >= 0)
        H5Gclose(w->group);
    if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        failed = 1;
    if (H5Fclose(w->file) < 0)
        failed = 1;
    if (!failed && rename(w->tmp, w->path) != 0)
        failed = 1;
    if (failed) {
        snprintf(err, errlen, "%s: writing the HDF5 file failed (disk full or not writable?); "
                "nothing was left under that name", w->path);
        remove(w->tmp);
    }
    free(w);
    return failed ? -1 : 0;
}

void h5w_abort(h5w *w)
{
    if (w->group >= 0)
        H5Gclose(w->group);
    H5Fclose(w->file);
    remove(w->tmp);
    free(w);
}

int h5w_config(h5w *w, const lazyadam_config *c)
{
    int st = h5w_attr_double(w, "lr", c->lr) | h5w_attr_double(w, "beta1", c->beta1)
           | h5w_attr_double(w, "beta2", c->beta2) | h5w_attr_double(w, "eps", c->eps)
           | h5w_attr_double(w, "weight_decay", c->weight_decay)
           | h5w_attr_str(w, "eps_mode", c->eps_mode == LAZYADAM_EPS_PLAIN ? "plain" : "hat")
           | h5w_attr_int(w, "flags", c->flags)
           | h5w_attr_str(w, "backend", lazyadam_backend_name(lazyadam_backend_resolve(c)))
           | h5w_attr_int(w, "threads", c->num_threads);
    return st ? -1 : 0;
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    fclose(f);
}

int h5w_provenance(h5w *w)
{
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int st = h5w_attr_str(w, "library_version", lazyadam_version())
           | h5w_attr_str(w, "git_revision", LAZYADAM_GIT_REVISION)
           | h5w_attr_str(w, "cpu_model", cpu) | h5w_attr_str(w, "date", date);
    return st ? -1 : 0;
}

/* ------------------------------------------------------------------ reading */

struct h5r {
    hid_t file;
    char path[4096];
    char err[4700];
    char name[256];
};

static int fail(h5r *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, sizeof r->err, "%s: %s", r->path, msg);
    return -1;
}

h5r *h5r_open(const char *path, char *err, size_t errlen)
{
    quiet();
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: no such file or not readable", path);
        return NULL;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, errlen, "%s: not an HDF5 file (or a truncated one)", path);
        return NULL;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, errlen, "%s: HDF5 cannot open it (corrupt or truncated)", path);
        return NULL;
    }
    h5r *r = calloc(1, sizeof *r);
    r->file = f;
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

void h5r_close(h5r *r)
{
    if (r) {
        H5Fclose(r->file);
        free(r);
    }
}

const char *h5r_error(h5r *r) { return r->err; }

size_t h5r_groups(h5r *r, const char *prefix)
{
    H5G_info_t info;
    if (H5Gget_info(r->file, &info) < 0)
        return 0;
    size_t k = 0;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[256];
        if (H5Lget_name_by_idx(r->file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                H5P_DEFAULT) > 0 && !strncmp(name, prefix, strlen(prefix)))
            k++;
    }
    return k;
}

const char *h5r_group_name(h5r *r, const char *prefix, size_t want)
{
    H5G_info_t info;
    if (H5Gget_info(r->file, &info) < 0)
        return NULL;
    size_t k = 0;
    for (hsize_t i = 0; i < info.nlinks; i++)
        if (H5Lget_name_by_idx(r->file, ".", H5_INDEX_NAME, H5_ITER_INC, i, r->name,
                sizeof r->name, H5P_DEFAULT) > 0 && !strncmp(r->name, prefix, strlen(prefix))
                && k++ == want)
            return r->name;
    return NULL;
}

static int read_attr(h5r *r, const char *group, const char *name, hid_t type, void *x, size_t len)
{
    if (H5Aexists_by_name(r->file, group, name, H5P_DEFAULT) <= 0)
        return fail(r, "%s: attribute '%s' missing", group, name);
    hid_t a = H5Aopen_by_name(r->file, group, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return fail(r, "%s: attribute '%s' unreadable", group, name);
    hid_t space = H5Aget_space(a);
    int scalar = H5Sget_simple_extent_npoints(space) == 1;
    H5Sclose(space);
    herr_t st = -1;
    if (scalar && len) {       /* a string: read into a fixed-size buffer */
        hid_t ft = H5Aget_type(a);
        int is_str = H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft)
                  && H5Tget_size(ft) <= len;
        H5Tclose(ft);
        if (is_str) {
            hid_t t = H5Tcopy(H5T_C_S1);
            H5Tset_size(t, len);
            memset(x, 0, len);
            st = H5Aread(a, t, x);
            H5Tclose(t);
        }
    } else if (scalar) {
        st = H5Aread(a, type, x);
    }
    H5Aclose(a);
    return st < 0 ? fail(r, "%s: attribute '%s' has the wrong type or shape", group, name) : 0;
}

int h5r_attr_double(h5r *r, const char *g, const char *n, double *x) { return read_attr(r, g, n, H5T_NATIVE_DOUBLE, x, 0); }
int h5r_attr_int(h5r *r, const char *g, const char *n, int64_t *x) { return read_attr(r, g, n, H5T_NATIVE_INT64, x, 0); }
int h5r_attr_str(h5r *r, const char *g, const char *n, char *buf, size_t len) { return read_attr(r, g, n, 0, buf, len); }

static int read_dataset(h5r *r, const char *group, const char *name, hid_t type, size_t elem,
        void **out, size_t *rows, size_t *cols)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", group, name);
    *out = NULL;
    if (H5Lexists(r->file, path, H5P_DEFAULT) <= 0)
        return fail(r, "dataset '%s' missing", path);
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0)
        return fail(r, "dataset '%s' unreadable", path);
    hid_t space = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(space);
    hsize_t dims[2] = { 0, 1 };
    if (nd < 1 || nd > 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        H5Sclose(space);
        H5Dclose(d);
        return fail(r, "dataset '%s' has a wrong shape", path);
    }
    H5Sclose(space);
    *rows = dims[0];
    *cols = nd == 2 ? dims[1] : 1;
    size_t n = *rows * *cols;
    *out = malloc(n * elem + 1);
    herr_t st = *out ? (n ? H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) : 0) : -1;
    H5Dclose(d);
    if (st < 0) {
        free(*out);
        *out = NULL;
        return fail(r, "dataset '%s' cannot be read (truncated, or not of its type)", path);
    }
    return 0;
}

int h5r_f32(h5r *r, const char *g, const char *n, float **out, size_t *rows, size_t *cols)
{
    return read_dataset(r, g, n, H5T_NATIVE_FLOAT, sizeof(float), (void **)out, rows, cols);
}

int h5r_i64(h5r *r, const char *g, const char *n, int64_t **out, size_t *rows, size_t *cols)
{
    return read_dataset(r, g, n, H5T_NATIVE_INT64, sizeof(int64_t), (void **)out, rows, cols);
}

int h5r_config(h5r *r, const char *group, lazyadam_config *c)
{
    double lr, b1, b2, eps, wd;
    int64_t flags;
    char mode[16];
    *c = lazyadam_default_config();
    if (h5r_attr_double(r, group, "lr", &lr) || h5r_attr_double(r, group, "beta1", &b1)
            || h5r_attr_double(r, group, "beta2", &b2) || h5r_attr_double(r, group, "eps", &eps)
            || h5r_attr_double(r, group, "weight_decay", &wd)
            || h5r_attr_int(r, group, "flags", &flags)
            || h5r_attr_str(r, group, "eps_mode", mode, sizeof mode))
        return -1;
    c->lr = (float)lr;
    c->beta1 = (float)b1;
    c->beta2 = (float)b2;
    c->eps = (float)eps;
    c->weight_decay = (float)wd;
    c->flags = (unsigned)flags;
    c->eps_mode = !strcmp(mode, "plain") ? LAZYADAM_EPS_PLAIN : LAZYADAM_EPS_HAT;
    return 0;
}
