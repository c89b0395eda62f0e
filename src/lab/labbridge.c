#include <errno.h>

#include "host/link.h"
#include "basic/fault.h"
#include "lab/labbridge.h"
#include "basic/log.h"
#include "host/ovsdb.h"
#include "lab/record.h"
#include "host/sysctl.h"
#include "basic/util.h"

#define OVS_TIMEOUT_MS 5000

static void ovsdb_closep(struct ovsdb **db) {
        ovsdb_close(*db);
}

static bool rec_is_ovs(const struct lab_record *st) {
        return streq(st->bridge.type, "ovs");
}

static int ovs_preflight(const struct profile *p, bool *ret_exists) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        _cleanup_free_ char *owner = NULL;
        int r;

        r = ovsdb_connect(p->bridge.ovsdb, &db);
        if (r < 0)
                return r;
        r = ovsdb_bridge_owner(db, p->bridge.name, &owner);
        if (r == -ENOENT) {
                *ret_exists = false;
                return 0;
        }
        if (r < 0)
                return r;
        *ret_exists = true;
        if (streq(owner, p->lab) || streq(p->bridge.existing, "use"))
                return 0;
        log_error("Open vSwitch bridge '%s' already exists and was not made by pxelab; choose another bridge.name "
                  "or set bridge.existing = \"use\"", p->bridge.name);
        return -EEXIST;
}

int labbridge_reachable(const struct profile *p) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;

        if (!streq(p->bridge.type, "ovs"))
                return 0;
        return ovsdb_connect(p->bridge.ovsdb, &db);
}

int labbridge_preflight(const struct profile *p, const struct lab_record *old) {
        bool ours = old && old->has_bridge && old->bridge.created, in_ovsdb = false;
        int r;

        if (streq(p->bridge.type, "ovs")) {
                r = ovs_preflight(p, &in_ovsdb);
                if (r < 0 || in_ovsdb)
                        return r;
        }
        r = link_exists(p->bridge.name, NULL);
        if (r < 0)
                return r;
        if (r > 0 && !ours) {
                log_error("Interface '%s' already exists and was not made by pxelab; choose another bridge.name",
                          p->bridge.name);
                return -EEXIST;
        }
        return 0;
}

/* Records the bridge (before creating it) on the first `up`. */
static int record_bridge(const struct profile *p, struct lab_record *st) {
        bool exists = false;
        int r;

        if (st->has_bridge)
                return 0;
        if (streq(p->bridge.type, "ovs")) {
                r = ovs_preflight(p, &exists);
                if (r < 0)
                        return r;
        } else {
                r = link_exists(p->bridge.name, NULL);
                if (r < 0)
                        return r;
                exists = r > 0;
        }
        st->has_bridge = true;
        st->bridge = (struct lab_record_bridge) {
                .name = xstrdup(p->bridge.name),
                .type = xstrdup(p->bridge.type),
                .ovsdb = streq(p->bridge.type, "ovs") ? xstrdup(p->bridge.ovsdb) : NULL,
                .created = !exists,
                .addresses = xcalloc(1, sizeof(char *)),
        };
        return lab_record_save(st);
}

static int create_bridge(const struct profile *p, const struct lab_record *st) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        int r;

        if (!rec_is_ovs(st)) {
                _cleanup_free_ char *mark = lab_link_mark(p->lab), *mac = lab_link_mac(p->lab);
                r = link_exists(p->bridge.name, NULL);
                if (r == 0)
                        r = bridge_create(p->bridge.name, mac);
                if (r < 0)
                        return r;
                /* The lab's MAC marks it from the create on (`down` deletes
                 * no bridge without a mark); the alias, which the kernel
                 * takes only afterwards, says whose it is in `ip link`. */
                fault_point("bridge-made");
                return link_set_alias(p->bridge.name, mark);
        }
        r = ovsdb_connect(st->bridge.ovsdb, &db);
        if (r < 0)
                return r;
        r = ovsdb_bridge_exists(db, p->bridge.name);
        if (r == 0)
                r = ovsdb_bridge_add(db, p->bridge.name, p->bridge.datapath_type, p->lab, OVS_TIMEOUT_MS);
        if (r < 0)
                return r;
        /* ovs-vswitchd creates the bridge's internal port in the kernel. */
        r = link_wait_exists(p->bridge.name, OVS_TIMEOUT_MS);
        if (r == -ETIMEDOUT)
                log_error("Open vSwitch bridge '%s' did not appear in the kernel within %u ms (is ovs-vswitchd running?)",
                          p->bridge.name, OVS_TIMEOUT_MS);
        return r;
}

