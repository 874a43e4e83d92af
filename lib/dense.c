/* Dense entry points: lazyadam_adam_step and lazyadam_adam_step_multi. */
#include <omp.h>

#include "internal.h"

/* Checks shared by both dense entry points: config, backend, step. */
static lazyadam_status check_common(const lazyadam_config *cfg, int64_t step,
        const lazyadam_kernels **k)
{
    lazyadam_status st = lazyadam_check_config(cfg);
    if (st != LAZYADAM_OK)
        return st;
    if ((st = lazyadam_check_step(step)) != LAZYADAM_OK)
        return st;
    *k = lazyadam_kernels_for(cfg);
    return LAZYADAM_OK;
}

/* One tensor's pointer and size checks. */
static lazyadam_status check_tensor(const lazyadam_config *cfg, const lazyadam_tensor *t)
{
    if (!lazyadam_size_ok(t->n, 1, sizeof(float)))
        return LAZYADAM_E_SIZE;
    if (t->n == 0)
        return LAZYADAM_OK;
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    if (!t->param || !t->grad || !t->m || !t->v || (ams && !t->vmax))
        return LAZYADAM_E_NULL;
    return LAZYADAM_OK;
}

/* The byte ranges of count tensors, listed buffer kind by buffer kind (all params,
 * then all grads, ...), the order in which lazyadam_check_ranges is fastest. */
static size_t tensor_ranges(const lazyadam_config *cfg, size_t count,
        const lazyadam_tensor *ts, lazyadam_range *r)
{
    int ams = (cfg->flags & LAZYADAM_AMSGRAD) != 0;
    size_t nr = 0;
    for (int kind = 0; kind < (ams ? 5 : 4); kind++)
        for (size_t i = 0; i < count; i++) {
            const lazyadam_tensor *t = &ts[i];
            const void *ptr[5] = { t->param, t->grad, t->m, t->v, t->vmax };
            lazyadam_range_add(r, &nr, ptr[kind], t->n * sizeof(float), kind != 1);
        }
    return nr;
}

static void run_range(const lazyadam_kernels *k, const lazyadam_tensor *t, size_t lo,
        size_t hi, const lazyadam_scalars *s)
{
    if (hi <= lo)
        return;
    k->adam(hi - lo, t->param + lo, t->grad + lo, t->m + lo, t->v + lo,
            s->amsgrad ? t->vmax + lo : NULL, s);
}

/* An array backend (oneDNN) takes each tensor whole and threads itself. */
static lazyadam_status run_array(const lazyadam_kernels *k, const lazyadam_config *cfg,
        const lazyadam_scalars *s, size_t count, const lazyadam_tensor *ts)
{
    void *ctx;
    lazyadam_status st = k->array->begin(s, lazyadam_threads_requested(cfg), &ctx);
    if (st != LAZYADAM_OK)
        return st;
    for (size_t i = 0; i < count; i++)
        if (ts[i].n)
            k->array->run(ctx, ts[i].n, ts[i].param, ts[i].grad, ts[i].m, ts[i].v,
                    s->amsgrad ? ts[i].vmax : NULL);
    k->array->end(ctx);
    return LAZYADAM_OK;
}

