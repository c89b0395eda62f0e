/* The lab's bridge, behind one interface for both back-ends: a Linux bridge
 * over rtnetlink (link.c) or an Open vSwitch bridge over OVSDB (ovsdb.c).
 * Addresses and link state are set over rtnetlink for both. The lab's record
 * (record.h, its bridge) says which back-end, whether pxelab created the
 * bridge, and which addresses it added. */
#pragma once
#include <jansson.h>

#include "lab/record.h"
#include "profile/profile.h"

/* Whether the back-end P names answers (OVS: ovsdb-server at its socket);
 * a Linux bridge needs nothing. Logged. */
int labbridge_reachable(const struct profile *p);

/* Refuses a bridge that exists and is not this lab's (OVS: unless
 * bridge.existing = "use"). OLD is the lab's current record or NULL.
 * Returns -EEXIST (usage) or another negative errno (runtime), logged. */
int labbridge_preflight(const struct profile *p, const struct lab_record *old);

/* Creates (if needed) and configures the bridge: IPv4 address, ULA, up.
 * Writes what it is about to do into ST (saved) before doing it. */
int labbridge_setup(const struct profile *p, json_t *model, struct lab_record *st);

/* Undoes labbridge_setup() from the record alone, trusting it for nothing
 * it can check: a Linux bridge is deleted only when it carries the lab's
 * mark (lab_link_mark()), an OVS bridge only when its external_ids name the
 * lab; anything else is left alone with one warning line (and returns 0).
 * An OVS bridge pxelab created goes with all its ports; from a borrowed
 * one (existing = "use") the lab's marked ports are removed. */
int labbridge_teardown(const struct lab_record *st);

/* 1 when link NAME is of KIND ("bridge", "tun") and carries LAB's mark, 0
 * when there is no such link, -EPERM (one warning line) when it is
 * someone else's. */
int labbridge_link_is_ours(const char *lab, const char *name, const char *kind);

/* Adds IFNAME (an existing kernel device: a VM's tap) to the lab's bridge
 * recorded in ST: a Linux bridge port (rtnetlink), or on OVS a system port,
 * Interface and Port in one OVSDB transaction, the Port marked with
 * external_ids pxelab-lab=LAB, and ARP switched off on IFNAME (the host's
 * stack sees an OVS port's frames too). A port already on the bridge is
 * fine. Logged. */
int labbridge_attach(const struct lab_record *st, const char *ifname);
/* Takes IFNAME out of the lab's bridge (before the device is deleted, so
 * ovs-vswitchd never holds a port whose device vanished). A device or port
 * that is not there (an OVS bridge that is gone took its ports) returns 0.
 * Logged. */
int labbridge_detach(const struct lab_record *st, const char *ifname);

/* Whether IFNAME is a port of some Open vSwitch bridge in P's OVSDB (an
 * OVS netdev port has no kernel master to tell): 1 and *RET_BRIDGE, 0 when
 * not (or P's bridge is not OVS). Logged. */
int labbridge_ovs_port_owner(const struct profile *p, const char *ifname, char **ret_bridge);

/* link_info() of the bridge, with "type" and, for OVS, the ports from OVSDB. */
int labbridge_info(const struct lab_record *st, json_t **ret);
