/* Dense entry points: lazyadam_adam_step and lazyadam_adam_step_multi. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Checks shared by both dense entry points: config, backend, step. */
static lazyadam_status check_common(const lazyadam_config *cfg, int64_t step,
        const lazyadam_kernels **k)
{
    lazyadam_status st = lazyadam_check_config(cfg, k);
    if (st != LAZYADAM_OK)
        return st;
    return lazyadam_check_step(step);
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

/* The alias check of a multi call without listing its ranges, for the layouts trainers
 * use: when each buffer kind's ranges come in ascending address order, none starting
 * before the one before it ends, and each kind's span (its first range's start to its
 * last range's end) overlaps no other kind's, no two ranges can overlap. Flat buffers
 * and tensors allocated kind by kind pass; tensors allocated each with its own four
 * buffers interleave the spans and do not. Returns 1 when the layout is shown free of
 * aliasing that way, 0 to leave the verdict to lazyadam_check_ranges on every range.
 * One pass, a few instructions a buffer, no scratch: on 10,000 tensors of 128 elements
 * listing and checking every range took longer than the update's memory traffic. */
static int kinds_apart(const lazyadam_config *cfg, size_t count, const lazyadam_tensor *ts)
{
    const int kinds = (cfg->flags & LAZYADAM_AMSGRAD) ? 5 : 4;
    uintptr_t lo[5] = { 0 }, hi[5] = { 0 };
    int seen = 0;
    for (size_t i = 0; i < count; i++) {
        const lazyadam_tensor *t = &ts[i];
        if (t->n == 0)
            continue;
        const uintptr_t bytes = t->n * sizeof(float);   /* check_tensor: no overflow */
        const uintptr_t at[5] = { (uintptr_t)t->param, (uintptr_t)t->grad, (uintptr_t)t->m,
                                  (uintptr_t)t->v, (uintptr_t)t->vmax };
        for (int k = 0; k < kinds; k++) {
            if ((seen && at[k] < hi[k]) || at[k] > UINTPTR_MAX - bytes)
                return 0;
            lo[k] = seen ? lo[k] : at[k];
            hi[k] = at[k] + bytes;
        }
        seen = 1;
    }
    lazyadam_range span[5];
    for (int k = 0; k < kinds; k++)
        span[k] = (lazyadam_range){ lo[k], hi[k], k != 1 };
    return !seen || lazyadam_check_ranges(span, (size_t)kinds) == LAZYADAM_OK;
}

/* From this many bytes of state and gradient a call, its arrays are taken to stream from
 * DRAM rather than to stay in the cache between calls, and the backend's streaming kernel
 * runs (kernels.h). On machine B (AMD, CPU family 26), adam_step on two threads with the
 * AVX2 kernel took 0.94 of the AVX-512 kernel's time at 2^24 elements (256 MiB) and
 * 0.87-0.88 at 2^25, 1.00 at 2^23 and 0.955 at 2^22, but 1.31-1.36 at 2^20-2^21, where
 * the arrays stay in the cache (a throwaway program alternating the two 30 times a size,
 * twice). Set where the gain is clear, so that a machine with a larger cache than that
 * one's 32 MiB loses little from it. LAZYADAM_STREAM_BYTES (decimal, read once) moves it;
 * 0 streams every call, which the suites use to run the other kernel bitwise.
 *
 * Intel's cores are the other way round. On machine D (GenuineIntel, AVX-512F, 2 vCPUs)
 * eight independent chains of a square root and a division took 15.4 TSC ticks a 512-bit
 * vector and 14.3 for two 256-bit ones, and at 2^15 elements in cache the AVX-512 kernel
 * ran at 0.92 of the AVX2 kernel's speed on one thread. At 2^25 on two threads the two
 * tie: against the roofline loop, alternating, the 512-bit kernel's ratio was 1.01-1.02
 * times the 256-bit one's in three rounds and 0.97-0.99 in three more (README, "Machine
 * D"). So where the vendor is Intel the two kernels trade places: the 256-bit one in the
 * cache, where it wins, and the 512-bit one from DRAM, where neither does, so that each
 * still runs and the dense-stream suite still runs the other.
 *
 * AMD's family 25 (Zen 4, which runs a 512-bit operation as two 256-bit halves) wants the
 * 512-bit kernel at every size. On machine F (AMD EPYC, family 25, model 17) the avx512
 * backend's pair against the roofline loop at 2^25 on two threads read 0.95-1.00 with it
 * and 0.74-0.85 with the AVX2 kernel (three rounds of two, alternating, through
 * LAZYADAM_STREAM_BYTES), and the roofline loop itself, built for 256 bits, ran at
 * 0.75-0.82 of its 512-bit build: there 256-bit loads and stores cannot draw what DRAM
 * gives. In cache too the 512-bit kernel was the faster (3.2 against 3.0 G elements/s at
 * 2^15 on one thread). There nothing streams unless LAZYADAM_STREAM_BYTES says so, which
 * the dense-stream suite still does. Family 26 (machines B and E) keeps the rule above;
 * Zen 3, family 25 too, has no AVX-512 and so no streaming kernel to choose.
 *
 * Either way the results are bitwise the same. Not in the test-only SIMDe build, whose
 * in-cache kernel must stay the emulated avx512 source it exists to test. */
#define STREAM_MIN_BYTES ((size_t)256 << 20)

lazyadam_stream_rule lazyadam_stream_rule_on(const lazyadam_cpu *cpu)
{
    if (cpu->intel)
        return (lazyadam_stream_rule){ STREAM_MIN_BYTES, 1 };
    if (cpu->amd && cpu->family == 25)
        return (lazyadam_stream_rule){ SIZE_MAX, 0 };
    return (lazyadam_stream_rule){ STREAM_MIN_BYTES, 0 };
}

static size_t stream_min = STREAM_MIN_BYTES;
static int stream_swapped;   /* the kernels trade places (Intel) */
static pthread_once_t stream_once = PTHREAD_ONCE_INIT;

static void init_stream(void)
{
#ifndef LAZYADAM_AVX512_EMULATED
    lazyadam_stream_rule r = lazyadam_stream_rule_on(lazyadam_cpu_features());
    stream_min = r.min_bytes;
    stream_swapped = r.swapped;
#endif
    const char *env = getenv("LAZYADAM_STREAM_BYTES");
    if (env && *env >= '0' && *env <= '9') {
        char *end;
        unsigned long long b = strtoull(env, &end, 10);
        if (*end == '\0')
            stream_min = b < SIZE_MAX ? (size_t)b : SIZE_MAX;
    }
    LAZYADAM_PUBLISH(&stream_once);
}

static lazyadam_adam_fn dense_kernel(const lazyadam_kernels *k, const lazyadam_scalars *s,
        size_t n)
{
    if (!k->adam_stream)
        return k->adam;
    pthread_once(&stream_once, init_stream);
    LAZYADAM_ACQUIRE(&stream_once);
    size_t per_elem = (s->amsgrad ? 5 : 4) * sizeof(float);   /* n * per_elem >= stream_min */
    size_t min_n = stream_min / per_elem + (stream_min % per_elem != 0);
    return (n >= min_n) != stream_swapped ? k->adam_stream : k->adam;
}

static void run_range(lazyadam_adam_fn adam, const lazyadam_tensor *t, size_t lo,
        size_t hi, const lazyadam_scalars *s)
{
    if (hi <= lo)
        return;
    adam(hi - lo, t->param + lo, t->grad + lo, t->m + lo, t->v + lo,
            s->amsgrad ? t->vmax + lo : NULL, s, NULL);
}

/* A piece: a run of elements that one kernel call can take (lazyadam_span; n 0: none
 * yet), in every buffer it has laid end to end in memory. Tensors cut from flat buffers
 * (a trainer's flattened parameters, gradients and moments, as ZeRO and apex keep them)
 * make one piece however many there are: the update goes element by element with one set
 * of scalars, so a piece gives bitwise what its tensors give one by one, and it pays the
 * kernel's entry once. */
typedef lazyadam_span piece;

/* Whether x starts where the n floats from y end, compared as addresses: the two may
 * be separate objects that happen to meet. */
static inline int follows(const float *x, const float *y, size_t n)
{
    return (uintptr_t)x == (uintptr_t)y + n * sizeof(float);
}

/* Elements [a, b) of tensor t (b > a), appended to pc when they continue it in every
 * buffer; returns 0, leaving pc alone, when they do not. */
static int piece_extend(piece *pc, const lazyadam_tensor *t, size_t a, size_t b, int ams)
{
    size_t k = pc->n;
    if (k == 0 || !follows(t->param + a, pc->p, k) || !follows(t->grad + a, pc->g, k)
            || !follows(t->m + a, pc->m, k) || !follows(t->v + a, pc->v, k)
            || (ams && !follows(t->vmax + a, pc->x, k)))
        return 0;
    pc->n += b - a;
    return 1;
}

/* Elements [lo, hi) of the tensors laid end to end, in pieces: run(pc, next, arg) for
 * each, next the start of the piece after it (its first tensor's part, which the tensors
 * after may extend) or NULL for the last. Always inlined, with run a constant in each
 * caller. */
typedef void (*piece_run)(const piece *pc, const piece *next, void *arg);

static inline __attribute__((always_inline)) void for_each_piece(size_t count,
        const lazyadam_tensor *tensors, size_t lo, size_t hi, int ams, piece_run run,
        void *arg)
{
    piece pc = { 0 };
    size_t base = 0;
    for (size_t i = 0; i < count && base < hi; i++) {
        const lazyadam_tensor *t = &tensors[i];
        size_t n = t->n;
        if (n != 0 && base + n > lo) {   /* then a < b; an empty tensor may be all NULL */
            size_t a = lo > base ? lo - base : 0;
            size_t b = hi - base < n ? hi - base : n;
            if (!piece_extend(&pc, t, a, b, ams)) {
                const piece start = { b - a, t->param + a, t->grad + a, t->m + a, t->v + a,
                                      ams ? t->vmax + a : NULL };
                if (pc.n)
                    run(&pc, &start, arg);
                pc = start;
            }
        }
        base += n;
    }
    if (pc.n)
        run(&pc, NULL, arg);
}

/* An array backend (oneDNN) takes each piece whole and threads itself, in blocks that
 * cost about the same whatever they hold: each runs a chain of primitives, and each
 * primitive forks a team. A piece shorter than the backend's block costs a run of one,
 * or many (its last elements go through smaller blocks, a run each): on machine G 1000
 * separate tensors of 1024 elements took 37 ms on two threads, 10,000 of 128 379 ms,
 * against 1.5-1.6 ms for the same cut from flat buffers (README, "oneDNN's stage"). So a
 * multi call stages its pieces shorter than a block: copies them one after another into
 * a block of scratch, runs what it holds as one block (lazyadam_array_run_padded), and
 * copies the results back, the copies on the call's threads. A stage
 * holds at most STAGE_PIECES pieces (a block of pieces of 64 elements). */
#define STAGE_PIECES 4096

typedef struct staged {
    piece pc;
    size_t at;             /* where it starts in the stage */
} staged;

typedef struct array_call {
    const lazyadam_array_ops *ops;
    void *ctx;
    float *stage;          /* p, g, m, v (and vmax) a block each; NULL: nothing is staged */
    staged *held;          /* the staged pieces, in stage order */
    size_t nheld, used;    /* how many, and the elements they fill */
    int ams, threads;      /* threads: the call's request */
} array_call;

/* The stage's kind a (0 p, 1 g, 2 m, 3 v, 4 vmax). */
static float *stage_of(const array_call *c, int a)
{
    return c->stage + (size_t)a * c->ops->block;
}

/* The first staged piece that starts at element `at` of the stage or later. */
static size_t held_from(const array_call *c, size_t at)
{
    size_t lo = 0, hi = c->nheld;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->held[mid].at < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Copies the staged pieces [lo, hi) into the stage, or (back) their results out of it. */
static void stage_copy(const array_call *c, size_t lo, size_t hi, int back)
{
    for (size_t i = lo; i < hi; i++) {
        const staged *h = &c->held[i];
        const piece *pc = &h->pc;
        float *buf[5] = { pc->p, NULL, pc->m, pc->v, pc->x };
        const float *src[5] = { pc->p, pc->g, pc->m, pc->v, pc->x };
        for (int a = 0; a < (c->ams ? 5 : 4); a++) {
            float *st = stage_of(c, a) + h->at;
            if (!back)
                memcpy(st, src[a], pc->n * sizeof(float));
            else if (buf[a])
                memcpy(buf[a], st, pc->n * sizeof(float));
        }
    }
}

/* stage_copy of every staged piece, split by elements between the threads the static
 * rule gives the stage's size. */
static void stage_copy_all(const array_call *c, int back)
{
    int T = lazyadam_threads_rule(c->threads, c->used);
    if (T <= 1) {
        stage_copy(c, 0, c->nheld, back);
        return;
    }
    #pragma omp parallel num_threads(T)
    {
        size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        stage_copy(c, held_from(c, c->used * t / nt), held_from(c, c->used * (t + 1) / nt),
                back);
    }
}

/* Runs the staged pieces and copies their results back. */
static void stage_run(array_call *c)
{
    if (c->nheld == 0)
        return;
    stage_copy_all(c, 0);
    lazyadam_array_run_padded(c->ops, c->ctx, c->used, stage_of(c, 0), stage_of(c, 1),
            stage_of(c, 2), stage_of(c, 3), c->ams ? stage_of(c, 4) : NULL);
    stage_copy_all(c, 1);
    c->nheld = c->used = 0;
}

static void array_piece(const piece *pc, const piece *next, void *arg)
{
    (void)next;
    array_call *c = arg;
    if (!c->stage || pc->n >= c->ops->block) {
        c->ops->run(c->ctx, pc->n, pc->p, pc->g, pc->m, pc->v, pc->x);
        return;
    }
    if (c->used + pc->n > c->ops->block || c->nheld == STAGE_PIECES)
        stage_run(c);
    c->held[c->nheld++] = (staged){ *pc, c->used };
    c->used += pc->n;
}

/* count tensors of total elements on an array backend; a call of more than one tensor
 * stages its short pieces (above). */
static lazyadam_status run_array(const lazyadam_kernels *k, const lazyadam_config *cfg,
        const lazyadam_scalars *s, size_t count, const lazyadam_tensor *ts, size_t total)
{
    const lazyadam_array_ops *ops = k->array;
    const size_t kinds = s->amsgrad ? 5 : 4;
    array_call c = { .ops = ops, .ams = s->amsgrad, .threads = lazyadam_threads_requested(cfg) };
    lazyadam_status st = ops->begin(s, c.threads, &c.ctx);
    if (st != LAZYADAM_OK)
        return st;
    if (count > 1) {
        c.stage = lazyadam_alloc(ops->block * kinds * sizeof(float)
                + STAGE_PIECES * sizeof(staged));
        if (!c.stage) {
            ops->end(c.ctx);
            return LAZYADAM_E_NOMEM;
        }
        c.held = (staged *)(void *)(c.stage + ops->block * kinds);
    }
    for_each_piece(count, ts, 0, total, s->amsgrad, array_piece, &c);
    stage_run(&c);
    ops->end(c.ctx);
    lazyadam_free(c.stage);
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
        return run_array(k, cfg, &s, 1, &t, n);
    lazyadam_adam_fn adam = dense_kernel(k, &s, n);
    int requested = lazyadam_threads_requested(cfg);
    lazyadam_plan plan = lazyadam_balance_begin(n, lazyadam_threads_rule(requested, n),
            requested);
    if (plan.T == 1) {
        run_range(adam, &t, 0, n, &s);
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
             w6 = w.w[6], w7 = w.w[7];
    int32_t shift = plan.shift;
    #pragma omp parallel num_threads(plan.T)
    {
        lazyadam_scalar_words ws = { { w0, w1, w2, w3, w4, w5, w6, w7 } };
        const lazyadam_scalars ts = lazyadam_scalars_from_words(&ws);
        const lazyadam_tensor tt = { n, param, grad, m, v, vmax };
        size_t lo, hi;
        lazyadam_split(n, lead, omp_get_thread_num(), omp_get_num_threads(), shift, &lo, &hi);
        run_range(adam, &tt, lo, hi, &ts);
    }
    lazyadam_balance_end();
    return LAZYADAM_OK;
}

/* Thread t of T takes the elements [lo, hi) of the tensors laid end to end, so the
 * load is balanced by element count whatever the tensor sizes, in pieces. Each kernel
 * call is told where the next piece starts, so that separate tensors stream through the
 * kernel as one long run does (README, "Separate tensors"). */
typedef struct kernel_call {
    lazyadam_adam_fn adam;
    const lazyadam_scalars *s;
} kernel_call;

static void kernel_piece(const piece *pc, const piece *next, void *arg)
{
    const kernel_call *c = arg;
    c->adam(pc->n, pc->p, pc->g, pc->m, pc->v, pc->x, c->s, next);
}

static void run_multi_part(lazyadam_adam_fn adam, size_t count,
        const lazyadam_tensor *tensors, size_t lo, size_t hi, const lazyadam_scalars *s)
{
    kernel_call c = { adam, s };
    for_each_piece(count, tensors, lo, hi, s->amsgrad, kernel_piece, &c);
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
    if (!kinds_apart(cfg, count, tensors)) {
        lazyadam_range *r = lazyadam_alloc(count * 5 * sizeof *r);
        if (!r)
            return LAZYADAM_E_NOMEM;
        st = lazyadam_check_ranges(r, tensor_ranges(cfg, count, tensors, r));
        lazyadam_free(r);
        if (st != LAZYADAM_OK)
            return st;
    }
    if (total == 0)
        return LAZYADAM_OK;

    const lazyadam_scalars s = lazyadam_make_scalars(cfg, step);
    if (k->array)
        return run_array(k, cfg, &s, count, tensors, total);
    lazyadam_adam_fn adam = dense_kernel(k, &s, total);
    int requested = lazyadam_threads_requested(cfg);
    lazyadam_plan plan = lazyadam_balance_begin(total, lazyadam_threads_rule(requested, total),
            requested);
    if (plan.T == 1) {
        run_multi_part(adam, count, tensors, 0, total, &s);
        lazyadam_balance_end();
        return LAZYADAM_OK;
    }
    int32_t shift = plan.shift;
    #pragma omp parallel num_threads(plan.T)
    {
        size_t lo, hi;
        lazyadam_split(total, 0, omp_get_thread_num(), omp_get_num_threads(), shift, &lo, &hi);
        run_multi_part(adam, count, tensors, lo, hi, &s);
    }
    lazyadam_balance_end();
    return LAZYADAM_OK;
}
