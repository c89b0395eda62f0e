/* Crash-safety testing: PXELAB_FAULT=STEP makes the process die by SIGKILL
 * right after STEP, as if it had been killed there. Steps are named where
 * fault_point() is called (see README, "Crash safety"). */
#pragma once
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static inline void fault_point(const char *step) {
        const char *f = getenv("PXELAB_FAULT");
        if (f && strcmp(f, step) == 0)
                raise(SIGKILL);
}

/* The same for the step named PREFIX SUFFIX ("dnsmasq" "-recorded"). */
static inline void fault_point_of(const char *prefix, const char *suffix) {
        const char *f = getenv("PXELAB_FAULT");
        size_t n = strlen(prefix);
        if (f && strncmp(f, prefix, n) == 0 && strcmp(f + n, suffix) == 0)
                raise(SIGKILL);
}
