/* The oneDNN backend: the dense update as a chain of oneDNN binary primitives with
 * post-ops (one pass over memory per primitive), threaded by oneDNN's own OpenMP.
 *
 * Every step of the chain is a single IEEE operation of the contract: products by a
 * scalar are binary_mul against a one-element tensor (read at execution, so the
 * step-dependent alpha needs no new primitive), sums are binary_add/sub post-ops, the
 * square root an eltwise_sqrt post-op. No step relies on scale attributes or the sum
 * post-op, which oneDNN is free to fuse into a multiply-add.
 *
 *   [L2/MAXIMIZE] G  = wd*p + g | wd*p - g | g*(-1)       (else G = g)
 *                 T1 = G*omb1;        m = m*beta1 + T1
 *                 T1 = (G*G)*omb2;    v = v*beta2 + T1
 *   [AMSGRAD]     T1 = max(v, vmax); vmax = T1*1; S = vmax  (else S = v)
 *                 T0 = sqrt(S*1) [/ rbc2] + eps
 *                 T1 = (m*alpha) / T0
 *                 p  = p[*decay] - T1
 *
 * Arrays are processed in blocks of 2^18, 2^14 and 2^10 elements (the last one padded),
 * so the chain's seven passes over a block stay in cache, and primitives exist for
 * three shapes per configuration only: they are created once per configuration,
 * cached for the life of the process (at most 32 configurations x 3 shapes), and shared
 * by all threads; each call makes its own stream and memory objects. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "element.h"
#include "internal.h"

enum { NSHAPES = 3 };
#define BLOCK_MAX ((size_t)1 << 18)
static const size_t block_sizes[NSHAPES] = { BLOCK_MAX, (size_t)1 << 14, (size_t)1 << 10 };

/* Slots of the per-call scalar array, each seen by oneDNN as a one-element tensor. */
enum { SC_WD, SC_MINUS1, SC_OMB1, SC_B1, SC_OMB2, SC_B2, SC_ONE, SC_RBC2, SC_EPS, SC_ALPHA,
       SC_DECAY, NSC };
/* Block-sized tensors of a call. */
enum { T_P, T_G, T_M, T_V, T_X, T_T0, T_T1, NT };

/* One primitive of the chain and where its arguments come from. */
typedef struct link {
    dnnl_primitive_t prim;
    int src0, src1, dst;         /* tensor ids: T_* for blocks, 100 + SC_* for scalars */
    int npost, post_src[4];      /* binary post-ops' second operands (same ids) */
    int post_idx[4];             /* their places in the post-op list */
} link;

typedef struct chain {
    int nlinks;
    link l[10];   /* at most 10: see the chain above */
} chain;

#define SCALAR(i) (100 + (i))

static dnnl_engine_t engine;
static lazyadam_status engine_status = LAZYADAM_E_BACKEND;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void)
{
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success)
        engine_status = LAZYADAM_OK;
    LAZYADAM_PUBLISH(&engine_once);
}

/* Configurations are told apart by five flags: 32 possible chains per shape. */
static int signature(const lazyadam_scalars *s)
{
    return s->l2 | s->maximize << 1 | s->adamw << 2 | s->amsgrad << 3 | s->eps_plain << 4;
}

static chain cache[32][NSHAPES];
static int cached[32][NSHAPES];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* A post-op list: 'b' + alg for a binary post-op, 'e' for eltwise_sqrt. */
typedef struct post { char kind; dnnl_alg_kind_t alg; int src; } post;

