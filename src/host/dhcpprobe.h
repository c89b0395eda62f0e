/* Is there a DHCP server on this wire? One DHCPDISCOVER out of an interface,
 * read straight off the link (AF_PACKET), so it works on a port that has no
 * IPv4 address and needs no UDP port 68 of its own (a dhclient or
 * systemd-networkd holding it does not matter). */
#pragma once
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct dhcp_probe_answer {
        char server[INET_ADDRSTRLEN];   /* the server identifier (option 54), else the IP source */
        char mac[18];                   /* the Ethernet source of the OFFER, "52:54:00:12:34:56" */
};

/* Sends a DHCPDISCOVER out of IFNAME (packet socket bound to the interface,
 * random xid, broadcast flag; repeated every 500 ms) and waits up to
 * TIMEOUT_MS for an OFFER. IFNAME must be up (the caller sets it up: this
 * never changes a link). Returns 1 and fills *ret when a server answered, 0
 * when none did, negative errno on failure (not logged: the caller says what
 * it was probing for). */
int dhcp_probe(const char *ifname, unsigned timeout_ms, struct dhcp_probe_answer *ret);

/* The pieces, for tests. The largest frame built: */
#define DHCP_PROBE_FRAME_MAX 400
/* Builds the broadcast Ethernet/IPv4/UDP 68→67 DHCPDISCOVER from MAC with
 * XID into BUF (at least DHCP_PROBE_FRAME_MAX bytes); returns its length. */
size_t dhcp_probe_build(uint8_t *buf, const uint8_t mac[6], uint32_t xid);
/* Parses an Ethernet frame: 1 and *ret when it is an IPv4/UDP 67→68 BOOTREPLY
 * DHCPOFFER for XID, else 0 (anything malformed or unrelated). */
int dhcp_probe_parse(const uint8_t *frame, size_t len, uint32_t xid, struct dhcp_probe_answer *ret);
