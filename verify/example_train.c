/* The README's example: a toy training loop with a dense layer (lazyadam_adam_step) and
 * an embedding table updated row-sparsely (lazyadam_lazy_step). Built by meson and, in
 * scripts/test, against the installed library with pkg-config alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lazyadam.h>

int main(void)
{
    enum { N = 1000, ROWS = 10000, DIM = 64, BATCH = 32 };
    float *w = calloc(N, sizeof *w), *gw = calloc(N, sizeof *gw);
    float *mw = calloc(N, sizeof *mw), *vw = calloc(N, sizeof *vw);
    float *emb = calloc((size_t)ROWS * DIM, sizeof *emb);
    float *me = calloc((size_t)ROWS * DIM, sizeof *me), *ve = calloc((size_t)ROWS * DIM, sizeof *ve);
    float *vals = malloc(sizeof(float) * BATCH * DIM);
    int64_t ids[BATCH];
    if (!w || !gw || !mw || !vw || !emb || !me || !ve || !vals)
        return 1;

    lazyadam_config cfg = lazyadam_default_config();   /* lr 1e-3, TF/Keras epsilon */
    for (int64_t step = 1; step <= 100; step++) {
        for (int i = 0; i < N; i++)                      /* your backward pass goes here */
            gw[i] = 0.01f * (float)((i + step) % 7 - 3);
        for (int b = 0; b < BATCH; b++) {
            ids[b] = (b * 7919 + step * 104729) % ROWS;  /* repeats are summed */
            for (int j = 0; j < DIM; j++)
                vals[b * DIM + j] = 0.001f * (float)(j - b);
        }
        lazyadam_status st = lazyadam_adam_step(&cfg, step, N, w, gw, mw, vw, NULL);
        if (st == LAZYADAM_OK)
            st = lazyadam_lazy_step(&cfg, step, ROWS, DIM, emb, me, ve, NULL, BATCH, ids, vals);
        if (st != LAZYADAM_OK) {
            fprintf(stderr, "step %lld: %s\n", (long long)step, lazyadam_status_string(st));
            return 1;
        }
    }
    printf("lazyadam %s on %s: w[0] = %.6f, emb[0] = %.6f\n", lazyadam_version(),
           lazyadam_backend_name(lazyadam_backend_resolve(&cfg)), w[0], emb[0]);
    free(w); free(gw); free(mw); free(vw); free(emb); free(me); free(ve); free(vals);
    return 0;
}
