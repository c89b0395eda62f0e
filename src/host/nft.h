/* The lab's nftables table, built with libnftnl and sent over libmnl.
 *
 * nft_lab_apply() replaces the whole table in ONE netlink batch, which the
 * kernel commits atomically: either the complete new ruleset is live or
 * nothing changed. The table (family inet, named lab->table) holds:
 *
 *   chain input      type filter hook input priority 0; policy accept;
 *       iifname != BRIDGE iifname != "lo" ip daddr ADDR drop
 *       iifname != BRIDGE iifname != "lo" ip6 daddr ADDR6 drop   (if ADDR6)
 *       iifname BRIDGE ct state established,related accept
 *       iifname BRIDGE udp dport { ANY_UDP_PORTS } accept            (if any)
 *       iifname BRIDGE ip daddr ADDR udp dport { UDP_PORTS } accept  (if any)
 *       iifname BRIDGE ip daddr ADDR tcp dport { TCP_PORTS } accept  (if any)
 *       iifname BRIDGE ip6 daddr ADDR6 udp dport { UDP_PORTS } accept (if ADDR6, any)
 *       iifname BRIDGE ip6 daddr ADDR6 tcp dport { TCP_PORTS } accept (if ADDR6, any)
 *       iifname BRIDGE ip daddr ADDR icmp type echo-request accept
 *       iifname BRIDGE ip6 daddr ADDR6 icmpv6 type echo-request accept (if ADDR6)
 *       iifname BRIDGE icmpv6 type { nd-router-solicit, nd-neighbor-solicit,
 *                                    nd-neighbor-advert } accept
 *       iifname BRIDGE drop
 *   chain forward    type filter hook forward priority 0; policy accept;
 *       iifname BRIDGE oifname BRIDGE accept
 *       iifname BRIDGE oifname UPLINK accept                   (if UPLINK)
 *       iifname BRIDGE drop
 *       oifname BRIDGE ct state established,related accept
 *       oifname BRIDGE drop
 *   only when UPLINK is set:
 *   chain postrouting  type nat hook postrouting priority 100 (srcnat);
 *       ip saddr NET/PREFIX oifname UPLINK masquerade
 *
 * The guard drops come first: the lab's own addresses are reachable from
 * its bridge and from the host itself (which reaches any local address over
 * lo), never from elsewhere, e.g. an uplink-side machine that routes the
 * lab's subnet through this host.
 *
 * From the bridge the host accepts replies, DHCP (ANY_UDP_PORTS: its
 * broadcasts and DHCPv6's multicasts have no lab address as destination),
 * the lab's services and the profile's extra ports at the lab's own
 * addresses, pings of those, and the neighbour discovery IPv6 needs; it
 * drops the rest, whatever address of the host it is sent to. Forwarded
 * from the bridge: only out of the uplink (within the bridge too: with
 * br_netfilter, bridged traffic passes the forward hook with the bridge as
 * both interfaces); into it: only replies. The policies stay accept: other
 * interfaces are not the lab's business.
 *
 * An accept here does not override a drop in another table on the same hook
 * (every base chain votes; one drop is final).
 *
 * Errors are logged once: "Failed to apply nftables table 'pxelab-demo':
 * Operation not supported" (the first error the kernel reported for the
 * batch). */
#pragma once
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct nft_lab {
        const char *table;          /* e.g. "pxelab-demo" (family inet) */
        const char *bridge;         /* bridge ifname */
        const char *uplink;         /* NULL: isolated lab, nothing forwarded, no NAT */
        struct in_addr addr;        /* the lab's own IPv4 address on the bridge (not 0) */
        const struct in6_addr *addr6; /* its IPv6 (ULA) address, or NULL */
        struct in_addr net;         /* lab IPv4 network (network byte order) */
        unsigned prefix;            /* 1..32 */
        /* Ports in host order; duplicates are fine. */
        const uint16_t *any_udp_ports; /* from the bridge to any address (67, 547) */
        size_t n_any_udp;
        const uint16_t *udp_ports;  /* from the bridge to ADDR/ADDR6 (69, extras) */
        size_t n_udp;
        const uint16_t *tcp_ports;  /* from the bridge to ADDR/ADDR6 (80, 445, extras) */
        size_t n_tcp;
        /* A proxy DHCP lab: BRIDGE is a LAN interface of the host's. The
         * table then only accepts the ports above on it (nothing dropped,
         * nothing forwarded, no NAT): the host's other traffic on its LAN
         * is none of the lab's business. */
        bool proxy;
};

/* Creates or replaces table LAB->table: one batch "add table; delete table;
 * add table + chains + rules", so re-applying is idempotent and never leaves
 * duplicates or a half-built table. */
int nft_lab_apply(const struct nft_lab *lab);

/* Deletes table TABLE (family inet); a missing table returns 0. */
int nft_lab_delete(const char *table);

/* 1 if table TABLE (family inet) exists, 0 if not (quiet), <0 on error. */
int nft_lab_exists(const char *table);
