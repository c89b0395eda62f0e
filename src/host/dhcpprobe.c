#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "host/dhcpprobe.h"
#include "basic/util.h"

#define ETH_LEN   14
#define IP_LEN    20
#define UDP_LEN   8
#define BOOTP_LEN 236           /* the fixed part, up to the magic cookie */
#define DHCP_MIN  300           /* BOOTP's minimum message, which old relays and servers expect */

static const uint8_t cookie[4] = { 99, 130, 83, 99 };

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static uint16_t get16(const uint8_t *p) { return (uint16_t) (p[0] << 8 | p[1]); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static uint32_t get32(const uint8_t *p) { return (uint32_t) get16(p) << 16 | get16(p + 2); }

static uint16_t ip_checksum(const uint8_t *p, size_t len) {
        uint32_t sum = 0;
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += get16(p + i);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

size_t dhcp_probe_build(uint8_t *buf, const uint8_t mac[6], uint32_t xid) {
        uint8_t *ip = buf + ETH_LEN, *udp = ip + IP_LEN, *b = udp + UDP_LEN, *o;
        size_t dhcp_len;

        memset(buf, 0, DHCP_PROBE_FRAME_MAX);
        memset(buf, 0xff, 6);
        memcpy(buf + 6, mac, 6);
        put16(buf + 12, ETHERTYPE_IP);

        b[0] = 1;               /* BOOTREQUEST */
        b[1] = 1;               /* Ethernet */
        b[2] = 6;
        put32(b + 4, xid);
        put16(b + 10, 0x8000);  /* broadcast: we have no address to receive a unicast at */
        memcpy(b + 28, mac, 6);
        o = b + BOOTP_LEN;
        memcpy(o, cookie, 4);
        o += 4;
        *o++ = 53; *o++ = 1; *o++ = 1;                  /* DHCPDISCOVER */
        *o++ = 55; *o++ = 3; *o++ = 1; *o++ = 3; *o++ = 54;
        *o++ = 255;
        dhcp_len = (size_t) (o - b);
        if (dhcp_len < DHCP_MIN)
                dhcp_len = DHCP_MIN;

        put16(udp, 68);
        put16(udp + 2, 67);
        put16(udp + 4, (uint16_t) (UDP_LEN + dhcp_len));
        /* UDP checksum 0: none, which IPv4 allows */

        ip[0] = 0x45;
        put16(ip + 2, (uint16_t) (IP_LEN + UDP_LEN + dhcp_len));
        ip[8] = 64;
        ip[9] = IPPROTO_UDP;
        memset(ip + 16, 0xff, 4);                       /* 0.0.0.0 → 255.255.255.255 */
        put16(ip + 10, ip_checksum(ip, IP_LEN));

        return ETH_LEN + IP_LEN + UDP_LEN + dhcp_len;
}

int dhcp_probe_parse(const uint8_t *frame, size_t len, uint32_t xid, struct dhcp_probe_answer *ret) {
        const uint8_t *ip, *udp, *b, *o, *end;
        size_t ihl, ip_total;
        struct in_addr server;
        bool offer = false;

        if (len < ETH_LEN + IP_LEN || get16(frame + 12) != ETHERTYPE_IP)
                return 0;
        ip = frame + ETH_LEN;
        ihl = (size_t) (ip[0] & 0x0f) * 4;
        if (ip[0] >> 4 != 4 || ihl < IP_LEN || ip[9] != IPPROTO_UDP || (get16(ip + 6) & 0x3fff))
                return 0;       /* not IPv4/UDP, or a fragment */
        ip_total = get16(ip + 2);
        if (ip_total < ihl + UDP_LEN || ETH_LEN + ip_total > len)
                return 0;
        end = ip + ip_total;
        udp = ip + ihl;
        if (get16(udp) != 67 || get16(udp + 2) != 68)
                return 0;
        if (get16(udp + 4) >= UDP_LEN && udp + get16(udp + 4) < end)
                end = udp + get16(udp + 4);
        b = udp + UDP_LEN;
        if (end - b < BOOTP_LEN + 4 || b[0] != 2 || get32(b + 4) != xid || memcmp(b + BOOTP_LEN, cookie, 4) != 0)
                return 0;
        memcpy(&server, ip + 12, 4);
        for (o = b + BOOTP_LEN + 4; o < end && *o != 255; ) {
                if (*o == 0) {
                        o++;
                        continue;
                }
                if (o + 2 > end || o + 2 + o[1] > end)
                        return 0;
                if (o[0] == 53 && o[1] == 1)
                        offer = o[2] == 2;
                else if (o[0] == 54 && o[1] == 4)
                        memcpy(&server, o + 2, 4);
                o += 2 + o[1];
        }
        if (!offer)
                return 0;
        inet_ntop(AF_INET, &server, ret->server, sizeof(ret->server));
        snprintf(ret->mac, sizeof(ret->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
                 frame[6], frame[7], frame[8], frame[9], frame[10], frame[11]);
        return 1;
}

int dhcp_probe(const char *ifname, unsigned timeout_ms, struct dhcp_probe_answer *ret) {
        _cleanup_close_ int fd = -1;
        struct ifreq ifr = {};
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
        uint8_t frame[DHCP_PROBE_FRAME_MAX], buf[2048];
        unsigned long long deadline, next_send = 0;
        uint32_t xid;
        size_t len;

        if (strlen(ifname) >= IFNAMSIZ)
                return -EINVAL;
        if (getrandom(&xid, sizeof(xid), 0) != sizeof(xid))
                return -errno;
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP));
        if (fd < 0)
                return -errno;
        strcpy(ifr.ifr_name, ifname);
        if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
                return -errno;
        sll.sll_ifindex = ifr.ifr_ifindex;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        if (!(ifr.ifr_flags & IFF_UP))
                return -ENETDOWN;
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
                return -errno;
        if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */)
                return -EAFNOSUPPORT;
        if (bind(fd, (struct sockaddr *) &sll, sizeof(sll)) < 0)
                return -errno;
        len = dhcp_probe_build(frame, (const uint8_t *) ifr.ifr_hwaddr.sa_data, xid);

        sll.sll_halen = 6;
        memset(sll.sll_addr, 0xff, 6);
        deadline = now_usec() + (unsigned long long) timeout_ms * 1000;
        for (;;) {
                unsigned long long now = now_usec();
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;
                int r;

                if (now >= deadline)
                        return 0;
                /* Again every 500 ms: a switch port that just came up may
                 * drop the first frames, and DHCP is lossy by design. */
                if (now >= next_send) {
                        if (sendto(fd, frame, len, 0, (struct sockaddr *) &sll, sizeof(sll)) < 0 &&
                            errno != ENOBUFS && errno != EAGAIN)
                                return -errno;
                        next_send = now + 500000;
                }
                r = poll(&p, 1, (int) (((next_send < deadline ? next_send : deadline) - now) / 1000) + 1);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                for (;;) {
                        struct sockaddr_ll from;
                        socklen_t fl = sizeof(from);
                        n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        break;
                                return -errno;
                        }
                        /* Our own DISCOVER is seen as PACKET_OUTGOING. */
                        if (from.sll_pkttype == PACKET_OUTGOING)
                                continue;
                        if (dhcp_probe_parse(buf, (size_t) n, xid, ret) > 0)
                                return 1;
                }
        }
}
