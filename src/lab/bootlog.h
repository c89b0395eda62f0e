/* A lab's boots from the journal: the lines of its dnsmasq and nginx units
 * (sd-journal, matched by _SYSTEMD_UNIT) fed to an events parser (events.h),
 * once or following the journal as it grows. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lab/events.h"

/* Asked once a second (and after each batch of lines) while following:
 * true ends the follow. */
typedef bool (*bootlog_done_fn)(void *userdata);

/* Feeds EV with lab LAB's journal lines from SINCE_USEC (realtime; 0: all)
 * on. FOLLOW: then waits for new lines until DONE says so (NULL: forever)
 * or, when UNTIL_USEC (realtime) is not 0, until then. Returns 0, or < 0
 * after logging why the journal could not be read. */
int bootlog_read(const char *lab, struct events *ev, uint64_t since_usec, bool follow, uint64_t until_usec,
                 bootlog_done_fn done, void *userdata);

/* The lab's clients (events_clients_json()) from its whole journal; ADDRESS
 * (the lab's "ADDR/PREFIX", may be NULL) is not a client. An empty array when
 * the journal cannot be read. */
json_t *bootlog_clients(const char *lab, const char *address);

/* The lab's own address of "ADDR/PREFIX" into BUF ("" when none). */
void bootlog_lab_ip(const char *address, char *buf, size_t n);

/* Now, realtime, in microseconds. */
uint64_t bootlog_now(void);
