/* Fork-lag balancing: how the dense split is tilted toward the threads that start first.
 *
 * The threads of an OpenMP team do not start together. In libgomp the thread that reaches
 * the pool's dock last (usually the caller, thread 0) releases the others and then makes a
 * futex_wake system call (about 400 TSC ticks here) while the released workers are already
 * computing; the join is not symmetric either. On this project's machine an even split of
 * 2^15 elements over two threads leaves thread 0 finishing last in almost every call, and a
 * 2^15 update only takes about 6,000 ticks. How much work thread 0 should give up depends on
 * the runtime, the OS, the machine and the moment, so it is learned, not assumed.
 *
 * Each calling thread keeps, per size class (floor(log2 n)) and team size, a shift: the
 * 16-float chunks thread 0 gives up to the others (negative: takes from them). Calls of a
 * class probe in pairs, one PROBE steps above the shift and one below, and the caller times
 * each parallel region with the time-stamp counter. After PAIRS pairs the shift moves one
 * step toward the side that was faster in at least WIN of them; otherwise it moves one step
 * back toward the even split. That is a sign test on the real objective (the region's
 * duration, fork and join included), so it needs no model of the runtime, no data from the
 * workers, and one preempted call moves it no more than any other. The step back matters
 * where the split's effect is small against the noise: there the sign test is a coin toss
 * (6 of 8 either way about 15% of the time), and without it the shift did a random walk,
 * away from a split that was as good or better. On the second machine below, at 2^15
 * elements with the AVX2 kernel, the learner reached 0.94-0.99 of the even split's speed
 * that way, in ten alternating runs, and 0.99-1.04 with the step back.
 *
 * Team or solo. Whether a team is worth forking at all depends on the same things. The
 * fork and join of a two-thread region cost about 1,000-1,500 TSC ticks on the machine of
 * the paragraph above, and about 4,500 on a later one (each of libgomp's two barriers
 * ends in a futex_wake system call, dear there): 2^15 elements took 6,300 ticks on two
 * threads against 9,800 alone on the first, but 10,500 against 8,700 alone on the
 * second. So a class below 2^MODE_BUCKETS elements also learns whether its calls run on
 * the team or on the caller alone. After every 2^wait calls it tries the other mode for
 * SETTLE + KEEP calls. The first SETTLE calls of a mode move the state between the cores'
 * caches (a solo call right after team calls took twice as long as one after solo
 * calls), so only the KEEP calls after them count: the class switches when their median
 * beats the median of its own last KEEP settled calls by more than 1/32. A trial that
 * fails doubles the wait, up to 2^WAIT_MAX calls, so a class that has found its mode
 * spends about 0.2% of its calls trying the other one; a switch resets the wait to
 * 2^WAIT_MIN, so the choice follows the machine's state.
 *
 * Where the static rule keeps a call on the caller (under 2 x 16,384 elements, drawn from
 * the first machine's measurements: lib/parallel.c), a class from 2^DENSE_TEAM_MIN elements
 * learns the same way, starting alone, with a team of two. On machine D, where a fork and
 * join costs about 1,850 ticks, adam_step on two threads took 4.0 us against 5.9 alone at
 * 2^14 elements and 2.6 against 3.0 at 2^13, but 1.9 against 1.6 at 2^12 (medians of 30
 * alternating rounds, results/PERFORMANCE_LOG.md). With LAZYADAM_BALANCE=off such calls
 * stay on the caller.
 *
 * Sparse calls. lazy_step and exact_lazy_step learn team or solo the same way, per class
 * of named elements (nnz x dim, 2^SPARSE_MIN up to 2^MODE_BUCKETS) and of table size: a
 * named row costs what the table's place in the memory hierarchy makes it, so the static
 * rule (lib/parallel.c, made for streaming) is wrong both ways. On the project's machine,
 * 2 threads against 1 (each step on one of 2,000 sets of indices, medians of 30
 * alternating rounds): a 1M x 64 table, DRAM-resident, took 0.71-0.78 of the caller's
 * time at 150 indices, where the static rule kept the caller alone, while a 10,000 x 64
 * table, in cache, took 1.13 of it at 600 indices, where the rule forked. A class starts
 * with the static rule's choice, so calls the learner has not timed yet run as they did
 * before it; its team is the rule's, or two threads where the rule says one.
 * adam_sparse_step, which updates the whole table, learns in classes of its own (named =
 * table): the rule forked a 600 x 64 table, where two threads took 1.31 of the caller's
 * time. Classes sit in SPARSE_SLOTS direct-mapped slots a thread; a class that takes
 * another's slot starts afresh.
 *
 * A sparse class settles longer after a change of mode: up to SPARSE_SETTLE calls, or
 * until the untimed calls have taken SETTLE_TICKS (about a millisecond), whichever comes
 * first, and at least SETTLE calls. Two things last that long. A call names few of the
 * table's rows, so a table in cache moves between the cores' caches over many calls, not
 * two; and libgomp's idle worker spins for a while after the team's last call, and a
 * solo call ran slower beside it. On 10,000 x 64 with 600 indices, forced modes
 * alternating in blocks of 64 calls, a solo call took 67,000 ticks first, 46,000 at the
 * sixth, 36,000 at the 25th and 28,000-31,500 from the 41st on, against a team's
 * 36,000-44,000 from its ninth: trials that timed calls 3 to 8 (40,000-44,000) kept the
 * team, where the caller alone, settled, took 0.7 of its time (24,500 ticks against
 * 34,500 in a learner that settled 34 calls).
 *
 * Learning windows. Timing a call and keeping the books cost more than they save when
 * calls are short: at 2^15 elements on two threads (about 20,000 ticks a call on machine
 * D) the time-stamp reads, the bookkeeping and the probes' moving split cost 400-650
 * ticks a call, on state the update pushed out of L1, while the best fixed shift there was
 * within 1% of the even split. So a dense class learns (probes, timing, mode trials) in
 * one window of WINDOW calls, one decision's probe pairs, in every DUTY windows, and runs
 * its other calls at its learned shift and mode, untimed; a trial of the other mode runs
 * to its end whatever the window. In lazyadam-bench's 2^15 pair against the plain loop
 * (avx2, two threads, medians of 8-16 processes a batch) the learner in every call read
 * 0.994-1.000 in six batches, LAZYADAM_BALANCE=off 1.002-1.008 in six, and learning in
 * one window in 8 1.007-1.009 in three (one in 32: 1.005). Learning takes DUTY times as
 * many calls; a sparse class still times every call, its calls being long.
 *
 * Splits and modes change timing only: every split gives bitwise the same results (the
 * numerical contract), which the suites check at every thread count and at forced extreme
 * shifts. Both learners are checked against a simulated clock
 * (lazyadam_testing_balance_clock).
 * Balancing runs where the CPU has an invariant TSC and the team has 2..BAL_MAX_T threads;
 * LAZYADAM_BALANCE=off turns it off. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testing.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BAL_HAVE_TSC 1
static inline uint32_t tsc(void)
{
    return (uint32_t)__rdtsc();
}
#else
#define BAL_HAVE_TSC 0
static inline uint32_t tsc(void)
{
    return 0;
}
#endif

/* Test hook: a simulated clock, told the timed call's thread count and shift. */
static lazyadam_testing_clock_fn *_Atomic test_clock;

