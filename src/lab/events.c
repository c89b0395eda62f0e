/* Journal lines of a lab's dnsmasq and nginx into boot events (events.h).
 * dnsmasq logs a DHCP exchange over several lines that share its XID
 * (log-dhcp: "XID vendor class: …", "XID DHCPACK(BR) IP MAC NAME", "XID
 * bootfile name: …"), so an exchange is kept open until a line that is not
 * its own shows that its details are over; everything else is one line, one
 * event. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "lab/events.h"
#include "basic/util.h"

#define MAX_XACTS 16
/* A client silent this long that asks DHCP again starts a new boot. */
#define NEW_BOOT_USEC (300ULL * 1000000ULL)

/* One DHCP exchange (one XID) while its lines come in. */
struct xact {
        bool used;
        uint32_t xid;
        uint64_t usec;          /* its first line */
        uint64_t seq;           /* age, for eviction */
        char mac[18], ip[46];
        char *arch, *hostname, *bootfile, *result;
        bool ipxe, discover, done;
};

struct client {
        char mac[18], ip[46];
        char *hostname;
        uint64_t t0;            /* first DHCPDISCOVER (or first event) of this boot */
        uint64_t last_usec;
        enum event_kind last_kind;
        char *last_step;        /* event_format() of the last event, without the time */
        char *entry;            /* the entry booted */
        char *problem;          /* the last problem seen */
        char *arch;
        char *loader;           /* the loader it got over TFTP this boot */
        char *http_error;       /* the last HTTP problem this boot (for a failed beacon) */
        bool booted, stalled;
        /* It fetched a boot file over TFTP (files/ENTRY/NAME: a shim → GRUB
         * client, which has no HTTP and sends no beacon): its kernel runs
         * next, so silence after it is no stall. */
        bool kernel_tftp;
};

struct events {
        events_cb cb;
        void *userdata;
        char filter[18];
        int (*stat_fn)(const char *path, struct stat *st);
        struct xact xacts[MAX_XACTS];
        uint64_t seq;
        struct client *clients;
        size_t n_clients;
        char ignore_ip[46];
        /* A client's TFTP error that a transfer of the same client may yet
         * follow (OVMF aborts its first read once it knows the size). */
        struct event abort;
        char *abort_err;
};

struct events *events_new(events_cb cb, void *userdata) {
        struct events *ev = xcalloc(1, sizeof(*ev));
        ev->cb = cb;
        ev->userdata = userdata;
        ev->stat_fn = stat;
        return ev;
}

static void xact_clear(struct xact *x) {
        free(x->arch);
        free(x->hostname);
        free(x->bootfile);
        free(x->result);
        *x = (struct xact) {};
}

void events_free(struct events *ev) {
        for (size_t i = 0; i < MAX_XACTS; i++)
                xact_clear(&ev->xacts[i]);
        for (size_t i = 0; i < ev->n_clients; i++) {
                struct client *c = &ev->clients[i];
                free(c->hostname);
                free(c->last_step);
                free(c->entry);
                free(c->problem);
                free(c->arch);
                free(c->loader);
                free(c->http_error);
        }
        free(ev->clients);
        free(ev->abort_err);
        free(ev);
}

void events_filter_mac(struct events *ev, const char *mac) {
        snprintf(ev->filter, sizeof(ev->filter), "%s", mac ? mac : "");
}

void events_ignore_ip(struct events *ev, const char *ip) {
        snprintf(ev->ignore_ip, sizeof(ev->ignore_ip), "%s", ip ? ip : "");
}

void events_set_stat(struct events *ev, int (*fn)(const char *path, struct stat *st)) {
        ev->stat_fn = fn;
}

static void set_str(char **p, const char *v) {
        free(*p);
        *p = xstrdup(v);
}

const char *event_kind_name(enum event_kind k) {
        static const char *const names[] = {
                [EVENT_DHCP] = "dhcp", [EVENT_TFTP] = "tftp", [EVENT_HTTP] = "http",
                [EVENT_BOOTED] = "booted", [EVENT_FAILED] = "failed", [EVENT_STALLED] = "stalled",
        };
        return names[k];
}

/* ---- clients ---------------------------------------------------------------- */

static struct client *client_by_mac(struct events *ev, const char *mac) {
        for (size_t i = 0; i < ev->n_clients; i++)
                if (streq(ev->clients[i].mac, mac))
                        return &ev->clients[i];
        return NULL;
}

