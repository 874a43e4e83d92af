/* The kernels of a vector backend, written once. lib/kernels/avx2.c and avx512.c each
 * define the vector type and operations below and include this; each is compiled alone
 * with its ISA flags, so this text becomes one set of kernels per ISA. Every operation
 * is the same IEEE operation as the scalar contract's (element.h), lane by lane, so the
 * results are bitwise those of lib/kernels/scalar.c; tails use the scalar element
 * function itself. Real sqrt and div, and no fused multiply-add: the build passes
 * -ffp-contract=off, so a mul and an add stay two roundings even where the ISA flag brings
 * FMA with it (clang's -mavx512f does).
 *
 * The including file defines:
 *   VEC, VEC_LANES            the vector of floats and how many it holds
 *   VEC_LOAD(a), VEC_STORE(a, x), VEC_SET1(f), VEC_ZERO()
 *   VEC_ADD, VEC_SUB, VEC_MUL, VEC_DIV (a, b), VEC_SQRT(a)
 *   VEC_MAX(a, b)             (a > b) ? a : b lane by lane, as maxps is
 *   VEC_SIGN_MASK()           -0.0f in every lane
 *   VEC_XOR(a, b)             bitwise xor, for negation by the sign bit
 *   VEC_TINY(x, lim)          a bit set (an unsigned value) for each lane of x with
 *                             0 < |x| < the float whose bits are lim
 *   VEC_TINY2(x, y, lim)      nonzero where VEC_TINY of x or of y would be
 *   VEC_ABOVE(x, lim)         a bit set for each lane with |x| >= the float whose bits
 *                             are lim (NaNs included), 1 <= lim <= 0x7f800000
 *   VEC_FROM(x, lim)          x in the lanes VEC_ABOVE(x, lim) sets, +0 in the others
 *   VEC_SIGNS(x)              a bit set for each lane with its sign bit set
 *   VEC_LT(a, b)              a bit set for each lane with a < b (false with a NaN)
 *   VEC_AND(a, b), VEC_OR(a, b)  bitwise and, or
 *   VEC_ZERO_SIGNS(m, g)      m, but a lane of m that is +0 or -0 gets the and of its
 *                             sign bit and g's (g's lanes are zeros): -0 + -0 is -0,
 *                             any other sum of zeros +0
 *   VEC_NAME(kind)            the kernel named kind: lazyadam_<kind>_ukernel__<isa>
 * and may define subnormal.h's one-instruction forms (SN_F2D, SN_I2D, SN_I2L, SN_SQRT,
 * SN_ANY, SN_LO, SN_HI, SN_JOIN; SIMDe's build keeps the portable ones).
 * No include guard: each ISA file instantiates it once. */
#if !defined(VEC) || !defined(VEC_LANES) || !defined(VEC_NAME)
#error "define the VEC_ macros before including vec_kernel.h"
#endif

#include "element.h"
#include "groups.h"

#define INLINE LAZYADAM_ALWAYS_INLINE

struct sn_stuck_memo;

typedef struct vscalars {
    VEC alpha, rbc2, b1, b2, omb1, omb2, eps, wd, decay, sign;
    const lazyadam_scalars *s;   /* for update_any and subnormal.h */
    struct sn_stuck_memo *memo;  /* the cold forms' limits, found once a kernel call */
} vscalars;

/* memo: a kernel call's own (subnormal.h's SN_STUCK_MEMO), or NULL where each use finds
 * the limits afresh (a replay's steps). */
INLINE vscalars broadcast(const lazyadam_scalars *s, struct sn_stuck_memo *memo)
{
    vscalars c = {
        VEC_SET1(s->alpha), VEC_SET1(s->rbc2), VEC_SET1(s->beta1), VEC_SET1(s->beta2),
        VEC_SET1(s->omb1), VEC_SET1(s->omb2), VEC_SET1(s->eps), VEC_SET1(s->wd),
        VEC_SET1(s->decay), VEC_SIGN_MASK(), s, memo,
    };
    return c;
}

/* One vector of each buffer, in registers; vmax (x) only under AMSGrad. */
typedef struct lanes {
    VEC p, m, v, x;
} lanes;

#include "subnormal.h"

/* v or vmax lanes from 2^-125 on (or zeros) take no assist in update()'s float operations
 * with a zero gradient: beta2 * v is then normal for beta2 >= 1/2 (a smaller beta2 only
 * costs assists). The forms are the contract's operations on them whatever they hold. */
#define COLD_V_FROM 0x01000000

