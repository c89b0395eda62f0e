#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <linux/capability.h>
#include <sys/stat.h>

#include "host/link.h"
#include "basic/fault.h"
#include "lab/lab.h"
#include "lab/labbridge.h"
#include "basic/log.h"
#include "render/model.h"
#include "host/nft.h"
#include "host/probe.h"
#include "render/render.h"
#include "lab/state.h"
#include "host/symguard.h"
#include "host/sysctl.h"
#include "host/units.h"
#include "basic/util.h"
#include "lab/vm.h"
#include "kinds/windows.h"

#define IP_FORWARD "net/ipv4/ip_forward"
/* The host's ip_forward before the first lab that needed it changed it. */
#define IP_FORWARD_SAVED PXELAB_RUN_ROOT "/ip_forward.saved"

/* What the host accepts from the lab's bridge: DHCP and DHCPv6 at any
 * address (broadcasts, multicasts), TFTP and HTTP at the lab's own. */
static const uint16_t lab_any_udp_ports[] = { 67, 547 };
static const uint16_t lab_udp_ports[] = { 69 };
static const uint16_t lab_tcp_ports[] = { 80 };

char *lab_unit_name(const char *lab, const char *service) {
        return xasprintf("pxelab-%s-%s.service", lab, service);
}

char *lab_slice_name(const char *lab) {
        /* systemd reads each '-' of a slice name as one level down:
         * pxelab-a-b.slice would sit inside pxelab-a.slice, and stopping
         * lab "a" would stop lab "a-b". '_' is no lab name's character. */
        char *s = xasprintf("pxelab-%s.slice", lab);
        for (char *c = s + strlen("pxelab-"); *c != '.'; c++)
                if (*c == '-')
                        *c = '_';
        return s;
}

static char *nft_table_name(const char *lab) {
        return xasprintf("pxelab-%s", lab);
}

/* Step timings on a terminal; silent otherwise. PXELAB_TIMING=1 sends them
 * to stderr whatever stdout is, so bench/lifecycle can see the slow step. */
static unsigned long long t0;
static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...) {
        const char *timing = getenv("PXELAB_TIMING");
        FILE *out = timing && streq(timing, "1") ? stderr : stdout;
        va_list ap;
        if (out == stdout && !log_is_tty())
                return;
        fprintf(out, "[%6.3fs] ", (now_usec() - t0) / 1e6);
        va_start(ap, fmt);
        vfprintf(out, fmt, ap);
        va_end(ap);
        fputc('\n', out);
        fflush(out);
}

/* ---- state record helpers ---------------------------------------------- */

static int record(const char *lab, json_t *st, const char *key, json_t *value) {
        json_object_set_new(st, key, value);
        return state_save(lab, st);
}

static bool strv_json_contains(json_t *arr, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
                if (streq(json_string_value(v), s))
                        return true;
        return false;
}

static int record_unit(const char *lab, json_t *st, const char *unit) {
        json_t *units = json_object_get(st, "units");
        if (!units) {
                units = json_array();
                json_object_set_new(st, "units", units);
        }
        if (strv_json_contains(units, unit))
                return 0;
        json_array_append_new(units, json_string(unit));
        return state_save(lab, st);
}

/* ---- preflight ---------------------------------------------------------- */

/* Another lab's record naming the same bridge, if any. */
static char *bridge_owner(const char *bridge, const char *self) {
        _cleanup_strv_free_ char **labs = NULL;
        state_list_labs(&labs);
        for (char **l = labs; l && *l; l++) {
                json_t *st = NULL;
                char *owner = NULL;
                if (streq(*l, self) || state_load(*l, &st) < 0)
                        continue;
                if (streq(json_string_value(json_object_get(json_object_get(st, "bridge"), "name")), bridge))
                        owner = xstrdup(*l);
                json_decref(st);
                if (owner)
                        return owner;
        }
        return NULL;
}