static lazyadam_status add_link(chain *c, size_t n, dnnl_alg_kind_t alg, int src0, int src1,
        int dst, const post *posts, int npost)
{
    dnnl_memory_desc_t big, one;
    dnnl_dims_t dn = { (dnnl_dim_t)n }, d1 = { 1 };
    if (dnnl_memory_desc_init_by_tag(&big, 1, dn, dnnl_f32, dnnl_a) != dnnl_success
            || dnnl_memory_desc_init_by_tag(&one, 1, d1, dnnl_f32, dnnl_a) != dnnl_success)
        return LAZYADAM_E_BACKEND;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_binary_desc_t bd;
    link *l = &c->l[c->nlinks];
    memset(l, 0, sizeof *l);
    int ok = dnnl_primitive_attr_create(&attr) == dnnl_success
          && dnnl_post_ops_create(&po) == dnnl_success;
    for (int i = 0; ok && i < npost; i++) {
        if (posts[i].kind == 'e') {
            ok = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_sqrt, 0.0f, 0.0f) == dnnl_success;
        } else {
            ok = dnnl_post_ops_append_binary(po, posts[i].alg,
                    posts[i].src >= SCALAR(0) ? &one : &big) == dnnl_success;
            l->post_idx[l->npost] = i;
            l->post_src[l->npost++] = posts[i].src;
        }
    }
    ok = ok && dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success
            && dnnl_binary_desc_init(&bd, alg, &big, src1 >= SCALAR(0) ? &one : &big, &big) == dnnl_success
            && dnnl_primitive_desc_create(&pd, &bd, attr, engine, NULL) == dnnl_success
            && dnnl_primitive_create(&l->prim, pd) == dnnl_success;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (!ok)
        return LAZYADAM_E_BACKEND;
    l->src0 = src0;
    l->src1 = src1;
    l->dst = dst;
    c->nlinks++;
    return LAZYADAM_OK;
}

static void chain_destroy(chain *c)
{
    for (int i = 0; i < c->nlinks; i++)
        dnnl_primitive_destroy(c->l[i].prim);
    c->nlinks = 0;
}

static lazyadam_status chain_build(chain *c, size_t n, const lazyadam_scalars *s)
{
    lazyadam_status st = LAZYADAM_OK;
    int G = T_G;
    c->nlinks = 0;
    /* LINK(alg, src0, src1, dst, post-ops...): NOPOST stands for none. */
#define NOPOST { 0, 0, 0 }
#define LINK(alg, a, b, d, ...) do { \
        const post ps_[] = { __VA_ARGS__ }; \
        int np_ = 0; \
        while (np_ < (int)(sizeof ps_ / sizeof ps_[0]) && ps_[np_].kind) \
            np_++; \
        if (st == LAZYADAM_OK) \
            st = add_link(c, n, alg, a, b, d, ps_, np_); \
    } while (0)
    if (s->l2) {
        LINK(dnnl_binary_mul, T_P, SCALAR(SC_WD), T_T0,
             { 'b', s->maximize ? dnnl_binary_sub : dnnl_binary_add, T_G });
        G = T_T0;
    } else if (s->maximize) {
        LINK(dnnl_binary_mul, T_G, SCALAR(SC_MINUS1), T_T0, NOPOST);
        G = T_T0;
    }
    LINK(dnnl_binary_mul, G, SCALAR(SC_OMB1), T_T1, NOPOST);
    LINK(dnnl_binary_mul, T_M, SCALAR(SC_B1), T_M, { 'b', dnnl_binary_add, T_T1 });
    LINK(dnnl_binary_mul, G, G, T_T1, { 'b', dnnl_binary_mul, SCALAR(SC_OMB2) });
    LINK(dnnl_binary_mul, T_V, SCALAR(SC_B2), T_V, { 'b', dnnl_binary_add, T_T1 });
    int S = T_V;
    if (s->amsgrad) {
        /* The contract's (v > vmax) ? v : vmax is max(v, vmax) with v first — which
         * operand wins for NaN — so the maximum goes to T1 and is copied back. */
        LINK(dnnl_binary_max, T_V, T_X, T_T1, NOPOST);
        LINK(dnnl_binary_mul, T_T1, SCALAR(SC_ONE), T_X, NOPOST);
        S = T_X;
    }
    if (s->eps_plain)
        LINK(dnnl_binary_mul, S, SCALAR(SC_ONE), T_T0, { 'e', 0, 0 },
             { 'b', dnnl_binary_div, SCALAR(SC_RBC2) }, { 'b', dnnl_binary_add, SCALAR(SC_EPS) });
    else
        LINK(dnnl_binary_mul, S, SCALAR(SC_ONE), T_T0, { 'e', 0, 0 },
             { 'b', dnnl_binary_add, SCALAR(SC_EPS) });
    LINK(dnnl_binary_mul, T_M, SCALAR(SC_ALPHA), T_T1, { 'b', dnnl_binary_div, T_T0 });
    if (s->adamw)
        LINK(dnnl_binary_mul, T_P, SCALAR(SC_DECAY), T_P, { 'b', dnnl_binary_sub, T_T1 });
    else
        LINK(dnnl_binary_sub, T_P, T_T1, T_P, NOPOST);