/* The cold path's forms of update() (subnormal.h, "Stuck moments"), for a vector whose
 * gradient is zero, none of them a float operation on a subnormal. STUCK_M: m's lanes
 * zero or stuck, so m' is m (zeros as their sum gives them) and alpha * m' a zero of its
 * sign. STUCK_MV: v's lanes +0 or stuck too, so v' is v, and vmax stays under AMSGrad
 * (cold_form). COLD_V: m stuck, and v' = beta2 * v (decayed_m again) where some v lane is
 * below 2^-125, stuck or not: the some 10,000 steps of a row's life in which its v decays
 * through the subnormals. With the numerator a zero, only whether each lane's root is
 * zero counts, and the lanes below 2^-125 stand in for theirs as STUCK_MV's do; under
 * AMSGrad vmax is at least 2^-125 in every lane, so those lanes leave it as it is.
 * DECAYING: m' = beta1 * m (decayed_m), and the step alpha * m' / denom, whatever it is,
 * less than a quarter of p's unit in the last place, so p' is p: update_m checks that
 * bound, and the caller keeps nothing where it fails. */
enum { FORM_NONE, FORM_STUCK_M, FORM_STUCK_MV, FORM_COLD_V, FORM_DECAYING };

/* m' = beta1 * m + omb1 * g where g is zero: omb1 * g is a zero, which leaves a nonzero
 * beta1 * m as it is. Lanes below 2^-125 are k * 2^-149 with k < 2^24
 * their bits (the first normal binade has the subnormals' spacing): k' = beta1 * k
 * rounded to an integer in double (exact products), whose bits are m' again. The others
 * round the exact double product beta1 * m to float, once. Then m's sign, and the zeros
 * as their sum gives them; b1 is beta1, without a sign bit. The same for v' = beta2 * v
 * + omb2 * (g * g), with b1 = beta2 and v without sign bits: g * g is +0, so the zeros
 * come out +0. */
INLINE VEC decayed_m(VEC m, VEC g, double b1)
{
    sn_f h[2] = { SN_LO(m), SN_HI(m) };
    for (int i = 0; i < 2; i++) {
        sn_i b = (sn_i)h[i], mag = b & 0x7fffffff, small = mag < 0x01000000;
        sn_i k = __builtin_convertvector(sn_rint(SN_I2D(mag & small) * b1), sn_i);
        h[i] = (sn_f)((k | (b & INT32_MIN)) & small);
        if (SN_ANY(~small)) {
            sn_f big = __builtin_convertvector(SN_F2D((sn_f)(b & ~small)) * b1, sn_f);
            h[i] = (sn_f)((sn_i)h[i] | ((sn_i)big & ~small));
        }
    }
    return VEC_ZERO_SIGNS(SN_JOIN(h[0], h[1]), g);
}

/* The contract on one vector of lanes held in registers. The flags are compile-time
 * constants in each caller below, so every variant is a straight line of vector
 * operations; `form` is FORM_NONE but in the cold path (k, its limits and scalars, only
 * there). Returns nonzero where FORM_DECAYING's bound fails, else 0. */