void lazyadam_testing_balance_clock(lazyadam_testing_clock_fn *clock)
{
    test_clock = clock;
}

static inline uint32_t ticks(int threads, int32_t shift, int end)
{
    lazyadam_testing_clock_fn *c = test_clock;
    return c ? c(threads, shift, end) : tsc();
}

#define BAL_MAX_T 8
#define BAL_BUCKETS 41   /* floor(log2 n) for n < 2^40; larger n share the last */
#define PAIRS 8          /* probe pairs per decision */
#define WIN 6            /* wins out of PAIRS that move the shift */
#define UNDECIDED 2      /* pair_record: PAIRS pairs, neither side won WIN */
#define PROBE 2          /* probes sit this many steps either side of the shift */
#define MODE_BUCKETS 18  /* classes below 2^18 elements learn team or solo */
#define DENSE_TEAM_MIN 13 /* ... and from 2^13 where the static rule says solo */
#define SETTLE 2         /* calls after a change of mode whose times are not used */
#define SPARSE_SETTLE 32 /* ... for a sparse class at most (the file's comment) */
#define SETTLE_TICKS (1u << 21)   /* ... or until they have taken this long */
#define KEEP 6           /* settled calls compared on each side of a trial */
#define WAIT_MIN 6       /* log2 of the calls between trials, after a switch */
#define WAIT_MAX 12      /* ... and at most */
#define SPARSE_MIN 12    /* sparse calls of 2^12 to 2^18 named elements learn team or solo */
#define SPARSE_SLOTS 32  /* sparse classes a thread keeps (direct-mapped) */
#define WINDOW (2 * PAIRS) /* a dense class learns in windows of this many calls ... */
#define DUTY 8           /* ... one window in DUTY (the file's comment) */