#undef LINK
#undef NOPOST
    if (st != LAZYADAM_OK)
        chain_destroy(c);
    return st;
}

/* A call's state: the chains, its stream, its memory objects and scratch. */
typedef struct ctx {
    const chain *chains[NSHAPES];
    dnnl_stream_t stream;
    dnnl_memory_t mem[NSHAPES][NT];
    dnnl_memory_t scal[NSC];
    float sc[NSC];
    float *scratch;          /* T0, T1 of the largest block, then a padded block */
    int threads, amsgrad;
} ctx;

static void ctx_free(ctx *c)
{
    for (int b = 0; b < NSHAPES; b++)
        for (int t = 0; t < NT; t++)
            if (c->mem[b][t])
                dnnl_memory_destroy(c->mem[b][t]);
    for (int i = 0; i < NSC; i++)
        if (c->scal[i])
            dnnl_memory_destroy(c->scal[i]);
    if (c->stream)
        dnnl_stream_destroy(c->stream);
    lazyadam_free(c->scratch);
    lazyadam_free(c);
}

static lazyadam_status onednn_begin(const lazyadam_scalars *s, int threads, void **out)
{
    pthread_once(&engine_once, engine_init);
    LAZYADAM_ACQUIRE(&engine_once);
    if (engine_status != LAZYADAM_OK)
        return engine_status;
    int sig = signature(s);
    lazyadam_status st = LAZYADAM_OK;
    pthread_mutex_lock(&cache_lock);
    for (int b = 0; b < NSHAPES && st == LAZYADAM_OK; b++)
        if (!cached[sig][b]) {
            st = chain_build(&cache[sig][b], block_sizes[b], s);
            cached[sig][b] = st == LAZYADAM_OK;
        }
    pthread_mutex_unlock(&cache_lock);
    if (st != LAZYADAM_OK)
        return st;

    ctx *c = lazyadam_alloc(sizeof *c);
    if (!c)
        return LAZYADAM_E_NOMEM;
    memset(c, 0, sizeof *c);
    c->threads = threads;
    c->amsgrad = s->amsgrad;
    /* T0 and T1 for the largest block, then five padded small blocks (p, g, m, v, x). */
    c->scratch = lazyadam_alloc((2 * block_sizes[0] + 5 * block_sizes[NSHAPES - 1]) * sizeof(float));
    int ok = c->scratch != NULL;
    if (!ok)
        st = LAZYADAM_E_NOMEM;
    ok = ok && dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags) == dnnl_success;
    dnnl_memory_desc_t md;
    dnnl_dims_t d1 = { 1 };
    ok = ok && dnnl_memory_desc_init_by_tag(&md, 1, d1, dnnl_f32, dnnl_a) == dnnl_success;
    for (int i = 0; ok && i < NSC; i++)
        ok = dnnl_memory_create(&c->scal[i], &md, engine, &c->sc[i]) == dnnl_success;
    for (int b = 0; ok && b < NSHAPES; b++) {
        c->chains[b] = &cache[sig][b];
        dnnl_dims_t dn = { (dnnl_dim_t)block_sizes[b] };
        ok = dnnl_memory_desc_init_by_tag(&md, 1, dn, dnnl_f32, dnnl_a) == dnnl_success;
        for (int t = 0; ok && t < NT; t++)
            ok = dnnl_memory_create(&c->mem[b][t], &md, engine, DNNL_MEMORY_NONE) == dnnl_success;
        if (ok) {
            dnnl_memory_set_data_handle(c->mem[b][T_T0], c->scratch);
            dnnl_memory_set_data_handle(c->mem[b][T_T1], c->scratch + block_sizes[0]);
        }
    }
    if (!ok) {
        ctx_free(c);
        return st != LAZYADAM_OK ? st : LAZYADAM_E_BACKEND;
    }
    float *sc = c->sc;
    sc[SC_WD] = s->wd;
    sc[SC_MINUS1] = -1.0f;
    sc[SC_OMB1] = s->omb1;
    sc[SC_B1] = s->beta1;
    sc[SC_OMB2] = s->omb2;
    sc[SC_B2] = s->beta2;
    sc[SC_ONE] = 1.0f;
    sc[SC_RBC2] = s->rbc2;
    sc[SC_EPS] = s->eps;
    sc[SC_ALPHA] = s->alpha;
    sc[SC_DECAY] = s->decay;
    *out = c;
    return LAZYADAM_OK;
}

