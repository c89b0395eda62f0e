/* pxelab watch [LAB] [--json] [-f] [--since WHEN]: every client's boot, one
 * line per step, from the lab's journal (lab/bootlog.h, lab/events.h). Also
 * `vm start --wait`: one VM's boot through the same events. */
#include <errno.h>
#include <getopt.h>
#include <time.h>

#include "cmd/commands.h"
#include "basic/log.h"
#include "basic/util.h"
#include "lab/bootlog.h"
#include "lab/events.h"
#include "lab/record.h"
#include "lab/state.h"

/* A line printed for a client, kept (without -f) to print grouped. */
struct line {
        char mac[18];
        char *text;
};

struct watch {
        bool json, follow;
        const struct lab_record *rec;   /* the lab's record: a MAC's VM name */
        struct line *lines;
        size_t n_lines;
        char last_mac[18];      /* the client of the line printed last (-f) */
};

/* "vm1" for a MAC of one of the lab's VMs, else the DHCP host name. */
static const char *client_name(const struct watch *w, const struct event *e) {
        for (size_t i = 0; w->rec && i < w->rec->n_vms; i++)
                if (streq(w->rec->vms[i].mac, e->mac))
                        return w->rec->vms[i].name;
        return e->hostname;
}

static char *client_label(const struct watch *w, const struct event *e) {
        const char *n = client_name(w, e);
        const char *who = e->mac[0] ? e->mac : e->ip;
        return n ? xasprintf("%s (%s)", who, n) : xstrdup(who);
}

#define LABEL_WIDTH 26

static void print_line(const char *label, const char *text) {
        printf("%-*s %s\n", LABEL_WIDTH, label ? label : "", text);
}

static void on_event(const struct event *e, void *userdata) {
        struct watch *w = userdata;
        _cleanup_free_ char *text = event_format(e);

        if (w->json) {
                json_t *o = event_json(e);
                char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
                puts(s);
                free(s);
                json_decref(o);
                fflush(stdout);
                return;
        }
        if (w->follow) {
                _cleanup_free_ char *label = NULL;
                if (!streq(w->last_mac, e->mac) || !e->mac[0])
                        label = client_label(w, e);
                print_line(label, text);
                snprintf(w->last_mac, sizeof(w->last_mac), "%s", e->mac);
                fflush(stdout);
                return;
        }
        {
                _cleanup_free_ char *label = client_label(w, e);
                w->lines = xrealloc(w->lines, (w->n_lines + 1) * sizeof(*w->lines));
                snprintf(w->lines[w->n_lines].mac, sizeof(w->lines[0].mac), "%s", e->mac);
                /* The label goes with the client's first line. */
                w->lines[w->n_lines++].text = xasprintf("%s\t%s", label, text);
        }
}

/* Without -f: each client's lines together, clients in the order they came. */
static void print_grouped(struct watch *w) {
        bool *done = xcalloc(w->n_lines + 1, sizeof(bool));
        for (size_t i = 0; i < w->n_lines; i++) {
                if (done[i])
                        continue;
                for (size_t k = i; k < w->n_lines; k++) {
                        char *tab;
                        if (done[k] || !streq(w->lines[k].mac, w->lines[i].mac))
                                continue;
                        done[k] = true;
                        tab = strchr(w->lines[k].text, '\t');
                        *tab = 0;
                        print_line(k == i ? w->lines[k].text : NULL, tab + 1);
                }
        }
        for (size_t i = 0; i < w->n_lines; i++)
                free(w->lines[i].text);
        free(w->lines);
        free(done);
}

/* WHEN: "30s", "10m", "2h", "1d" ago; "@UNIXTIME"; "YYYY-MM-DD HH:MM[:SS]" local. */
static int parse_since(const char *s, uint64_t *ret) {
        char *end;
        struct tm tm = {};
        const char *p;

        errno = 0;
        if (s[0] == '@') {
                unsigned long long v = strtoull(s + 1, &end, 10);
                if (errno || end == s + 1 || *end)
                        return -EINVAL;
                *ret = v * 1000000ULL;
                return 0;
        }
        if (s[0] >= '0' && s[0] <= '9') {
                unsigned long long v = strtoull(s, &end, 10), mul = 0;
                if (!errno && end != s && end[0] && !end[1])
                        mul = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 0;
                if (mul) {
                        uint64_t ago = v * mul * 1000000ULL, now = bootlog_now();
                        *ret = ago < now ? now - ago : 1;
                        return 0;
                }
        }
        p = strptime(s, "%Y-%m-%d %H:%M", &tm);
        if (p && *p == ':')
                p = strptime(p, ":%S", &tm);
        if (!p || *p)
                return -EINVAL;
        tm.tm_isdst = -1;
        *ret = (uint64_t) mktime(&tm) * 1000000ULL;
        return 0;
}

