/* Host links over rtnetlink (libnl-3 route): the lab bridge, its addresses,
 * taps for VMs, and read-only queries (link state, default route, subnet
 * conflicts).
 *
 * Every function opens its own netlink socket, so it always acts in the
 * network namespace the calling thread is in at that moment (tests switch
 * namespaces with unshare(CLONE_NEWNET)).
 *
 * Errors: negative errno, taken verbatim from the kernel's netlink ACK where
 * there is one. Each failure is logged once here with log_error_errno()
 * ("Failed to create bridge 'pxe0': File exists") EXCEPT the outcomes a
 * caller is expected to branch on, which are returned silently and listed per
 * function below ("quiet: ..."). */
#pragma once
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>

/* Creates a Linux bridge NAME with STP off and forward_delay 0 (so ports
 * forward at once, PXE clients don't wait 30 s), in ONE RTM_NEWLINK carrying
 * IFLA_BR_STP_STATE and IFLA_BR_FORWARD_DELAY, and MAC ("02:70:…", NULL:
 * the kernel's random one) as IFLA_ADDRESS. The kernel takes an address with
 * the create but not an alias, so MAC is the one mark a bridge can carry from
 * its first moment. The bridge is left down. -EEXIST (logged) if any link of
 * that name exists. */
int bridge_create(const char *name, const char *mac);

/* 1 if a link NAME exists, 0 if not, <0 on error. *is_bridge (when non-NULL)
 * is set to whether it is a Linux bridge (false when missing). Quiet: 0. */
int link_exists(const char *name, bool *is_bridge);

/* Sets NAME administratively up. -ENODEV if missing. */
int link_set_up(const char *name);

/* Adds CIDR ("10.33.0.1/24", "fd12:3456:789a::1/64") to link NAME.
 * Idempotent: an address that is already present returns 0. IPv6 addresses
 * get IFA_F_NODAD: the lab owns its ULA, and a tentative address (a bridge
 * without carrier never finishes DAD) would be unusable for dnsmasq's RA
 * constructor. -EINVAL (logged) for an unparsable CIDR. */
int link_add_address(const char *name, const char *cidr);

/* Removes CIDR from link NAME; an address (or link) that is not there
 * returns 0. */
int link_del_address(const char *name, const char *cidr);

/* Sets IFF_NOARP on NAME: the host's stack then answers no ARP request
 * that arrives on it (arp off). -ENODEV if missing. */
int link_set_noarp(const char *name);

/* Sets NAME administratively down. */
int link_set_down(const char *name);
/* Switches ARP on NAME on (clears IFF_NOARP) or off. */
int link_set_arp(const char *name, bool on);
/* Sets NAME's MTU. */
int link_set_mtu(const char *name, unsigned mtu);

/* What `up` records of a physical port before it touches it, and the
 * checks that refuse one in use. */
struct link_state {
        char master[16];        /* "" when none; an OVS system port's is "ovs-system" */
        bool up;                /* IFF_UP */
        bool noarp;             /* IFF_NOARP */
        bool carrier;
        bool is_bridge;
        unsigned mtu;
        char operstate[32];     /* "UP", "DOWN", "LOWERLAYERDOWN"… */
        char address[64];       /* the first IPv4 or global IPv6 address, "" when none
                                 * (link-local ones do not count) */
};
/* 1 and *RET when link NAME exists, 0 when it does not. */
int link_state(const char *name, struct link_state *ret);
/* The first IPv4 address of link NAME and its prefix length: 1 and *RET,
 * 0 when it has none, -ENODEV (quiet) when there is no such link. */
int link_ipv4_address(const char *name, struct in_addr *ret, unsigned *ret_prefix);
/* 1 when NAME is a wireless interface (sysfs: wireless/ or phy80211 in
 * /sys/class/net/NAME), which a bridge cannot take; quiet. */
int link_is_wireless(const char *name);

/* Sets link NAME's alias (IFLA_IFALIAS, `ip link show` prints it): the mark
 * pxelab puts on the links it makes. -ENODEV if missing. */
int link_set_alias(const char *name, const char *alias);

/* The alias, kind ("bridge", "tun", "veth", "" for none) and MAC
 * ("02:70:78:…", "" for none) of link NAME: 1 with *ret_alias (NULL when it
 * has none), *ret_kind and *ret_mac (any may be NULL, caller frees), 0 when
 * the link does not exist. */
int link_mark(const char *name, char **ret_alias, char **ret_kind, char **ret_mac);

/* Deletes link NAME; a missing link returns 0. */
int link_delete(const char *name);

/* Enslaves IFNAME to bridge MASTER; MASTER == NULL releases it from its
 * master. */
int link_set_master(const char *ifname, const char *master);

/* Creates a persistent tap NAME (IFF_TAP|IFF_NO_PI; QEMU may re-attach with
 * IFF_VNET_HDR) carrying ALIAS (unless NULL), enslaves it to MASTER (unless
 * NULL) and sets it up. The alias is set while the tap still dies with our
 * fd, before TUNSETPERSIST: a tap that outlives a kill is always marked.
 * Idempotent: an existing tap of that name is reused (and keeps its alias);
 * -EEXIST (logged) if a link of that name exists that is not a tun/tap
 * device. */
int tap_create(const char *name, const char *master, const char *alias);

/* Describes link NAME as a new JSON object:
 *   {"name": "pxe0", "exists": true, "up": true, "operstate": "UP",
 *    "mtu": 1500, "mac": "aa:bb:cc:dd:ee:ff",
 *    "addresses": ["10.33.0.1/24", "fd12::1/64", "fe80::.../64"],
 *    "ports": ["tap0", ...]}
 * "up" is the administrative flag (IFF_UP); "operstate" is the kernel's
 * RFC 2863 state as iproute2 prints it (UP, DOWN, LOWERLAYERDOWN, UNKNOWN…).
 * "ports" are the links whose master is NAME. A missing link is not an
 * error: returns 0 with just {"name": NAME, "exists": false}. */
int link_info(const char *name, json_t **ret);

/* Returns (newly allocated) the output interface of the IPv4 default route
 * in the main table, the one with the lowest metric if there are several.
 * Quiet: -ENOENT if there is none. */
int route_default_ifname(char **ret);

/* Does NET/PREFIX overlap any IPv4 address or route on the host, except those
 * on link IGNORE_IFNAME (may be NULL)? Returns 1 with *ret_desc (when
 * non-NULL, newly allocated) such as "address 10.33.0.5/24 on eth0" or
 * "route 10.33.0.0/16 via eth0", 0 for no overlap (*ret_desc = NULL), <0 on
 * error. Default routes (0.0.0.0/0) and the local table's local/broadcast
 * entries are ignored. Quiet: 1 and 0. */
int host_subnet_conflict(struct in_addr net, unsigned prefix, const char *ignore_ifname, char **ret_desc);

/* Waits up to TIMEOUT_MS for link NAME to appear (e.g. an OVS internal port
 * created by ovs-vswitchd). 0 when it exists, quiet: -ETIMEDOUT. */
int link_wait_exists(const char *name, unsigned timeout_ms);
