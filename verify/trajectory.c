#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reference.h"
#include "trajectory.h"

static const char *state_names[4] = { "param", "m", "v", "vmax" };

const char *kind_name(case_kind k)
{
    return k == K_DENSE ? "dense" : k == K_LAZY ? "lazy" : "adam_sparse";
}

void trajectory_free(trajectory *t)
{
    for (int i = 0; i < 4; i++) {
        free(t->init[i]);
        free(t->traj[i]);
    }
    free(t->grad);
    free(t->nnz);
    free(t->indices);
    free(t->values);
    memset(t, 0, sizeof *t);
}

static void fill_state(rng *r, trajectory *t, int ams)
{
    for (int i = 0; i < 4; i++) {
        t->init[i] = malloc(t->n * sizeof(float) + 1);
        if (i == 0)
            fill_normal(r, t->init[i], t->n, 1.0f);
        else if (i == 1)
            fill_normal(r, t->init[i], t->n, 0.01f);
        else
            fill_positive(r, t->init[i], t->n, 1e-4f);
        t->traj[i] = (i < 3 || ams) ? malloc(t->steps * t->n * sizeof(float) + 1) : NULL;
    }
}

void trajectory_make(rng *r, trajectory *t, case_kind kind, const lazyadam_config *cfg,
        size_t n_or_rows, size_t dim, size_t steps)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->cfg = *cfg;
    t->steps = steps;
    if (kind == K_DENSE) {
        t->n = n_or_rows;
        t->grad = malloc(steps * t->n * sizeof(float) + 1);
        fill_normal(r, t->grad, steps * t->n, 0.1f);
    } else {
        t->rows = n_or_rows;
        t->dim = dim;
        t->n = t->rows * dim;
        t->nnz = malloc(steps * sizeof *t->nnz);
        size_t total = 0;
        for (size_t s = 0; s < steps; s++) {
            t->nnz[s] = (s % 5 == 3) ? 0 : (int64_t)(1 + rng_below(r, t->rows / 3 + 1));
            total += (size_t)t->nnz[s];
        }
        t->total_nnz = total;
        t->indices = malloc(total * sizeof *t->indices + 1);
        for (size_t i = 0; i < total; i++)   /* a quarter repeat an earlier index */
            t->indices[i] = (i > 0 && rng_below(r, 4) == 0) ? t->indices[rng_below(r, i)]
                                                             : (int64_t)rng_below(r, t->rows);
        t->values = malloc(total * dim * sizeof(float) + 1);
        fill_normal(r, t->values, total * dim, 0.1f);
    }
    fill_state(r, t, (cfg->flags & LAZYADAM_AMSGRAD) != 0);
}

double trajectory_reference(trajectory *t)
{
    int ams = (t->cfg.flags & LAZYADAM_AMSGRAD) != 0;
    float *s[4];
    double *d[4] = { NULL }, *g64 = NULL, err = 0;
    for (int i = 0; i < 4; i++) {
        s[i] = malloc(t->n * sizeof(float) + 1);
        memcpy(s[i], t->init[i], t->n * sizeof(float));
        if (t->kind == K_DENSE) {
            d[i] = malloc(t->n * sizeof(double) + 1);
            for (size_t j = 0; j < t->n; j++)
                d[i][j] = t->init[i][j];
        }
    }
    if (t->kind == K_DENSE)
        g64 = malloc(t->n * sizeof(double) + 1);
    size_t off = 0;
    for (size_t k = 0; k < t->steps; k++) {
        int64_t step = (int64_t)k + 1;
        if (t->kind == K_DENSE) {
            ref_adam_step(&t->cfg, step, t->n, s[0], t->grad + k * t->n, s[1], s[2], s[3]);
            for (size_t j = 0; j < t->n; j++)
                g64[j] = t->grad[k * t->n + j];
            ref64_adam_step(&t->cfg, step, t->n, d[0], g64, d[1], d[2], d[3]);
            for (size_t j = 0; j < t->n; j++) {
                double e = fabs((double)s[0][j] - d[0][j]) / fmax(fabs(d[0][j]), 1e-30);
                if (e > err)
                    err = e;
            }
        } else {
            size_t nnz = (size_t)t->nnz[k];
            (t->kind == K_LAZY ? ref_lazy_step : ref_adam_sparse_step)(&t->cfg, step, t->rows,
                    t->dim, s[0], s[1], s[2], s[3], nnz, t->indices + off,
                    t->values + off * t->dim);
            off += nnz;
        }
        for (int i = 0; i < (ams ? 4 : 3); i++)
            memcpy(t->traj[i] + k * t->n, s[i], t->n * sizeof(float));
    }
    for (int i = 0; i < 4; i++) {
        free(s[i]);
        free(d[i]);
    }
    free(g64);
    return err;
}

