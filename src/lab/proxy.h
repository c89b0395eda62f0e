/* Proxy DHCP labs (dhcp.mode = "proxy"): no bridge, no NAT, no address
 * handed out; the lab answers PXE clients of an existing LAN with boot
 * information only, and serves on the LAN interface's own address, which
 * is read here, never set. */
#pragma once
#include "profile/profile.h"

/* Sets P's address (bridge.address and its parts, as the rest of pxelab
 * reads them) from dhcp.interface's first IPv4 address. A missing
 * interface or one without an IPv4 address is one line
 * "FILE:LINE: dhcp.interface: ..." and -ENODEV or -EADDRNOTAVAIL. */
int lab_proxy_address(struct profile *p);

/* Warns (does not refuse) when no DHCP server answers a DHCPDISCOVER on the
 * interface within about 2 s: then no client gets an address, and proxy
 * DHCP alone boots nothing. dhcp.probe = false skips it. */
void lab_proxy_probe(const struct profile *p);