/* The client that holds IP: the one leased it last wins. */
static struct client *client_by_ip(struct events *ev, const char *ip) {
        for (size_t i = ev->n_clients; i > 0; i--)
                if (streq(ev->clients[i - 1].ip, ip))
                        return &ev->clients[i - 1];
        return NULL;
}

static struct client *client_add(struct events *ev, const char *mac, const char *ip) {
        struct client *c;
        ev->clients = xrealloc(ev->clients, (ev->n_clients + 1) * sizeof(*ev->clients));
        c = &ev->clients[ev->n_clients++];
        *c = (struct client) {};
        snprintf(c->mac, sizeof(c->mac), "%s", mac ? mac : "");
        snprintf(c->ip, sizeof(c->ip), "%s", ip ? ip : "");
        return c;
}

/* Finds the client of E (by MAC, else by IP; adds it when new) and fills in
 * what E lacks of MAC and IP. */
static struct client *client_of(struct events *ev, struct event *e) {
        struct client *c = NULL;
        if (e->mac[0])
                c = client_by_mac(ev, e->mac);
        if (!c && e->ip[0]) {
                c = client_by_ip(ev, e->ip);
                /* An IP first seen without a MAC, now with one. */
                if (c && e->mac[0] && c->mac[0] && !streq(c->mac, e->mac))
                        c = NULL;
                if (c && e->mac[0] && !c->mac[0])
                        snprintf(c->mac, sizeof(c->mac), "%s", e->mac);
        }
        if (!c)
                c = client_add(ev, e->mac, e->ip);
        if (!e->mac[0])
                snprintf(e->mac, sizeof(e->mac), "%s", c->mac);
        if (!e->ip[0])
                snprintf(e->ip, sizeof(e->ip), "%s", c->ip);
        return c;
}

static bool is_bios_loader(const char *f) {
        const char *dot = f ? strrchr(f, '.') : NULL;
        return dot && (streq(dot, ".kpxe") || streq(dot, ".pxe") || streq(dot, ".0") || streq(dot, ".com") ||
                       streq(dot, ".lkrn"));
}

static bool is_uefi(const char *arch) {
        return arch && strncmp(arch, "uefi", 4) == 0;
}

static const char *base_name(const char *p) {
        const char *s = p ? strrchr(p, '/') : NULL;
        return s ? s + 1 : p;
}

/* What E shows is wrong, given what its client did before in this boot. */
static char *problem_of(const struct event *e, const struct client *c) {
        switch (e->kind) {
        case EVENT_DHCP:
                if (streq(e->result, "nak"))
                        return xstrdup("DHCP NAK: the server refused the address the client asked for");
                if (streq(e->result, "no-address"))
                        return xstrdup("no address available for this client");
                if (is_uefi(e->arch) && is_bios_loader(e->bootfile))
                        return xasprintf("UEFI client (%s) was handed the BIOS loader %s", e->arch, e->bootfile);
                if (e->ipxe && e->bootfile && !strstr(e->bootfile, "://"))
                        return xasprintf("loop: iPXE was handed the loader %s again", e->bootfile);
                if (!e->ipxe && c->loader)
                        return xasprintf("loop: the firmware asks DHCP again after loading %s", c->loader);
                return NULL;
        case EVENT_TFTP:
                if (e->status == 404)
                        return xasprintf("TFTP %s: file not found", e->path);
                if (e->status != 0)
                        return xasprintf("TFTP %s: transfer aborted%s%s", e->path, e->err ? ": " : "",
                                         e->err ? e->err : "");
                if (is_uefi(c->arch) && is_bios_loader(e->path))
                        return xasprintf("UEFI client (%s) fetched the BIOS loader %s", c->arch, e->path);
                return NULL;
        case EVENT_HTTP:
                if (e->status >= 400)
                        return xasprintf("HTTP %d %s", e->status, e->path);
                if (e->status == 200 && e->length >= 0 && e->bytes >= 0 && e->bytes < e->length)
                        return xasprintf("short transfer of %s: %" PRId64 " of %" PRId64 " bytes", e->path,
                                         e->bytes, e->length);
                return NULL;
        case EVENT_FAILED:
                return xasprintf("entry '%s' failed (iPXE error %s)%s%s", e->entry ? e->entry : "?",
                                 e->err ? e->err : "?", c->http_error ? " after " : "",
                                 c->http_error ? c->http_error : "");
        case EVENT_STALLED:
                return xasprintf("stopped after TFTP %s: nothing for %llu s", c->loader ? c->loader : "",
                                 EVENTS_STALL_USEC / 1000000ULL);
        case EVENT_BOOTED:
                return NULL;
        }
        return NULL;
}