static dnnl_memory_t arg_mem(ctx *c, int b, int id)
{
    return id >= SCALAR(0) ? c->scal[id - SCALAR(0)] : c->mem[b][id];
}

/* One block of block_sizes[b] elements at the given pointers. */
static void run_block(ctx *c, int b, float *p, const float *g, float *m, float *v, float *x)
{
    dnnl_memory_t *mem = c->mem[b];
    dnnl_memory_set_data_handle(mem[T_P], p);
    dnnl_memory_set_data_handle(mem[T_G], (void *)g);
    dnnl_memory_set_data_handle(mem[T_M], m);
    dnnl_memory_set_data_handle(mem[T_V], v);
    dnnl_memory_set_data_handle(mem[T_X], c->amsgrad ? x : v);
    const chain *ch = c->chains[b];
    for (int i = 0; i < ch->nlinks; i++) {
        const link *l = &ch->l[i];
        dnnl_exec_arg_t args[8];
        int na = 0;
        args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC_0, arg_mem(c, b, l->src0) };
        args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC_1, arg_mem(c, b, l->src1) };
        args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_DST, arg_mem(c, b, l->dst) };
        /* Post-op operands are numbered by their place among all post-ops. */
        for (int k = 0; k < l->npost; k++)
            args[na++] = (dnnl_exec_arg_t){
                DNNL_ARG_ATTR_MULTIPLE_POST_OP(l->post_idx[k]) | DNNL_ARG_SRC_1,
                arg_mem(c, b, l->post_src[k]) };
        dnnl_primitive_execute(l->prim, c->stream, na, args);
    }
    dnnl_stream_wait(c->stream);
}

static void onednn_run(void *opaque, size_t n, float *p, const float *g, float *m, float *v,
        float *x)
{
    ctx *c = opaque;
    int saved = omp_get_max_threads();
    omp_set_num_threads(c->threads);
    size_t i = 0;
    for (int b = 0; b < NSHAPES; b++)
        for (; i + block_sizes[b] <= n; i += block_sizes[b])
            run_block(c, b, p + i, g + i, m + i, v + i, c->amsgrad ? x + i : NULL);
    if (i < n) {   /* the tail, padded to the smallest block */
        size_t r = n - i, bs = block_sizes[NSHAPES - 1];
        float *pad = c->scratch + 2 * block_sizes[0];
        float *src[5] = { p + i, (float *)g + i, m + i, v + i, c->amsgrad ? x + i : NULL };
        for (int a = 0; a < 5; a++) {
            memset(pad + a * bs, 0, bs * sizeof(float));
            if (src[a])
                memcpy(pad + a * bs, src[a], r * sizeof(float));
        }
        run_block(c, NSHAPES - 1, pad, pad + bs, pad + 2 * bs, pad + 3 * bs, pad + 4 * bs);
        float *dst[5] = { p + i, NULL, m + i, v + i, c->amsgrad ? x + i : NULL };
        for (int a = 0; a < 5; a++)
            if (dst[a])
                memcpy(dst[a], pad + a * bs, r * sizeof(float));
    }
    omp_set_num_threads(saved);
}

static void onednn_end(void *opaque)
{
    ctx_free(opaque);
}

/* The smallest block shape that holds n (n <= the largest): one run of the chain. */
static size_t onednn_fit(size_t n)
{
    for (int b = NSHAPES - 1; b > 0; b--)
        if (n <= block_sizes[b])
            return block_sizes[b];
    return block_sizes[0];
}

static const lazyadam_array_ops onednn_ops = {
    .begin = onednn_begin,
    .run = onednn_run,
    .end = onednn_end,
    .block = BLOCK_MAX,
    .fit = onednn_fit,
};

const lazyadam_kernels lazyadam_kernels__onednn = {
    .replay = lazyadam_replay_ukernel__scalar,
    .array = &onednn_ops,
};
