/* Scratch allocation. A test-only hook (lib/testing.h) makes the n-th allocation
 * from now fail, so that every E_NOMEM path can be exercised. */
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "testing.h"

/* 0: no injected failure; k > 0: the k-th allocation from now fails. */
static atomic_long fail_countdown;

void lazyadam_testing_fail_alloc(long nth)
{
    atomic_store(&fail_countdown, nth);
}

void *lazyadam_alloc(size_t bytes)
{
    long c = atomic_load(&fail_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1)) {
            if (c == 1)
                return NULL;
            break;
        }
    }
    return malloc(bytes ? bytes : 1);
}

void lazyadam_free(void *p)
{
    free(p);
}
