/* The contract on a vector whose m has subnormal lanes, or normal ones below the call's
 * cold line (lazyadam_scalars), and whose gradient is zero, without a floating-point
 * instruction ever taking or producing a subnormal float.
 *
 * Why: on Intel cores a float instruction with a subnormal operand or result takes a
 * microcode assist. A row that no gradient names decays its m by beta1 each step
 * (adam_step with zero gradients, adam_sparse_step, exact LazyAdam's replay); after some
 * 740 such steps m is subnormal, and there it stays: beta1 * k*2^-149 rounds back to
 * k*2^-149 for k <= 4, so m never reaches zero. Every later step over that row then paid
 * the assists on each of its vectors, 24-26 times the cost of a normal one (README
 * "Subnormal moments"), and so did the some 65 steps before it, where m is normal but
 * alpha * beta1 * m is not (17 times). The contract forbids flushing them to zero.
 *
 * How: with a zero gradient, omb1 * g is a zero and adding it is exact, so m's new value
 * is beta1 * m rounded once, and alpha * m one more rounding: both are done in double on
 * the value widened through its bits (a product of two floats is exact in double) and
 * rounded to float there (sn_rf). v, the denominator and vmax stay float operations
 * where their lanes are far from subnormal; where a lane of v or vmax is not (v decays
 * by beta2, and some 70,000 steps on it is subnormal too, stuck for good at up to 500
 * units of 2^-149), v' = beta2 * v is rounded in double likewise, vmax is compared
 * through its bits and the square root taken in double (sn_tiny_v_of). Where alpha * m
 * rounds to zero in every lane (a stuck row: alpha * k < 1/2) the step is a zero over
 * the denominator and p is left as it is, float operations on zeros; otherwise the
 * quotient and p's new value are done in double too (a quotient rounded to 53 bits and then to float gives the float
 * the direct rounding gives: 53 >= 2*24 + 2, and for results below 2^-125 the exact
 * quotient lies at least 2^-49 of itself from a rounding boundary, farther than 2^-53;
 * a difference rounded twice likewise, 53 >= 2*24 + 1). So each lane ends bitwise as
 * lazyadam_element leaves it. Floats below 2^-125 are multiples of 2^-149 (subnormals
 * and the first normal binade alike), so rounding to float there is rounding d * 2^149
 * to an integer, ties to even, in double.
 *
 * Anything else (a nonzero or non-finite gradient, L2 decay, a non-finite m, v or vmax,
 * a tiny v or vmax beside a v or vmax lane with its sign bit set, a subnormal or
 * non-finite p, a beta1, beta2 or lr of -0) is declined, and the float operations run,
 * assists and all: rows that are rare, or pass through in a few steps.
 *
 * Most vectors that come here are stuck for good (below, "Stuck moments"): m stays as it
 * is, the numerator is a zero, and update() has a form for them that needs none of the
 * doubles, tried first (vec_kernel.h's update_any).
 *
 * Included by vec_kernel.h (once per ISA, hence no include guard), after the vscalars
 * and lanes types. */

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Half a VEC of floats at a time, so that its doubles fill one register of the ISA (a
 * vector type wider than any register is lowered through memory, at ten times the cost). */
enum { SN_LANES = VEC_LANES / 2 };
typedef float sn_f __attribute__((vector_size(SN_LANES * 4)));
typedef int32_t sn_i __attribute__((vector_size(SN_LANES * 4)));
typedef double sn_d __attribute__((vector_size(SN_LANES * 8)));
typedef int64_t sn_l __attribute__((vector_size(SN_LANES * 8)));

#define SN_SIGN INT64_MIN   /* the sign bit of a double */

/* mask ? a : b, mask all ones or all zeros a lane. */
static inline sn_d sn_select(sn_l mask, sn_d a, sn_d b)
{
    return (sn_d)(((sn_l)a & mask) | ((sn_l)b & ~mask));
}

/* Conversions of half a VEC. GCC 12 builds __builtin_convertvector's widening ones a
 * quarter register at a time and int64 -> double a lane at a time; the ISA files give
 * the one-instruction forms (SIMDe's build keeps these, which are only slow). */
#ifndef SN_F2D
#define SN_F2D(x) __builtin_convertvector((x), sn_d)   /* float -> double */
#define SN_I2D(x) __builtin_convertvector((x), sn_d)   /* int32 -> double */
#define SN_I2L(x) __builtin_convertvector((x), sn_l)   /* int32 -> int64, sign-extended */
#endif