/* A new boot of C: its first DHCPDISCOVER after it booted or was silent long. */
static void client_new_boot(struct client *c, uint64_t usec) {
        c->t0 = usec;
        c->booted = c->stalled = c->kernel_tftp = false;
        set_str(&c->loader, NULL);
        set_str(&c->http_error, NULL);
        set_str(&c->problem, NULL);     /* the boot before's; its entry stays */
}

/* Completes E (client, relative time, problem), hands it to the callback and
 * remembers it for the client. Frees nothing of E. */
static void emit(struct events *ev, struct event *e) {
        struct client *c = client_of(ev, e);

        if (e->kind == EVENT_DHCP) {
                if (e->ip[0])
                        snprintf(c->ip, sizeof(c->ip), "%s", e->ip);
                if (e->hostname)
                        set_str(&c->hostname, e->hostname);
                if (c->t0 == 0 || c->booted || e->usec > c->last_usec + NEW_BOOT_USEC)
                        client_new_boot(c, e->usec);
                if (e->arch && !e->ipxe)
                        set_str(&c->arch, e->arch);
                else if (e->arch && !c->arch)
                        set_str(&c->arch, e->arch);
        }
        if (c->t0 == 0)
                c->t0 = e->usec;
        if (!e->hostname && c->hostname)
                e->hostname = c->hostname;      /* borrowed; cleared below */
        e->rel = e->usec >= c->t0 ? (double) (e->usec - c->t0) / 1e6 : 0;
        e->problem = problem_of(e, c);

        if (!ev->filter[0] || streq(ev->filter, e->mac)) {
                _cleanup_free_ char *line = NULL;
                if (ev->cb)
                        ev->cb(e, ev->userdata);
                line = event_format(e);
                /* The step without its "+1.2s ". */
                set_str(&c->last_step, strchr(line, ' ') ? strchr(line, ' ') + 1 : line);
        }
        c->last_usec = e->usec;
        c->last_kind = e->kind;
        if (e->problem)
                set_str(&c->problem, e->problem);
        if (e->kind == EVENT_TFTP && e->status == 0 && !c->loader)
                set_str(&c->loader, base_name(e->path));
        if (e->kind == EVENT_TFTP && e->status == 0 && e->path && strncmp(e->path, "files/", 6) == 0)
                c->kernel_tftp = true;
        if (e->kind == EVENT_HTTP && e->problem)
                set_str(&c->http_error, e->problem);
        if (e->kind == EVENT_BOOTED) {
                c->booted = true;
                set_str(&c->entry, e->entry);
                set_str(&c->problem, NULL);
        }
        if (e->kind == EVENT_STALLED)
                c->stalled = true;
        if (e->hostname == c->hostname)
                e->hostname = NULL;
        free(e->problem);
        e->problem = NULL;
}

/* ---- DHCP ------------------------------------------------------------------ */

static struct xact *xact_get(struct events *ev, uint32_t xid, uint64_t usec) {
        struct xact *oldest = &ev->xacts[0];
        for (size_t i = 0; i < MAX_XACTS; i++) {
                struct xact *x = &ev->xacts[i];
                if (x->used && x->xid == xid) {
                        x->seq = ++ev->seq;
                        return x;
                }
                if (!x->used || (oldest->used && x->seq < oldest->seq))
                        oldest = x;
        }
        xact_clear(oldest);
        oldest->used = true;
        oldest->xid = xid;
        oldest->usec = usec;
        oldest->seq = ++ev->seq;
        return oldest;
}

/* The exchange X ended: one DHCP event. */
static void xact_emit(struct events *ev, struct xact *x) {
        struct event e = { .kind = EVENT_DHCP, .usec = x->usec, .bytes = -1, .length = -1, .seconds = -1 };

        if (x->mac[0]) {
                snprintf(e.mac, sizeof(e.mac), "%s", x->mac);
                snprintf(e.ip, sizeof(e.ip), "%s", x->ip);
                e.arch = x->arch;
                e.ipxe = x->ipxe;
                e.hostname = x->hostname;
                e.bootfile = x->bootfile;
                e.result = x->result;
                emit(ev, &e);
        }
        xact_clear(x);
}

/* Emits every finished exchange but KEEP (which is still getting lines). */
static void xacts_finish(struct events *ev, const struct xact *keep) {
        for (size_t i = 0; i < MAX_XACTS; i++) {
                struct xact *x = &ev->xacts[i];
                if (x->used && x->done && x != keep)
                        xact_emit(ev, x);
        }
}