INLINE unsigned update_m(VEC *p, VEC g, VEC *m, VEC *v, VEC *vmax, const vscalars *c,
        int maximize, int l2, int adamw, int ams, int plain, int form, const sn_stuck *k)
{
    VEC pi = *p, m0 = *m;
    if (maximize)   /* -g: flip the sign bit, as scalar negation does */
        g = VEC_XOR(g, c->sign);
    if (l2)
        g = VEC_ADD(g, VEC_MUL(c->wd, pi));
    if (adamw)
        pi = VEC_MUL(pi, c->decay);
    VEC mi = form == FORM_DECAYING ? decayed_m(m0, g, k->b1)
           : form ? VEC_ZERO_SIGNS(m0, g)
           : VEC_ADD(VEC_MUL(c->b1, m0), VEC_MUL(c->omb1, g));
    VEC vi = form == FORM_STUCK_MV ? *v
           : form == FORM_COLD_V ? decayed_m(*v, g, k->b2)
           : VEC_ADD(VEC_MUL(c->b2, *v), VEC_MUL(c->omb2, VEC_MUL(g, g)));
    /* COLD_V: v' from 2^-125 on, the rest +0 (its lanes below 2^-125 are `vi ^ big`) */
    VEC big = form == FORM_COLD_V ? VEC_FROM(vi, COLD_V_FROM) : vi;
    VEC si = vi;
    if (ams) {
        /* max(a, b) is (a > b) ? a : b, the contract's comparison, NaN included. COLD_V
         * compares +0 for a v' below vmax, which is at least 2^-125: vmax either way. */
        if (form != FORM_STUCK_MV)
            *vmax = VEC_MAX(big, *vmax);
        si = *vmax;
    }
    /* STUCK_MV's and COLD_V's numerator is a zero, so of the root only whether it is zero
     * counts (0 / 0 is NaN, 0 / x a zero), and that it is not negative: a v' of k * 2^-149
     * below 2^-125 (k < 2^24), as the float (2^23 | k) - 2^23, nonzero just where k is,
     * stands in for sqrt(k * 2^-149), and COLD_V's lanes from 2^-125 on, normal, +inf or
     * NaN, for their own roots (+0 in the other lanes, to which the stand-ins are or-ed). */
    const VEC two23 = VEC_SET1(0x1p23f);
    VEC root = ams || !form || form == FORM_DECAYING || form == FORM_STUCK_M ? VEC_SQRT(si)
             : form == FORM_STUCK_MV ? VEC_SUB(VEC_OR(vi, two23), two23)
             : VEC_OR(big, VEC_SUB(VEC_OR(VEC_XOR(vi, big), two23), two23));
    VEC denom = plain ? VEC_ADD(VEC_DIV(root, c->rbc2), c->eps) : VEC_ADD(root, c->eps);
    VEC num = form ? VEC_AND(mi, c->sign) : VEC_MUL(c->alpha, mi);
    *p = VEC_SUB(pi, VEC_DIV(num, denom));
    *m = mi;
    *v = vi;
    if (form != FORM_DECAYING)
        return 0;
    /* |m'| <= |m| < u, u twice the power of two in m's exponent field, or 2^-126 for a
     * subnormal: with K = u * 2^149, alpha * m' rounds to at most (alpha * K + 1/2) *
     * 2^-149 (relative 2^-24 in the normal range), and the quotient q by 2^-24 more, or by
     * 2^-150 where it is subnormal, which is below 2^-126 <= |p| * 2^-26 anyway. Where
     * (alpha * K + 2) * 2^-121 = alpha * u * 2^28 + 2^-120 < denom * |p| (the float
     * roundings inside its margin of 4) and p is at least 2^-100, |q| < |p| * 2^-26,
     * under a quarter of p's unit in the last place: p - q rounds to p, which p - 0 /
     * denom gave. The left side is a normal float, or +inf or NaN (an infinite or NaN m
     * makes u +inf) and then it fails; the right one rounds up to +inf only where the
     * bound holds, and a zero or NaN there fails. */
    VEC e = VEC_AND(m0, VEC_SET1(INFINITY));   /* the exponent field alone */
    VEC u = VEC_MAX(VEC_ADD(e, e), VEC_SET1(0x1p-126f));
    VEC lhs = VEC_ADD(VEC_MUL(c->alpha, VEC_MUL(u, VEC_SET1(0x1p28f))), VEC_SET1(0x1p-120f));
    VEC rhs = VEC_MUL(denom, VEC_XOR(pi, VEC_AND(pi, c->sign)));
    return (VEC_LT(lhs, rhs) ^ ((1u << VEC_LANES) - 1)) | VEC_TINY(pi, SN_TINY_BELOW);
}

INLINE void update(VEC *p, VEC g, VEC *m, VEC *v, VEC *vmax, const vscalars *c,
        int maximize, int l2, int adamw, int ams, int plain)
{
    update_m(p, g, m, v, vmax, c, maximize, l2, adamw, ams, plain, FORM_NONE, NULL);
}

/* One vector of each buffer at offset i, and back; vmax only under AMSGrad. */
INLINE lanes load_lanes(const float *p, const float *m, const float *v, const float *vmax,
        size_t i, int ams)
{
    lanes l = { VEC_LOAD(p + i), VEC_LOAD(m + i), VEC_LOAD(v + i),
                ams ? VEC_LOAD(vmax + i) : VEC_ZERO() };
    return l;
}

INLINE void store_lanes(const lanes *l, float *p, float *m, float *v, float *vmax, size_t i,
        int ams)
{
    VEC_STORE(p + i, l->p);
    VEC_STORE(m + i, l->m);
    VEC_STORE(v + i, l->v);
    if (ams)
        VEC_STORE(vmax + i, l->x);
}

/* Which of update()'s cold forms may hold for one vector whose m has a cold lane
 * (FORM_NONE: none), with the limits and scalars they use in *k. All need a zero
 * gradient, the stuck ones every m lane zero or stuck (|k| <= k.m). STUCK_M and DECAYING
 * need v and vmax clear of lanes below 2^-125, zeros aside. STUCK_MV and COLD_V need v's
 * lanes without a sign bit, a v limit (beta2 in (1/2, 1), so that beta2 * v is normal
 * from 2^-125 on), and under AMSGrad every vmax lane at least 2^-125 (or NaN) without a
 * sign bit; STUCK_MV v's lanes +0 or stuck (k <= k.v), so that v' is v and below vmax,
 * COLD_V the others (an infinite or NaN lane too: decayed_m's doubles keep it as beta2 * v
 * does). The rest go to subnormal_vec; a tiny p only costs assists. */
