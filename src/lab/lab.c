/* A lab's life: preflight, the steps of `up` in order, and `down`. The
 * pieces live beside it: the record (record.c), the bridge (labbridge.c),
 * the table and forwarding (forward.c), the services (services.c), VMs
 * (vm.c), status (status.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <sys/stat.h>

#include "basic/fault.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "basic/util.h"
#include "host/link.h"
#include "host/nm.h"
#include "host/probe.h"
#include "host/symguard.h"
#include "host/units.h"
#include "kinds/kind.h"
#include "kinds/iscsi.h"
#include "kinds/windows.h"
#include "lab/forward.h"
#include "lab/lab.h"
#include "lab/labbridge.h"
#include "lab/ports.h"
#include "lab/proxy.h"
#include "lab/record.h"
#include "lab/services.h"
#include "lab/vm.h"
#include "render/render.h"

/* An `up` in progress (lab.h): the lock is held from begin to end. */
struct lab_up {
        const struct profile *p;
        int lock;
        struct lab_record *st;  /* NULL: a fresh lab */
        char *uplink;           /* NULL: none */
};

/* Step timings, on stderr when it is a terminal; silent otherwise.
 * PXELAB_TIMING=1 prints them whatever stderr is, so bench/lifecycle can
 * see the slow step. */
static unsigned long long t0;
static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...) {
        const char *timing = getenv("PXELAB_TIMING");
        va_list ap;
        if (!isatty(STDERR_FILENO) && !(timing && streq(timing, "1")))
                return;
        fprintf(stderr, "[%6.3fs] ", (now_usec() - t0) / 1e6);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- preflight ---------------------------------------------------------- */

static bool holds_bridge(struct lab_record *st, const char *bridge) {
        return st->has_bridge && streq(st->bridge.name, bridge);
}

static int preflight_uplink(const struct profile *p, char **ret_uplink);
static int preflight_service_ports(const struct profile *p, const struct lab_record *old);
static int preflight_proxy(const struct profile *p, const struct lab_record *old);

static int preflight(const struct profile *p, const struct lab_record *old, char **ret_uplink) {
        char a[INET_ADDRSTRLEN];
        struct in_addr mask = { .s_addr = htonl(rule_netmask(p->bridge.prefix)) };
        struct in_addr net = { .s_addr = p->bridge.addr.s_addr & mask.s_addr };
        _cleanup_free_ char *desc = NULL, *owner = NULL;
        /* The bridge this lab already configured: its addresses are ours. */
        bool ours = old && old->has_bridge;
        int r;

        if (old && !streq(old->profile, p->path)) {
                log_error("Lab '%s' is already up from profile '%s'; take it down first (pxelab down %s)", p->lab,
                          strempty(old->profile) ? "" : old->profile, p->lab);
                return -EEXIST;
        }
        *ret_uplink = NULL;
        if (p->dhcp.proxy)
                return preflight_proxy(p, old);
        owner = lab_record_owner(p->lab, holds_bridge, p->bridge.name);
        if (owner) {
                log_error("Bridge '%s' belongs to lab '%s'", p->bridge.name, owner);
                return -EEXIST;
        }
        r = labbridge_preflight(p, old);
        if (r < 0)
                return r;
        r = host_subnet_conflict(net, p->bridge.prefix, ours ? p->bridge.name : NULL, &desc);
        if (r < 0)
                return r;
        if (r > 0) {
                log_error("Subnet %s/%u of lab '%s' overlaps %s on this host", inet_ntop(AF_INET, &net, a, sizeof(a)),
                          p->bridge.prefix, p->lab, desc);
                return -EADDRINUSE;
        }
        r = preflight_service_ports(p, old);
        if (r < 0)
                return r;
        r = preflight_uplink(p, ret_uplink);
        if (r < 0)
                return r;
        return lab_ports_preflight(p, old, *ret_uplink);
}

/* The ports the lab's services take at its address, free (a fresh lab). */
static int preflight_service_ports(const struct profile *p, const struct lab_record *old) {
        char a[INET_ADDRSTRLEN];

        if (!old) {
                if (port_in_use(true, p->bridge.addr, 80) > 0) {
                        log_error("Port 80/tcp is already in use on this host at %s or on all addresses",
                                  inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)));
                        return -EADDRINUSE;
                }
                if (port_in_use(false, p->bridge.addr, 69) > 0) {
                        log_error("Port 69/udp (TFTP) is already in use on this host at %s or on all addresses",
                                  inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)));
                        return -EADDRINUSE;
                }
                /* iscsi entries: the lab's tgtd (Debian's own tgt.service takes every address) */
                if (iscsi_lab_uses(p) && port_in_use(true, p->bridge.addr, ISCSI_PORT) > 0) {
                        log_error("Port %d/tcp (iSCSI) is already in use on this host at %s or on all addresses; "
                                  "stop the host's tgt (systemctl disable --now tgt)",
                                  ISCSI_PORT, inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)));
                        return -EADDRINUSE;
                }
                /* windows entries: the lab's smbd (a host Samba on all addresses blocks it) */
                if (kinds_need(p, "smbd") && port_in_use(true, p->bridge.addr, WINDOWS_SMB_PORT) > 0) {
                        log_error("Port %d/tcp (SMB) is already in use on this host at %s or on all addresses; "
                                  "a Samba of this host must leave the lab's bridge alone (bind interfaces only)",
                                  WINDOWS_SMB_PORT, inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)));
                        return -EADDRINUSE;
                }
        }
        return 0;
}

