/* Test-only hooks: exported by the library so its own tests can reach them, not
 * installed, not part of the API. */
#ifndef LAZYADAM_TESTING_H
#define LAZYADAM_TESTING_H

#include <stddef.h>
#include <stdint.h>

/* Make the nth scratch allocation from now fail (1: the next one); 0 disarms. Returns
 * the count it replaces: after arming nth, disarming returns 0 once the failure has been
 * injected and nth - k while only k allocations have been made since. */
long lazyadam_testing_fail_alloc(long nth);

/* The bytes of scratch the allocator keeps for later calls (lib/alloc.c); read it only
 * while no call runs. */
size_t lazyadam_testing_kept_bytes(void);

/* Make every balanced dense call use this shift (see lib/balance.c); on = 0 restores
 * the learned shifts. */
void lazyadam_testing_force_shift(int on, int32_t shift);

/* Make each dense class learn in one window of calls in every `duty` (1: in every call;
 * 0 or less restores the library's own duty, lib/balance.c). */
void lazyadam_testing_balance_duty(int duty);

/* Replace the balancer's time-stamp counter by a simulated clock (NULL restores it). It is
 * read when a timed call starts (end = 0) and when it ends (end = 1), and told the call's
 * thread count (1: the caller alone) and shift, so a test can decide how long each call
 * takes. */
typedef uint32_t lazyadam_testing_clock_fn(int threads, int32_t shift, int end);
void lazyadam_testing_balance_clock(lazyadam_testing_clock_fn *clock);

/* How many vectors the calling thread's vector kernels have taken through the exact path
 * for subnormal moments (lib/kernels/subnormal.h, and update()'s cold forms; m below the
 * call's cold line) so far; calls on one thread run there. */
uint64_t lazyadam_testing_subnormal_vectors(void);

#endif