/* The doubles equal to the floats x, subnormals included: those through their bits. */
static inline sn_d sn_widen(sn_f x)
{
    sn_i b = (sn_i)x;
    sn_i tiny = (b & 0x7f800000) == 0;   /* zero or subnormal */
    sn_d d = SN_F2D((sn_f)(b & ~tiny));
    sn_d t = SN_I2D(b & 0x007fffff) * 0x1p-149;
    t = (sn_d)((sn_l)t | (SN_I2L(b) & SN_SIGN));
    return sn_select(SN_I2L(tiny), t, d);
}

/* The floats equal to the doubles d, each of which holds a float. A tiny lane converts
 * as a zero of its sign, and its magnitude in units of 2^-149 (an integer below 2^23,
 * zero in the other lanes) is or-ed in. */
static inline sn_f sn_narrow(sn_d d)
{
    sn_l bits = (sn_l)d;
    sn_d a = (sn_d)(bits & ~SN_SIGN);
    sn_l tiny = a < 0x1p-126;
    sn_i n = (sn_i)__builtin_convertvector((sn_d)(bits & ~(tiny & ~SN_SIGN)), sn_f);
    sn_i k = __builtin_convertvector((sn_d)((sn_l)a & tiny) * 0x1p149, sn_i);
    return (sn_f)(n | k);
}

/* d rounded to float (ties to even), as a double: through a float and back, which a
 * subnormal result makes slow, so only where one is rare. */
static inline sn_d sn_rf_normal(sn_d d)
{
    return SN_F2D(__builtin_convertvector(d, sn_f));
}

/* d rounded to an integer, ties to even, for 0 <= d < 2^52: adding 2^52 leaves no bits
 * below the units, and subtracting it again is exact. */
static inline sn_d sn_rint(sn_d d)
{
    return (d + 0x1p52) - 0x1p52;
}

/* The same without that cost. Below 2^-126, to a multiple of 2^-149: there a * 2^149 <
 * 2^23, so adding 2^52 rounds it to an integer, ties to even, and subtracting 2^52 is
 * exact (0 in the other lanes). The rest through float, the tiny lanes as zeros of
 * their sign, to which the magnitudes are or-ed. */
static inline sn_d sn_rf(sn_d d)
{
    sn_l bits = (sn_l)d;
    sn_d a = (sn_d)(bits & ~SN_SIGN);
    sn_l tiny = a < 0x1p-126;
    sn_d at = (sn_d)((sn_l)a & tiny);
    sn_d r = sn_rint(at * 0x1p149) * 0x1p-149;
    sn_d n = sn_rf_normal((sn_d)(bits & ~(tiny & ~SN_SIGN)));
    return (sn_d)((sn_l)n | (sn_l)r);
}

/* The sign bit of the float f is set: 1, else 0. */
static inline int sn_signed(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return (int)(b >> 31);
}

/* The double equal to the float f, subnormal or not. */
static inline double sn_scalar(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    if (b & 0x7f800000)
        return (double)f;
    double t = (double)(b & 0x007fffff) * 0x1p-149;
    return (b >> 31) ? -t : t;
}

/* Any bit of x set: 1, else 0. The ISA files give a test instruction; the loop stores
 * the vector and reads it back a lane at a time. */
#ifndef SN_ANY
static inline int sn_any_of(sn_i x)
{
    int any = 0;
    for (int k = 0; k < SN_LANES; k++)
        any |= x[k];
    return any != 0;
}
#define SN_ANY(x) sn_any_of(x)
#endif

/* Each lane of x is +0 or -0: 1, else 0. */
static inline int sn_zeros(sn_f x)
{
    return !SN_ANY((sn_i)x & 0x7fffffff);
}

/* 2^-100: lanes of v, vmax or p at least this large, or zeros, take no assist in the
 * float operations of a step with a zero gradient. */
#define SN_TINY_BELOW 0x0d800000

/* Each lane of x is finite and, unless zero, at least 2^-100 in magnitude: 1, else 0. */
static inline int sn_normal(sn_f x)
{
    sn_i a = (sn_i)x & 0x7fffffff;
    return !SN_ANY((a != 0) & ((a < SN_TINY_BELOW) | (a >= 0x7f800000)));
}

/* Each lane of x is finite: 1, else 0. */
static inline int sn_finite(sn_f x)
{
    return !SN_ANY(((sn_i)x & 0x7f800000) == 0x7f800000);
}

