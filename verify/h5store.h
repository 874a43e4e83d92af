/* The HDF5 trajectory store of the verification suite: one group per case, with the
 * case's hyper-parameters and provenance as attributes and its trajectories as
 * datasets. Files are written atomically (a temporary file renamed into place), and
 * every read checks what it gets, so a missing, corrupt or truncated file is a clear
 * error, never a crash. */
#ifndef LAZYADAM_H5STORE_H
#define LAZYADAM_H5STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lazyadam.h"

typedef struct h5w h5w;   /* a file being written */

/* Opens PATH.tmp.<pid> for writing; NULL with a message in err on failure. */
h5w *h5w_open(const char *path, char *err, size_t errlen);
/* Creates group `name` (nested names like "divergence/uniform" are fine) and makes it
 * the target of the attribute and dataset calls that follow. 0 on success. */
int h5w_group(h5w *w, const char *name);
int h5w_attr_double(h5w *w, const char *name, double x);
int h5w_attr_int(h5w *w, const char *name, int64_t x);
int h5w_attr_str(h5w *w, const char *name, const char *s);
/* A rows x cols dataset (cols == 0: a vector of rows). */
int h5w_f32(h5w *w, const char *name, size_t rows, size_t cols, const float *x);
int h5w_f64(h5w *w, const char *name, size_t rows, size_t cols, const double *x);
int h5w_i64(h5w *w, const char *name, size_t rows, size_t cols, const int64_t *x);
/* Closes and renames into place (0), or on any earlier failure removes the temporary
 * file and reports (-1). Frees w either way. */
int h5w_commit(h5w *w, char *err, size_t errlen);
/* Removes the temporary file; the final name is never touched. Frees w. */
void h5w_abort(h5w *w);

/* Writes a configuration's attributes (lr, beta1, beta2, eps, eps_mode, weight_decay,
 * flags, backend, threads) to the current group. */
int h5w_config(h5w *w, const lazyadam_config *cfg);
/* Writes the provenance attributes (library version, git revision, CPU model, date). */
int h5w_provenance(h5w *w);

typedef struct h5r h5r;   /* a file being read */
h5r *h5r_open(const char *path, char *err, size_t errlen);
void h5r_close(h5r *r);
/* The number of top-level groups whose name starts with `prefix`, and the i-th name. */
size_t h5r_groups(h5r *r, const char *prefix);
const char *h5r_group_name(h5r *r, const char *prefix, size_t i);
/* Reads from group `group`; each returns 0 on success, -1 (with err) if the item is
 * missing or of the wrong shape or type. */
int h5r_attr_double(h5r *r, const char *group, const char *name, double *x);
int h5r_attr_int(h5r *r, const char *group, const char *name, int64_t *x);
int h5r_attr_str(h5r *r, const char *group, const char *name, char *buf, size_t len);
/* Allocates *out with malloc; *rows and *cols receive the shape (cols 1 for a vector). */
int h5r_f32(h5r *r, const char *group, const char *name, float **out, size_t *rows, size_t *cols);
int h5r_i64(h5r *r, const char *group, const char *name, int64_t **out, size_t *rows, size_t *cols);
int h5r_config(h5r *r, const char *group, lazyadam_config *cfg);
const char *h5r_error(h5r *r);

#endif