/* "PXEClient:Arch:00007:UNDI:003016" → "uefi-x64" (DHCP option 93's values). */
static char *arch_of_vendor_class(const char *vc) {
        const char *a = strstr(vc, "Arch:");
        unsigned long n;
        if (!a)
                return NULL;
        n = strtoul(a + 5, NULL, 10);
        switch (n) {
        case 0:
                return xstrdup("bios");
        case 6:
                return xstrdup("uefi-ia32");
        case 7:
        case 9:
                return xstrdup("uefi-x64");
        case 16:
                return xstrdup("uefi-http");
        default:
                return xasprintf("arch %lu", n);
        }
}

static void copy_word(char *dst, size_t n, const char *s) {
        size_t l = strcspn(s, " ");
        if (l >= n)
                l = n - 1;
        memcpy(dst, s, l);
        dst[l] = 0;
}

/* Copies S into DST[N], cut to fit. */
static void copy_str(char *dst, size_t n, const char *s) {
        size_t l = strlen(s);
        if (l >= n)
                l = n - 1;
        memcpy(dst, s, l);
        dst[l] = 0;
}

/* "DHCPACK(pxe-lab) 10.0.0.5 52:54:00:00:00:01 name" and its kin. */
static int dhcp_packet_line(struct xact *x, const char *type, const char *rest) {
        const char *p = strchr(rest, ')');
        char w1[64] = "", w2[64] = "";

        if (!p)
                return 0;
        p++;
        while (*p == ' ')
                p++;
        copy_word(w1, sizeof(w1), p);
        p += strlen(w1);
        while (*p == ' ')
                p++;
        copy_word(w2, sizeof(w2), p);
        /* "IP MAC [NAME]" or "MAC [message]". */
        if (strchr(w1, '.') || (strchr(w1, ':') && strchr(w2, ':') && strlen(w1) != 17)) {
                if (!streq(type, "DHCPDISCOVER") && !streq(type, "DHCPINFORM") && !streq(type, "DHCPDECLINE") &&
                    !streq(type, "DHCPRELEASE"))
                        copy_str(x->ip, sizeof(x->ip), w1);
                copy_str(x->mac, sizeof(x->mac), w2);
                p += strlen(w2);
        } else
                copy_str(x->mac, sizeof(x->mac), w1);
        while (*p == ' ')
                p++;
        for (char *m = x->mac; *m; m++)
                *m = (char) tolower((unsigned char) *m);
        if (streq(type, "DHCPDISCOVER")) {
                x->discover = true;
                if (strstr(p, "no address")) {
                        set_str(&x->result, "no-address");
                        x->done = true;
                }
        } else if (streq(type, "DHCPACK")) {
                set_str(&x->result, "ack");
                if (*p && !strchr(p, ' '))
                        set_str(&x->hostname, p);
                x->done = true;
        } else if (streq(type, "DHCPNAK")) {
                set_str(&x->result, "nak");
                x->done = true;
        } else if (streq(type, "DHCPREQUEST") && strstr(p, "no address")) {
                set_str(&x->result, "no-address");
                x->done = true;
        }
        return 1;
}

