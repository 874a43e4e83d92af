/* The HDF5 trajectory store under hostile conditions: a missing, corrupt or truncated
 * input, or a dataset whose data cannot be read as its type, is a clear error, never a
 * crash; an unwritable directory, a full disk (a file
 * size limit) and a writer killed mid-write never leave a file under the final name, and
 * a failed or aborted write removes its temporary (a killed writer cannot). */
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5store.h"
#include "harness.h"
#include "trajectory.h"

static tally T;

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* A small valid file with one dense case. */
static int write_valid(const char *path, size_t n)
{
    char err[512];
    h5w *w = h5w_open(path, err, sizeof err);
    if (!w)
        return -1;
    trajectory t;
    memset(&t, 0, sizeof t);
    t.kind = K_DENSE;
    t.cfg = lazyadam_default_config();
    t.n = n;
    t.steps = 4;
    rng r = { 7 };
    for (int i = 0; i < 3; i++) {
        t.init[i] = calloc(n, sizeof(float));
        t.traj[i] = calloc(n * t.steps, sizeof(float));
        fill_normal(&r, t.traj[i], n * t.steps, 1.0f);
    }
    t.grad = calloc(n * t.steps, sizeof(float));
    int st = trajectory_write(w, "case_00000", &t, 7, "lazyadam");
    trajectory_free(&t);
    return st | h5w_commit(w, err, sizeof err);
}

static void check_read_fails(const char *path, const char *what)
{
    char err[512] = "";
    h5r *r = h5r_open(path, err, sizeof err);
    int failed = r == NULL;
    if (r) {   /* opened: the case itself must then fail to load */
        trajectory t;
        char src[64];
        failed = h5r_groups(r, "case_") == 0 || trajectory_read(r, "case_00000", &t, src, sizeof src) != 0;
        if (!failed)
            trajectory_free(&t);
        snprintf(err, sizeof err, "%s", h5r_error(r));
        h5r_close(r);
    }
    printf("%s: %s\n", what, err[0] ? err : "(no message)");
    tally_case(&T, failed && err[0], "%s is a clear error", what);
}

int main(void)
{
    char dir[] = "/tmp/lazyadam-h5-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char good[256], path[512];
    snprintf(good, sizeof good, "%s/good.h5", dir);
    tally_case(&T, write_valid(good, 4096) == 0 && exists(good), "write a valid file");
    {
        char err[512];
        h5r *r = h5r_open(good, err, sizeof err);
        trajectory t;
        char src[64];
        int ok = r && h5r_groups(r, "case_") == 1 && trajectory_read(r, "case_00000", &t, src,
                sizeof src) == 0 && t.n == 4096 && t.steps == 4 && !strcmp(src, "lazyadam");
        if (ok)
            trajectory_free(&t);
        h5r_close(r);
        tally_case(&T, ok, "read it back");
    }

    snprintf(path, sizeof path, "%s/missing.h5", dir);
    check_read_fails(path, "missing file");

    snprintf(path, sizeof path, "%s/corrupt.h5", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    check_read_fails(path, "corrupt file");

    /* Truncated copies of the valid file, cut at several places. */
    FILE *g = fopen(good, "rb");
    fseek(g, 0, SEEK_END);
    long size = ftell(g);
    char *bytes = malloc((size_t)size);
    fseek(g, 0, SEEK_SET);
    size_t got = fread(bytes, 1, (size_t)size, g);
    fclose(g);
    for (int cut = 1; cut <= 3; cut++) {
        snprintf(path, sizeof path, "%s/truncated%d.h5", dir, cut);
        f = fopen(path, "wb");
        fwrite(bytes, 1, got * (size_t)cut / 4, f);
        fclose(f);
        char what[64];
        snprintf(what, sizeof what, "file truncated to %d/4", cut);
        check_read_fails(path, what);
    }
    free(bytes);

    /* A file that opens, whose gradient's data cannot be read as floats: its "grad"
     * replaced by strings of the same shape (4 steps x 4096). */
    snprintf(path, sizeof path, "%s/strings.h5", dir);
    int wrote = write_valid(path, 4096) == 0;
    hid_t file = wrote ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT) : -1;
    if (file >= 0) {
        hid_t str = H5Tcopy(H5T_C_S1);
        H5Tset_size(str, 4);
        hsize_t dims[2] = { 4, 4096 };
        hid_t space = H5Screate_simple(2, dims, NULL);
        char *text = calloc(4 * 4096, 4);
        wrote = H5Ldelete(file, "case_00000/grad", H5P_DEFAULT) >= 0;
        hid_t d = wrote ? H5Dcreate2(file, "case_00000/grad", str, space, H5P_DEFAULT,
                H5P_DEFAULT, H5P_DEFAULT) : -1;
        wrote = d >= 0 && H5Dwrite(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) >= 0;
        if (d >= 0)
            H5Dclose(d);
        free(text);
        H5Sclose(space);
        H5Tclose(str);
        wrote = H5Fclose(file) >= 0 && wrote;
    }
    tally_case(&T, wrote, "write a file whose gradient is strings");
    check_read_fails(path, "a gradient of strings");

    /* Unwritable places: a directory that does not exist, and one that is a file. */
    char err[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", dir);
    h5w *w = h5w_open(path, err, sizeof err);
    printf("unwritable directory: %s\n", w ? "(opened!)" : err);
    tally_case(&T, w == NULL && !exists(path), "writing into a missing directory fails clearly");
    if (w)
        h5w_abort(w);
    snprintf(path, sizeof path, "%s/x.h5", good);
    w = h5w_open(path, err, sizeof err);
    tally_case(&T, w == NULL, "writing under a regular file fails clearly");
    if (w)
        h5w_abort(w);

    /* A full disk: the writer runs under a 64 KiB file size limit. */
    snprintf(path, sizeof path, "%s/full.h5", dir);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 65536, 65536 };
        setrlimit(RLIMIT_FSIZE, &rl);
        int st = write_valid(path, 1 << 16);
        _exit(st == 0 ? 0 : 3);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("full disk: writer exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);   /* the writer's own name */
    tally_case(&T, WIFEXITED(status) && WEXITSTATUS(status) == 3 && !exists(path)
            && !exists(tmp), "a full disk gives an error, no file under the final name and "
            "no temporary left behind");

    /* A write given up: neither the final name nor the temporary. */
    snprintf(path, sizeof path, "%s/aborted.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    w = h5w_open(path, err, sizeof err);
    int began = w && exists(tmp) && h5w_group(w, "case_00000") == 0;
    if (w)
        h5w_abort(w);
    tally_case(&T, began && !exists(path) && !exists(tmp),
            "an aborted write leaves neither the file nor its temporary");

    /* A writer killed in the middle of writing. */
    snprintf(path, sizeof path, "%s/killed.h5", dir);
    pid = fork();
    if (pid == 0) {
        h5w *k = h5w_open(path, err, sizeof err);
        float x[1024] = { 0 };
        h5w_group(k, "case_00000");
        h5w_f32(k, "param", 1024, 0, x);
        raise(SIGKILL);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    tally_case(&T, WIFSIGNALED(status) && !exists(path),
            "a writer killed mid-write leaves nothing under the final name");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return tally_finish(&T);
}
