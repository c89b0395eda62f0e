/* A lab's status, built as JSON first (see status.h). */
#include <errno.h>
#include <string.h>

#include "basic/util.h"
#include "host/nft.h"
#include "host/units.h"
#include "host/link.h"
#include "host/tgtadm.h"
#include "kinds/iscsi.h"
#include "lab/labbridge.h"
#include "lab/ports.h"
#include "lab/record.h"
#include "lab/status.h"
#include "lab/vm.h"

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

/* The targets tgtd serves, with their disks and who is logged in, when
 * the lab runs tgtd (a unit pxelab-LAB-tgtd.service); NULL otherwise. A
 * tgtd that does not answer leaves the lab degraded. */
static json_t *iscsi_json(const struct lab_record *st, bool *healthy) {
        _cleanup_free_ char *unit = xasprintf("pxelab-%s-tgtd.service", st->lab);
        unsigned port = iscsi_control_port(st->lab);
        json_t *o, *targets = NULL;
        bool runs = false;
        int r;

        for (char **u = st->units; *u && !runs; u++)
                runs = streq(*u, unit);
        if (!runs)
                return NULL;
        o = json_pack("{s:s, s:i}", "portal", "", "control_port", (int) port);
        json_object_set_new(o, "portal", json_sprintf("%.*s:%d", (int) strcspn(st->address ? st->address : "", "/"),
                                                      st->address ? st->address : "", ISCSI_PORT));
        r = tgt_show_targets(port, &targets);
        if (r < 0) {
                json_object_set_new(o, "error", json_sprintf("tgtd does not answer on its control port %u: %s", port,
                                                             strerror(-r)));
                json_object_set_new(o, "targets", json_array());
                *healthy = false;
                return o;
        }
        json_object_set_new(o, "targets", targets);
        return o;
}

int lab_status(const char *lab, json_t **ret, bool *ret_healthy) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        json_t *o, *units, *br = NULL;
        bool healthy = true;
        int r;

        r = lab_record_load(lab, &st);
        if (r < 0)
                return r;
        if (units_connect_quiet(&bus) < 0)
                bus = NULL;
        o = json_pack("{s:s, s:s?, s:s?, s:s?}", "lab", lab, "profile", st->profile, "boot_url", st->boot_url,
                      "address", st->address);
        units = json_array();
        for (char **u = st->units; *u; u++)
                json_array_append_new(units, unit_json(bus, *u, &healthy));
        json_object_set_new(o, "units", units);
        if (st->proxy_interface) {
                /* A proxy lab: the LAN interface, as it is (not ours). */
                if (link_info(st->proxy_interface, &br) < 0)
                        br = json_pack("{s:s, s:b}", "name", st->proxy_interface, "exists", false);
                if (!json_is_true(json_object_get(br, "exists")) || !json_is_true(json_object_get(br, "up")))
                        healthy = false;
                json_object_set_new(o, "proxy", br);
        } else if (st->has_bridge && labbridge_info(st, &br) >= 0) {
                if (!json_is_true(json_object_get(br, "exists")) || !json_is_true(json_object_get(br, "up")))
                        healthy = false;
                json_object_set_new(o, "bridge", br);
        } else {
                json_object_set_new(o, "bridge", json_pack("{s:s?, s:b}", "name", st->bridge.name, "exists", false));
                healthy = false;
        }
        if (st->has_nft) {
                r = nft_lab_exists(st->nft_table);
                json_object_set_new(o, "nft", json_pack("{s:s, s:b}", "table", st->nft_table, "present", r > 0));
                if (r <= 0)
                        healthy = false;
        }
        json_object_set_new(o, "ports", lab_ports_status(st));
        {
                json_t *pt;
                size_t i;
                /* A port without a cable is fine (nothing plugged in yet);
                 * one that is gone or out of the bridge is not. */
                json_array_foreach(json_object_get(o, "ports"), i, pt)
                        if (!json_is_true(json_object_get(pt, "exists")) || !json_is_true(json_object_get(pt, "in_bridge")))
                                healthy = false;
        }
        {
                json_t *iscsi = iscsi_json(st, &healthy);
                if (iscsi)
                        json_object_set_new(o, "iscsi", iscsi);
        }
        json_object_set_new(o, "leases", leases_json(st->state_dir));
        json_object_set_new(o, "vms", vm_status_json(bus, st));
        json_object_set_new(o, "healthy", json_boolean(healthy));
        *ret = o;
        *ret_healthy = healthy;
        return 0;
}
