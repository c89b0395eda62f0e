/* Proxy DHCP labs. See proxy.h. */
#include <arpa/inet.h>
#include <errno.h>

#include "basic/log.h"
#include "basic/util.h"
#include "host/dhcpprobe.h"
#include "host/link.h"
#include "lab/proxy.h"

#define PROXY_PROBE_MS 2000

int lab_proxy_address(struct profile *p) {
        const char *iface = p->dhcp.interface;
        unsigned line = profile_line(p, "dhcp.interface"), prefix = 0;
        struct in_addr a = {};
        int r;

        if (!p->dhcp.proxy)
                return 0;
        r = link_ipv4_address(iface, &a, &prefix);
        if (r == -ENODEV) {
                log_error("%s:%u: dhcp.interface: interface '%s' does not exist", p->path, line, iface);
                return r;
        }
        if (r < 0)
                return r;
        if (r == 0 || prefix < 8 || prefix > 30) {
                log_error("%s:%u: dhcp.interface: '%s' has no IPv4 address%s; proxy DHCP serves on the interface's "
                          "own address, which the LAN's DHCP server or you give it", p->path, line, iface,
                          r == 0 ? "" : " with a prefix length of 8 to 30");
                return -EADDRNOTAVAIL;
        }
        profile_set_address(p, a, prefix);
        return 0;
}

void lab_proxy_probe(const struct profile *p) {
        struct dhcp_probe_answer a = {};
        int r;

        if (!p->dhcp.proxy || !p->dhcp.probe)
                return;
        r = dhcp_probe(p->dhcp.interface, PROXY_PROBE_MS, &a);
        if (r < 0)
                log_warn("could not look for the LAN's DHCP server on '%s': %s", p->dhcp.interface,
                         strerror(-r));
        else if (r == 0)
                log_warn("no DHCP server answered on '%s' within %u s: proxy DHCP hands out no addresses, "
                         "so no client will boot until the LAN's DHCP server answers", p->dhcp.interface,
                         PROXY_PROBE_MS / 1000);
        else
                log_info("DHCP server %s (%s) answers on '%s': proxy DHCP adds the boot information", a.server,
                         a.mac, p->dhcp.interface);
}