INLINE int cold_form(lanes a, VEC g, const vscalars *c, int ams, sn_stuck *k)
{
    if (VEC_ABOVE(g, 1))
        return FORM_NONE;
    *k = sn_stuck_get(c->memo, c->s);
    if (!k->cold)
        return FORM_NONE;
    int v_clear = !(VEC_TINY(a.v, COLD_V_FROM) | (ams ? VEC_TINY(a.x, COLD_V_FROM) : 0));
    if (!k->m || VEC_ABOVE(a.m, k->m + 1))
        return v_clear ? FORM_DECAYING : FORM_NONE;
    if (v_clear)
        return FORM_STUCK_M;
    if (!k->v || VEC_SIGNS(a.v))
        return FORM_NONE;
    if (ams && (VEC_ABOVE(a.x, COLD_V_FROM) != (1u << VEC_LANES) - 1 || VEC_SIGNS(a.x)))
        return FORM_NONE;
    return VEC_ABOVE(a.v, k->v + 1) ? FORM_COLD_V : FORM_STUCK_MV;
}

/* One vector of lanes: where m has a cold lane, one of update()'s cold forms or
 * subnormal_vec, unless all decline (counted in *done), else the contract's float
 * operations (the configuration's flags read at run time: this is the cold path). */
INLINE lanes update_any(lanes a, VEC g, const vscalars *c, uint64_t *done)
{
    const lazyadam_scalars *s = c->s;
    if (!s->l2 && VEC_TINY(a.m, (int)s->cold_below)) {
        sn_stuck k;
        lanes b = a;
        unsigned fail = 1;
        /* each form its own copy of update_m, `form` a constant in it */
#define UPDATE_FORM(f) update_m(&b.p, g, &b.m, &b.v, &b.x, c, s->maximize, 0, s->adamw, \
        s->amsgrad, s->eps_plain, (f), &k)
        switch (cold_form(a, g, c, s->amsgrad, &k)) {
        case FORM_STUCK_M: fail = UPDATE_FORM(FORM_STUCK_M); break;
        case FORM_STUCK_MV: fail = UPDATE_FORM(FORM_STUCK_MV); break;
        case FORM_COLD_V: fail = UPDATE_FORM(FORM_COLD_V); break;
        case FORM_DECAYING: fail = UPDATE_FORM(FORM_DECAYING); break;
        default: break;
        }
#undef UPDATE_FORM
        if (!fail) {
            *done += 1;
            return b;
        }
        sn_result r = subnormal_vec(a.p, g, a.m, a.v, a.x, c);
        *done += (uint64_t)r.done;
        if (r.done)
            return r.out;
    }
    update(&a.p, g, &a.m, &a.v, &a.x, c, s->maximize, s->l2, s->adamw, s->amsgrad,
            s->eps_plain);
    return a;
}

/* m's lanes below the call's cold line in magnitude (lazyadam_scalars' cold_below), zeros
 * aside, are cold: subnormal, or normal but with a product of a zero-gradient step that is
 * not (beta1 * m or alpha * m'). Where any is, the loops below hand over to subnormal_run
 * or subnormal_replay, which try update()'s cold forms and subnormal.h. COLD_LANES: a bit
 * for each lane of m's vector at i below the line `cold` (the bits of a float);
 * COLD_PAIR: nonzero where a lane of m's vectors at i and i + VEC_LANES is (the dense
 * loops' test, once a pair). */
#define COLD_LANES(m, i, cold) VEC_TINY(VEC_LOAD((m) + (i)), (cold))
#define COLD_PAIR(m, i, cold) VEC_TINY2(VEC_LOAD((m) + (i)), VEC_LOAD((m) + (i) + VEC_LANES), \
        (cold))

/* The vectors from i on, the one at i whatever it holds and the next ones while m's has a
 * cold lane, out of line so that a run of them pays for one call: a row left alone for
 * good is subnormal from end to end. Returns where it stopped. */
static __attribute__((noinline, cold)) size_t subnormal_run(const vscalars *c, size_t i,
        size_t n, float *p, const float *g, float *m, float *v, float *vmax)
{
    const int ams = c->s->amsgrad, cold = (int)c->s->cold_below;
    uint64_t done = 0;
    do {
        lanes a = update_any(load_lanes(p, m, v, vmax, i, ams), VEC_LOAD(g + i), c, &done);
        store_lanes(&a, p, m, v, vmax, i, ams);
        i += VEC_LANES;
    } while (i + VEC_LANES <= n && COLD_LANES(m, i, cold) != 0);
    lazyadam_subnormal_vectors += done;
    return i;
}