/* Another lab uses link NAME: as its bridge, a port, or a proxy lab's LAN. */
static bool holds_interface(struct lab_record *st, const char *name) {
        return holds_bridge(st, name) || lab_record_port(st, name) ||
               (st->proxy_interface && streq(st->proxy_interface, name));
}

/* A proxy lab makes no bridge and takes no subnet: its interface must be
 * no other lab's, its service ports free. */
static int preflight_proxy(const struct profile *p, const struct lab_record *old) {
        _cleanup_free_ char *owner = lab_record_owner(p->lab, holds_interface, p->dhcp.interface);

        if (owner) {
                log_error("%s:%u: dhcp.interface: '%s' is already used by lab '%s'", p->path,
                          profile_line(p, "dhcp.interface"), p->dhcp.interface, owner);
                return -EEXIST;
        }
        if (old && old->has_bridge) {
                log_error("Lab '%s' is up with bridge '%s'; take it down before it becomes a proxy lab (pxelab down %s)",
                          p->lab, old->bridge.name, p->lab);
                return -EEXIST;
        }
        return preflight_service_ports(p, old);
}

static int preflight_uplink(const struct profile *p, char **ret_uplink) {
        int r;

        *ret_uplink = NULL;
        if (streq(p->bridge.uplink, "none")) {
                *ret_uplink = NULL;
                return 0;
        }
        if (streq(p->bridge.uplink, "auto")) {
                r = route_default_ifname(ret_uplink);
                if (r == -ENOENT) {
                        log_warn("No default route on this host: lab '%s' has no uplink (no NAT)", p->lab);
                        *ret_uplink = NULL;
                        return 0;
                }
                return r < 0 ? r : 0;
        }
        r = link_exists(p->bridge.uplink, NULL);
        if (r == 0) {
                log_error("%s:%u: bridge.uplink: interface '%s' does not exist", p->path,
                          profile_line(p, "bridge.uplink"), p->bridge.uplink);
                return -ENODEV;
        }
        if (r < 0)
                return r;
        *ret_uplink = xstrdup(p->bridge.uplink);
        return 0;
}

/* ---- steps -------------------------------------------------------------- */

/* The TFTP root becomes a nosymfollow mount of itself (see symguard.h),
 * recorded first like every resource. */