/* "XID rest" of dnsmasq's log-dhcp. */
static int dhcp_line(struct events *ev, const char *msg, uint64_t usec) {
        char *end;
        unsigned long xid;
        struct xact *x;
        const char *rest, *p;
        char type[32];
        size_t tl;

        errno = 0;
        xid = strtoul(msg, &end, 10);
        if (errno || end == msg || *end != ' ')
                return 0;
        rest = end + 1;
        x = xact_get(ev, (uint32_t) xid, usec);
        /* Lines of another exchange: the finished ones are complete now. */
        xacts_finish(ev, x);

        if (strncmp(rest, "vendor class: ", 14) == 0) {
                free(x->arch);
                x->arch = arch_of_vendor_class(rest + 14);
                return 1;
        }
        if (strncmp(rest, "user class: ", 12) == 0) {
                x->ipxe = x->ipxe || strstr(rest + 12, "iPXE") != NULL;
                return 1;
        }
        if (strncmp(rest, "tags: ", 6) == 0) {
                /* dnsmasq's own verdict, when no vendor class said it. */
                if (!x->arch && strstr(rest, "efi64"))
                        x->arch = xstrdup("uefi-x64");
                else if (!x->arch && strstr(rest, "efihttp"))
                        x->arch = xstrdup("uefi-http");
                else if (!x->arch && strstr(rest, "bios"))
                        x->arch = xstrdup("bios");
                return 1;
        }
        if (strncmp(rest, "bootfile name: ", 15) == 0) {
                set_str(&x->bootfile, rest + 15);
                return 1;
        }
        /* "sent size:  9 option: 67 bootfile-name  ipxe.efi" */
        if (strncmp(rest, "sent size:", 10) == 0 && (p = strstr(rest, " option: 67 bootfile-name "))) {
                p += strlen(" option: 67 bootfile-name ");
                set_str(&x->bootfile, p + strspn(p, " "));
                return 1;
        }
        if (strncmp(rest, "client provides name: ", 22) == 0) {
                if (!x->hostname)
                        x->hostname = xstrdup(rest + 22);
                return 1;
        }
        tl = strcspn(rest, "(");
        if (tl > 4 && tl < sizeof(type) && strncmp(rest, "DHCP", 4) == 0 && rest[tl] == '(') {
                static const char *const v4[] = { "DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK",
                                                  "DHCPNAK", "DHCPDECLINE", "DHCPRELEASE", "DHCPINFORM" };
                memcpy(type, rest, tl);
                type[tl] = 0;
                /* DHCPv6's (DHCPINFORMATION-REQUEST, DHCPSOLICIT …) name a DUID, not a MAC. */
                for (size_t i = 0; i < ELEMENTSOF(v4); i++)
                        if (streq(type, v4[i]))
                                return dhcp_packet_line(x, type, rest + tl);
        }
        return 1;       /* another detail of the exchange */
}

/* ---- TFTP ------------------------------------------------------------------ */

/* The last word of S when it is an address ("… to 10.0.0.5"). */
static bool last_word(const char *s, char *dst, size_t n) {
        const char *w = strrchr(s, ' ');
        if (!w || !w[1])
                return false;
        snprintf(dst, n, "%s", w + 1);
        return true;
}

/* FILE as dnsmasq names it (the path under tftp-root) → what the client asked. */
static const char *tftp_client_name(const char *path) {
        const char *t = strstr(path, "/tftp/");
        return t ? t + 6 : base_name(path);
}

/* Emits the TFTP error kept back, if any. */
static void abort_emit(struct events *ev) {
        if (!ev->abort.path)
                return;
        ev->abort.err = ev->abort_err;
        emit(ev, &ev->abort);
        free(ev->abort_err);
        ev->abort_err = NULL;
        ev->abort = (struct event) {};
}

static int tftp_line(struct events *ev, const char *msg, uint64_t usec) {
        struct event e = { .kind = EVENT_TFTP, .usec = usec, .bytes = -1, .length = -1, .seconds = -1 };
        _cleanup_free_ char *file = NULL;
        const char *to;
        struct stat st;

        if (strncmp(msg, "sent ", 5) == 0 && (to = strstr(msg, " to "))) {
                file = strndup(msg + 5, (size_t) (to - msg - 5));
                if (!last_word(msg, e.ip, sizeof(e.ip)))
                        return 0;
                if (ev->stat_fn(file, &st) == 0 && S_ISREG(st.st_mode))
                        e.bytes = e.length = st.st_size;
        } else if (strncmp(msg, "file ", 5) == 0 && strstr(msg, " not found")) {
                const char *nf = strstr(msg, " not found");
                file = strndup(msg + 5, (size_t) (nf - msg - 5));
                e.status = 404;
                if (strstr(nf, " for "))
                        last_word(nf, e.ip, sizeof(e.ip));
        } else if (strncmp(msg, "failed sending ", 15) == 0 && (to = strstr(msg, " to "))) {
                file = strndup(msg + 15, (size_t) (to - msg - 15));
                e.status = 1;
                last_word(msg, e.ip, sizeof(e.ip));
        } else if (strncmp(msg, "error ", 6) == 0 && strstr(msg, " received from ")) {
                /* "error 0 TFTP Aborted received from 10.0.0.5": the client gave up. */
                const char *rf = strstr(msg, " received from ");
                abort_emit(ev);
                ev->abort = (struct event) { .kind = EVENT_TFTP, .usec = usec, .status = 1, .bytes = -1,
                                             .length = -1, .seconds = -1, .path = (char *) "?" };
                last_word(msg, ev->abort.ip, sizeof(ev->abort.ip));
                if (streq(ev->abort.ip, ev->ignore_ip)) {
                        ev->abort = (struct event) {};  /* up's size probe (tsize), no client's */
                        return 1;
                }
                ev->abort_err = strndup(msg + 6, (size_t) (rf - msg - 6));
                return 1;
        } else
                return 0;
        /* pxelab's own self-check asks from the lab's address. */
        if (streq(e.ip, ev->ignore_ip))
                return 1;
        /* A transfer to the client that aborted one: that was a size probe. */
        if (ev->abort.path && streq(ev->abort.ip, e.ip) && e.status == 0) {
                free(ev->abort_err);
                ev->abort_err = NULL;
                ev->abort = (struct event) {};
        }
        abort_emit(ev);
        e.path = (char *) tftp_client_name(file);
        emit(ev, &e);
        return 1;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* Decodes %XX in place (iPXE sends "52%3A54%3A…" for a MAC). */
static void url_decode(char *s) {
        char *w = s;
        for (const char *r = s; *r; r++) {
                if (r[0] == '%' && isxdigit((unsigned char) r[1]) && isxdigit((unsigned char) r[2])) {
                        char hex[3] = { r[1], r[2], 0 };
                        *w++ = (char) strtol(hex, NULL, 16);
                        r += 2;
                } else
                        *w++ = *r;
        }
        *w = 0;
}

/* VALUE of KEY in the query string Q ("a=1&b=2"), decoded, newly allocated. */
static char *query_get(const char *q, const char *key) {
        size_t kl = strlen(key);
        for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
                if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
                        char *v = strndup(p + kl + 1, strcspn(p + kl + 1, "&"));
                        url_decode(v);
                        return v;
                }
        return NULL;
}