/* Two vectors of each buffer at offset i, interleaved for throughput. */
INLINE void adam_pair(const vscalars *c, size_t i, float *restrict p,
        const float *restrict g, float *restrict m, float *restrict v, float *restrict vmax,
        int maximize, int l2, int adamw, int ams, int plain)
{
    enum { L = VEC_LANES };
    VEC p0 = VEC_LOAD(p + i), p1 = VEC_LOAD(p + i + L);
    VEC m0 = VEC_LOAD(m + i), m1 = VEC_LOAD(m + i + L);
    VEC v0 = VEC_LOAD(v + i), v1 = VEC_LOAD(v + i + L);
    VEC x0 = VEC_ZERO(), x1 = x0;
    if (ams) {
        x0 = VEC_LOAD(vmax + i);
        x1 = VEC_LOAD(vmax + i + L);
    }
    update(&p0, VEC_LOAD(g + i), &m0, &v0, &x0, c, maximize, l2, adamw, ams, plain);
    update(&p1, VEC_LOAD(g + i + L), &m1, &v1, &x1, c, maximize, l2, adamw, ams, plain);
    VEC_STORE(p + i, p0); VEC_STORE(p + i + L, p1);
    VEC_STORE(m + i, m0); VEC_STORE(m + i + L, m1);
    VEC_STORE(v + i, v0); VEC_STORE(v + i + L, v1);
    if (ams) {
        VEC_STORE(vmax + i, x0);
        VEC_STORE(vmax + i + L, x1);
    }
}

/* How far ahead, in floats, the dense loop asks for each buffer's lines (1 KiB). With
 * the hardware's stream prefetchers alone, the avx512 backend's adam_step at 2^25 on two
 * threads ran at 0.93-0.97 of the roofline loop on the same arrays on machine D (Intel),
 * its square roots and divisions slowing the rate at which its loads go out; asking
 * 128, 256, 384, 512 and 1,024 floats ahead gave 1.013-1.015, 1.028-1.037, 1.022-1.027,
 * 1.019-1.027 and 1.008-1.020 (a distance read at run time in a throwaway build, two
 * processes each; README, "Machine D"). At 2^15, in the cache, it neither gained nor
 * lost beyond the noise. A call of fewer floats asks for none, and the rows of a sparse
 * step, each a short run of its own, never do: lib/kernels/groups.h asks for the rows
 * ahead instead. */
#define DENSE_AHEAD 256

INLINE void prefetch_pair(const float *x, int write)
{
    for (int k = 0; k < 2 * VEC_LANES; k += 16)   /* each 64-byte line once */
        if (write)
            __builtin_prefetch(x + k, 1, 3);
        else
            __builtin_prefetch(x + k, 0, 3);
}

/* The pair of vectors at i, or, where a lane of m's is cold, the run of vectors from it
 * (subnormal_run); returns where the dense loop goes on. */
INLINE size_t pair_step(const vscalars *c, size_t i, size_t n, float *restrict p,
        const float *restrict g, float *restrict m, float *restrict v, float *restrict vmax,
        int cold, int maximize, int l2, int adamw, int ams, int plain)
{
    if (__builtin_expect(COLD_PAIR(m, i, cold) != 0, 0))
        return subnormal_run(c, i, n, p, g, m, v, vmax);
    adam_pair(c, i, p, g, m, v, vmax, maximize, l2, adamw, ams, plain);
    return i + 2 * VEC_LANES;
}

/* The lines of one pair of vectors at offset a in each buffer (vmax only under AMSGrad). */
INLINE void prefetch_lanes(const float *p, const float *g, const float *m, const float *v,
        const float *vmax, size_t a, int ams)
{
    prefetch_pair(p + a, 1);
    prefetch_pair(g + a, 0);
    prefetch_pair(m + a, 1);
    prefetch_pair(v + a, 1);
    if (ams)
        prefetch_pair(vmax + a, 1);
}

/* ahead (a constant in each caller): ask for the lines DENSE_AHEAD floats on, up to
 * the buffers' ends and no further; then, where the caller names the run it hands over
 * next (next, non-NULL only with ahead), on into that run's buffers, DENSE_AHEAD floats
 * on as before, so that the next call's first lines are on their way as this one's last
 * are updated, as they are in one long run. A run shorter than DENSE_AHEAD asks for
 * nothing, its own lines or the next run's: the hardware's prefetchers, which follow
 * tensors a line apart, did better alone there (README, "Separate tensors"). */
INLINE void adam_loop(const vscalars *c, size_t n, float *restrict p,
        const float *restrict g, float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, int ahead, const lazyadam_span *next, int maximize,
        int l2, int adamw, int ams, int plain)
{
    enum { L = VEC_LANES };
    const int cold = (int)s->cold_below;   /* read once: the stores below may alias s */
    size_t i = 0;
    if (ahead && n > DENSE_AHEAD) {
        for (size_t end = n - DENSE_AHEAD; i + 2 * L <= end;) {
            prefetch_lanes(p, g, m, v, vmax, i + DENSE_AHEAD, ams);
            i = pair_step(c, i, n, p, g, m, v, vmax, cold, maximize, l2, adamw, ams, plain);
        }
        for (; next && i + 2 * L <= n;) {
            size_t a = i + DENSE_AHEAD;   /* < n by under 2L, or not at all */
            if (a >= n && a - n + 2 * L <= next->n)
                prefetch_lanes(next->p, next->g, next->m, next->v, next->x, a - n, ams);
            i = pair_step(c, i, n, p, g, m, v, vmax, cold, maximize, l2, adamw, ams, plain);
        }
    }
    while (i + 2 * L <= n)
        i = pair_step(c, i, n, p, g, m, v, vmax, cold, maximize, l2, adamw, ams, plain);
    while (i + L <= n) {
        if (__builtin_expect(COLD_LANES(m, i, cold) != 0, 0)) {
            i = subnormal_run(c, i, n, p, g, m, v, vmax);
            continue;
        }
        lanes a = load_lanes(p, m, v, vmax, i, ams);
        update(&a.p, VEC_LOAD(g + i), &a.m, &a.v, &a.x, c, maximize, l2, adamw, ams, plain);
        store_lanes(&a, p, m, v, vmax, i, ams);
        i += L;
    }
    for (; i < n; i++)
        lazyadam_element(p + i, g[i], m + i, v + i, ams ? vmax + i : NULL, s);
}