int labbridge_setup(const struct profile *p, json_t *model, struct lab_record *st) {
        const char *v6 = json_string_value(json_object_get(json_object_get(model, "bridge"), "ipv6_cidr"));
        int r;

        r = record_bridge(p, st);
        if (r < 0)
                return r;
        fault_point("bridge-recorded");
        if (st->bridge.created) {
                r = create_bridge(p, st);
                if (r < 0)
                        return r;
        }
        fault_point("bridge");
        if (!st->bridge.addresses[0]) {
                free(st->bridge.addresses);
                st->bridge.addresses = xcalloc(3, sizeof(char *));
                st->bridge.addresses[0] = xstrdup(p->bridge.address);
                st->bridge.addresses[1] = xstrdup(v6);
                r = lab_record_save(st);
                if (r < 0)
                        return r;
        }
        fault_point("address-recorded");
        /* The lab is the router here: it must not configure itself from
         * its own router advertisements. */
        r = v6 ? sysctl_write_link("ipv6", p->bridge.name, "accept_ra", "0") : 0;
        if (r >= 0)
                r = link_add_address(p->bridge.name, p->bridge.address);
        if (r >= 0 && v6)
                r = link_add_address(p->bridge.name, v6);
        if (r >= 0)
                r = link_set_up(p->bridge.name);
        fault_point("address");
        return r;
}

/* Whether link NAME carries the lab's mark (and is of KIND): only then is
 * it pxelab's to delete. The mark is the alias "pxelab:LAB"; a bridge with
 * no alias at all counts too when it has the lab's MAC, which it was created
 * with (an `up` killed before the alias request). Says so in one line when
 * not ours. */
int labbridge_link_is_ours(const char *lab, const char *name, const char *kind) {
        _cleanup_free_ char *mark = lab_link_mark(lab), *mac = lab_link_mac(lab), *alias = NULL, *k = NULL,
                            *m = NULL;
        int r = link_mark(name, &alias, &k, &m);

        if (r <= 0)
                return r;       /* gone already: nothing to delete */
        if (streq(k, kind) && (streq(alias, mark) || (!alias && streq(kind, "bridge") && streq(m, mac))))
                return 1;
        log_warn("Not deleting link '%s': it is a %s link without pxelab's mark '%s' (alias %s%s%s), so not lab '%s''s",
                 name, strempty(k) ? "plain" : k, mark, alias ? "'" : "", alias ? alias : "none", alias ? "'" : "", lab);
        return -EPERM;
}

/* An OVS bridge is the lab's when its external_ids say so. */
static int ovs_bridge_is_ours(struct ovsdb *db, const char *lab, const char *name) {
        _cleanup_free_ char *owner = NULL;
        int r = ovsdb_bridge_owner(db, name, &owner);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (streq(owner, lab))
                return 1;
        log_warn("Not deleting Open vSwitch bridge '%s': its external_ids do not name lab '%s'", name, lab);
        return -EPERM;
}

int labbridge_teardown(const struct lab_record *st) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        const char *name = st->bridge.name;
        int r = 0;

        if (!st->has_bridge || !name)
                return 0;
        if (!st->bridge.created) {
                /* A borrowed OVS bridge (existing = "use"): take back only
                 * our addresses and the ports we added (VM taps; `down` has
                 * stopped the VMs, this catches what a crash left in
                 * OVSDB). pxelab borrows no Linux bridge. */
                if (!rec_is_ovs(st)) {
                        log_warn("Not touching link '%s': the record says pxelab did not make it", name);
                        return 0;
                }
                for (char **a = st->bridge.addresses; a && *a; a++) {
                        int k = link_del_address(name, *a);
                        if (k < 0)
                                r = k;
                }
                int k = ovsdb_connect(st->bridge.ovsdb, &db);
                if (k >= 0)
                        k = ovsdb_port_del_marked(db, name, st->lab, OVS_TIMEOUT_MS);
                return k < 0 ? k : r;
        }
        if (!rec_is_ovs(st)) {
                r = labbridge_link_is_ours(st->lab, name, "bridge");
                if (r == -EPERM)
                        return 0;       /* not ours: left alone, said so */
                return r <= 0 ? r : link_delete(name);
        }
        r = ovsdb_connect(st->bridge.ovsdb, &db);
        if (r < 0)
                return r;
        r = ovs_bridge_is_ours(db, st->lab, name);
        if (r == -EPERM)
                return 0;
        return r <= 0 ? r : ovsdb_bridge_del(db, name, OVS_TIMEOUT_MS);
}

/* The port IFNAME is already on BRIDGE (a VM that powered off keeps its
 * tap and port; starting it again finds them): 1, else 0. */
static int ovs_has_port(struct ovsdb *db, const char *bridge, const char *ifname) {
        _cleanup_strv_free_ char **ports = NULL;
        int r = ovsdb_bridge_ports(db, bridge, &ports);

        if (r == -ENOENT)
                return 0;       /* ovsdb_port_add() says so in its own words */
        if (r < 0)
                return r;
        for (char **p = ports; *p; p++)
                if (streq(*p, ifname))
                        return 1;
        return 0;
}