int trajectory_write(h5w *w, const char *name, const trajectory *t, uint64_t seed,
        const char *source)
{
    int ams = (t->cfg.flags & LAZYADAM_AMSGRAD) != 0;
    char dname[32];
    int st = h5w_group(w, name) | h5w_config(w, &t->cfg) | h5w_provenance(w)
           | h5w_attr_str(w, "kind", kind_name(t->kind)) | h5w_attr_str(w, "source", source)
           | h5w_attr_int(w, "seed", (int64_t)seed) | h5w_attr_int(w, "steps", (int64_t)t->steps)
           | h5w_attr_int(w, "n", (int64_t)t->n) | h5w_attr_int(w, "first_step", 1);
    for (int i = 0; i < (ams ? 4 : 3); i++) {
        snprintf(dname, sizeof dname, "init_%s", state_names[i]);
        st |= h5w_f32(w, dname, t->n, 0, t->init[i]);
        st |= h5w_f32(w, state_names[i], t->steps, t->n, t->traj[i]);
    }
    if (t->kind == K_DENSE) {
        st |= h5w_f32(w, "grad", t->steps, t->n, t->grad);
    } else {
        st |= h5w_attr_int(w, "rows", (int64_t)t->rows) | h5w_attr_int(w, "dim", (int64_t)t->dim);
        st |= h5w_i64(w, "nnz", t->steps, 0, t->nnz);
        st |= h5w_i64(w, "indices", t->total_nnz, 0, t->indices);
        st |= h5w_f32(w, "values", t->total_nnz, t->dim, t->values);
    }
    return st ? -1 : 0;
}

static int expect_shape(h5r *r, const char *name, const char *what, size_t rows, size_t cols,
        size_t want_rows, size_t want_cols)
{
    (void)r;
    if (rows != want_rows || cols != want_cols) {
        fprintf(stderr, "%s: dataset %s is %zu x %zu, expected %zu x %zu\n", name, what, rows,
                cols, want_rows, want_cols);
        return -1;
    }
    return 0;
}