static int guard_tftp(struct lab_record *st) {
        _cleanup_free_ char *dir = lab_tftp_mount(st->lab);
        int r;

        r = lab_record_save_mount(st, dir);
        if (r < 0)
                return r;
        fault_point("tftp-recorded");
        r = symguard_mount(dir);
        fault_point("tftp");
        return r;
}
/* The files of the TFTP tree under DIR (relative names, REL their prefix)
 * that dnsmasq must serve with their size: every regular file, except the
 * per-host GRUB configs (one per host, as many as the profile has hosts: the
 * menu's grub.cfg stands for them). TFTP asks are one round trip each. */
static int check_tftp_dir(struct in_addr addr, const char *dir, const char *rel, unsigned *n) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return log_error_errno(errno, "Lab self-check failed: '%s'", dir);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *name = NULL, *error = NULL;
                struct stat sb;
                long long size = -1;

                if (de->d_name[0] == '.')
                        continue;
                path = path_join(dir, de->d_name);
                name = *rel ? path_join(rel, de->d_name) : xstrdup(de->d_name);
                if (lstat(path, &sb) < 0)
                        return log_error_errno(errno, "Lab self-check failed: '%s'", path);
                if (S_ISDIR(sb.st_mode)) {
                        if (streq(name, "grub/hosts"))
                                continue;
                        r = check_tftp_dir(addr, path, name, n);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!S_ISREG(sb.st_mode))
                        continue;
                r = tftp_size(addr, name, 2000, &size, &error);
                if (r < 0)
                        return log_error_errno(r, "Lab self-check failed: TFTP %s%s%s%s", name, error ? " (" : "",
                                               error ? error : "", error ? ")" : "");
                if (size != (long long) sb.st_size) {
                        log_error("Lab self-check failed: TFTP %s has %lld bytes, '%s' has %lld", name, size, path,
                                  (long long) sb.st_size);
                        return -EIO;
                }
                (*n)++;
        }
        return 0;
}

/* Ready: the units are active, dnsmasq has its TFTP socket on the bridge,
 * boot.ipxe answers 200, every boot file answers 200 with its size, and
 * every file of the TFTP tree (loaders, Secure Boot's shim, GRUB and its
 * files) is served over TFTP with its size. */
static int self_check(sd_bus *bus, const struct profile *p, json_t *model, const struct lab_record *st,
                      unsigned *ret_tftp) {
        unsigned long long deadline = now_usec() + 5 * 1000 * 1000ULL;
        struct http_reply rep = {};
        json_t *f;
        size_t i;
        int r;

        for (char **u = st->units; *u; u++) {
                struct unit_status us = {};
                r = units_status(bus, *u, &us);
                bool ok = r >= 0 && streq(us.active_state, "active");
                unit_status_done(&us);
                if (!ok) {
                        log_error("Lab self-check failed: unit '%s' is not active", *u);
                        return -ESRCH;
                }
        }
        while (port_in_use(false, p->bridge.addr, 69) <= 0 ||
               http_request(p->bridge.addr, 80, "GET", "/boot.ipxe", 1000, &rep) < 0) {
                if (now_usec() > deadline) {
                        log_error("Lab self-check failed: dnsmasq (TFTP) and nginx (HTTP) did not answer on %s within 5 s",
                                  p->bridge.address);
                        return -ETIMEDOUT;
                }
                usleep(20 * 1000);
        }
        if (rep.status != 200) {
                log_error("Lab self-check failed: GET %s returned %d",
                          json_string_value(json_object_get(json_object_get(model, "http"), "boot_url")), rep.status);
                return -EIO;
        }
        json_array_foreach(json_object_get(model, "files"), i, f) {
                const char *path = json_string_value(json_object_get(f, "path"));
                const char *url = json_string_value(json_object_get(f, "url"));
                struct stat sb;
                r = http_request(p->bridge.addr, 80, "HEAD", json_string_value(json_object_get(f, "url_path")),
                                 2000, &rep);
                if (r < 0)
                        return log_error_errno(r, "Lab self-check failed: HEAD %s", url);
                if (stat(path, &sb) < 0)
                        return log_error_errno(errno, "Lab self-check failed: '%s'", path);
                if (rep.status != 200 || rep.content_length != (long long) sb.st_size) {
                        log_error("Lab self-check failed: %s answered %d with %lld bytes, '%s' has %lld", url,
                                  rep.status, rep.content_length, path, (long long) sb.st_size);
                        return -EIO;
                }
        }
        *ret_tftp = 0;
        return check_tftp_dir(p->bridge.addr,
                              json_string_value(json_object_get(json_object_get(model, "dirs"), "tftp")), "", ret_tftp);
}