int labbridge_attach(const struct lab_record *st, const char *ifname) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        const char *bridge = st->bridge.name;
        int r;

        if (!st->has_bridge || !bridge)
                return log_error_errno(-EBADMSG, "Failed to add '%s' to the lab's bridge: the record names none",
                                       ifname);
        if (!rec_is_ovs(st))
                return link_set_master(ifname, bridge);
        /* ovs-vswitchd (netdev datapath) reads the port's frames from the
         * kernel device, and so does the host's stack: left to itself, the
         * stack answers a guest's ARP for the lab's address first, with the
         * tap's own MAC (measured: two replies, the tap's 0.3 ms before the
         * bridge's). iPXE keeps the later one; a guest that keeps the first
         * sends its packets to the tap, where the lab's nftables table drops
         * what is addressed to the lab. A Linux bridge port never needs
         * this: the bridge takes its frames before the stack sees them.
         * Checksums need nothing on the tap (unlike `ethtool -K tx off` on
         * a veth client): iPXE and OVMF fill theirs in, and a booted OS,
         * which would leave them to the NIC, gets a NIC without checksum
         * offload on OVS labs (vm.c, csum=off). */
        r = link_set_noarp(ifname);
        if (r < 0)
                return r;
        r = ovsdb_connect(st->bridge.ovsdb, &db);
        if (r < 0)
                return r;
        r = ovs_has_port(db, bridge, ifname);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Marked with the lab: `down` finds the ports it made by that. */
        return ovsdb_port_add(db, bridge, ifname, st->lab, OVS_TIMEOUT_MS);
}

int labbridge_detach(const struct lab_record *st, const char *ifname) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        const char *bridge = st->bridge.name;
        int r;

        if (!st->has_bridge || !bridge)
                return 0;
        if (!rec_is_ovs(st)) {
                /* A tap that was never made (or is gone) is on no bridge. */
                r = link_exists(ifname, NULL);
                if (r <= 0)
                        return r;
                return link_set_master(ifname, NULL);
        }
        r = ovsdb_connect(st->bridge.ovsdb, &db);
        if (r < 0)
                return r;
        /* A bridge that is gone took its ports along: then the port is
         * missing too, which is fine. */
        return ovsdb_port_del(db, bridge, ifname, OVS_TIMEOUT_MS);
}

int labbridge_info(const struct lab_record *st, json_t **ret) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        json_t *info = NULL, *ports;
        const char *name = st->bridge.name;
        char **v = NULL;
        int r;

        r = link_info(name, &info);
        if (r < 0)
                return r;
        json_object_set_new(info, "type", json_string(rec_is_ovs(st) ? "ovs" : "linux"));
        if (rec_is_ovs(st)) {
                /* OVS ports have no kernel master: ask OVSDB. */
                ports = json_array();
                if (ovsdb_connect(st->bridge.ovsdb, &db) >= 0 && ovsdb_bridge_ports(db, name, &v) >= 0)
                        for (char **i = v; *i; i++)
                                if (!streq(*i, name))      /* the bridge's own internal port */
                                        json_array_append_new(ports, json_string(*i));
                strv_free(v);
                json_object_set_new(info, "ports", ports);
        }
        *ret = info;
        return 0;
}

int labbridge_ovs_port_owner(const struct profile *p, const char *ifname, char **ret_bridge) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        json_t *ops, *res = NULL, *rows, *row;
        size_t i;
        int r;

        *ret_bridge = NULL;
        if (!streq(p->bridge.type, "ovs"))
                return 0;
        r = ovsdb_connect(p->bridge.ovsdb, &db);
        if (r < 0)
                return r;
        /* The Bridge whose ports set holds a Port named IFNAME. */
        ops = json_pack("[{s:s, s:s, s:[[s:s:s]], s:[s]}, {s:s, s:s, s:[], s:[s, s]}]",
                        "op", "select", "table", "Port", "where", "name", "==", ifname, "columns", "_uuid",
                        "op", "select", "table", "Bridge", "where", "columns", "name", "ports");
        if (!ops)
                return log_error_errno(-ENOMEM, "Failed to look up port '%s' in OVSDB", ifname);
        r = ovsdb_transact(db, ops, &res);
        json_decref(ops);
        if (r < 0)
                return r;
        rows = json_object_get(json_array_get(res, 0), "rows");
        if (json_array_size(rows) == 0) {
                json_decref(res);
                return 0;
        }
        {
                const char *uuid = json_string_value(json_array_get(json_object_get(json_array_get(rows, 0), "_uuid"), 1));
                json_array_foreach(json_object_get(json_array_get(res, 1), "rows"), i, row) {
                        /* ports: ["uuid", U] for one, ["set", [["uuid", U]...]] for more */
                        json_t *ports = json_object_get(row, "ports"), *v;
                        size_t j;
                        bool has = false;
                        if (streq(json_string_value(json_array_get(ports, 0)), "uuid"))
                                has = streq(json_string_value(json_array_get(ports, 1)), uuid);
                        else
                                json_array_foreach(json_array_get(ports, 1), j, v)
                                        has = has || streq(json_string_value(json_array_get(v, 1)), uuid);
                        if (has) {
                                *ret_bridge = xstrdup(json_string_value(json_object_get(row, "name")));
                                break;
                        }
                }
        }
        if (!*ret_bridge)
                *ret_bridge = xstrdup("?");     /* a Port in no Bridge yet */
        json_decref(res);
        return 1;
}