static int preflight(const struct profile *p, json_t *old, char **ret_uplink) {
        char a[INET_ADDRSTRLEN];
        struct in_addr mask = { .s_addr = htonl(0xffffffffu << (32 - p->bridge.prefix)) };
        struct in_addr net = { .s_addr = p->bridge.addr.s_addr & mask.s_addr };
        _cleanup_free_ char *desc = NULL, *owner = NULL;
        /* The bridge this lab already configured: its addresses are ours. */
        bool ours = old && json_object_get(old, "bridge");
        int r;

        if (old && !streq(json_string_value(json_object_get(old, "profile")), p->path)) {
                log_error("Lab '%s' is already up from profile '%s'; take it down first (pxelab down %s)", p->lab,
                          json_string_value(json_object_get(old, "profile")), p->lab);
                return -EEXIST;
        }
        owner = bridge_owner(p->bridge.name, p->lab);
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
                /* windows entries: the lab's smbd (a host Samba on all addresses blocks it) */
                if (windows_wanted(p) && port_in_use(true, p->bridge.addr, WINDOWS_SMB_PORT) > 0) {
                        log_error("Port %d/tcp (SMB) is already in use on this host at %s or on all addresses; "
                                  "a Samba of this host must leave the lab's bridge alone (bind interfaces only)",
                                  WINDOWS_SMB_PORT, inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)));
                        return -EADDRINUSE;
                }
        }
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

