/* The lab's services: one table, one hardened unit each. See services.h. */
#include <errno.h>
#include <linux/capability.h>

#include "basic/fault.h"
#include "basic/log.h"
#include "basic/util.h"
#include "host/units.h"
#include "kinds/kind.h"
#include "kinds/iscsi.h"
#include "kinds/windows.h"
#include "lab/services.h"

static uint64_t caps(const int *list, size_t n) {
        uint64_t m = 0;
        for (size_t i = 0; i < n; i++)
                m |= 1ULL << list[i];
        return m;
}

/* What every daemon of the lab runs with, on top of units.c's defaults:
 * no hardware devices, the system-service syscalls only, no W+X memory. */
static char *service_syscalls[] = { "@system-service", NULL };

/* dnsmasq: bind 67/69, ARP entries for offers (NET_ADMIN), ICMPv6 for
 * router advertisements (NET_RAW), and user=nobody (SETUID/SETGID). */
static const int dnsmasq_caps[] = { CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SETUID, CAP_SETGID };
static char *dnsmasq_af[] = { "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", NULL };
/* nginx's master: bind 80, start workers as nobody, and hand its temp dirs
 * to them (CHOWN). It reads nothing root-only. */
static const int nginx_caps[] = { CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_CHOWN };
static char *nginx_af[] = { "AF_UNIX", "AF_INET", "AF_INET6", NULL };

static int dnsmasq_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw) {
        const char *run = json_string_value(json_object_get(json_object_get(model, "dirs"), "run"));

        *rw = xcalloc(3, sizeof(char *));
        (*rw)[0] = path_join(run, "dnsmasq");
        /* The lease file itself (made before the start), not the state dir. */
        (*rw)[1] = xstrdup(json_string_value(json_object_get(json_object_get(model, "dhcp"), "leasefile")));
        *argv = xcalloc(4, sizeof(char *));
        (*argv)[0] = xstrdup("/usr/sbin/dnsmasq");
        (*argv)[1] = xstrdup("--keep-in-foreground");
        (*argv)[2] = xasprintf("--conf-file=%s/dnsmasq.conf", run);
        s->description = "pxelab DHCP and TFTP";
        s->capabilities = caps(dnsmasq_caps, ELEMENTSOF(dnsmasq_caps));
        s->address_families = dnsmasq_af;
        return 0;
}

static int nginx_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw) {
        json_t *dirs = json_object_get(model, "dirs");
        const char *run = json_string_value(json_object_get(dirs, "run"));

        *rw = xcalloc(3, sizeof(char *));
        (*rw)[0] = path_join(run, "nginx");
        (*rw)[1] = xstrdup(json_string_value(json_object_get(dirs, "log")));
        *argv = xcalloc(6, sizeof(char *));
        (*argv)[0] = xstrdup("/usr/sbin/nginx");
        (*argv)[1] = xstrdup("-c");
        (*argv)[2] = xasprintf("%s/nginx.conf", run);
        (*argv)[3] = xstrdup("-e");
        (*argv)[4] = xstrdup("stderr");
        s->description = "pxelab HTTP";
        s->capabilities = caps(nginx_caps, ELEMENTSOF(nginx_caps));
        s->address_families = nginx_af;
        return 0;
}

static bool always(const struct profile *p) {
        return true;
}

/* smbd runs while a boot kind needs it (windows entries share their install
 * trees); it goes with the last of them. */
static bool smbd_wanted(const struct profile *p) {
        return kinds_need(p, "smbd");
}

static bool dnsmasq_changed(const struct render_changes *ch) { return ch->dnsmasq; }
static bool nginx_changed(const struct render_changes *ch) { return ch->nginx; }
static bool smbd_changed(const struct render_changes *ch) { return ch->smbd; }
static bool tgtd_wanted(const struct profile *p) { return iscsi_lab_uses(p); }
static bool tgtd_changed(const struct render_changes *ch) { return ch->tgtd; }

/* The table: in the order `up` starts them. */
static const struct lab_service {
        const char *name;
        bool (*wanted)(const struct profile *p);
        bool (*changed)(const struct render_changes *ch);
        /* Fills in the daemon's command line, writable paths, description,
         * capabilities and address families; what it allocates in
         * exec_start_post and hidden_rw_paths is freed after the start. */
        int (*spec)(json_t *model, struct unit_spec *s, char ***argv, char ***rw);
} services[] = {
        { "dnsmasq", always, dnsmasq_changed, dnsmasq_spec },
        { "nginx", always, nginx_changed, nginx_spec },
        { "smbd", smbd_wanted, smbd_changed, windows_smbd_spec },
        { "tgtd", tgtd_wanted, tgtd_changed, iscsi_tgtd_spec },
};

