/* The lab's physical ports (bridge.ports): a spare NIC or USB adapter
 * joined to the lab's bridge, so real machines on that wire PXE-boot from
 * the lab. Each port is recorded as it was (master, up/down, MTU, ARP,
 * NetworkManager's Managed) before anything of it changes, and `down`
 * gives it back exactly so. */
#pragma once
#include <jansson.h>

#include "host/nm.h"
#include "lab/record.h"
#include "profile/profile.h"

/* The refusals, one line each naming the profile's file:line and
 * bridge.ports: a name that does not exist; the uplink or the
 * default-route interface; a wireless interface; an interface with an IPv4
 * or global IPv6 address of its own; a bridge; a port of another bridge or
 * of another lab. With dhcp.mode = "server" and dhcp.probe (the default),
 * a DHCPDISCOVER goes out of each port first (a down port is set up for
 * the 2 s of it and down again) and any OFFER refuses the port. OLD: the
 * lab's record when it is up (its own ports pass). UPLINK: the resolved
 * uplink or NULL. -EINVAL/-EBUSY/-ENODEV/-EADDRINUSE, logged. */
int lab_ports_preflight(const struct profile *p, const struct lab_record *old, const char *uplink);

/* Records, then joins each port to the lab's bridge and sets it up; NM
 * (when it manages a port) is told to leave it alone first. Ports the
 * record has that the profile no longer lists are given back. Logged. */
int lab_ports_setup(const struct profile *p, struct lab_record *st, const struct nm_seam *nm);

/* Gives every recorded port back as it was (a port that is gone is
 * skipped, said so); the record keeps a port that could not be restored.
 * Logged. */
int lab_ports_teardown(struct lab_record *st, const struct nm_seam *nm);

/* Gives back the one port PT (recorded in ST): out of the lab's bridge,
 * then its MTU, ARP, up/down state and NetworkManager's Managed as
 * recorded. The unit tests' seam. */
int lab_port_restore(const struct lab_record *st, const struct lab_port *pt, const struct nm_seam *nm);
/* Asks NM about PT->name and, when it manages the port, records that
 * (saving ST) and sets it unmanaged. The unit tests' seam. */
int lab_port_take_from_nm(struct lab_record *st, struct lab_port *pt, const struct nm_seam *nm);

/* [{"name", "exists", "carrier", "operstate", "up", "mtu", "in_bridge",
 *   "nm_unmanaged"}] of the recorded ports, for `status`. */
json_t *lab_ports_status(const struct lab_record *st);
