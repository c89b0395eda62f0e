/* A lab's boots as events, from its services' journal lines: dnsmasq's DHCP
 * (log-dhcp) and TFTP lines, nginx's access log (the `pxelab` log_format of
 * nginx.conf.mustache, sent to the journal over syslog) and the boot
 * beacons (/_/booted?mac=…&entry=…, /_/failed?…&err=…) the entry scripts
 * fetch. Lines go in one at a time with their journal time; events come out
 * grouped by client (MAC, and IP once leased), with the time relative to
 * the client's first DHCPDISCOVER and the problem the step shows, if any.
 *
 * Pure: no journal, no clock, no files but a stat() of a TFTP file for its
 * size (events_set_stat() replaces it for the unit test). journal.h feeds it
 * from sd-journal. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

enum event_kind {
        EVENT_DHCP,     /* a DHCP exchange ended with an ACK (or a NAK / no address) */
        EVENT_TFTP,     /* a TFTP transfer ended (sent, not found, or aborted) */
        EVENT_HTTP,     /* an HTTP request (beacons excluded) */
        EVENT_BOOTED,   /* the beacon /_/booted: the entry script hands over */
        EVENT_FAILED,   /* the beacon /_/failed: the entry script failed */
        EVENT_STALLED,  /* no step for EVENTS_STALL_USEC after a TFTP loader (synthetic) */
};

/* A client that got a loader over TFTP and is silent this long has stopped. */
#define EVENTS_STALL_USEC (30ULL * 1000000ULL)

struct event {
        enum event_kind kind;
        uint64_t usec;          /* journal time (realtime) */
        double rel;             /* seconds since the client's first DHCPDISCOVER */
        char mac[18];           /* "" when not known (an HTTP client with no lease seen) */
        char ip[46];            /* "" when not known yet */
        char *hostname;         /* DHCP: the client's or dhcp-host's name */
        /* DHCP */
        char *arch;             /* "bios", "uefi-x64", "uefi-http", "arch N", or NULL */
        bool ipxe;              /* DHCP: user class iPXE */
        char *result;           /* DHCP: "ack", "nak", "no-address" */
        char *bootfile;         /* DHCP: the loader or script URL handed out */
        /* TFTP, HTTP */
        char *path;             /* TFTP: the file as the client named it; HTTP: the URL path */
        char *method;           /* HTTP */
        int status;             /* HTTP status; TFTP: 0 sent, 404 not found, 1 error */
        int64_t bytes;          /* bytes sent, -1 unknown */
        int64_t length;         /* the whole file (Content-Length, TFTP file size), -1 unknown */
        double seconds;         /* HTTP request time, -1 unknown */
        /* beacons */
        char *entry;            /* booted, failed */
        char *err;              /* failed: iPXE's error number as it sent it */
        char *problem;          /* what went wrong, in words; NULL when nothing */
};

struct events;

/* Called for each event as it is complete; E is owned by the parser. */
typedef void (*events_cb)(const struct event *e, void *userdata);

struct events *events_new(events_cb cb, void *userdata);
void events_free(struct events *ev);
static inline void events_freep(struct events **ev) {
        if (*ev)
                events_free(*ev);
}

/* Only events of this MAC (lower case), e.g. for `vm start --wait`. */
void events_filter_mac(struct events *ev, const char *mac);

/* Requests from IP are not a client's (the lab's own address: `up`'s checks). */
void events_ignore_ip(struct events *ev, const char *ip);

/* Where `stat()` of a TFTP file goes (a seam for the unit test). */
void events_set_stat(struct events *ev, int (*fn)(const char *path, struct stat *st));

/* One journal line: IDENT is its SYSLOG_IDENTIFIER ("dnsmasq",
 * "dnsmasq-dhcp", "dnsmasq-tftp", "pxelab_http"; NULL: any), MSG its
 * MESSAGE, USEC its realtime. Lines that are no step are ignored. Returns 1
 * when the line was understood, 0 when not. */
int events_feed(struct events *ev, const char *ident, const char *msg, uint64_t usec);

/* Emits what waits for a line that may never come (a DHCP exchange's last
 * details), and a "stalled" event for clients silent since a TFTP loader
 * for EVENTS_STALL_USEC at NOW_USEC (0: no stall check). */
void events_flush(struct events *ev, uint64_t now_usec);

/* One line for humans: "+3.4s HTTP /boot.ipxe 200 1.2 kB" (no MAC). */
char *event_format(const struct event *e);
/* The event as the JSON object `watch --json` prints (README). */
json_t *event_json(const struct event *e);
/* "dhcp", "tftp", "http", "booted", "failed", "stalled". */
const char *event_kind_name(enum event_kind k);

/* The clients seen so far, for `status`: an array of {"mac", "ip",
 * "hostname", "last_step", "last_event", "time", "entry", "problem"},
 * sorted by MAC. */
json_t *events_clients_json(const struct events *ev);