static void adam_plain(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, const lazyadam_scalars *s,
        const lazyadam_span *next)
{
    struct sn_stuck_memo memo = SN_STUCK_MEMO;
    const vscalars c = broadcast(s, &memo);
    adam_loop(&c, n, p, g, m, v, NULL, s, 1, next, 0, 0, 0, 0, 0);
}

static void adam_any(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, const lazyadam_span *next)
{
    struct sn_stuck_memo memo = SN_STUCK_MEMO;
    const vscalars c = broadcast(s, &memo);
    adam_loop(&c, n, p, g, m, v, vmax, s, 1, next, s->maximize, s->l2, s->adamw, s->amsgrad,
            s->eps_plain);
}

void VEC_NAME(adam)(size_t n, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, float *restrict vmax,
        const lazyadam_scalars *s, const lazyadam_span *next)
{
    if (lazyadam_plain_config(s))
        adam_plain(n, p, g, m, v, s, next);
    else
        adam_any(n, p, g, m, v, vmax, s, next);
}

/* A row named more than once sums its value rows, in input order, a chunk of SUM_VECS
 * vectors at a time: each value row is read once a chunk (64 floats, 4 lines), where a
 * vector at a time read each SUM_VECS times, a page walk each time for a value row at a
 * random place. Each element's sum is the same additions in the same order either way.
 * The value row SUM_AHEAD on is asked for as each is added, in groups long enough to have
 * one (a hot row of a Zipf-distributed step: thousands). The chunk functions take the
 * vector count nv (always SUM_VECS today) and derive the lines to ask for from it. */
#define SUM_CHUNK 64
#define SUM_AHEAD 8
enum { SUM_VECS = SUM_CHUNK / VEC_LANES };

INLINE void sum_chunk(VEC *restrict acc, const float *restrict values,
        const size_t *restrict src, size_t nsrc, size_t dim, size_t j, size_t nv)
{
    const float *x = values + src[0] * dim + j;
    for (size_t u = 0; u < nv; u++)
        acc[u] = VEC_LOAD(x + u * VEC_LANES);
    size_t lines = (nv * VEC_LANES * sizeof(float) + 63) / 64;
    for (size_t k = 1; k < nsrc; k++) {
        if (k + SUM_AHEAD < nsrc)
            lazyadam_prefetch_lines(values + src[k + SUM_AHEAD] * dim + j, lines);
        x = values + src[k] * dim + j;
        for (size_t u = 0; u < nv; u++)
            acc[u] = VEC_ADD(acc[u], VEC_LOAD(x + u * VEC_LANES));
    }
}

/* One vector of a row's gradient, for the vectors short of a chunk. */
INLINE VEC sum_rows(const float *restrict values, const size_t *restrict src, size_t nsrc,
        size_t dim, size_t j)
{
    VEC g = VEC_LOAD(values + src[0] * dim + j);
    for (size_t k = 1; k < nsrc; k++)
        g = VEC_ADD(g, VEC_LOAD(values + src[k] * dim + j));
    return g;
}

/* nv (at most SUM_VECS) vectors of a row from offset j, their gradient summed first. */
INLINE void rows_chunk(const vscalars *c, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, size_t dim, size_t j, size_t nv,
        int maximize, int l2, int adamw, int ams, int plain)
{
    VEC acc[SUM_VECS];
    sum_chunk(acc, values, src, nsrc, dim, j, nv);
    for (size_t u = 0; u < nv; u++) {
        size_t i = j + u * VEC_LANES;
        lanes a = load_lanes(p, m, v, vmax, i, ams);
        update(&a.p, acc[u], &a.m, &a.v, &a.x, c, maximize, l2, adamw, ams, plain);
        store_lanes(&a, p, m, v, vmax, i, ams);
    }
}

/* A row named more than once, from offset j on: its gradient summed one vector at a time,
 * the tail an element at a time. */
