/* LAZYADAM_BACKEND overrides AUTO (meson runs this test with several values):
 * a runnable backend is used; an unknown or unrunnable one makes AUTO calls fail with
 * E_BACKEND, never a silent fallback; an explicit backend in the config is unaffected;
 * AUTO itself is always reported available. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(void)
{
    tally t = { 0, 0, 0 };
    const char *env = getenv("LAZYADAM_BACKEND");
    printf("LAZYADAM_BACKEND=%s\n", env ? env : "(unset)");
    lazyadam_config c = lazyadam_default_config();
    lazyadam_backend want = LAZYADAM_BACKEND_AUTO;
    int known = 0;
    for (int b = LAZYADAM_BACKEND_SCALAR; b <= LAZYADAM_BACKEND_ONEDNN; b++)
        if (env && !strcmp(env, lazyadam_backend_name((lazyadam_backend)b))) {
            known = 1;
            if (lazyadam_backend_available((lazyadam_backend)b))
                want = (lazyadam_backend)b;
        }
    float p[4] = { 1, 2, 3, 4 }, g[4] = { 1, 1, 1, 1 }, m[4] = { 0 }, v[4] = { 0 };
    lazyadam_status st = lazyadam_adam_step(&c, 1, 4, p, g, m, v, NULL);
    lazyadam_backend got = lazyadam_backend_resolve(&c);
    if (!env || !*env || !strcmp(env, "auto")) {
        tally_case(&t, st == LAZYADAM_OK && got != LAZYADAM_BACKEND_AUTO,
                "unset: AUTO resolves to %s", lazyadam_backend_name(got));
    } else if (want != LAZYADAM_BACKEND_AUTO) {
        tally_case(&t, st == LAZYADAM_OK && got == want, "AUTO follows the environment: %s",
                lazyadam_backend_name(got));
    } else {
        tally_case(&t, st == LAZYADAM_E_BACKEND && got == LAZYADAM_BACKEND_AUTO && p[0] == 1,
                "%s backend '%s': AUTO calls fail with E_BACKEND (got %s)",
                known ? "unrunnable" : "unknown", env, lazyadam_status_string(st));
    }
    /* The header's promise: AUTO is always available, whatever the environment names
     * (whether an AUTO call runs is what backend_resolve tells). */
    tally_case(&t, lazyadam_backend_available(LAZYADAM_BACKEND_AUTO)
            && !lazyadam_backend_unavailable_reason(LAZYADAM_BACKEND_AUTO),
            "backend_available(AUTO) is 1, with no reason against it");
    c.backend = LAZYADAM_BACKEND_SCALAR;
    tally_case(&t, lazyadam_adam_step(&c, 2, 4, p, g, m, v, NULL) == LAZYADAM_OK
            && lazyadam_backend_resolve(&c) == LAZYADAM_BACKEND_SCALAR,
            "an explicit backend ignores the environment");
    return tally_finish(&t);
}