static int forwarding_on(const char *lab, json_t *st) {
        _cleanup_free_ char *cur = NULL;
        int r;

        r = record(lab, st, "forwarding", json_true());
        if (r < 0)
                return r;
        fault_point("forwarding-recorded");
        r = sysctl_read(IP_FORWARD, &cur);
        if (r < 0)
                return r == -ENOENT ? log_error_errno(r, "Failed to read %s", IP_FORWARD) : r;
        if (streq(cur, "1"))
                return 0;
        /* Remember the host's value once, for the last lab's `down`. */
        if (access(IP_FORWARD_SAVED, F_OK) < 0) {
                r = write_file_atomic(IP_FORWARD_SAVED, cur, strlen(cur), 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write '%s'", IP_FORWARD_SAVED);
        }
        return sysctl_write(IP_FORWARD, "1");
}

/* The ports of PROTO (udp or tcp) the lab's clients reach at its addresses:
 * its services', SMB for windows entries' Setup shares, and the profile's
 * allow_host_ports. Returns how many (duplicates are fine for nft). */
static size_t lab_ports(const struct profile *p, bool udp, uint16_t **ret) {
        const uint16_t *own = udp ? lab_udp_ports : lab_tcp_ports;
        size_t n_own = udp ? ELEMENTSOF(lab_udp_ports) : ELEMENTSOF(lab_tcp_ports), n = 0;
        uint16_t *v = xcalloc(n_own + 1 + p->bridge.n_allow_host_ports, sizeof(uint16_t));

        for (size_t i = 0; i < n_own; i++)
                v[n++] = own[i];
        if (!udp && windows_wanted(p))
                v[n++] = WINDOWS_SMB_PORT;
        for (size_t i = 0; i < p->bridge.n_allow_host_ports; i++)
                if (p->bridge.allow_host_ports[i].udp == udp)
                        v[n++] = p->bridge.allow_host_ports[i].port;
        *ret = v;
        return n;
}

static int setup_nft(const struct profile *p, json_t *model, const char *uplink, json_t *st) {
        _cleanup_free_ char *table = nft_table_name(p->lab);
        const char *ula = json_string_value(json_object_get(json_object_get(model, "bridge"), "ipv6_address"));
        struct in_addr mask = { .s_addr = htonl(0xffffffffu << (32 - p->bridge.prefix)) };
        struct in6_addr addr6;
        _cleanup_free_ uint16_t *udp = NULL, *tcp = NULL;
        struct nft_lab cfg = {
                .table = table,
                .bridge = p->bridge.name,
                .uplink = uplink,
                .addr = p->bridge.addr,
                .net = { .s_addr = p->bridge.addr.s_addr & mask.s_addr },
                .prefix = p->bridge.prefix,
                .any_udp_ports = lab_any_udp_ports,
                .n_any_udp = ELEMENTSOF(lab_any_udp_ports),
        };
        int r;

        cfg.n_udp = lab_ports(p, true, &udp);
        cfg.udp_ports = udp;
        cfg.n_tcp = lab_ports(p, false, &tcp);
        cfg.tcp_ports = tcp;
        /* The model has one exactly when the bridge gets its ULA. */
        if (ula) {
                if (inet_pton(AF_INET6, ula, &addr6) != 1)
                        return log_error_errno(-EINVAL, "Failed to parse the lab's IPv6 address '%s'", ula);
                cfg.addr6 = &addr6;
        }

        r = record(p->lab, st, "nft", json_pack("{s:s, s:s, s:s?}", "table", table, "family", "inet",
                                                 "uplink", uplink));
        if (r < 0)
                return r;
        fault_point("nft-recorded");
        r = nft_lab_apply(&cfg);
        if (r < 0)
                return r;
        fault_point("nft");
        if (uplink) {
                r = forwarding_on(p->lab, st);
                fault_point("forwarding");
        }
        return r;
}

/* The TFTP root becomes a nosymfollow mount of itself (see symguard.h),
 * recorded first like every resource. */
static int guard_tftp(const char *lab, json_t *st, const char *run) {
        _cleanup_free_ char *dir = path_join(run, "tftp");
        json_t *mounts = json_object_get(st, "mounts");
        int r;

        if (!mounts) {
                r = record(lab, st, "mounts", json_pack("[s]", dir));
                if (r < 0)
                        return r;
        }
        fault_point("tftp-recorded");
        r = symguard_mount(dir);
        fault_point("tftp");
        return r;
}

static uint64_t caps(const int *list, size_t n) {
        uint64_t m = 0;
        for (size_t i = 0; i < n; i++)
                m |= 1ULL << list[i];
        return m;
}

/* What every daemon of the lab runs with, on top of units.c's defaults:
 * no hardware devices, the system-service syscalls only, no W+X memory. */
static char *service_syscalls[] = { "@system-service", NULL };

/* The services of a lab, hardened: each writes only its own directories
 * (never the lab's record), keeps only the capabilities it needs and runs
 * its network-facing processes as nobody. */
static int service_spec(const struct profile *p, json_t *model, const char *svc, struct unit_spec *s,
                        char ***argv, char ***rw) {
        json_t *dirs = json_object_get(model, "dirs");
        const char *run = json_string_value(json_object_get(dirs, "run"));
        /* dnsmasq: bind 67/69, ARP entries for offers (NET_ADMIN), ICMPv6 for
         * router advertisements (NET_RAW), and user=nobody (SETUID/SETGID). */
        static const int dnsmasq_caps[] = { CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SETUID,
                                            CAP_SETGID };
        /* nginx's master: bind 80, start workers as nobody, and hand its
         * temp dirs to them (CHOWN). It reads nothing root-only. */
        static const int nginx_caps[] = { CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_CHOWN };
        static char *dnsmasq_af[] = { "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", NULL };
        static char *nginx_af[] = { "AF_UNIX", "AF_INET", "AF_INET6", NULL };

        /* ProtectSystem=strict leaves a separately mounted /run writable (it
         * is here, and in the test harness /var/lib/pxelab too): the lab's
         * own dirs are made read-only explicitly, the daemon's dirs below
         * them writable again. */
        s->read_only_paths = xcalloc(3, sizeof(char *));
        s->read_only_paths[0] = xstrdup(run);
        s->read_only_paths[1] = xstrdup(json_string_value(json_object_get(dirs, "state")));
        s->private_devices = true;
        s->syscall_filter = service_syscalls;
        s->memory_deny_write_execute = true;
        if (streq(svc, "smbd"))
                return windows_smbd_spec(model, s, argv, rw);

        *rw = xcalloc(3, sizeof(char *));
        if (streq(svc, "dnsmasq")) {
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
        } else {
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
        }
        s->read_write_paths = *rw;
        s->argv = *argv;
        s->type = "simple";
        return 0;
}

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

static int start_service(sd_bus *bus, const struct profile *p, json_t *model, json_t *st, const char *svc,
                         bool changed) {
        _cleanup_free_ char *unit = lab_unit_name(p->lab, svc), *slice = lab_slice_name(p->lab);
        _cleanup_strv_free_ char **argv = NULL, **rw = NULL, **hidden = hidden_paths_of(model), **ro = NULL;
        /* Settled together in lab_up: one 300 ms window for all services. */
        struct unit_spec spec = { .name = unit, .slice = slice, .hidden_paths = hidden, .defer_settle = true };
        struct unit_status us = {};
        int r;

        r = record_unit(p->lab, st, unit);
        if (r < 0)
                return r;
        fault_point_of(svc, "-recorded");
        r = units_status(bus, unit, &us);
        if (r < 0)
                return r;
        if (streq(us.active_state, "active")) {
                unit_status_done(&us);
                if (!changed)
                        return 0;
                step("Restarting %s (its configuration changed)", unit);
                return units_restart(bus, unit);
        }
        unit_status_done(&us);
        service_spec(p, model, svc, &spec, &argv, &rw);
        ro = spec.read_only_paths;
        r = units_start(bus, &spec);
        if (r >= 0)
                step("Started %s", unit);
        return r;
}

/* A service the profile no longer needs: stopped and dropped from the record. */
static int stop_service(sd_bus *bus, const struct profile *p, json_t *st, const char *svc) {
        _cleanup_free_ char *unit = lab_unit_name(p->lab, svc);
        json_t *units = json_object_get(st, "units"), *u;
        size_t i;
        int r;

        json_array_foreach(units, i, u) {
                if (!streq(json_string_value(u), unit))
                        continue;
                r = units_stop(bus, unit);
                if (r < 0)
                        return r;
                step("Stopped %s (no longer needed)", unit);
                json_array_remove(units, i);
                return state_save(p->lab, st);
        }
        return 0;
}

/* Ready: the units are active, dnsmasq has its TFTP socket on the bridge,
 * boot.ipxe answers 200 and every boot file answers 200 with its size. */
static int self_check(sd_bus *bus, const struct profile *p, json_t *model, json_t *st) {
        unsigned long long deadline = now_usec() + 5 * 1000 * 1000ULL;
        struct http_reply rep = {};
        json_t *f, *u;
        size_t i;
        int r;

        json_array_foreach(json_object_get(st, "units"), i, u) {
                struct unit_status us = {};
                r = units_status(bus, json_string_value(u), &us);
                bool ok = r >= 0 && streq(us.active_state, "active");
                unit_status_done(&us);
                if (!ok) {
                        log_error("Lab self-check failed: unit '%s' is not active", json_string_value(u));
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
        return 0;
}

/* The profile's VMs with autostart = true that are not running yet. */
static int autostart_vms(sd_bus *bus, const struct profile *p, json_t *st) {
        for (size_t i = 0; i < p->n_vms; i++) {
                json_t *rec = json_object_get(json_object_get(st, "vms"), p->vms[i].name);
                struct vm_request rq = {};
                int r;

                if (!p->vms[i].autostart ||
                    (rec && vm_unit_active(bus, json_string_value(json_object_get(rec, "unit")))))
                        continue;
                vm_request_from_decl(&p->vms[i], &rq);
                r = vm_start(bus, p->lab, st, &rq, NULL, NULL, NULL);
                if (r < 0)
                        return r;
                step("Started VM %s", p->vms[i].name);
        }
        return 0;
}

static void summary(const struct profile *p, json_t *model, json_t *st, const char *uplink) {
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        json_t *u;
        size_t i;

        printf("Lab '%s' is up.\n", p->lab);
        printf("  bridge:   %s %s%s%s\n", p->bridge.name, p->bridge.address,
               p->bridge.ipv6 ? " " : "",
               p->bridge.ipv6 ? json_string_value(json_object_get(json_object_get(model, "bridge"), "ipv6_cidr")) : "");
        printf("  uplink:   %s\n", uplink ? uplink : "none (isolated, no NAT)");
        printf("  dhcp:     %s - %s, lease %s\n", inet_ntop(AF_INET, &p->dhcp.range_start, a, sizeof(a)),
               inet_ntop(AF_INET, &p->dhcp.range_end, b, sizeof(b)), p->dhcp.lease);
        printf("  boot url: %s\n", json_string_value(json_object_get(json_object_get(model, "http"), "boot_url")));
        json_array_foreach(json_object_get(st, "units"), i, u)
                printf("  unit:     %s\n", json_string_value(u));
        {
                const char *name;
                json_t *vm;
                json_object_foreach(json_object_get(st, "vms"), name, vm)
                        printf("  vm:       %s on tap %s\n", name, json_string_value(json_object_get(vm, "tap")));
        }
        windows_summary(model);
}

static int down_locked(const char *lab);

int lab_up(sd_bus *bus, const struct profile *p, bool *ret_usage) {
        _cleanup_free_ char *run = lab_run_dir(p->lab), *statedir = lab_state_dir(p->lab), *uplink = NULL;
        struct render_changes ch = {};
        json_t *st = NULL, *model = NULL;
        bool fresh;
        int lock = -1, r;

        t0 = now_usec();
        *ret_usage = false;
        lock = state_lock(STATE_LOCK_WAIT_MS);
        if (lock < 0)
                return lock;
        r = state_load(p->lab, &st);
        if (r < 0 && r != -ENOENT)
                goto out;
        fresh = r == -ENOENT;
        r = preflight(p, st, &uplink);
        if (r < 0) {
                /* Collisions are the profile's fault; anything else
                 * (OVSDB down, netlink errors) is a runtime failure. */
                *ret_usage = r == -EEXIST || r == -EADDRINUSE || r == -ENODEV;
                goto out;
        }
        step("Checked profile %s and this host", p->path);
        fault_point("preflight");
        if (fresh) {
                _cleanup_free_ char *slice = lab_slice_name(p->lab);
                st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "lab", p->lab, "profile", p->path, "run_dir", run,
                               "state_dir", statedir, "slice", slice, "address", p->bridge.address);
                r = state_save(p->lab, st);
                if (r < 0)
                        goto out;
        }
        fault_point("state");
        r = render_lab(p, run, statedir, &model, &ch);
        if (r < 0) {
                /* The profile's entries or its templates are at fault. */
                *ret_usage = r == -EINVAL;
                goto fail;
        }
        json_object_set(st, "boot_url", json_object_get(json_object_get(model, "http"), "boot_url"));
        r = state_save(p->lab, st);
        if (r < 0)
                goto fail;
        step("Rendered %s", run);
        fault_point("render");
        r = guard_tftp(p->lab, st, run);
        if (r < 0)
                goto fail;
        r = labbridge_setup(p, model, st);
        if (r < 0)
                goto fail;
        step("Bridge %s is up with %s", p->bridge.name, p->bridge.address);
        r = setup_nft(p, model, uplink, st);
        if (r < 0)
                goto fail;
        step("nftables table pxelab-%s applied%s%s", p->lab, uplink ? ", NAT out of " : " (isolated)",
             uplink ? uplink : "");
        r = start_service(bus, p, model, st, "dnsmasq", ch.dnsmasq);
        if (r < 0)
                goto fail;
        fault_point("dnsmasq");
        r = start_service(bus, p, model, st, "nginx", ch.nginx);
        if (r < 0)
                goto fail;
        fault_point("nginx");
        /* windows entries: smbd shares their install trees; it goes with the last of them */
        if (windows_wanted(p))
                r = start_service(bus, p, model, st, "smbd", ch.smbd);
        else
                r = stop_service(bus, p, st, "smbd");
        if (r < 0)
                goto fail;
        r = units_settle_deferred(bus);
        if (r < 0)
                goto fail;
        step("Services stayed up");
        r = self_check(bus, p, model, st);
        if (r < 0)
                goto fail;
        fault_point("ready");
        step("Self-check passed: boot.ipxe and %zu boot files answer over HTTP",
             json_array_size(json_object_get(model, "files")));
        r = autostart_vms(bus, p, st);
        if (r < 0)
                goto fail;
        summary(p, model, st, uplink);
        r = 0;
        goto out;
fail:
        if (fresh) {
                /* Still under the lock: an `up` waiting for it finds the
                 * lab gone, never half made. */
                log_error("Undoing what this 'up' did for lab '%s'", p->lab);
                fault_hold("undo");
                down_locked(p->lab);
        }
out:
        json_decref(st);
        json_decref(model);
        state_unlock(lock);
        return r;
}

/* ---- down --------------------------------------------------------------- */

/* Does any lab other than SELF still need IPv4 forwarding? */
static bool forwarding_needed_elsewhere(const char *self) {
        _cleanup_strv_free_ char **labs = NULL;
        bool needed = false;
        state_list_labs(&labs);
        for (char **l = labs; l && *l && !needed; l++) {
                json_t *st = NULL;
                if (streq(*l, self) || state_load(*l, &st) < 0)
                        continue;
                needed = json_is_true(json_object_get(st, "forwarding"));
                json_decref(st);
        }
        return needed;
}

/* The temp file of an `up` killed while writing IP_FORWARD_SAVED. We hold
 * the lock: no live pxelab is writing it. */
static void forwarding_remove_stale_temp(void) {
        glob_t g = {};
        if (glob(IP_FORWARD_SAVED ".tmp.*", 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        (void) unlink(g.gl_pathv[i]);
        globfree(&g);
}

static int forwarding_restore(const char *lab) {
        _cleanup_free_ char *saved = NULL;
        int r;

        if (forwarding_needed_elsewhere(lab))
                return 0;
        forwarding_remove_stale_temp();
        r = read_file(IP_FORWARD_SAVED, &saved, NULL);
        if (r == -ENOENT)
                return 0;       /* it was on before any lab */
        if (r < 0)
                return log_error_errno(r, "Failed to read '%s'", IP_FORWARD_SAVED);
        r = sysctl_write(IP_FORWARD, saved);
        if (r < 0)
                return r;
        unlink(IP_FORWARD_SAVED);
        return 0;
}

static bool last_lab(const char *self) {
        _cleanup_strv_free_ char **labs = NULL;
        state_list_labs(&labs);
        for (char **l = labs; l && *l; l++)
                if (!streq(*l, self))
                        return false;
        return true;
}

static int down_locked(const char *lab) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *run = lab_run_dir(lab);
        json_t *st = NULL, *u, *nft;
        size_t i;
        int r, ret = 0;

        r = state_load(lab, &st);
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

        if (json_array_size(json_object_get(st, "units")) > 0 || json_object_size(json_object_get(st, "vms")) > 0) {
                r = units_connect(&bus);
                if (r < 0)
                        ret = r;
        }
        if (bus) {
                r = vm_stop_all(bus, lab, st);
                if (r < 0)
                        ret = r;
                json_array_foreach(json_object_get(st, "units"), i, u) {
                        r = units_stop(bus, json_string_value(u));
                        if (r < 0)
                                ret = r;
                }
                r = units_stop(bus, json_string_value(json_object_get(st, "slice")));
                if (r < 0)
                        ret = r;
                /* pxelab-LAB.slice implies its parent pxelab.slice: the last
                 * lab takes that with it. */
                if (r >= 0 && last_lab(lab)) {
                        r = units_stop(bus, "pxelab.slice");
                        if (r < 0)
                                ret = r;
                }
        }
        nft = json_object_get(st, "nft");
        if (nft) {
                r = nft_lab_delete(json_string_value(json_object_get(nft, "table")));
                if (r < 0)
                        ret = r;
        }
        r = labbridge_teardown(st);
        if (r < 0)
                ret = r;
        if (json_is_true(json_object_get(st, "forwarding"))) {
                r = forwarding_restore(lab);
                if (r < 0)
                        ret = r;
        }
        json_array_foreach(json_object_get(st, "mounts"), i, u) {
                r = symguard_umount(json_string_value(u));
                if (r < 0)
                        ret = r;
        }
        json_decref(st);
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

        lock = state_lock(STATE_LOCK_WAIT_MS);
        if (lock < 0)
                return lock;
        r = down_locked(lab);
        state_unlock(lock);
        return r;
}

/* ---- status ------------------------------------------------------------- */

static json_t *unit_json(sd_bus *bus, const char *unit, bool *healthy) {
        struct unit_status us = {};
        json_t *o = json_pack("{s:s}", "name", unit);
        int r;

        if (!bus) {
                json_object_set_new(o, "active_state", json_string("unknown"));
                *healthy = false;
                return o;
        }
        r = units_status(bus, unit, &us);
        if (r < 0 || !us.loaded) {
                json_object_set_new(o, "active_state", json_string(r < 0 ? "unknown" : "not-loaded"));
                *healthy = false;
                unit_status_done(&us);
                return o;
        }
        json_object_set_new(o, "active_state", json_string(us.active_state));
        json_object_set_new(o, "sub_state", json_string(us.sub_state));
        json_object_set_new(o, "main_pid", json_integer(us.main_pid));
        json_object_set_new(o, "since_usec", json_integer((json_int_t) us.active_enter_usec));
        json_object_set_new(o, "restarts", json_integer(us.n_restarts));
        if (!streq(us.active_state, "active"))
                *healthy = false;
        unit_status_done(&us);
        return o;
}

/* dnsmasq's lease file: "EXPIRY MAC IP HOSTNAME CLIENTID" per line. */
static json_t *leases_json(const char *state_dir) {
        _cleanup_free_ char *path = path_join(state_dir, "dnsmasq.leases");
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        json_t *arr = json_array();
        char line[512];

        while (f && fgets(line, sizeof(line), f)) {
                long long exp;
                char mac[64], ip[64], host[256];
                if (sscanf(line, "%lld %63s %63s %255s", &exp, mac, ip, host) != 4)
                        continue;
                if (strchr(ip, ':'))
                        continue;       /* DHCPv6 lines: RA-only labs have none */
                json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:I}", "mac", mac, "ip", ip, "hostname",
                                                     streq(host, "*") ? NULL : host, "expires", (json_int_t) exp));
        }
        return arr;
}

