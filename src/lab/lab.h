/* A running lab: bring it up from a profile (or reconcile it), take it down
 * from its state record, describe it. The order of `up` is the order of the
 * README's "What pxelab does to your host". */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "profile/profile.h"

/* Validated profile in, running lab out. On a fresh lab, any failure undoes
 * everything done so far. Returns 0, or <0 after logging the reason;
 * *ret_usage is set when the failure is the user's (collision, bad uplink). */
int lab_up(sd_bus *bus, const struct profile *p, bool *ret_usage);

/* Takes lab LAB down from its state record alone. A lab that is not up is
 * success (a note is printed). */
int lab_down(const char *lab);

/* Status of LAB as JSON (schema in README), *ret_healthy false when degraded. */
int lab_status(const char *lab, json_t **ret, bool *ret_healthy);

/* Names of the lab's units. */
char *lab_unit_name(const char *lab, const char *service);   /* pxelab-LAB-SERVICE.service */
char *lab_slice_name(const char *lab);                       /* pxelab-LAB.slice, '-' in LAB as '_' */
