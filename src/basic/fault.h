/* Crash-safety testing: PXELAB_FAULT=STEP makes the process die by SIGKILL
 * right after STEP, as if it had been killed there; PXELAB_FAULT=stop:STEP
 * stops it there (SIGSTOP) until a SIGCONT, so a test can see what another
 * pxelab does meanwhile. Steps are named where fault_point() is called
 * (see README, "Crash safety"). */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Only PXELAB_FAULT=stop:STEP: for the points that are not crash steps
 * (an `up` that failed, undoing itself: "undo"). */
static inline void fault_hold(const char *step) {
        const char *f = getenv("PXELAB_FAULT");
        if (f && strncmp(f, "stop:", 5) == 0 && strcmp(f + 5, step) == 0)
                raise(SIGSTOP);
}

static inline void fault_point(const char *step) {
        const char *f = getenv("PXELAB_FAULT");
        if (f && strcmp(f, step) == 0)
                raise(SIGKILL);
        fault_hold(step);
}

/* The same for the step named PREFIX SUFFIX ("dnsmasq" "-recorded"). */
static inline void fault_point_of(const char *prefix, const char *suffix) {
        const char *f = getenv("PXELAB_FAULT");
        size_t n = strlen(prefix);
        bool stop = f && strncmp(f, "stop:", 5) == 0;
        if (stop)
                f += 5;
        if (f && strncmp(f, prefix, n) == 0 && strcmp(f + n, suffix) == 0)
                raise(stop ? SIGSTOP : SIGKILL);
}