int trajectory_read(h5r *r, const char *name, trajectory *t, char *source, size_t len)
{
    memset(t, 0, sizeof *t);
    char kind[32];
    int64_t steps, n, rows = 0, dim = 0;
    if (h5r_config(r, name, &t->cfg) || h5r_attr_str(r, name, "kind", kind, sizeof kind)
            || h5r_attr_str(r, name, "source", source, len)
            || h5r_attr_int(r, name, "steps", &steps) || h5r_attr_int(r, name, "n", &n))
        return -1;
    if (steps < 1 || n < 0 || steps > (1 << 20) || n > ((int64_t)1 << 32))
        return fprintf(stderr, "%s: implausible steps %lld or n %lld\n", name,
                (long long)steps, (long long)n), -1;
    t->kind = !strcmp(kind, "dense") ? K_DENSE : !strcmp(kind, "lazy") ? K_LAZY : K_ADAM_SPARSE;
    t->steps = (size_t)steps;
    t->n = (size_t)n;
    int ams = (t->cfg.flags & LAZYADAM_AMSGRAD) != 0;
    char dname[32];
    size_t a, b;
    for (int i = 0; i < (ams ? 4 : 3); i++) {
        snprintf(dname, sizeof dname, "init_%s", state_names[i]);
        if (h5r_f32(r, name, dname, &t->init[i], &a, &b) || expect_shape(r, name, dname, a, b, t->n, 1)
                || h5r_f32(r, name, state_names[i], &t->traj[i], &a, &b)
                || expect_shape(r, name, state_names[i], a, b, t->steps, t->n))
            return trajectory_free(t), -1;
    }
    if (t->kind == K_DENSE) {
        if (h5r_f32(r, name, "grad", &t->grad, &a, &b) || expect_shape(r, name, "grad", a, b, t->steps, t->n))
            return trajectory_free(t), -1;
        return 0;
    }
    if (h5r_attr_int(r, name, "rows", &rows) || h5r_attr_int(r, name, "dim", &dim) || dim < 1
            || rows < 0 || (size_t)rows * (size_t)dim != t->n)
        return trajectory_free(t), -1;
    t->rows = (size_t)rows;
    t->dim = (size_t)dim;
    if (h5r_i64(r, name, "nnz", &t->nnz, &a, &b) || expect_shape(r, name, "nnz", a, b, t->steps, 1)
            || h5r_i64(r, name, "indices", &t->indices, &a, &b))
        return trajectory_free(t), -1;
    t->total_nnz = a;
    size_t sum = 0;
    for (size_t s = 0; s < t->steps; s++)
        sum += t->nnz[s] >= 0 ? (size_t)t->nnz[s] : (size_t)-1 / 2;
    if (sum != t->total_nnz || b != 1)
        return fprintf(stderr, "%s: nnz does not add up to the stored indices\n", name),
               trajectory_free(t), -1;
    if (t->total_nnz && (h5r_f32(r, name, "values", &t->values, &a, &b)
            || expect_shape(r, name, "values", a, b, t->total_nnz, t->dim)))
        return trajectory_free(t), -1;
    return 0;
}

size_t trajectory_replay(const trajectory *t, lazyadam_backend be, int threads,
        uint64_t tol_ulp, double rtol, double floor, double *max_rel)
{
    int ams = (t->cfg.flags & LAZYADAM_AMSGRAD) != 0;
    lazyadam_config cfg = t->cfg;
    cfg.backend = be;
    cfg.num_threads = threads;
    float *s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = malloc(t->n * sizeof(float) + 1);
        if (t->init[i])
            memcpy(s[i], t->init[i], t->n * sizeof(float));
    }
    size_t bad = 0, off = 0;
    *max_rel = 0;
    for (size_t k = 0; k < t->steps; k++) {
        int64_t step = (int64_t)k + 1;
        lazyadam_status st;
        if (t->kind == K_DENSE) {
            st = lazyadam_adam_step(&cfg, step, t->n, s[0], t->grad + k * t->n, s[1], s[2],
                    ams ? s[3] : NULL);
        } else {
            size_t nnz = (size_t)t->nnz[k];
            const int64_t *idx = t->indices + off;
            const float *val = t->values ? t->values + off * t->dim : NULL;
            st = (t->kind == K_LAZY ? lazyadam_lazy_step : lazyadam_adam_sparse_step)(&cfg, step,
                    t->rows, t->dim, s[0], s[1], s[2], ams ? s[3] : NULL, nnz, idx, val);
            off += nnz;
        }
        if (st != LAZYADAM_OK) {
            printf("    step %lld: %s\n", (long long)step, lazyadam_status_string(st));
            bad++;
            break;
        }
        for (int i = 0; i < (ams ? 4 : 3); i++) {
            const float *want = t->traj[i] + k * t->n;
            for (size_t j = 0; j < t->n; j++) {
                if (ulp_distance(want[j], s[i][j]) == 0)
                    continue;
                double d = fabs((double)want[j] - (double)s[i][j]);
                double scale = fmax(fabs((double)want[j]), floor);
                double rel = d / scale;
                if (rel > *max_rel || isnan(rel))
                    *max_rel = isnan(rel) ? INFINITY : rel;
                if (ulp_distance(want[j], s[i][j]) > tol_ulp && !(rel <= rtol)) {
                    if (bad < 4)
                        printf("    step %lld %s[%zu]: stored %.9g, replayed %.9g\n",
                                (long long)step, state_names[i], j, (double)want[j],
                                (double)s[i][j]);
                    bad++;
                }
            }
        }
    }
    for (int i = 0; i < 4; i++)
        free(s[i]);
    return bad;
}