/* The profile's VMs with autostart = true that are not running yet. */
static int autostart_vms(sd_bus *bus, const struct profile *p, struct lab_record *st) {
        for (size_t i = 0; i < p->n_vms; i++) {
                struct lab_vm *rec = lab_record_vm(st, p->vms[i].name);
                struct vm_request rq = {};
                struct vm_plan plan = {};
                int r;

                if (!p->vms[i].autostart || (rec && vm_unit_active(bus, rec->unit)))
                        continue;
                vm_request_from_decl(&p->vms[i], &rq);
                r = vm_check(bus, st, &rq, &plan);
                if (r >= 0)
                        r = vm_start(bus, st, &plan, NULL);
                vm_plan_done(&plan);
                if (r < 0)
                        return r;
                step("Started VM %s", p->vms[i].name);
        }
        return 0;
}

static void summary(const struct profile *p, json_t *model, const struct lab_record *st, const char *uplink) {
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

        printf("Lab '%s' is up.\n", p->lab);
        if (p->dhcp.proxy) {
                printf("  proxy:    %s %s (the LAN's DHCP server gives the addresses)\n", p->dhcp.interface,
                       p->bridge.address);
                printf("  boot url: %s\n", json_string_value(json_object_get(json_object_get(model, "http"), "boot_url")));
                for (char **u = st->units; *u; u++)
                        printf("  unit:     %s\n", *u);
                windows_summary(model);
                return;
        }
        printf("  bridge:   %s %s%s%s\n", p->bridge.name, p->bridge.address,
               p->bridge.ipv6 ? " " : "",
               p->bridge.ipv6 ? json_string_value(json_object_get(json_object_get(model, "bridge"), "ipv6_cidr")) : "");
        printf("  uplink:   %s\n", uplink ? uplink : "none (isolated, no NAT)");
        printf("  dhcp:     %s - %s, lease %s\n", inet_ntop(AF_INET, &p->dhcp.range_start, a, sizeof(a)),
               inet_ntop(AF_INET, &p->dhcp.range_end, b, sizeof(b)), p->dhcp.lease);
        printf("  boot url: %s\n", json_string_value(json_object_get(json_object_get(model, "http"), "boot_url")));
        for (char **u = st->units; *u; u++)
                printf("  unit:     %s\n", *u);
        for (size_t i = 0; i < st->n_ports; i++)
                printf("  port:     %s%s\n", st->ports[i].name,
                       st->ports[i].nm_managed == 1 ? " (NetworkManager: set unmanaged until down)" :
                       st->ports[i].nm_managed == 0 ? " (NetworkManager: already unmanaged)" : "");
        for (size_t i = 0; i < st->n_vms; i++)
                printf("  vm:       %s on tap %s\n", st->vms[i].name, st->vms[i].tap);
        windows_summary(model);
}


static int down_locked(const char *lab);

/* A server lab's network: its bridge, then its ports. */
static int bridge_setup(const struct profile *p, json_t *model, struct lab_record *st) {
        int r = labbridge_setup(p, model, st);
        if (r < 0)
                return r;
        step("Bridge %s is up with %s", p->bridge.name, p->bridge.address);
        r = lab_ports_setup(p, st, &nm_dbus);
        if (r < 0)
                return r;
        if (st->n_ports > 0)
                step("%zu port(s) joined the bridge", st->n_ports);
        return 0;
}

