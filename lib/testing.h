/* Test-only hooks: exported by the library so its own tests can reach them, not
 * installed, not part of the API. */
#ifndef LAZYADAM_TESTING_H
#define LAZYADAM_TESTING_H

/* Make the nth scratch allocation from now fail (1: the next one); 0 disarms. */
void lazyadam_testing_fail_alloc(long nth);

#endif