/* Halves of a VEC. The ISA files give register moves; SIMDe's build goes through memory. */
#ifndef SN_LO
static inline sn_f sn_half_of(VEC x, int h)
{
    float a[VEC_LANES];
    sn_f r;
    VEC_STORE(a, x);
    memcpy(&r, a + h * SN_LANES, sizeof r);
    return r;
}
static inline VEC sn_join_of(sn_f lo, sn_f hi)
{
    float a[VEC_LANES];
    memcpy(a, &lo, sizeof lo);
    memcpy(a + SN_LANES, &hi, sizeof hi);
    return VEC_LOAD(a);
}
#define SN_LO(x) sn_half_of((x), 0)
#define SN_HI(x) sn_half_of((x), 1)
#define SN_JOIN(lo, hi) sn_join_of((lo), (hi))
#endif

/* Each lane of x has its sign bit clear: 1, else 0. */
static inline int sn_unsigned(sn_f x)
{
    return !SN_ANY((sn_i)x & INT32_MIN);
}

/* Square roots of half a VEC of doubles. The ISA files give the instruction. */
#ifndef SN_SQRT
static inline sn_d sn_sqrt_of(sn_d x)
{
    for (int k = 0; k < SN_LANES; k++)
        x[k] = __builtin_sqrt(x[k]);
    return x;
}
#define SN_SQRT(x) sn_sqrt_of(x)
#endif

/* v's new value, vmax's under AMSGrad and the square root of the one the denominator
 * takes, for half a VEC whose v or vmax has a tiny lane (the gradient zero, every v and
 * vmax lane finite and without a sign bit). v' = beta2 * v + omb2 * (g * g) is beta2 * v
 * rounded once (omb2 * (g * g) is +0, and beta2 * v is not -0): a product exact in
 * double, rounded to float by sn_rf. vmax' = (v' > vmax) ? v' : vmax compares the bits,
 * which order non-negative floats as their values. The root: the double square root of
 * the float, rounded to float (53 >= 2*24 + 2, so the same float as the direct rounding),
 * a normal float or zero, since 2^-149's root is 2^-74.5. */
typedef struct sn_tiny_v {
    sn_f v, x, root;
} sn_tiny_v;

static inline sn_tiny_v sn_tiny_v_of(sn_f v, sn_f x, const lazyadam_scalars *s)
{
    sn_tiny_v t;
    const double b2 = sn_scalar(s->beta2);
    sn_i vb = (sn_i)v;
    sn_d vd;
    if (!SN_ANY(vb & 0x7f800000)) {   /* all zero or subnormal: k' = beta2 * k rounded */
        vd = sn_rint(SN_I2D(vb) * b2);
        t.v = (sn_f)__builtin_convertvector(vd, sn_i);
        vd *= 0x1p-149;
    } else {
        vd = sn_rf(b2 * sn_widen(v));
        t.v = sn_narrow(vd);
    }
    t.x = x;
    if (s->amsgrad) {
        sn_i a = (sn_i)t.v, b = (sn_i)x, gt = a > b;
        t.x = (sn_f)((a & gt) | (b & ~gt));
        vd = sn_widen(t.x);
    }
    t.root = __builtin_convertvector(SN_SQRT(vd), sn_f);
    return t;
}

/* Stuck moments. With a zero gradient, an m lane of magnitude k * 2^-149 is stuck when
 * beta1 * m rounds back to m (rint(beta1 * k) = k) and alpha * m to a zero (rint(alpha *
 * k) = 0): m' is m, the step's numerator a zero of m's sign, and the rest (v, vmax, the
 * denominator, p) float operations far from subnormal, which update() does directly (its
 * stuck form). Where beta1 = 0.9 that is k <= 4, where every row left alone ends up, for
 * good. Some 70,000 steps later its v is subnormal too and stuck the same way (rint(beta2
 * * k) = k: k <= 500 where beta2 = 0.999): v' is v, and of its square root only whether
 * it is zero counts, the numerator being a zero (update()'s second stuck form).
 *
 * The largest such K below 2^23 for beta and alpha (0 for v's: no numerator): both
 * conditions hold on a run of k from 1 (k * (1 - beta) and alpha * k grow with k; at a
 * tie rint goes to the even side, which keeps k only for an even k, after which the next
 * fails too), so K ends it. 0 where there is none: beta below 1/2, or with a sign bit
 * (-0 would flip a zero's sign), and likewise alpha. Scalar work, once a kernel call
 * (sn_stuck_get). */