const char *const lab_service_names[] = { "dnsmasq", "nginx", "smbd", "tgtd", NULL };

/* Boot files and shares in places the sandbox hides: bound in read-only. */
static char **hidden_paths_of(json_t *model) {
        json_t *lists[] = { json_object_get(model, "files"),
                            json_object_get(json_object_get(model, "smb"), "shares") };
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0, i;
        json_t *f;

        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                json_array_foreach(lists[l], i, f) {
                        const char *path = json_string_value(json_object_get(f, "path"));
                        if (!path || !units_path_hidden(path))
                                continue;
                        v = xrealloc(v, (n + 2) * sizeof(char *));
                        v[n++] = xstrdup(path);
                        v[n] = NULL;
                }
        return v;
}

/* The sandbox every service shares. ProtectSystem=strict leaves a
 * separately mounted /run writable (it is here, and in the test harness
 * /var/lib/pxelab too): the lab's own dirs are made read-only explicitly,
 * the daemon's dirs below them writable again. */
static void common_spec(json_t *model, struct unit_spec *s) {
        json_t *dirs = json_object_get(model, "dirs");

        s->read_only_paths = xcalloc(3, sizeof(char *));
        s->read_only_paths[0] = xstrdup(json_string_value(json_object_get(dirs, "run")));
        s->read_only_paths[1] = xstrdup(json_string_value(json_object_get(dirs, "state")));
        s->private_devices = true;
        s->syscall_filter = service_syscalls;
        s->memory_deny_write_execute = true;
        s->type = "simple";
}

static int start_service(sd_bus *bus, const struct lab_service *svc_, json_t *model, struct lab_record *st,
                         bool changed, void (*print_step)(const char *fmt, ...)) {
        const char *svc = svc_->name;
        _cleanup_free_ char *unit = lab_unit_name(st->lab, svc);
        _cleanup_strv_free_ char **argv = NULL, **rw = NULL, **hidden = hidden_paths_of(model), **ro = NULL;
        /* Settled together by lab_up (units_settle_deferred): one 300 ms
         * window for all services instead of one each. */
        /* Type=exec: the start job is done once the daemon's binary runs, so
         * the settle window below is the daemon's own time to read its
         * config and fail, not the sandbox's setup (seconds on a busy host). */
        struct unit_spec spec = { .name = unit, .slice = st->slice, .hidden_paths = hidden, .defer_settle = true,
                                  .type = "exec" };
        struct unit_status us = {};
        int r;

        if (lab_record_add_unit(st, unit)) {
                r = lab_record_save(st);
                if (r < 0)
                        return r;
        }
        fault_point_of(svc, "-recorded");
        r = units_status(bus, unit, &us);
        if (r < 0)
                return r;
        if (streq(us.active_state, "active")) {
                unit_status_done(&us);
                if (!changed)
                        return 0;
                if (print_step)
                        print_step("Restarting %s (its configuration changed)", unit);
                return units_restart(bus, unit);
        }
        unit_status_done(&us);
        common_spec(model, &spec);
        ro = spec.read_only_paths;
        r = svc_->spec(model, &spec, &argv, &rw);
        if (r < 0)
                return r;
        spec.read_write_paths = rw;
        spec.argv = argv;
        r = units_start(bus, &spec);
        strv_free(spec.exec_start_post);
        strv_free(spec.hidden_rw_paths);
        if (r < 0)
                return r;
        if (print_step)
                print_step("Started %s", unit);
        /* The step named after the service itself ("dnsmasq", "nginx"). */
        fault_point_of(svc, "");
        return 0;
}

/* A service the profile no longer needs: stopped and dropped from the record. */
static int stop_service(sd_bus *bus, struct lab_record *st, const char *svc,
                        void (*print_step)(const char *fmt, ...)) {
        _cleanup_free_ char *unit = lab_unit_name(st->lab, svc);
        int r;

        for (char **u = st->units; *u; u++) {
                if (!streq(*u, unit))
                        continue;
                r = units_stop(bus, unit);
                if (r < 0)
                        return r;
                if (print_step)
                        print_step("Stopped %s (no longer needed)", unit);
                lab_record_del_unit(st, unit);
                return lab_record_save(st);
        }
        return 0;
}

int lab_services_apply(sd_bus *bus, const struct profile *p, json_t *model, struct lab_record *st,
                       const struct render_changes *ch, void (*print_step)(const char *fmt, ...)) {
        for (size_t i = 0; i < ELEMENTSOF(services); i++) {
                int r = services[i].wanted(p)
                                ? start_service(bus, &services[i], model, st, services[i].changed(ch), print_step)
                                : stop_service(bus, st, services[i].name, print_step);
                if (r < 0)
                        return r;
        }
        return 0;
}