static int64_t parse_i64(const char *s) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        return (errno || end == s) ? -1 : (int64_t) v;
}

/* IP [TIME] "METHOD PATH PROTO" STATUS BYTES len=N t=S (nginx.conf.mustache). */
static int http_line(struct events *ev, const char *msg, uint64_t usec) {
        struct event e = { .kind = EVENT_HTTP, .usec = usec, .bytes = -1, .length = -1, .seconds = -1 };
        _cleanup_free_ char *method = NULL, *path = NULL, *mac = NULL, *entry = NULL, *err = NULL;
        const char *q1, *q2, *p, *sp;
        char *end;
        long status;

        copy_word(e.ip, sizeof(e.ip), msg);
        if (!e.ip[0] || !(strchr(e.ip, '.') || strchr(e.ip, ':')))
                return 0;
        /* pxelab's own readiness checks come from the lab's address. */
        if (streq(e.ip, ev->ignore_ip))
                return 1;
        q1 = strchr(msg, '"');
        q2 = q1 ? strchr(q1 + 1, '"') : NULL;     /* nginx escapes a '"' inside as \x22 */
        if (!q2)
                return 0;
        sp = memchr(q1 + 1, ' ', (size_t) (q2 - q1 - 1));
        if (!sp)
                return 0;
        method = strndup(q1 + 1, (size_t) (sp - q1 - 1));
        p = sp + 1;
        sp = memchr(p, ' ', (size_t) (q2 - p));
        path = strndup(p, sp ? (size_t) (sp - p) : (size_t) (q2 - p));
        errno = 0;
        status = strtol(q2 + 1, &end, 10);
        if (errno || end == q2 + 1 || status < 100 || status > 999)
                return 0;
        e.status = (int) status;
        e.bytes = parse_i64(end);
        if ((p = strstr(end, " len=")))
                e.length = parse_i64(p + 5);
        /* A HEAD (iPXE's sanboot asks the size first) sends no body: no short transfer. */
        if (streq(method, "HEAD"))
                e.bytes = e.length = -1;
        if ((p = strstr(end, " t=")))
                e.seconds = strtod(p + 3, NULL);

        if (strncmp(path, "/_/booted?", 10) == 0 || strncmp(path, "/_/failed?", 10) == 0) {
                const char *q = path + 10;
                e.kind = path[3] == 'b' ? EVENT_BOOTED : EVENT_FAILED;
                mac = query_get(q, "mac");
                entry = query_get(q, "entry");
                err = query_get(q, "err");
                if (mac && strlen(mac) == 17) {
                        for (char *m = mac; *m; m++)
                                *m = (char) tolower((unsigned char) *m);
                        snprintf(e.mac, sizeof(e.mac), "%s", mac);
                }
                e.entry = entry;
                e.err = err;
        }
        e.method = method;
        e.path = path;
        emit(ev, &e);
        return 1;
}

/* ---- lines ------------------------------------------------------------------ */

