/* lazyadam-verify: the verification runner.
 *
 *   lazyadam-verify [--quick | --full] [--out FILE.h5] [--seed N]
 *   lazyadam-verify --replay FILE.h5 [--replay FILE2.h5 ...]
 *   lazyadam-verify --golden FILE.h5        (writes the small regression set)
 *
 * The matrix runs backends x sizes x configurations x thread counts x steps, comparing
 * every backend with reference/ (bitwise; oneDNN within its ULP allowance) and reporting
 * float32's own error against the float64 reference; then the LazyAdam-vs-Adam
 * divergence study (verify/divergence.c). One line per case, a final count, non-zero
 * exit on any failure. --out stores every case's trajectory in HDF5 (atomically). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divergence.h"
#include "harness.h"
#include "trajectory.h"

/* Relative tolerance for trajectories recorded by PyTorch, whose kernels round
 * differently (lerp-style moment updates in SparseAdam, addcdiv, vectorised
 * multiply-adds): measured differences stay below 1e-5 of max(|x|, floor). */
#define TORCH_RTOL 1e-5
#define TORCH_FLOOR 1e-3
/* Trajectories larger than this (steps x n floats) are checked but not stored. */
#define STORE_MAX ((size_t)1 << 16)

typedef struct opts {
    int quick, golden;
    const char *out;
    uint64_t seed;
    int have_seed;
} opts;

static int run_matrix(const opts *o, rng *r, tally *ta, h5w *w)
{
    static const size_t quick_sizes[] = { 1, 17, 1000 };
    static const size_t full_sizes[] = { 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 100003 };
    static const int quick_threads[] = { 1, 2 }, full_threads[] = { 1, 2, 3, 7 };
    const size_t *sizes = o->quick ? quick_sizes : full_sizes;
    size_t nsizes = o->quick ? 3 : 11;
    const int *threads = o->quick ? quick_threads : full_threads;
    size_t nthreads = o->quick ? 2 : 4, steps = o->quick ? 4 : 10;
    const config_variant *cv;
    size_t nv = config_variants(&cv);
    lazyadam_backend bes[4];
    size_t nb = test_backends(ta, bes);
    size_t case_no = 0;
    for (size_t b = 0; b < nb; b++) {
        uint64_t tol = backend_tolerance(bes[b]);
        for (size_t c = 0; c < nv; c++)
            for (int kind = K_DENSE; kind <= K_ADAM_SPARSE; kind++)
                for (size_t si = 0; si < nsizes; si++)
                    for (size_t ti = 0; ti < nthreads; ti++) {
                        lazyadam_config cfg = cv[c].cfg;
                        cfg.backend = bes[b];
                        cfg.num_threads = threads[ti];
                        uint64_t seed = rng_u64(r);
                        rng cr = { seed };
                        trajectory t;
                        /* Sparse cases: a table of `size` rows of 1..17 columns. */
                        size_t dim = kind == K_DENSE ? 0 : 1 + (size_t)(seed % 17);
                        size_t n_or_rows = kind == K_DENSE ? sizes[si]
                                         : (sizes[si] > 3000 ? 3000 : sizes[si]);
                        trajectory_make(&cr, &t, (case_kind)kind, &cfg, n_or_rows, dim, steps);
                        double f32err = trajectory_reference(&t);
                        double max_rel;
                        size_t bad = trajectory_replay(&t, bes[b], cfg.num_threads, tol, 0.0,
                                1e-30, &max_rel);
                        char name[32];
                        snprintf(name, sizeof name, "case_%05zu", case_no++);
                        int stored = 0;
                        if (w && t.steps * t.n <= STORE_MAX) {
                            t.cfg.num_threads = cfg.num_threads;
                            stored = trajectory_write(w, name, &t, seed, "lazyadam") == 0;
                        }
                        char f64[64] = "";
                        if (kind == K_DENSE)
                            snprintf(f64, sizeof f64, ", float32 vs float64 %.2e", f32err);
                        printf("%s %-11s %-7s %-28s n=%-6zu threads=%d steps=%zu: %s%s%s\n", name,
                                kind_name((case_kind)kind), lazyadam_backend_name(bes[b]),
                                cv[c].name, t.n, cfg.num_threads, steps,
                                bad ? "MISMATCH" : tol ? "within tolerance" : "bitwise",
                                f64, stored ? ", stored" : "");
                        tally_case(ta, bad == 0, "%s (seed %llu)", name, (unsigned long long)seed);
                        trajectory_free(&t);
                    }
    }
    return 0;
}

