/* libFuzzer target: lazyadam_adam_step_multi with a hostile tensor list: sizes, NULLs,
 * overlaps across tensors, one bad tensor among good ones. The tensors lie either each
 * with its five buffers side by side, or kind by kind as flat buffers do, end to end
 * with now and then a gap: the layout the library runs as pieces and checks without a
 * list (lib/dense.c). */
#include "fuzz_common.h"
#include "reference.h"

static int overlap(const float *a, size_t na, const float *b, size_t nb)
{
    return na && nb && a && b && a < b + nb && b < a + na;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = { data, size };
    lazyadam_config c = take_valid_config(&in);
    int ams = c.flags & LAZYADAM_AMSGRAD;
    int64_t step = 1 + (int64_t)take(&in, 1);
    size_t count = take(&in, 1) % 9;
    enum { SLOT = 320 };
    size_t cap = (count * 5 + 1) * SLOT;
    float *arena = calloc(cap, sizeof(float)), *snap = malloc(cap * sizeof(float));
    fill(&in, arena, cap, 0.5f);
    for (size_t i = 0; i < cap; i++)
        arena[i] = fabsf(arena[i]);
    lazyadam_tensor t[9];
    int by_kind = take(&in, 1) & 1;
    size_t next[5] = { 0 };   /* by kind: where each kind's next tensor starts */
    for (size_t i = 0; i < count; i++) {
        size_t n = take(&in, 2) % 300;
        float *b[5];
        for (size_t k = 0; k < 5; k++) {
            if (!by_kind) {
                b[k] = arena + (i * 5 + k) * SLOT;
                continue;
            }
            uint64_t gap = take(&in, 1);   /* no gap three times in four; else 1 to 3 */
            b[k] = arena + k * count * SLOT + next[k];
            next[k] += n + (gap < 192 ? 0 : 1 + gap % 3);
        }
        t[i] = (lazyadam_tensor){ n, b[0], b[1], b[2], b[3], b[4] };
        uint32_t mode = (uint32_t)take(&in, 1);
        if (mode == 1) t[i].param = NULL;
        if (mode == 2) t[i].v = NULL;
        if (mode == 3) t[i].vmax = NULL;
        if (mode == 4 && count > 1)   /* this tensor's m inside another tensor's buffer */
            t[i].m = arena + ((i + 1) % count) * 5 * SLOT + take(&in, 1) % (4 * SLOT);
        if (mode == 5 && count > 1)   /* share a read-only gradient: allowed */
            t[i].grad = arena + ((i + 1) % count) * 5 * SLOT + SLOT;
    }
    memcpy(snap, arena, cap * sizeof(float));
    lazyadam_status st = lazyadam_adam_step_multi(&c, step, count, t);

    int bad = 0;
    for (size_t i = 0; i < count; i++) {
        const lazyadam_tensor *a = &t[i];
        if (a->n && (!a->param || !a->grad || !a->m || !a->v || (ams && !a->vmax)))
            bad = 1;
        const float *w1[4] = { a->param, a->m, a->v, ams ? a->vmax : NULL };
        for (size_t j = 0; j < count; j++) {
            const lazyadam_tensor *b = &t[j];
            const float *all[5] = { b->param, b->grad, b->m, b->v, ams ? b->vmax : NULL };
            for (int x = 0; x < 4; x++)
                for (int y = 0; y < 5; y++) {
                    if (i == j && (x == 0 ? 0 : x == 1 ? 2 : x == 2 ? 3 : 4) == y)
                        continue;   /* the buffer itself */
                    if (overlap(w1[x], a->n, all[y], b->n))
                        bad = 1;
                }
        }
    }
    if (st != LAZYADAM_OK) {
        FUZZ_CHECK(!memcmp(arena, snap, cap * sizeof(float)), "multi failed (%s) but wrote",
                lazyadam_status_string(st));
        FUZZ_CHECK(bad || st == LAZYADAM_E_NOMEM, "a valid multi call failed: %s",
                lazyadam_status_string(st));
    } else {
        FUZZ_CHECK(!bad, "an invalid tensor list returned OK");
        lazyadam_backend be = lazyadam_backend_resolve(&c);
        for (size_t i = 0; i < count; i++) {
            const lazyadam_tensor *a = &t[i];
            if (!a->n)
                continue;
            float *rp = snap + (a->param - arena), *rm = snap + (a->m - arena);
            float *rv = snap + (a->v - arena), *rx = ams ? snap + (a->vmax - arena) : NULL;
            ref_adam_step(&c, step, a->n, rp, snap + (a->grad - arena), rm, rv, rx);
            FUZZ_CHECK(same(rp, a->param, a->n, be) && same(rm, a->m, a->n, be)
                    && same(rv, a->v, a->n, be) && (!ams || same(rx, a->vmax, a->n, be)),
                    "multi tensor %zu differs from the reference", i);
        }
    }
    free(arena);
    free(snap);
    return 0;
}