/* dnsmasq writing to stderr (log-facility=-) prefixes "dnsmasq-dhcp[PID]: ". */
static const char *strip_dnsmasq_prefix(const char *msg, const char **kind) {
        static const char *const kinds[] = { "dnsmasq-dhcp", "dnsmasq-tftp", "dnsmasq" };
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                size_t l = strlen(kinds[i]);
                const char *p = msg + l;
                if (strncmp(msg, kinds[i], l) != 0)
                        continue;
                if (*p == '[')
                        p += strspn(p + 1, "0123456789") + 1 + (p[strspn(p + 1, "0123456789") + 1] == ']');
                if (p[0] == ':' && p[1] == ' ') {
                        *kind = kinds[i];
                        return p + 2;
                }
        }
        return msg;
}

int events_feed(struct events *ev, const char *ident, const char *msg, uint64_t usec) {
        const char *kind = ident;
        int r;

        if (!msg)
                return 0;
        if (streq(ident, "pxelab_http")) {
                xacts_finish(ev, NULL);
                abort_emit(ev);
                return http_line(ev, msg, usec);
        }
        if (ident && strncmp(ident, "dnsmasq", 7) != 0)
                return 0;
        msg = strip_dnsmasq_prefix(msg, &kind);
        if (streq(kind, "dnsmasq-tftp") || (streq(kind, "dnsmasq") && !isdigit((unsigned char) msg[0])))
                xacts_finish(ev, NULL);
        if (!streq(kind, "dnsmasq-tftp") && !(streq(kind, "dnsmasq") && !isdigit((unsigned char) msg[0])))
                abort_emit(ev);         /* no transfer followed it */
        if (streq(kind, "dnsmasq-tftp"))
                r = tftp_line(ev, msg, usec);
        else if (streq(kind, "dnsmasq-dhcp"))
                r = dhcp_line(ev, msg, usec);
        else
                /* Plain "dnsmasq": a DHCP line has its XID first, TFTP's do not. */
                r = isdigit((unsigned char) msg[0]) ? dhcp_line(ev, msg, usec) : tftp_line(ev, msg, usec);
        return r;
}

void events_flush(struct events *ev, uint64_t now_usec) {
        xacts_finish(ev, NULL);
        abort_emit(ev);
        if (now_usec == 0)
                return;
        for (size_t i = 0; i < ev->n_clients; i++) {
                struct client *c = &ev->clients[i];
                if (c->last_kind == EVENT_TFTP && c->loader && !c->stalled && !c->booted && !c->kernel_tftp &&
                    now_usec > c->last_usec + EVENTS_STALL_USEC) {
                        struct event e = { .kind = EVENT_STALLED, .usec = c->last_usec + EVENTS_STALL_USEC,
                                           .bytes = -1, .length = -1, .seconds = -1 };
                        snprintf(e.mac, sizeof(e.mac), "%s", c->mac);
                        snprintf(e.ip, sizeof(e.ip), "%s", c->ip);
                        emit(ev, &e);
                        c = &ev->clients[i];    /* emit() may have grown the array */
                }
        }
}

/* ---- output ----------------------------------------------------------------- */

static void human_size(int64_t b, char *buf, size_t n) {
        if (b < 0)
                snprintf(buf, n, "?");
        else if (b < 1000)
                snprintf(buf, n, "%" PRId64 " B", b);
        else if (b < 1000 * 1000)
                snprintf(buf, n, "%.1f kB", (double) b / 1e3);
        else
                snprintf(buf, n, "%.1f MB", (double) b / 1e6);
}

char *event_format(const struct event *e) {
        _cleanup_free_ char *step = NULL;
        char size[32];

        switch (e->kind) {
        case EVENT_DHCP:
                if (streq(e->result, "ack"))
                        step = xasprintf("DHCP%s arch=%s → %s%s%s", e->ipxe ? " (iPXE)" : "", e->arch ? e->arch : "?",
                                         e->ip[0] ? e->ip : "?", e->bootfile ? ", " : "",
                                         e->bootfile ? e->bootfile : "");
                else
                        step = xasprintf("DHCP%s arch=%s → %s", e->ipxe ? " (iPXE)" : "", e->arch ? e->arch : "?",
                                         e->result ? e->result : "?");
                break;
        case EVENT_TFTP:
                human_size(e->bytes, size, sizeof(size));
                step = e->status == 0 ? xasprintf("TFTP %s %s", e->path, size)
                                      : xasprintf("TFTP %s %s", e->path, e->status == 404 ? "not found" : "aborted");
                break;
        case EVENT_HTTP:
                human_size(e->bytes, size, sizeof(size));
                if (e->seconds >= 0.05)
                        step = xasprintf("HTTP %s %d %s in %.1f s", e->path, e->status, size, e->seconds);
                else
                        step = xasprintf("HTTP %s %d %s", e->path, e->status, size);
                break;
        case EVENT_BOOTED:
                step = xasprintf("booted '%s'", e->entry ? e->entry : "?");
                break;
        case EVENT_FAILED:
                step = xasprintf("failed '%s' (iPXE error %s)", e->entry ? e->entry : "?", e->err ? e->err : "?");
                break;
        case EVENT_STALLED:
                step = xstrdup("stalled");
                break;
        }
        if (e->problem && e->kind != EVENT_FAILED && e->kind != EVENT_STALLED)
                return xasprintf("+%.1fs %s  !! %s", e->rel, step, e->problem);
        if (e->problem)
                return xasprintf("+%.1fs %s: %s", e->rel, step, e->problem);
        return xasprintf("+%.1fs %s", e->rel, step);
}

