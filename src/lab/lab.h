/* A running lab: bring it up from a profile (or reconcile it), take it down
 * from its record. The order of `up` is the order of the README's "What
 * pxelab does to your host".
 *
 * `up` runs in phases, as a command should (systemd's run.c parses its
 * arguments before it connects to the bus): lab_up_begin() takes the lock
 * and reads the record (a failure is the host's: exit 1), lab_up_check()
 * is the preflight, which only looks (a failure is the request's: exit 2,
 * nothing changed), lab_up_apply() makes the lab (a failure is the host's:
 * exit 1). */
#pragma once
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "profile/profile.h"

struct lab_up;

/* Takes the global lock (waiting as state_lock() does), reads the lab's
 * record and reaches the bridge back-end P names (OVSDB). Logged. */
int lab_up_begin(const struct profile *p, struct lab_up **ret);
/* Refuses, before anything is changed, a lab that collides with this host
 * or another lab: another profile of that lab name, a bridge that is
 * another lab's or foreign, an overlapping subnet, a taken port, a missing
 * uplink. Logged. */
int lab_up_check(struct lab_up *up);
/* Brings the lab up (validated and checked). On a fresh lab, any failure
 * undoes everything done so far before the lock is released. Logged. */
int lab_up_apply(sd_bus *bus, struct lab_up *up);
/* Releases the lock and frees UP (NULL is fine). */
void lab_up_end(struct lab_up *up);
static inline void lab_up_endp(struct lab_up **up) {
        lab_up_end(*up);
}

/* Takes lab LAB down from its record alone, trusting it for nothing it can
 * derive or check (see record.h): units, slice, table, mount and run dir by
 * their derived names, links only when they carry the lab's mark. A lab
 * that is not up is success (a note is printed). */
int lab_down(const char *lab);