/* LAB, or the only lab that is up. */
static int pick_lab(char **ret) {
        _cleanup_strv_free_ char **labs = NULL;
        if (state_list_labs(&labs) < 0) {
                log_error("Failed to list labs in %s", PXELAB_RUN_ROOT);
                return EXIT_RUNTIME;
        }
        if (!labs[0]) {
                log_error("No lab is up");
                return EXIT_RUNTIME;
        }
        if (labs[1]) {
                log_error("Several labs are up (%s, %s%s): name one", labs[0], labs[1], labs[2] ? ", …" : "");
                return EXIT_USAGE;
        }
        *ret = xstrdup(labs[0]);
        return EXIT_OK;
}

int cmd_watch(int argc, char *argv[]) {
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "follow", no_argument, NULL, 'f' },
                { "since", required_argument, NULL, 's' },
                {}
        };
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        _cleanup_(events_freep) struct events *ev = NULL;
        _cleanup_free_ char *lab = NULL;
        struct watch w = {};
        uint64_t since = 0;
        char ip[64];
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "f", opts, NULL)) >= 0)
                switch (c) {
                case 'j':
                        w.json = true;
                        break;
                case 'f':
                        w.follow = true;
                        break;
                case 's':
                        if (parse_since(optarg, &since) < 0) {
                                log_error("--since: '%s' is neither a time ago (30s, 10m, 2h, 1d), @UNIXTIME "
                                          "nor 'YYYY-MM-DD HH:MM[:SS]'", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        return command_usage("watch");
                }
        if (argc - optind > 1)
                return command_usage("watch");
        if (argc - optind == 1) {
                if (!command_lab_arg_ok(argv[optind]))
                        return EXIT_USAGE;
                lab = xstrdup(argv[optind]);
        } else if ((r = pick_lab(&lab)) != EXIT_OK)
                return r;

        r = lab_record_load(lab, &st);
        if (r == -ENOENT) {
                log_error("Lab '%s' is not up", lab);
                return EXIT_RUNTIME;
        }
        if (r < 0)
                return EXIT_RUNTIME;
        w.rec = st;
        ev = events_new(on_event, &w);
        bootlog_lab_ip(st->address, ip, sizeof(ip));
        events_ignore_ip(ev, ip);
        r = bootlog_read(lab, ev, since, w.follow, 0, NULL, NULL);
        if (!w.follow && !w.json)
                print_grouped(&w);
        return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* ---- vm start --wait -------------------------------------------------------- */

struct vm_wait {
        const char *name;
        bool booted, failed;
        char *last;             /* the last step, formatted */
        char *reason;           /* the last problem */
        char *entry;
        double rel;
};

static void on_vm_event(const struct event *e, void *userdata) {
        struct vm_wait *v = userdata;
        free(v->last);
        v->last = event_format(e);
        printf("%s: %s\n", v->name, v->last);
        fflush(stdout);
        if (e->problem) {
                free(v->reason);
                v->reason = xstrdup(e->problem);
        }
        v->rel = e->rel;
        if (e->kind == EVENT_BOOTED) {
                v->booted = true;
                v->entry = xstrdup(e->entry);
        }
        if (e->kind == EVENT_FAILED)
                v->failed = true;
}

static bool vm_wait_done(void *userdata) {
        const struct vm_wait *v = userdata;
        return v->booted || v->failed;
}

int watch_vm_boot(const char *lab, const char *name, const char *mac, uint64_t since_usec, unsigned seconds) {
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        _cleanup_(events_freep) struct events *ev = NULL;
        struct vm_wait v = { .name = name };
        char ip[64] = "";
        int r, ret;

        if (lab_record_load(lab, &st) >= 0)
                bootlog_lab_ip(st->address, ip, sizeof(ip));
        ev = events_new(on_vm_event, &v);
        events_ignore_ip(ev, ip);
        events_filter_mac(ev, mac);
        r = bootlog_read(lab, ev, since_usec, true, since_usec + (uint64_t) seconds * 1000000ULL, vm_wait_done, &v);
        if (r < 0)
                ret = EXIT_RUNTIME;
        else if (v.booted) {
                log_info("VM '%s' booted '%s' %.1f s after its first DHCPDISCOVER", name, v.entry, v.rel);
                ret = EXIT_OK;
        } else if (v.failed) {
                log_error("VM '%s' did not boot: %s", name, v.reason ? v.reason : v.last);
                ret = EXIT_RUNTIME;
        } else {
                if (v.last)
                        log_error("VM '%s' did not boot within %u s; last step: %s%s%s", name, seconds, v.last,
                                  v.reason && !strstr(v.last, v.reason) ? "; " : "",
                                  v.reason && !strstr(v.last, v.reason) ? v.reason : "");
                else
                        log_error("VM '%s' did not boot within %u s: no DHCP request from %s seen", name, seconds,
                                  mac);
                ret = EXIT_RUNTIME;
        }
        free(v.last);
        free(v.reason);
        free(v.entry);
        return ret;
}