enum { SN_STUCK_MAX = 0x7fffff };

typedef struct sn_stuck {
    uint32_t m, v;   /* m's K (0: no stuck form), v's K (0: no form for a cold v) */
    int cold;        /* vec_kernel.h's cold forms at all: no L2 decay, beta1 unsigned */
    double b1, b2;   /* beta1, beta2 */
} sn_stuck;

static inline int sn_stuck_k(double k, double beta, double alpha)
{
    return nearbyint(k * beta) == k && k * alpha <= 0.5;   /* both products exact */
}

static inline uint32_t sn_stuck_run(double beta, double alpha)
{
    if (!(beta >= 0.5 && beta < 1.0) || !(alpha >= 0.0 && alpha <= 0.5) || signbit(alpha))
        return 0;
    double kb = 0.5 / (1.0 - beta), ka = alpha > 0.0 ? 0.5 / alpha : (double)SN_STUCK_MAX;
    double k = kb < ka ? kb : ka;
    k = k < (double)SN_STUCK_MAX ? floor(k) : (double)SN_STUCK_MAX;
    while (k > 0.0 && !sn_stuck_k(k, beta, alpha))
        k -= 1.0;
    while (k < (double)SN_STUCK_MAX && sn_stuck_k(k + 1.0, beta, alpha))
        k += 1.0;
    return (uint32_t)k;
}

/* Both limits for the scalars s; none under L2 decay (the gradient is not zero there),
 * nor where beta1 is -0 (beta1 * m flips a zero's sign). */
static inline sn_stuck sn_stuck_of(const lazyadam_scalars *s)
{
    sn_stuck k = { 0, 0, 0, sn_scalar(s->beta1), sn_scalar(s->beta2) };
    if (s->l2 || sn_signed(s->beta1))
        return k;
    k.cold = 1;
    k.m = sn_stuck_run(k.b1, sn_scalar(s->alpha));
    k.v = k.m ? sn_stuck_run(k.b2, 0.0) : 0;
    return k;
}

/* A kernel call's limits, found where a vector first needs them: the runs of vectors on
 * the cold path are short where stuck rows sit among live ones (a row of 64 floats is 8
 * or 4 vectors), and finding them costs about as much as a run. */
struct sn_stuck_memo {
    int known;
    sn_stuck k;
};
#define SN_STUCK_MEMO { 0, { 0, 0, 0, 0.0, 0.0 } }

static inline sn_stuck sn_stuck_get(struct sn_stuck_memo *memo, const lazyadam_scalars *s)
{
    if (!memo)
        return sn_stuck_of(s);
    if (!memo->known) {
        memo->k = sn_stuck_of(s);
        memo->known = 1;
    }
    return memo->k;
}

typedef struct sn_result {
    lanes out;
    int done;   /* 0: declined, nothing to use */
} sn_result;

/* The contract on one vector (p, g, m, v and, under AMSGrad, vmax in x) as the file's
 * head comment says, or declined. */