INLINE void rows_summed_tail(const vscalars *c, size_t dim, size_t j, float *restrict p,
        float *restrict m, float *restrict v, float *restrict vmax,
        const float *restrict values, const size_t *restrict src, size_t nsrc,
        const lazyadam_scalars *s, int maximize, int l2, int adamw, int ams, int plain)
{
    for (; j + VEC_LANES <= dim; j += VEC_LANES) {
        lanes a = load_lanes(p, m, v, vmax, j, ams);
        update(&a.p, sum_rows(values, src, nsrc, dim, j), &a.m, &a.v, &a.x, c,
                maximize, l2, adamw, ams, plain);
        store_lanes(&a, p, m, v, vmax, j, ams);
    }
    for (; j < dim; j++) {
        float g = values[src[0] * dim + j];
        for (size_t k = 1; k < nsrc; k++)
            g = g + values[src[k] * dim + j];
        lazyadam_element(p + j, g, m + j, v + j, ams ? vmax + j : NULL, s);
    }
}

/* The same for a row of at least one chunk: the chunks first. */
INLINE void rows_summed(const vscalars *c, size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s, int maximize,
        int l2, int adamw, int ams, int plain)
{
    size_t j = 0;
    for (; j + SUM_CHUNK <= dim; j += SUM_CHUNK)
        rows_chunk(c, p, m, v, vmax, values, src, nsrc, dim, j, SUM_VECS, maximize, l2,
                adamw, ams, plain);
    rows_summed_tail(c, dim, j, p, m, v, vmax, values, src, nsrc, s, maximize, l2, adamw,
            ams, plain);
}

/* Out of line, once for the plain configuration and once for any: inlined into each of
 * the row loops' variants (groups.h), the chunked sums made the code around the common
 * one-value-row case larger, and dim 16, which has no chunk, ran 2-6% slower for it. A row
 * shorter than a chunk keeps the inline loop: the call cost dim 16 about 4% on 1M x 16
 * with a million uniform indices. */
static __attribute__((noinline)) void rows_summed_plain(const vscalars *c, size_t dim,
        float *p, float *m, float *v, const float *values, const size_t *src, size_t nsrc,
        const lazyadam_scalars *s)
{
    rows_summed(c, dim, p, m, v, NULL, values, src, nsrc, s, 0, 0, 0, 0, 0);
}

static __attribute__((noinline)) void rows_summed_any(const vscalars *c, size_t dim,
        float *p, float *m, float *v, float *vmax, const float *values, const size_t *src,
        size_t nsrc, const lazyadam_scalars *s)
{
    rows_summed(c, dim, p, m, v, vmax, values, src, nsrc, s, s->maximize, s->l2, s->adamw,
            s->amsgrad, s->eps_plain);
}

/* The flags are the configuration's (constants in the plain callers below); with all of
 * them off the two out-of-line bodies compute the same thing. */
INLINE void rows_loop(const vscalars *c, size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s, int maximize,
        int l2, int adamw, int ams, int plain)
{
    if (nsrc == 1)   /* the common case: the row's value row is its gradient */
        adam_loop(c, dim, p, values + src[0] * dim, m, v, vmax, s, 0, NULL, maximize, l2,
                adamw, ams, plain);
    else if (dim < SUM_CHUNK)
        rows_summed_tail(c, dim, 0, p, m, v, vmax, values, src, nsrc, s, maximize, l2, adamw,
                ams, plain);
    else if (!maximize && !l2 && !adamw && !ams && !plain)
        rows_summed_plain(c, dim, p, m, v, values, src, nsrc, s);
    else
        rows_summed_any(c, dim, p, m, v, vmax, values, src, nsrc, s);
}

void VEC_NAME(rows)(size_t dim, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const float *restrict values,
        const size_t *restrict src, size_t nsrc, const lazyadam_scalars *s)
{
    struct sn_stuck_memo memo = SN_STUCK_MEMO;
    const vscalars c = broadcast(s, &memo);
    if (lazyadam_plain_config(s))
        rows_loop(&c, dim, p, m, v, NULL, values, src, nsrc, s, 0, 0, 0, 0, 0);
    else
        rows_loop(&c, dim, p, m, v, vmax, values, src, nsrc, s,
                s->maximize, s->l2, s->adamw, s->amsgrad, s->eps_plain);
}

/* The groups and sparse kernels: the shared row loops of groups.h run around rows_loop
 * and adam_loop, with the scalars broadcast once a call. */
typedef struct row_ctx {
    vscalars c;
    const lazyadam_scalars *s;
} row_ctx;

INLINE void row_plain(const void *ctx, size_t dim, float *p, float *m,
        float *v, float *vmax, const float *values, const size_t *src, size_t nsrc)
{
    const row_ctx *r = ctx;
    (void)vmax;
    rows_loop(&r->c, dim, p, m, v, NULL, values, src, nsrc, r->s, 0, 0, 0, 0, 0);
}