/* A proxy lab's: the LAN interface as it is, recorded (status, and no
 * other lab takes it); nothing of it is changed. */
static int proxy_setup(const struct profile *p, struct lab_record *st) {
        free(st->proxy_interface);
        st->proxy_interface = xstrdup(p->dhcp.interface);
        int r = lab_record_save(st);
        if (r < 0)
                return r;
        step("Proxy DHCP on %s at %s: no bridge, no NAT, no addresses handed out", p->dhcp.interface,
             p->bridge.address);
        return 0;
}

int lab_up_begin(const struct profile *p, struct lab_up **ret) {
        struct lab_up *up = xcalloc(1, sizeof(*up));
        int r;

        t0 = now_usec();
        up->p = p;
        up->lock = state_lock();
        if (up->lock < 0) {
                r = up->lock;
                free(up);
                return r;
        }
        r = lab_record_load(p->lab, &up->st);
        if (r == -ENOENT)
                r = 0;
        /* Whether the bridge's back-end answers is the host's business,
         * not the profile's: asked here, before the checks. */
        if (r >= 0)
                r = labbridge_reachable(p);
        if (r < 0) {
                lab_up_end(up);
                return r;
        }
        *ret = up;
        return 0;
}

int lab_up_check(struct lab_up *up) {
        int r = preflight(up->p, up->st, &up->uplink);
        if (r < 0)
                return r;
        step("Checked profile %s and this host", up->p->path);
        lab_proxy_probe(up->p);
        fault_point("preflight");
        return 0;
}

void lab_up_end(struct lab_up *up) {
        if (!up)
                return;
        lab_record_free(up->st);
        free(up->uplink);
        state_unlock(up->lock);
        free(up);
}

int lab_up_apply(sd_bus *bus, struct lab_up *up) {
        const struct profile *p = up->p;
        const char *uplink = up->uplink;
        struct render_changes ch = {};
        bool fresh = !up->st;
        struct lab_record *st;
        json_t *model = NULL;
        unsigned n_tftp = 0;
        int r;

        if (fresh) {
                up->st = lab_record_new(p->lab, p->path, p->bridge.address);
                r = lab_record_save(up->st);
                if (r < 0)
                        goto fail;
        }
        st = up->st;
        fault_point("state");
        r = render_lab(p, kinds_render(), st->run_dir, st->state_dir, &model, &ch);
        if (r < 0)
                goto fail;
        free(st->boot_url);
        st->boot_url = xstrdup(json_string_value(json_object_get(json_object_get(model, "http"), "boot_url")));
        r = lab_record_save(st);
        if (r < 0)
                goto fail;
        step("Rendered %s", st->run_dir);
        fault_point("render");
        r = guard_tftp(st);
        if (r < 0)
                goto fail;
        r = p->dhcp.proxy ? proxy_setup(p, st) : bridge_setup(p, model, st);
        if (r < 0)
                goto fail;
        r = lab_forward_setup(p, model, uplink, st);
        if (r < 0)
                goto fail;
        if (p->dhcp.proxy)
                step("nftables table %s applied: proxy DHCP, TFTP and HTTP accepted on %s", st->nft_table,
                     p->dhcp.interface);
        else
                step("nftables table %s applied%s%s", st->nft_table, uplink ? ", NAT out of " : " (isolated)",
                     uplink ? uplink : "");
        /* iscsi entries: their missing disk images, before tgtd opens them. */
        r = iscsi_make_disks(model);
        if (r < 0)
                goto fail;
        r = lab_services_apply(bus, p, model, st, &ch, step);
        if (r < 0)
                goto fail;
        r = units_settle_deferred(bus);
        if (r < 0)
                goto fail;
        step("Services stayed up");
        r = self_check(bus, p, model, st, &n_tftp);
        if (r < 0)
                goto fail;
        fault_point("ready");
        step("Self-check passed: boot.ipxe and %zu boot files answer over HTTP, %u files over TFTP",
             json_array_size(json_object_get(model, "files")), n_tftp);
        r = autostart_vms(bus, p, st);
        if (r < 0)
                goto fail;
        summary(p, model, st, uplink);
        json_decref(model);
        return 0;
fail:
        if (fresh) {
                /* Still under the lock: an `up` waiting for it finds the
                 * lab gone, never half made. */
                log_error("Undoing what this 'up' did for lab '%s'", p->lab);
                fault_hold("undo");
                down_locked(p->lab);
        }
        json_decref(model);
        return r;
}

