/* sd-journal → events (bootlog.h). The units log in two ways: dnsmasq writes
 * to stderr (SYSLOG_IDENTIFIER "dnsmasq", the message "dnsmasq-dhcp[PID]: …")
 * and nginx's access log arrives over syslog (SYSLOG_IDENTIFIER
 * "pxelab_http"); journald files both under the sender's unit. */
#include <errno.h>
#include <poll.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "lab/bootlog.h"
#include "lab/record.h"
#include "basic/log.h"
#include "basic/util.h"

uint64_t bootlog_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

void bootlog_lab_ip(const char *address, char *buf, size_t n) {
        size_t l = address ? strcspn(address, "/") : 0;
        if (l >= n)
                l = n - 1;
        if (l)
                memcpy(buf, address, l);
        buf[l] = 0;
}

static void journal_closep(sd_journal **j) {
        if (*j)
                sd_journal_close(*j);
}

/* A field's value without its "NAME=", NUL-terminated in BUF (cut to fit). */
static const char *field(sd_journal *j, const char *name, char *buf, size_t n) {
        const void *d;
        size_t l, nl = strlen(name) + 1;
        if (sd_journal_get_data(j, name, &d, &l) < 0 || l < nl)
                return NULL;
        l -= nl;
        if (l >= n)
                l = n - 1;
        memcpy(buf, (const char *) d + nl, l);
        buf[l] = 0;
        return buf;
}

/* Every entry after the current position into EV. */
static int feed_new(sd_journal *j, struct events *ev) {
        char ident[64], msg[4096];
        int r;

        while ((r = sd_journal_next(j)) > 0) {
                uint64_t t;
                const char *m = field(j, "MESSAGE", msg, sizeof(msg));
                if (!m || sd_journal_get_realtime_usec(j, &t) < 0)
                        continue;
                events_feed(ev, field(j, "SYSLOG_IDENTIFIER", ident, sizeof(ident)), m, t);
        }
        return r;
}

int bootlog_read(const char *lab, struct events *ev, uint64_t since_usec, bool follow, uint64_t until_usec,
                 bootlog_done_fn done, void *userdata) {
        _cleanup_(journal_closep) sd_journal *j = NULL;
        _cleanup_free_ char *u1 = lab_unit_name(lab, "dnsmasq"), *u2 = lab_unit_name(lab, "nginx");
        _cleanup_free_ char *m1 = xasprintf("_SYSTEMD_UNIT=%s", u1), *m2 = xasprintf("_SYSTEMD_UNIT=%s", u2);
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r >= 0)
                r = sd_journal_add_match(j, m1, 0);
        if (r >= 0)
                r = sd_journal_add_match(j, m2, 0);     /* the same field: either unit */
        if (r >= 0)
                r = since_usec ? sd_journal_seek_realtime_usec(j, since_usec) : sd_journal_seek_head(j);
        if (r >= 0)
                r = feed_new(j, ev);
        if (r < 0)
                return log_error_errno(r, "Failed to read the journal of lab '%s'", lab);
        events_flush(ev, bootlog_now());
        while (follow && !(done && done(userdata))) {
                int w;
                if (until_usec && bootlog_now() >= until_usec)
                        break;
                w = sd_journal_wait(j, 1000000);
                if (w < 0)
                        return log_error_errno(w, "Failed to follow the journal of lab '%s'", lab);
                r = feed_new(j, ev);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the journal of lab '%s'", lab);
                /* Nothing new for a second: what waits for a next line is complete. */
                if (w == SD_JOURNAL_NOP)
                        events_flush(ev, bootlog_now());
        }
        return 0;
}

json_t *bootlog_clients(const char *lab, const char *address) {
        _cleanup_(events_freep) struct events *ev = events_new(NULL, NULL);
        char ip[64];

        bootlog_lab_ip(address, ip, sizeof(ip));
        events_ignore_ip(ev, ip);
        if (bootlog_read(lab, ev, 0, false, 0, NULL, NULL) < 0)
                return json_array();
        return events_clients_json(ev);
}