/* The small committed regression set: a few cases of each kind and configuration. */
static int write_golden(const char *path, uint64_t seed)
{
    char err[512];
    h5w *w = h5w_open(path, err, sizeof err);
    if (!w)
        return fprintf(stderr, "lazyadam-verify: %s\n", err), 1;
    rng r = { seed };
    const config_variant *cv;
    size_t nv = config_variants(&cv), k = 0;
    for (size_t c = 0; c < nv; c++)
        for (int kind = K_DENSE; kind <= K_ADAM_SPARSE; kind++) {
            trajectory t;
            lazyadam_config cfg = cv[c].cfg;
            cfg.backend = LAZYADAM_BACKEND_SCALAR;
            cfg.num_threads = 1;
            trajectory_make(&r, &t, (case_kind)kind, &cfg, kind == K_DENSE ? 37 : 11, 5, 6);
            trajectory_reference(&t);
            char name[32];
            snprintf(name, sizeof name, "case_%05zu", k++);
            trajectory_write(w, name, &t, seed, "lazyadam");
            trajectory_free(&t);
        }
    if (h5w_commit(w, err, sizeof err))
        return fprintf(stderr, "lazyadam-verify: %s\n", err), 1;
    printf("wrote %zu golden cases to %s\n", k, path);
    return 0;
}

/* Replays every case of a file through every backend this CPU runs. */
static int replay_file(const char *path, tally *ta)
{
    char err[512];
    h5r *r = h5r_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "lazyadam-verify: %s\n", err);
        tally_case(ta, 0, "replay %s: cannot open", path);
        return 1;
    }
    size_t n = h5r_groups(r, "case_");
    if (n == 0)
        tally_case(ta, 0, "replay %s: no case_* groups", path);
    lazyadam_backend bes[4];
    tally quiet = { 0, 0, 0 };
    size_t nb = test_backends(&quiet, bes);
    for (size_t i = 0; i < n; i++) {
        char group[256], source[256];
        snprintf(group, sizeof group, "%s", h5r_group_name(r, "case_", i));
        trajectory t;
        if (trajectory_read(r, group, &t, source, sizeof source)) {
            fprintf(stderr, "lazyadam-verify: %s\n", h5r_error(r));
            tally_case(ta, 0, "replay %s %s: unreadable", path, group);
            continue;
        }
        int torch = !strncmp(source, "torch", 5);
        for (size_t b = 0; b < nb; b++) {
            double max_rel;
            uint64_t tol = backend_tolerance(bes[b]);
            size_t bad = trajectory_replay(&t, bes[b], 2, tol, torch ? TORCH_RTOL : 0.0,
                    torch ? TORCH_FLOOR : 1e-30, &max_rel);
            printf("replay %s %s (%s, %s, n=%zu, %zu steps) on %s: %s, largest relative "
                    "difference %.2e%s\n", path, group, source, kind_name(t.kind), t.n, t.steps,
                    lazyadam_backend_name(bes[b]), bad ? "MISMATCH" : "ok", max_rel,
                    torch ? " (tolerance 1e-5 of max(|x|, 1e-3))" : " (bitwise)");
            tally_case(ta, bad == 0, "replay %s %s on %s", path, group,
                    lazyadam_backend_name(bes[b]));
        }
        trajectory_free(&t);
    }
    h5r_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    opts o = { 0, 0, NULL, 0, 0 };
    const char *replays[64];
    size_t nreplay = 0;
    const char *golden = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            o.quick = 1;
        else if (!strcmp(argv[i], "--full"))
            o.quick = 0;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            o.out = argv[++i];
        else if (!strcmp(argv[i], "--replay") && i + 1 < argc && nreplay < 64)
            replays[nreplay++] = argv[++i];
        else if (!strcmp(argv[i], "--golden") && i + 1 < argc)
            golden = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            o.seed = strtoull(argv[++i], NULL, 0);
            o.have_seed = 1;
        } else {
            fprintf(stderr, "usage: lazyadam-verify [--quick|--full] [--out FILE.h5] [--seed N]\n"
                            "       lazyadam-verify --replay FILE.h5 [--replay FILE.h5 ...]\n"
                            "       lazyadam-verify --golden FILE.h5\n");
            return 2;
        }
    }
    if (golden)
        return write_golden(golden, o.have_seed ? o.seed : 20261125);
    tally ta = { 0, 0, 0 };
    if (nreplay) {
        for (size_t i = 0; i < nreplay; i++)
            replay_file(replays[i], &ta);
        return tally_finish(&ta);
    }
    uint64_t seed = o.have_seed ? o.seed : harness_seed("lazyadam-verify");
    if (o.have_seed)
        printf("lazyadam-verify: seed %llu\n", (unsigned long long)seed);
    rng r = { seed };
    h5w *w = NULL;
    char err[512];
    if (o.out && !(w = h5w_open(o.out, err, sizeof err))) {
        fprintf(stderr, "lazyadam-verify: %s\n", err);
        return 2;
    }
    printf("== matrix (%s)\n", o.quick ? "quick" : "full");
    run_matrix(&o, &r, &ta, w);
    printf("== LazyAdam against Adam: the divergence study\n");
    divergence_study(o.quick, seed, &ta, w);
    if (w && h5w_commit(w, err, sizeof err)) {
        fprintf(stderr, "lazyadam-verify: %s\n", err);
        tally_case(&ta, 0, "writing %s", o.out);
    } else if (w) {
        printf("trajectories written to %s\n", o.out);
    }
    return tally_finish(&ta);
}
