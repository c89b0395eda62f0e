/* The lab's physical ports. See ports.h. */
#include <errno.h>

#include "basic/fault.h"
#include "basic/log.h"
#include "basic/util.h"
#include "host/dhcpprobe.h"
#include "host/link.h"
#include "lab/labbridge.h"
#include "lab/ports.h"
#include "lab/state.h"

/* ~2 s: a DHCP server answers a DISCOVER within milliseconds; dnsmasq's
 * ping check of an address before offering it is what takes longest. */
#define PROBE_MS 2000

static unsigned port_line(const struct profile *p, size_t i) {
        _cleanup_free_ char *f = xasprintf("bridge.ports[%zu]", i);
        unsigned line = profile_line(p, f);
        return line ? line : profile_line(p, "bridge.ports");
}

/* Another lab holds NAME as a port, or as its bridge. */
static bool holds_port(struct lab_record *st, const char *name) {
        return lab_record_port(st, name) || (st->has_bridge && streq(st->bridge.name, name));
}

/* Is a DHCP server on PORT's wire? A down port is up for the probe only. */
static int probe_port(const struct profile *p, const char *port, unsigned line, const struct link_state *ls) {
        struct dhcp_probe_answer a = {};
        int r, k;

        if (!ls->up) {
                r = link_set_up(port);
                if (r < 0)
                        return r;
        }
        r = dhcp_probe(port, PROBE_MS, &a);
        if (!ls->up) {
                k = link_set_down(port);
                if (k < 0 && r >= 0)
                        r = k;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to look for a DHCP server on '%s'", port);
        if (r > 0) {
                log_error("%s:%u: bridge.ports: A DHCP server (%s, %s) answers on '%s': this is a shared network; "
                          "use dhcp.mode = \"proxy\" or another port", p->path, line, a.server, a.mac, port);
                return -EADDRINUSE;
        }
        return 0;
}

int lab_ports_preflight(const struct profile *p, const struct lab_record *old, const char *uplink) {
        _cleanup_free_ char *def = NULL;
        int r;

        if (!p->bridge.ports || !p->bridge.ports[0])
                return 0;
        r = route_default_ifname(&def);
        if (r < 0 && r != -ENOENT)
                return r;
        for (size_t i = 0; p->bridge.ports[i]; i++) {
                const char *port = p->bridge.ports[i];
                unsigned line = port_line(p, i);
                _cleanup_free_ char *owner = NULL;
                struct link_state ls;
                bool ours = old && lab_record_port((struct lab_record *) old, port);

                r = link_state(port, &ls);
                if (r < 0)
                        return r;
                if (r == 0) {
                        log_error("%s:%u: bridge.ports: interface '%s' does not exist", p->path, line, port);
                        return -ENODEV;
                }
                if (streq(port, uplink) || streq(port, def)) {
                        log_error("%s:%u: bridge.ports: '%s' is %s; a port joins the lab's own network", p->path, line,
                                  port, streq(port, uplink) ? "the lab's uplink" : "this host's default-route interface");
                        return -EBUSY;
                }
                if (link_is_wireless(port) > 0) {
                        log_error("%s:%u: bridge.ports: '%s' is a wireless interface, which cannot be bridged", p->path,
                                  line, port);
                        return -EINVAL;
                }
                if (ls.is_bridge) {
                        log_error("%s:%u: bridge.ports: '%s' is a bridge; name a network interface", p->path, line,
                                  port);
                        return -EINVAL;
                }
                owner = lab_record_owner(p->lab, holds_port, port);
                if (owner) {
                        log_error("%s:%u: bridge.ports: '%s' is a port of lab '%s'", p->path, line, port, owner);
                        return -EBUSY;
                }
                if (ours)
                        continue;       /* the lab's own port since its last `up` */
                if (ls.address[0]) {
                        log_error("%s:%u: bridge.ports: '%s' has the address %s of its own: it is in use", p->path,
                                  line, port, ls.address);
                        return -EADDRINUSE;
                }
                if (ls.master[0]) {
                        log_error("%s:%u: bridge.ports: '%s' is already a port of '%s'", p->path, line, port,
                                  ls.master);
                        return -EBUSY;
                }
                {
                        _cleanup_free_ char *ovs = NULL;
                        r = labbridge_ovs_port_owner(p, port, &ovs);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                log_error("%s:%u: bridge.ports: '%s' is already a port of Open vSwitch bridge '%s'",
                                          p->path, line, port, ovs);
                                return -EBUSY;
                        }
                }
                if (streq(p->dhcp.mode, "server") && p->dhcp.probe) {
                        r = probe_port(p, port, line, &ls);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int lab_port_take_from_nm(struct lab_record *st, struct lab_port *pt, const struct nm_seam *nm) {
        bool managed = false;
        int r;

        if (!nm || pt->nm_managed >= 0)
                return 0;       /* asked at an earlier `up` */
        r = nm->get_managed(nm->data, pt->name, &managed);
        if (r <= 0)
                return r;       /* NetworkManager does not run or does not know it: nothing asked */
        pt->nm_managed = managed;
        r = lab_record_save(st);
        if (r < 0 || !managed)
                return r;
        return nm->set_managed(nm->data, pt->name, false);
}

/* Whether IFNAME is on the lab's bridge now. */
static bool on_lab_bridge(const struct lab_record *st, const char *ifname, const struct link_state *ls) {
        json_t *info = NULL, *v;
        bool on = false;
        size_t i;

        if (!streq(st->bridge.type, "ovs"))
                return streq(ls->master, st->bridge.name);
        if (labbridge_info(st, &info) < 0)
                return false;
        json_array_foreach(json_object_get(info, "ports"), i, v)
                if (streq(json_string_value(v), ifname))
                        on = true;
        json_decref(info);
        return on;
}

int lab_port_restore(const struct lab_record *st, const struct lab_port *pt, const struct nm_seam *nm) {
        struct link_state ls;
        int r, ret = 0;

        r = link_state(pt->name, &ls);
        if (r < 0)
                return r;
        if (r == 0)
                log_notice("Port '%s' of lab '%s' is gone (unplugged?): nothing to give back", pt->name, st->lab);
        else {
                if (st->has_bridge && on_lab_bridge(st, pt->name, &ls)) {
                        r = labbridge_detach(st, pt->name);
                        if (r < 0)
                                ret = r;
                }
                if (pt->master && !streq(pt->master, st->bridge.name)) {
                        r = link_set_master(pt->name, pt->master);
                        if (r < 0)
                                ret = r;
                }
                if (pt->mtu && ls.mtu != pt->mtu) {
                        r = link_set_mtu(pt->name, pt->mtu);
                        if (r < 0)
                                ret = r;
                }
                if (ls.noarp != pt->noarp) {
                        r = link_set_arp(pt->name, !pt->noarp);
                        if (r < 0)
                                ret = r;
                }
                if (ls.up != pt->up) {
                        r = pt->up ? link_set_up(pt->name) : link_set_down(pt->name);
                        if (r < 0)
                                ret = r;
                }
        }
        if (pt->nm_managed == 1 && nm) {
                r = nm->set_managed(nm->data, pt->name, true);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

int lab_ports_setup(const struct profile *p, struct lab_record *st, const struct nm_seam *nm) {
        int r;

        /* Ports an earlier `up` of this lab joined that the profile lists
         * no longer. */
        for (size_t i = st->n_ports; i > 0; i--) {
                const char *name = st->ports[i - 1].name;
                bool listed = false;
                for (char **q = p->bridge.ports; q && *q; q++)
                        listed = listed || streq(*q, name);
                if (listed)
                        continue;
                r = lab_port_restore(st, &st->ports[i - 1], nm);
                if (r < 0)
                        return r;
                lab_record_del_port(st, name);
                r = lab_record_save(st);
                if (r < 0)
                        return r;
        }
        for (char **q = p->bridge.ports; q && *q; q++) {
                struct lab_port *pt = lab_record_port(st, *q);
                struct link_state ls;

                if (!pt) {
                        struct lab_port n = { .nm_managed = -1 };
                        r = link_state(*q, &ls);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                return log_error_errno(-ENODEV, "Failed to add port '%s' to the lab's bridge", *q);
                        n.name = xstrdup(*q);
                        n.master = ls.master[0] ? xstrdup(ls.master) : NULL;
                        n.up = ls.up;
                        n.noarp = ls.noarp;
                        n.mtu = ls.mtu;
                        pt = lab_record_add_port(st, &n);
                        r = lab_record_save(st);
                        if (r < 0)
                                return r;
                }
                fault_point_of("port", "-recorded");
                r = lab_port_take_from_nm(st, pt, nm);
                if (r < 0)
                        return r;
                r = labbridge_attach(st, *q);
                if (r >= 0)
                        r = link_set_up(*q);
                if (r < 0)
                        return r;
                fault_point_of("port", "");
        }
        return 0;
}

int lab_ports_teardown(struct lab_record *st, const struct nm_seam *nm) {
        int r, ret = 0;

        for (size_t i = st->n_ports; i > 0; i--) {
                r = lab_port_restore(st, &st->ports[i - 1], nm);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

json_t *lab_ports_status(const struct lab_record *st) {
        json_t *a = json_array();

        for (size_t i = 0; i < st->n_ports; i++) {
                const struct lab_port *pt = &st->ports[i];
                struct link_state ls;
                int r = link_state(pt->name, &ls);

                if (r <= 0) {
                        json_array_append_new(a, json_pack("{s:s, s:b, s:b}", "name", pt->name, "exists", false,
                                                           "carrier", false));
                        continue;
                }
                json_array_append_new(a, json_pack("{s:s, s:b, s:b, s:s, s:b, s:i, s:b, s:b}", "name", pt->name,
                                                   "exists", true, "carrier", ls.carrier, "operstate", ls.operstate,
                                                   "up", ls.up, "mtu", (int) ls.mtu, "in_bridge",
                                                   on_lab_bridge(st, pt->name, &ls), "nm_unmanaged",
                                                   pt->nm_managed == 1));
        }
        return a;
}