/* ---- down --------------------------------------------------------------- */

static bool last_lab(const char *self) {
        _cleanup_strv_free_ char **labs = NULL;
        state_list_labs(&labs);
        for (char **l = labs; l && *l; l++)
                if (!streq(*l, self))
                        return false;
        return true;
}

/* The lab's units by their derived names (the services of the table, the
 * slice with whatever else is in it), never the names a record gives. */
static int stop_units(sd_bus *bus, const struct lab_record *st) {
        int r, ret = 0;

        for (const char *const *svc = lab_service_names; *svc; svc++) {
                _cleanup_free_ char *unit = lab_unit_name(st->lab, *svc);
                r = units_stop(bus, unit);
                if (r < 0)
                        ret = r;
        }
        r = units_stop(bus, st->slice);
        if (r < 0)
                return r;
        /* pxelab-LAB.slice implies its parent pxelab.slice: the last lab
         * takes that with it. */
        if (last_lab(st->lab)) {
                r = units_stop(bus, "pxelab.slice");
                if (r < 0)
                        ret = r;
        }
        return ret;
}

static int down_locked(const char *lab) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        _cleanup_free_ char *run = lab_run_dir(lab);
        int r, ret = 0;

        r = lab_record_load(lab, &st);
        if (r == -ENOENT) {
                r = state_remove_leftover(lab);
                if (r < 0)
                        return r;
                if (r > 0)
                        log_info("Lab '%s' is not up; removed its leftover '%s'", lab, run);
                else
                        log_info("Lab '%s' is not up; nothing to do", lab);
                return 0;
        }
        if (r < 0)
                return r;

        if (st->units[0] || st->n_vms > 0) {
                r = units_connect(&bus);
                if (r < 0)
                        ret = r;
        }
        if (bus) {
                r = vm_stop_all(bus, st);
                if (r < 0)
                        ret = r;
                r = stop_units(bus, st);
                if (r < 0)
                        ret = r;
        }
        r = lab_forward_teardown(st);
        if (r < 0)
                ret = r;
        /* Before the bridge: an OVS bridge takes its ports with it, and a
         * port's state is given back whatever happens to the bridge. */
        r = lab_ports_teardown(st, &nm_dbus);
        if (r < 0)
                ret = r;
        r = labbridge_teardown(st);
        if (r < 0)
                ret = r;
        /* The record holds the lab's own mounts only (record.c), each
         * nosymfollow: symguard_umount() takes only such a mount. */
        for (char **m = st->mounts; *m; m++) {
                r = symguard_umount(*m);
                if (r < 0)
                        ret = r;
        }
        if (ret < 0) {
                /* Keep the record: `down` again retries what failed. */
                log_error("Lab '%s' is partly down; its record is kept in %s for another 'pxelab down'", lab, run);
                return ret;
        }
        r = rm_rf(run);
        if (r < 0)
                return log_error_errno(r, "Failed to remove '%s'", run);
        log_info("Lab '%s' is down", lab);
        return 0;
}

int lab_down(const char *lab) {
        int lock, r;

        lock = state_lock();
        if (lock < 0)
                return lock;
        r = down_locked(lab);
        state_unlock(lock);
        return r;
}