lazyadam_status lazyadam_adam_step(const lazyadam_config *cfg, int64_t step, size_t n,
        float *param, const float *grad, float *m, float *v, float *vmax)
{
    const lazyadam_kernels *k;
    lazyadam_status st = check_common(cfg, step, &k);
    if (st != LAZYADAM_OK)
        return st;
    lazyadam_tensor t = { n, param, grad, m, v, vmax };
    lazyadam_range r[5];
    if ((st = check_tensor(cfg, &t)) != LAZYADAM_OK)
        return st;
    if ((st = lazyadam_check_ranges(r, tensor_ranges(cfg, 1, &t, r))) != LAZYADAM_OK)
        return st;
    if (n == 0)
        return LAZYADAM_OK;

    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    if (k->array)
        return run_array(k, cfg, &s, 1, &t);
    lazyadam_plan plan = lazyadam_balance_begin(n, lazyadam_threads_for(cfg, n));
    if (plan.T == 1) {
        run_range(k, &t, 0, n, &s);
        lazyadam_balance_end();
        return LAZYADAM_OK;
    }
    /* The team gets everything it reads by value, in the block OpenMP hands it, and
     * rebuilds the tensor and scalars on its own stacks. A worker that had to follow a
     * pointer back into this stack (to the scalars or the tensor struct) would wait for
     * one more cache-line transfer from this core before it could start. OpenMP passes
     * structs by address, so the scalars travel as words. */
    size_t lead = lazyadam_lead(param);
    lazyadam_scalar_words w = lazyadam_scalars_to_words(&s);
    uint64_t w0 = w.w[0], w1 = w.w[1], w2 = w.w[2], w3 = w.w[3], w4 = w.w[4], w5 = w.w[5],
             w6 = w.w[6];
    int32_t shift = plan.shift;
    #pragma omp parallel num_threads(plan.T)
    {
        lazyadam_scalar_words ws = { { w0, w1, w2, w3, w4, w5, w6 } };
        const lazyadam_scalars ts = lazyadam_scalars_from_words(&ws);
        const lazyadam_tensor tt = { n, param, grad, m, v, vmax };
        size_t lo, hi;
        lazyadam_split(n, lead, omp_get_thread_num(), omp_get_num_threads(), shift, &lo, &hi);
        run_range(k, &tt, lo, hi, &ts);
    }
    lazyadam_balance_end();
    return LAZYADAM_OK;
}

/* Thread t of T takes the elements [lo, hi) of the tensors laid end to end, so the
 * load is balanced by element count whatever the tensor sizes. */
static void run_multi_part(const lazyadam_kernels *k, size_t count,
        const lazyadam_tensor *tensors, size_t lo, size_t hi, const lazyadam_scalars *s)
{
    size_t base = 0;
    for (size_t i = 0; i < count && base < hi; i++) {
        size_t n = tensors[i].n;
        if (base + n > lo) {
            size_t a = lo > base ? lo - base : 0;
            size_t b = hi - base < n ? hi - base : n;
            run_range(k, &tensors[i], a, b, s);
        }
        base += n;
    }
}

lazyadam_status lazyadam_adam_step_multi(const lazyadam_config *cfg, int64_t step,
        size_t count, const lazyadam_tensor *tensors)
{
    const lazyadam_kernels *k;
    lazyadam_status st = check_common(cfg, step, &k);
    if (st != LAZYADAM_OK)
        return st;
    if (count == 0)
        return LAZYADAM_OK;
    if (!tensors)
        return LAZYADAM_E_NULL;
    if (!lazyadam_size_ok(count, 5, sizeof(lazyadam_range)))
        return LAZYADAM_E_SIZE;

    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if ((st = check_tensor(cfg, &tensors[i])) != LAZYADAM_OK)
            return st;
        if (tensors[i].n > SIZE_MAX - total)
            return LAZYADAM_E_SIZE;
        total += tensors[i].n;
    }
    lazyadam_range *r = lazyadam_alloc(count * 5 * sizeof *r);
    if (!r)
        return LAZYADAM_E_NOMEM;
    st = lazyadam_check_ranges(r, tensor_ranges(cfg, count, tensors, r));
    lazyadam_free(r);
    if (st != LAZYADAM_OK || total == 0)
        return st;

    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    if (k->array)
        return run_array(k, cfg, &s, count, tensors);
    lazyadam_plan plan = lazyadam_balance_begin(total, lazyadam_threads_for(cfg, total));
    if (plan.T == 1) {
        run_multi_part(k, count, tensors, 0, total, &s);
        lazyadam_balance_end();
        return LAZYADAM_OK;
    }
    int32_t shift = plan.shift;
    #pragma omp parallel num_threads(plan.T)
    {
        size_t lo, hi;
        lazyadam_split(total, 0, omp_get_thread_num(), omp_get_num_threads(), shift, &lo, &hi);
        run_multi_part(k, count, tensors, lo, hi, &s);
    }
    lazyadam_balance_end();
    return LAZYADAM_OK;
}
