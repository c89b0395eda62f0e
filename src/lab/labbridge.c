#include <errno.h>

#include "host/link.h"
#include "basic/fault.h"
#include "basic/json.h"
#include "lab/labbridge.h"
#include "basic/log.h"
#include "host/ovsdb.h"
#include "lab/state.h"
#include "host/sysctl.h"
#include "basic/util.h"

#define OVS_TIMEOUT_MS 5000

static void ovsdb_closep(struct ovsdb **db) {
        ovsdb_close(*db);
}

static bool rec_is_ovs(json_t *br) {
        return streq(json_str(br, "type"), "ovs");
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

int labbridge_preflight(const struct profile *p, json_t *old) {
        json_t *br = json_object_get(old, "bridge");
        bool ours = br && json_is_true(json_object_get(br, "created")), in_ovsdb = false;
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
static int record_bridge(const struct profile *p, json_t *st, json_t **ret) {
        json_t *br = json_object_get(st, "bridge");
        bool exists = false;
        int r;

        if (br) {
                *ret = br;
                return 0;
        }
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
        br = json_pack("{s:s, s:s, s:b, s:[]}", "name", p->bridge.name, "type", p->bridge.type, "created", !exists,
                       "addresses");
        if (streq(p->bridge.type, "ovs"))
                json_object_set_new(br, "ovsdb", json_string(p->bridge.ovsdb));
        json_object_set_new(st, "bridge", br);
        *ret = br;
        return state_save(p->lab, st);
}

static int create_bridge(const struct profile *p, json_t *br) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        int r;

        if (!rec_is_ovs(br)) {
                r = link_exists(p->bridge.name, NULL);
                return r != 0 ? r : bridge_create(p->bridge.name);
        }
        r = ovsdb_connect(json_str(br, "ovsdb"), &db);
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

int labbridge_setup(const struct profile *p, json_t *model, json_t *st) {
        const char *v6 = json_string_value(json_object_get(json_object_get(model, "bridge"), "ipv6_cidr"));
        json_t *br, *addrs;
        int r;

        r = record_bridge(p, st, &br);
        if (r < 0)
                return r;
        fault_point("bridge-recorded");
        if (json_is_true(json_object_get(br, "created"))) {
                r = create_bridge(p, br);
                if (r < 0)
                        return r;
        }
        fault_point("bridge");
        addrs = json_object_get(br, "addresses");
        if (!json_is_array(addrs))
                return -EBADMSG;
        if (json_array_size(addrs) == 0) {
                json_array_append_new(addrs, json_string(p->bridge.address));
                if (v6)
                        json_array_append_new(addrs, json_string(v6));
                r = state_save(p->lab, st);
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

int labbridge_teardown(json_t *st) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        json_t *br = json_object_get(st, "bridge"), *a;
        const char *name = json_str(br, "name");
        size_t i;
        int r = 0;

        if (!br || !name)
                return 0;
        if (!json_is_true(json_object_get(br, "created"))) {
                /* Someone else's bridge: take back only our addresses and,
                 * on OVS, the ports we added (VM taps; `down` has stopped
                 * the VMs, this catches what a crash left in OVSDB). */
                json_array_foreach(json_object_get(br, "addresses"), i, a) {
                        int k = link_del_address(name, json_string_value(a));
                        if (k < 0)
                                r = k;
                }
                if (rec_is_ovs(br) && json_str(st, "lab")) {
                        int k = ovsdb_connect(json_str(br, "ovsdb"), &db);
                        if (k >= 0)
                                k = ovsdb_port_del_marked(db, name, json_str(st, "lab"), OVS_TIMEOUT_MS);
                        if (k < 0)
                                r = k;
                }
                return r;
        }
        if (!rec_is_ovs(br))
                return link_delete(name);
        r = ovsdb_connect(json_str(br, "ovsdb"), &db);
        if (r < 0)
                return r;
        return ovsdb_bridge_del(db, name, OVS_TIMEOUT_MS);
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

int labbridge_attach(json_t *st, const char *ifname) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        json_t *br = json_object_get(st, "bridge");
        const char *bridge = json_str(br, "name");
        int r;

        if (!bridge)
                return log_error_errno(-EBADMSG, "Failed to add '%s' to the lab's bridge: the record names none",
                                       ifname);
        if (!rec_is_ovs(br))
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
        r = ovsdb_connect(json_str(br, "ovsdb"), &db);
        if (r < 0)
                return r;
        r = ovs_has_port(db, bridge, ifname);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Marked with the lab: `down` finds the ports it made by that. */
        return ovsdb_port_add(db, bridge, ifname, json_str(st, "lab"), OVS_TIMEOUT_MS);
}

int labbridge_detach(json_t *st, const char *ifname) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        json_t *br = json_object_get(st, "bridge");
        const char *bridge = json_str(br, "name");
        int r;

        if (!bridge)
                return 0;
        if (!rec_is_ovs(br)) {
                /* A tap that was never made (or is gone) is on no bridge. */
                r = link_exists(ifname, NULL);
                if (r <= 0)
                        return r;
                return link_set_master(ifname, NULL);
        }
        r = ovsdb_connect(json_str(br, "ovsdb"), &db);
        if (r < 0)
                return r;
        /* A bridge that is gone took its ports along: then the port is
         * missing too, which is fine. */
        return ovsdb_port_del(db, bridge, ifname, OVS_TIMEOUT_MS);
}

int labbridge_info(json_t *st, json_t **ret) {
        _cleanup_(ovsdb_closep) struct ovsdb *db = NULL;
        json_t *br = json_object_get(st, "bridge"), *info = NULL, *ports;
        const char *name = json_str(br, "name");
        char **v = NULL;
        int r;

        r = link_info(name, &info);
        if (r < 0)
                return r;
        json_object_set_new(info, "type", json_string(rec_is_ovs(br) ? "ovs" : "linux"));
        if (rec_is_ovs(br)) {
                /* OVS ports have no kernel master: ask OVSDB. */
                ports = json_array();
                if (ovsdb_connect(json_str(br, "ovsdb"), &db) >= 0 && ovsdb_bridge_ports(db, name, &v) >= 0)
                        for (char **i = v; *i; i++)
                                if (!streq(*i, name))      /* the bridge's own internal port */
                                        json_array_append_new(ports, json_string(*i));
                strv_free(v);
                json_object_set_new(info, "ports", ports);
        }
        *ret = info;
        return 0;
}