INLINE sn_result subnormal_vec(VEC p, VEC g, VEC m, VEC v, VEC x, const vscalars *c)
{
    const lazyadam_scalars *s = c->s;
    sn_result r = { { p, m, v, x }, 0 };
    sn_f gh[2] = { SN_LO(g), SN_HI(g) }, mh[2] = { SN_LO(m), SN_HI(m) };
    sn_f vh[2] = { SN_LO(v), SN_HI(v) }, ph[2] = { SN_LO(p), SN_HI(p) };
    sn_f xh[2] = { SN_LO(x), SN_HI(x) };
    /* beta1, beta2 and lr may be -0 (the checks ask for >= 0), and a zero's sign then
     * flips where the integer forms below take it from m or v: the float operations. */
    if (s->l2 || sn_signed(s->beta1) || sn_signed(s->beta2) || sn_signed(s->alpha))
        return r;
    int tiny = 0;   /* v or vmax has a lane below 2^-100, zeros aside */
    for (int h = 0; h < 2; h++) {
        if (!sn_zeros(gh[h]) || !sn_finite(mh[h]) || !sn_finite(vh[h]) || !sn_normal(ph[h])
                || (s->amsgrad && !sn_finite(xh[h])))
            return r;
        tiny |= !sn_normal(vh[h]) || (s->amsgrad && !sn_normal(xh[h]));
    }
    /* Tiny v or vmax lanes go through sn_tiny_v, which needs them without a sign bit
     * (as the contract keeps them from zeros on). */
    if (tiny && !(sn_unsigned(vh[0]) && sn_unsigned(vh[1])
            && (!s->amsgrad || (sn_unsigned(xh[0]) && sn_unsigned(xh[1])))))
        return r;
    /* The float side, as update() does it: no operand or result here is subnormal, eps
     * aside (a subnormal eps only costs assists). */
    if (s->maximize)
        g = VEC_XOR(g, c->sign);
    VEC pi = s->adamw ? VEC_MUL(p, c->decay) : p;
    VEC vi, root;
    if (!tiny) {
        vi = VEC_ADD(VEC_MUL(c->b2, v), VEC_MUL(c->omb2, VEC_MUL(g, g)));
        VEC si = vi;
        if (s->amsgrad) {
            x = VEC_MAX(vi, x);
            si = x;
        }
        root = VEC_SQRT(si);
    } else {
        sn_tiny_v t0 = sn_tiny_v_of(vh[0], xh[0], s), t1 = sn_tiny_v_of(vh[1], xh[1], s);
        vi = SN_JOIN(t0.v, t1.v);
        if (s->amsgrad)
            x = SN_JOIN(t0.x, t1.x);
        root = SN_JOIN(t0.root, t1.root);
    }
    VEC denom = s->eps_plain ? VEC_ADD(VEC_DIV(root, c->rbc2), c->eps) : VEC_ADD(root, c->eps);
    /* m and alpha * m in double */
    const double b1 = sn_scalar(s->beta1), omb1 = sn_scalar(s->omb1);
    const double alpha = sn_scalar(s->alpha);
    /* Where every m of a half is zero or subnormal (k * 2^-149), beta1 * m rounds to
     * k' * 2^-149 with k' = beta1 * k rounded to an integer, and alpha * m' to j * 2^-149,
     * j = alpha * k' rounded (beta1 < 1 and alpha < 2 keep both below 2^24, and each
     * product of integers below 2^24 by a float is exact in double): integer work on the
     * bits, which a stuck row, j = 0 in every lane, needs no more of. A zero m' is -0
     * only where beta1 * m and omb1 * g both are (beta1, omb1 >= 0). */
    const int quick = b1 >= 0.0 && b1 < 1.0 && alpha >= 0.0 && alpha < 2.0;
    sn_d num[2];
    sn_f numf[2], mo[2];
    int nonzero = 0;
    for (int h = 0; h < 2; h++) {
        sn_f gs = h ? SN_HI(g) : SN_LO(g);
        sn_i mb = (sn_i)mh[h];
        if (quick && !SN_ANY(mb & 0x7f800000)) {
            sn_d kd = sn_rint(SN_I2D(mb & 0x007fffff) * b1);
            sn_d jd = sn_rint(kd * alpha);
            if (!SN_ANY(__builtin_convertvector(jd, sn_i))) {
                sn_i k = __builtin_convertvector(kd, sn_i);
                sn_i sm = mb & INT32_MIN, zero = k == 0;
                mo[h] = (sn_f)(((k | sm) & ~zero) | (sm & (sn_i)gs & INT32_MIN & zero));
                numf[h] = (sn_f)((sn_i)mo[h] & INT32_MIN);
                num[h] = SN_F2D(numf[h]);
                continue;
            }
        }
        sn_d mi = sn_rf(b1 * sn_widen(mh[h])) + omb1 * SN_F2D(gs);
        num[h] = sn_rf(alpha * mi);
        numf[h] = sn_narrow(num[h]);
        mo[h] = sn_narrow(mi);
        nonzero |= !sn_zeros(numf[h]);
    }
    if (!nonzero) {   /* a zero over the denominator: float operations on zeros */
        VEC q = VEC_DIV(SN_JOIN(numf[0], numf[1]), denom);
        pi = VEC_SUB(pi, q);
    } else {          /* the quotient and the difference in double */
        sn_f dh[2] = { SN_LO(denom), SN_HI(denom) }, pih[2] = { SN_LO(pi), SN_HI(pi) };
        sn_f po[2];
        for (int h = 0; h < 2; h++) {
            sn_d q = sn_rf(num[h] / sn_widen(dh[h]));
            po[h] = sn_narrow(sn_rf(sn_widen(pih[h]) - q));
        }
        pi = SN_JOIN(po[0], po[1]);
    }
    r.out.p = pi;
    r.out.m = SN_JOIN(mo[0], mo[1]);
    r.out.v = vi;
    r.out.x = x;
    r.done = 1;
    return r;
}