int lab_status(const char *lab, json_t **ret, bool *ret_healthy) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        json_t *st = NULL, *o, *units, *u, *br = NULL, *vms;
        const char *brname;
        bool healthy = true;
        size_t i;
        int r;

        r = state_load(lab, &st);
        if (r < 0)
                return r;
        if (units_connect_quiet(&bus) < 0)
                bus = NULL;
        brname = json_string_value(json_object_get(json_object_get(st, "bridge"), "name"));
        o = json_pack("{s:s, s:O?, s:O?, s:O?}", "lab", lab, "profile", json_object_get(st, "profile"),
                      "boot_url", json_object_get(st, "boot_url"), "address", json_object_get(st, "address"));
        units = json_array();
        json_array_foreach(json_object_get(st, "units"), i, u)
                json_array_append_new(units, unit_json(bus, json_string_value(u), &healthy));
        json_object_set_new(o, "units", units);
        if (brname && labbridge_info(st, &br) >= 0) {
                if (!json_is_true(json_object_get(br, "exists")) || !json_is_true(json_object_get(br, "up")))
                        healthy = false;
                json_object_set_new(o, "bridge", br);
        } else {
                json_object_set_new(o, "bridge", json_pack("{s:s?, s:b}", "name", brname, "exists", false));
                healthy = false;
        }
        if (json_object_get(st, "nft")) {
                const char *table = json_string_value(json_object_get(json_object_get(st, "nft"), "table"));
                r = nft_lab_exists(table);
                json_object_set_new(o, "nft", json_pack("{s:s, s:b}", "table", table, "present", r > 0));
                if (r <= 0)
                        healthy = false;
        }
        json_object_set_new(o, "leases", leases_json(json_string_value(json_object_get(st, "state_dir"))));
        vms = vm_status_json(bus, lab, st);
        json_object_set_new(o, "vms", vms ? vms : json_array());
        json_object_set_new(o, "healthy", json_boolean(healthy));
        json_decref(st);
        *ret = o;
        *ret_healthy = healthy;
        return 0;
}