typedef struct bal_pair {
    uint32_t first;    /* duration of the pair's first call */
    uint8_t phase;     /* 0: the next call is its pair's first, 1: its second */
    uint8_t pairs, wins;
} bal_pair;

typedef struct bal_mode {
    uint8_t solo;      /* the class's calls run on the caller alone */
    uint8_t trial;     /* calls so far of a trial of the other mode (0: none) */
    uint8_t wait;      /* log2 of the calls between trials */
    uint8_t settle;    /* SETTLE, or SPARSE_SETTLE for a sparse class */
    uint8_t untimed;   /* calls since the mode last changed, while they settle */
    uint8_t settled;   /* ... until they have: the calls since are timed */
    uint8_t kept;      /* settled calls in `recent` since the mode changed (at most KEEP) */
    uint8_t pos;       /* where the next one goes */
    uint16_t run;      /* calls since the last trial or switch */
    uint32_t spent;    /* ticks the untimed calls took */
    uint32_t recent[KEEP];   /* the mode's last settled call times, a ring */
    uint32_t tried[KEEP];    /* the trial's settled call times */
} bal_mode;

typedef struct bal_class {
    int32_t shift;     /* chunks thread 0 gives up */
    bal_pair probe;    /* shift + PROBE steps against shift - PROBE steps */
    uint8_t T;         /* the team size the class was learned for (0: fresh) */
    uint16_t beat;     /* the call's place in its cycle of WINDOW x duty calls */
    bal_mode mode;
} bal_class;

/* A sparse call's class: the kind of call, floor(log2) of its named elements and of its
 * table's elements, plus one (0: an empty slot). */
typedef struct sparse_class {
    uint32_t key;
    uint8_t T;         /* the team the class was learned for */
    bal_mode mode;
} sparse_class;

typedef struct bal_state {
    bal_class cls[BAL_BUCKETS];
    sparse_class sparse[SPARSE_SLOTS];
    bal_class *cur;    /* the dense class of the call in flight, NULL: none */
    bal_mode *mode;    /* the mode learner the call in flight reports to, NULL: none */
    int threads;       /* its thread count: 1 or the class's T */
    int trial;         /* it is a call of a trial */
    int32_t shift;     /* its shift */
    uint32_t t0;       /* its start */
    int32_t step, limit;   /* its class_sizes() */
} bal_state;

static _Thread_local bal_state bal;

static int enabled;
static pthread_once_t bal_once = PTHREAD_ONCE_INIT;

static void init_balance(void)
{
    const char *env = getenv("LAZYADAM_BALANCE");
    int off = env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0);
    enabled = BAL_HAVE_TSC && lazyadam_cpu_features()->tsc && !off;
    LAZYADAM_PUBLISH(&bal_once);
}

int lazyadam_balance_enabled(void)
{
    pthread_once(&bal_once, init_balance);
    LAZYADAM_ACQUIRE(&bal_once);
    return enabled;
}

/* Test hook: every balanced call of the process uses this shift and learns nothing. */
static _Atomic int forced;
static _Atomic int32_t forced_shift;

void lazyadam_testing_force_shift(int on, int32_t shift)
{
    forced_shift = shift;
    forced = on;
}

/* Test hook: a dense class learns in one window of every `duty` (DUTY; 1: in every call). */
static _Atomic int duty = DUTY;

void lazyadam_testing_balance_duty(int d)
{
    duty = d < 1 ? DUTY : d > 4096 ? 4096 : d;   /* beat is 16 bits */
}

static int bucket_of(size_t n)
{
    int b = 0;
    while (b < BAL_BUCKETS - 1 && (n >> (b + 1)) != 0)
        b++;
    return b;
}

/* A class's step: a 512th of a thread's share, at least one chunk. At 2^15 elements on
 * two threads each chunk off the best shift costs about 9 ticks of a 6,200-tick call, so
 * probes one step either side tell little against the noise: they left the shift
 * wandering up to ~180 chunks past the best in the machine's slow state (0.95 of the
 * plain loop where the best fixed shift reached 1.00). Probes PROBE = 2 steps either side
 * gave 0.99-1.04 there, for about 0.3% in the fast state; 4 steps cost 1% there (README).
 * The shift never gives up or takes more than half a share. */
static void class_sizes(size_t n, int T, int32_t *step, int32_t *limit)
{
    size_t share = n / 16 / (size_t)T, s = share / 512, l = share / 2;
    *step = s < 1 ? 1 : s > INT32_MAX / 8 ? INT32_MAX / 8 : (int32_t)s;
    *limit = l > INT32_MAX / 2 ? INT32_MAX / 2 : (int32_t)l;
}

