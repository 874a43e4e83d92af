/* Test-only hooks: exported by the library so its own tests can reach them, not
 * installed, not part of the API. */
#ifndef LAZYADAM_TESTING_H
#define LAZYADAM_TESTING_H

#include <stdint.h>

/* Make the nth scratch allocation from now fail (1: the next one); 0 disarms. */
void lazyadam_testing_fail_alloc(long nth);

/* Make every balanced dense call use this shift (see lib/balance.c); on = 0 restores
 * the learned shifts. */
void lazyadam_testing_force_shift(int on, int32_t shift);

#endif