static json_t *str_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

json_t *event_json(const struct event *e) {
        json_t *o = json_object();
        json_object_set_new(o, "event", json_string(event_kind_name(e->kind)));
        json_object_set_new(o, "time", json_real((double) e->usec / 1e6));
        json_object_set_new(o, "t", json_real((double) (long long) (e->rel * 1000 + 0.5) / 1000));
        json_object_set_new(o, "mac", e->mac[0] ? json_string(e->mac) : json_null());
        json_object_set_new(o, "ip", e->ip[0] ? json_string(e->ip) : json_null());
        json_object_set_new(o, "hostname", str_or_null(e->hostname));
        switch (e->kind) {
        case EVENT_DHCP:
                json_object_set_new(o, "arch", str_or_null(e->arch));
                json_object_set_new(o, "ipxe", json_boolean(e->ipxe));
                json_object_set_new(o, "result", str_or_null(e->result));
                json_object_set_new(o, "bootfile", str_or_null(e->bootfile));
                break;
        case EVENT_TFTP:
                json_object_set_new(o, "file", str_or_null(e->path));
                json_object_set_new(o, "result", json_string(e->status == 0 ? "sent" : e->status == 404 ? "not-found"
                                                                                                       : "aborted"));
                json_object_set_new(o, "bytes", e->bytes >= 0 ? json_integer(e->bytes) : json_null());
                break;
        case EVENT_HTTP:
                json_object_set_new(o, "method", str_or_null(e->method));
                json_object_set_new(o, "path", str_or_null(e->path));
                json_object_set_new(o, "status", json_integer(e->status));
                json_object_set_new(o, "bytes", e->bytes >= 0 ? json_integer(e->bytes) : json_null());
                json_object_set_new(o, "length", e->length >= 0 ? json_integer(e->length) : json_null());
                json_object_set_new(o, "seconds", e->seconds >= 0 ? json_real(e->seconds) : json_null());
                break;
        case EVENT_BOOTED:
        case EVENT_FAILED:
                json_object_set_new(o, "entry", str_or_null(e->entry));
                if (e->kind == EVENT_FAILED)
                        json_object_set_new(o, "err", str_or_null(e->err));
                break;
        case EVENT_STALLED:
                break;
        }
        json_object_set_new(o, "problem", str_or_null(e->problem));
        return o;
}

static int client_cmp(const void *a, const void *b) {
        return strcmp(((const struct client *) a)->mac, ((const struct client *) b)->mac);
}

json_t *events_clients_json(const struct events *ev) {
        json_t *a = json_array();
        struct client *sorted;

        if (ev->n_clients == 0)
                return a;
        sorted = xcalloc(ev->n_clients, sizeof(*sorted));
        memcpy(sorted, ev->clients, ev->n_clients * sizeof(*sorted));
        qsort(sorted, ev->n_clients, sizeof(*sorted), client_cmp);
        for (size_t i = 0; i < ev->n_clients; i++) {
                const struct client *c = &sorted[i];
                if (!c->last_step || (ev->filter[0] && !streq(ev->filter, c->mac)))
                        continue;
                json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:s, s:s, s:f, s:o, s:o}",
                        "mac", c->mac[0] ? json_string(c->mac) : json_null(),
                        "ip", c->ip[0] ? json_string(c->ip) : json_null(),
                        "hostname", str_or_null(c->hostname),
                        "last_step", c->last_step,
                        "last_event", event_kind_name(c->last_kind),
                        "time", (double) c->last_usec / 1e6,
                        "entry", str_or_null(c->entry),
                        "problem", str_or_null(c->problem)));
        }
        free(sorted);
        return a;
}