static int32_t clamp(int64_t x, int32_t limit)
{
    return x > limit ? limit : x < -(int64_t)limit ? -limit : (int32_t)x;
}

/* Which side of pair p this call is on. The pairs alternate which side comes first, so
 * that an effect of one call on the next (a worker released early sits at the dock
 * sooner) favours neither side: side 1 runs first in even pairs, second in odd ones. */
static int side_now(const bal_pair *p)
{
    return p->phase == (p->pairs & 1);
}

/* Records a call of pair p that took `took`; returns after a completed decision: +1 when
 * side 1 won at least WIN of the PAIRS pairs, -1 when side 0 did, else 0. */
static int pair_record(bal_pair *p, uint32_t took)
{
    if (p->phase == 0) {
        p->first = took;
        p->phase = 1;
        return 0;
    }
    p->phase = 0;
    p->wins += (p->pairs & 1) ? took < p->first : took > p->first;
    if (++p->pairs < PAIRS)
        return 0;
    int verdict = p->wins >= WIN ? 1 : p->wins <= PAIRS - WIN ? -1 : UNDECIDED;
    p->pairs = p->wins = 0;
    return verdict;
}

static uint32_t median_of_keep(const uint32_t *x)
{
    uint32_t a[KEEP];
    memcpy(a, x, sizeof a);
    for (int i = 1; i < KEEP; i++)   /* insertion sort: KEEP is tiny */
        for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
            uint32_t t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    return (uint32_t)(((uint64_t)a[KEEP / 2 - 1] + a[KEEP / 2]) / 2);
}

/* The mode of class m changes with its next call: its calls settle again. */
static void mode_changes(bal_mode *m)
{
    m->untimed = 0;
    m->settled = 0;
    m->spent = 0;
}

/* Whether a call that took `took` is one the mode's change still settles: the first
 * SETTLE calls after it, and up to m->settle while they take under SETTLE_TICKS. */
static int settling(bal_mode *m, uint32_t took)
{
    if (m->settled)
        return 0;
    m->untimed++;
    m->spent = took > UINT32_MAX - m->spent ? UINT32_MAX : m->spent + took;
    if (m->untimed >= SETTLE && (m->untimed >= m->settle || m->spent >= SETTLE_TICKS))
        m->settled = 1;
    return 1;
}

/* Records a call of mode-learning class m that took `took` (the file's comment). A trial
 * counts 1 + its timed calls in m->trial. */
static void mode_record(bal_mode *m, uint32_t took)
{
    if (m->trial) {
        if (!settling(m, took))
            m->tried[m->trial++ - 1] = took;
        if (m->trial <= KEEP)
            return;
        m->trial = 0;
        m->run = 0;
        mode_changes(m);   /* back to its mode, or on to the other for good */
        uint32_t mine = median_of_keep(m->recent), other = median_of_keep(m->tried);
        if (other < mine - mine / 32) {
            m->solo ^= 1;
            m->wait = WAIT_MIN;
            m->kept = 0;
        } else if (m->wait < WAIT_MAX) {
            m->wait++;
        }
        return;
    }
    if (m->run < UINT16_MAX)
        m->run++;
    if (settling(m, took))
        return;
    m->recent[m->pos] = took;
    m->pos = (uint8_t)((m->pos + 1) % KEEP);
    if (m->kept < KEEP)
        m->kept++;
    if (m->kept >= KEEP && m->run >= (1u << m->wait)) {
        m->trial = 1;
        mode_changes(m);
    }
}

/* The call in flight starts: on `threads` threads, reporting to class c's probes (NULL:
 * none) and to mode learner m (NULL: none). */
static void call_start(bal_class *c, bal_mode *m, int threads, int trial, int32_t shift)
{
    bal.cur = c;
    bal.mode = m;
    bal.threads = threads;
    bal.trial = trial;
    bal.shift = shift;
    bal.t0 = ticks(threads, shift, 0);
}

/* The team a class that learns team or solo tries: the static rule's, or two threads
 * where the rule says one (never more than the config asks). */
static int learned_team(int rule, int requested)
{
    return rule > 1 ? rule : requested < 2 ? requested : 2;
}