INLINE void row_any(const void *ctx, size_t dim, float *p, float *m,
        float *v, float *vmax, const float *values, const size_t *src, size_t nsrc)
{
    const row_ctx *r = ctx;
    const lazyadam_scalars *s = r->s;
    rows_loop(&r->c, dim, p, m, v, vmax, values, src, nsrc, s,
            s->maximize, s->l2, s->adamw, s->amsgrad, s->eps_plain);
}

void VEC_NAME(groups)(const lazyadam_groups *g, size_t lo, size_t hi, size_t dim,
        float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s)
{
    struct sn_stuck_memo memo = SN_STUCK_MEMO;
    const row_ctx r = { broadcast(s, &memo), s };
    if (lazyadam_plain_config(s))
        lazyadam_groups_run(g, lo, hi, dim, p, m, v, NULL, values, row_plain, &r);
    else
        lazyadam_groups_run(g, lo, hi, dim, p, m, v, vmax, values, row_any, &r);
}

/* Rows no index names get a zero gradient: adam_loop over a block of zeros, a block at a
 * time, does to them bitwise what the replay kernel does with nsteps = 1. */
#define GAP_BLOCK 1024
static const float gap_zeros[GAP_BLOCK] __attribute__((aligned(64)));

INLINE void gap_plain(const void *ctx, size_t n, float *p, float *m, float *v,
        float *vmax)
{
    const row_ctx *r = ctx;
    (void)vmax;
    for (size_t o = 0; o < n; o += GAP_BLOCK) {
        size_t k = n - o < GAP_BLOCK ? n - o : GAP_BLOCK;
        adam_loop(&r->c, k, p + o, gap_zeros, m + o, v + o, NULL, r->s, 0, NULL, 0, 0, 0, 0, 0);
    }
}

INLINE void gap_any(const void *ctx, size_t n, float *p, float *m, float *v,
        float *vmax)
{
    const row_ctx *r = ctx;
    const lazyadam_scalars *s = r->s;
    for (size_t o = 0; o < n; o += GAP_BLOCK) {
        size_t k = n - o < GAP_BLOCK ? n - o : GAP_BLOCK;
        adam_loop(&r->c, k, p + o, gap_zeros, m + o, v + o, vmax ? vmax + o : NULL, s, 0, NULL,
                s->maximize, s->l2, s->adamw, s->amsgrad, s->eps_plain);
    }
}

void VEC_NAME(sparse)(const lazyadam_groups *g, size_t i, size_t r0, size_t r1,
        size_t dim, float *p, float *m, float *v, float *vmax, const float *values,
        const lazyadam_scalars *s)
{
    struct sn_stuck_memo memo = SN_STUCK_MEMO;
    const row_ctx r = { broadcast(s, &memo), s };
    if (lazyadam_plain_config(s))
        lazyadam_sparse_run(g, i, r0, r1, dim, p, m, v, NULL, values, row_plain, gap_plain, &r);
    else
        lazyadam_sparse_run(g, i, r0, r1, dim, p, m, v, vmax, values, row_any, gap_any, &r);
}

/* Steps k.. of a replay on one vector whose m has a cold lane: a zero-gradient m only
 * decays from there, so the rest of the replay runs here, one call (update_any takes any
 * vector, cold or not, as the contract says). */
static __attribute__((noinline, cold)) lanes subnormal_replay(lanes a,
        const lazyadam_scalars *steps, size_t k, size_t nsteps)
{
    uint64_t done = 0;
    for (; k < nsteps; k++) {
        const vscalars c = broadcast(&steps[k], NULL);
        a = update_any(a, VEC_ZERO(), &c, &done);
    }
    lazyadam_subnormal_vectors += done;
    return a;
}

/* Zero-gradient steps: the lanes stay in registers across all nsteps; each step's
 * scalars are broadcast from steps[k]. */
void VEC_NAME(replay)(size_t n, float *restrict p, float *restrict m,
        float *restrict v, float *restrict vmax, const lazyadam_scalars *steps,
        size_t nsteps)
{
    const lazyadam_scalars *s = steps;
    const int ams = s->amsgrad;
    size_t i = 0;
    for (; i + VEC_LANES <= n; i += VEC_LANES) {
        lanes a = load_lanes(p, m, v, vmax, i, ams);
        for (size_t k = 0; k < nsteps; k++) {
            if (__builtin_expect(VEC_TINY(a.m, (int)steps[k].cold_below) != 0, 0)) {
                a = subnormal_replay(a, steps, k, nsteps);
                break;
            }
            const vscalars c = broadcast(&steps[k], NULL);
            update(&a.p, VEC_ZERO(), &a.m, &a.v, &a.x, &c, s->maximize, s->l2,
                    s->adamw, ams, s->eps_plain);
        }
        store_lanes(&a, p, m, v, vmax, i, ams);
    }
    for (; i < n; i++)
        for (size_t k = 0; k < nsteps; k++)
            lazyadam_element(p + i, 0.0f, m + i, v + i, ams ? vmax + i : NULL, &steps[k]);
}