lazyadam_plan lazyadam_balance_begin(size_t n, int rule, int requested)
{
    bal.cur = NULL;
    bal.mode = NULL;
    int b = bucket_of(n);
    /* a class the rule keeps on the caller may learn a team from DENSE_TEAM_MIN */
    int T = b >= DENSE_TEAM_MIN && b < MODE_BUCKETS ? learned_team(rule, requested) : rule;
    if (T < 2 || T > BAL_MAX_T || !lazyadam_balance_enabled())
        return (lazyadam_plan){ rule, 0 };
    int32_t step, limit;
    class_sizes(n, T, &step, &limit);
    if (forced)
        return (lazyadam_plan){ T, clamp(forced_shift, limit) };
    bal_class *c = &bal.cls[b];
    if (c->T != T)   /* a class starts in the rule's mode */
        *c = (bal_class){ .T = (uint8_t)T,
                          .mode = { .solo = rule < 2, .wait = WAIT_MIN, .settle = SETTLE } };
    int trial = c->mode.trial != 0;
    int solo = b < MODE_BUCKETS && (c->mode.solo ^ trial);
    /* Outside its learning window (and any trial) a call runs as the class has learned,
     * untimed: nothing more to do here or in lazyadam_balance_end. */
    uint32_t at = c->beat, cycle = (uint32_t)WINDOW * (uint32_t)duty;
    c->beat = (uint16_t)(at + 1 >= cycle ? 0 : at + 1);
    if (at >= WINDOW && !trial)
        return (lazyadam_plan){ solo ? 1 : T, solo ? 0 : clamp(c->shift, limit) };
    bal.step = step;
    bal.limit = limit;
    int32_t shift;
    if (solo || trial) {
        /* a trial's team calls run at the learned shift and teach it nothing */
        shift = solo ? 0 : c->shift;
    } else {
        /* side 1 of the probe pair is shift + PROBE steps */
        int64_t off = (int64_t)PROBE * step;
        shift = clamp((int64_t)c->shift + (side_now(&c->probe) ? off : -off), limit);
    }
    call_start(c, b < MODE_BUCKETS ? &c->mode : NULL, solo ? 1 : T, trial, shift);
    return (lazyadam_plan){ bal.threads, bal.shift };
}

void lazyadam_balance_end(void)
{
    if (!bal.cur && !bal.mode)
        return;
    uint32_t took = ticks(bal.threads, bal.shift, 1) - bal.t0;
    bal_class *c = bal.cur;
    if (c && bal.threads > 1 && !bal.trial) {
        int verdict = pair_record(&c->probe, took);
        if (verdict == UNDECIDED)   /* no evidence either way: a step back toward even */
            c->shift -= clamp(c->shift, bal.step);
        else if (verdict)
            c->shift = clamp((int64_t)c->shift + verdict * bal.step, bal.limit);
    }
    if (bal.mode)
        mode_record(bal.mode, took);
    bal.cur = NULL;
    bal.mode = NULL;
}

/* The key of a sparse class (0 outside the learned range) and its slot. */
static uint32_t sparse_key(int kind, size_t named, size_t table)
{
    int nb = bucket_of(named);
    if (nb < SPARSE_MIN || nb >= MODE_BUCKETS)
        return 0;
    return 1u + ((uint32_t)kind << 12) + ((uint32_t)nb << 6) + (uint32_t)bucket_of(table);
}

static sparse_class *sparse_slot(uint32_t key)
{
    return &bal.sparse[(key * 2654435761u) >> (32 - 5)];
}
_Static_assert(SPARSE_SLOTS == 32, "sparse_slot takes the hash's top 5 bits");

int lazyadam_balance_sparse_begin(int kind, size_t named, size_t table, int rule, int requested)
{
    bal.cur = NULL;
    bal.mode = NULL;
    int team = learned_team(rule, requested);
    uint32_t key = sparse_key(kind, named, table);
    if (key == 0 || team < 2 || team > BAL_MAX_T || !lazyadam_balance_enabled())
        return rule;
    sparse_class *c = sparse_slot(key);
    if (c->key != key || c->T != team)
        *c = (sparse_class){ .key = key, .T = (uint8_t)team,
                             .mode = { .solo = rule == 1, .wait = WAIT_MIN,
                                       .settle = SPARSE_SETTLE } };
    int trial = c->mode.trial != 0;
    call_start(NULL, &c->mode, (c->mode.solo ^ trial) ? 1 : team, trial, 0);
    return bal.threads;
}

int lazyadam_balance_sparse_solo(int kind, size_t named, size_t table)
{
    uint32_t key = sparse_key(kind, named, table);
    const sparse_class *c = sparse_slot(key);
    return key == 0 || c->key != key ? -1 : c->mode.solo;
}

int32_t lazyadam_balance_shift(size_t n, int T)
{
    const bal_class *c = &bal.cls[bucket_of(n)];
    return c->T == T ? c->shift : 0;
}

int lazyadam_balance_solo(size_t n, int T)
{
    const bal_class *c = &bal.cls[bucket_of(n)];
    return c->T == T && c->mode.solo;
}
