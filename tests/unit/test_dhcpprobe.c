/* dhcpprobe.c: the DISCOVER it builds, byte by byte; the OFFERs it accepts
 * and everything it must ignore (other xids, other message types, truncated
 * frames at every length); and dhcp_probe() itself over a real veth pair in
 * a private network namespace, answered by a responder on the far end that
 * reads the DISCOVER off the wire and sends back an OFFER (needs root). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "host/dhcpprobe.h"
#include "host/link.h"
#include "basic/util.h"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
static const uint8_t srv_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x67 };

static uint16_t g16(const uint8_t *p) { return (uint16_t) (p[0] << 8 | p[1]); }

static void test_build_discover(void **state) {
        uint8_t f[DHCP_PROBE_FRAME_MAX];
        size_t len = dhcp_probe_build(f, mac, 0x11223344);
        const uint8_t *ip = f + 14, *udp = ip + 20, *b = udp + 8;
        uint32_t sum = 0;

        assert_int_equal(len, 14 + 20 + 8 + 300);
        for (int i = 0; i < 6; i++)
                assert_int_equal(f[i], 0xff);
        assert_memory_equal(f + 6, mac, 6);
        assert_int_equal(g16(f + 12), 0x0800);
        assert_int_equal(ip[0], 0x45);
        assert_int_equal(g16(ip + 2), 20 + 8 + 300);
        assert_int_equal(ip[9], 17);
        assert_memory_equal(ip + 12, "\0\0\0\0", 4);
        assert_memory_equal(ip + 16, "\xff\xff\xff\xff", 4);
        for (int i = 0; i < 20; i += 2)         /* a correct header sums to 0xffff */
                sum += g16(ip + i);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        assert_int_equal(sum, 0xffff);
        assert_int_equal(g16(udp), 68);
        assert_int_equal(g16(udp + 2), 67);
        assert_int_equal(g16(udp + 4), 8 + 300);
        assert_int_equal(b[0], 1);
        assert_int_equal(b[1], 1);
        assert_int_equal(b[2], 6);
        assert_memory_equal(b + 4, "\x11\x22\x33\x44", 4);
        assert_int_equal(g16(b + 10), 0x8000);
        assert_memory_equal(b + 28, mac, 6);
        assert_memory_equal(b + 236, "\x63\x82\x53\x63", 4);
        assert_memory_equal(b + 240, "\x35\x01\x01", 3);        /* option 53 = DISCOVER first */
}

/* An OFFER as a server sends it: from SRC_IP (UDP 67→68), server identifier
 * ID (NULL: none), message type TYPE. */
static size_t make_reply(uint8_t *f, uint32_t xid, const char *src_ip, const char *id, uint8_t type) {
        uint8_t *ip = f + 14, *udp = ip + 20, *b = udp + 8, *o;
        size_t dlen;

        memset(f, 0, 600);
        memcpy(f, mac, 6);
        memcpy(f + 6, srv_mac, 6);
        f[12] = 0x08;
        ip[0] = 0x45;
        ip[9] = 17;
        assert_int_equal(inet_pton(AF_INET, src_ip, ip + 12), 1);
        memset(ip + 16, 0xff, 4);
        udp[1] = 67;
        udp[3] = 68;
        b[0] = 2;
        b[4] = xid >> 24; b[5] = xid >> 16; b[6] = xid >> 8; b[7] = xid;
        memcpy(b + 236, "\x63\x82\x53\x63", 4);
        o = b + 240;
        *o++ = 0;                               /* a pad, which parsers must skip */
        *o++ = 53; *o++ = 1; *o++ = type;
        if (id) {
                *o++ = 54; *o++ = 4;
                assert_int_equal(inet_pton(AF_INET, id, o), 1);
                o += 4;
        }
        *o++ = 1; *o++ = 4; o += 4;             /* a subnet mask */
        *o++ = 255;
        dlen = (size_t) (o - b);
        udp[4] = (uint8_t) ((8 + dlen) >> 8); udp[5] = (uint8_t) (8 + dlen);
        ip[2] = (uint8_t) ((28 + dlen) >> 8); ip[3] = (uint8_t) (28 + dlen);
        return 14 + 28 + dlen;
}

static void test_parse_offer(void **state) {
        uint8_t f[600];
        struct dhcp_probe_answer a = {};
        size_t len = make_reply(f, 0xdeadbeef, "192.0.2.9", "192.0.2.1", 2);

        assert_int_equal(dhcp_probe_parse(f, len, 0xdeadbeef, &a), 1);
        assert_string_equal(a.server, "192.0.2.1");     /* option 54 wins over the IP source (a relay) */
        assert_string_equal(a.mac, "02:00:00:00:00:67");

        len = make_reply(f, 0xdeadbeef, "192.0.2.9", NULL, 2);
        assert_int_equal(dhcp_probe_parse(f, len, 0xdeadbeef, &a), 1);
        assert_string_equal(a.server, "192.0.2.9");
}

static void test_parse_ignores(void **state) {
        uint8_t f[600];
        struct dhcp_probe_answer a = {};
        size_t len;

        len = make_reply(f, 1, "192.0.2.9", "192.0.2.1", 2);
        assert_int_equal(dhcp_probe_parse(f, len, 2, &a), 0);          /* another client's xid */
        len = make_reply(f, 1, "192.0.2.9", "192.0.2.1", 5);
        assert_int_equal(dhcp_probe_parse(f, len, 1, &a), 0);          /* an ACK, not an OFFER */
        len = make_reply(f, 1, "192.0.2.9", "192.0.2.1", 2);
        for (size_t l = 0; l < len; l++)                                /* truncated anywhere */
                assert_int_equal(dhcp_probe_parse(f, l, 1, &a), 0);
        f[14 + 6] = 0x20;                                               /* a fragment */
        assert_int_equal(dhcp_probe_parse(f, len, 1, &a), 0);
        f[14 + 6] = 0;
        f[14 + 20 + 1] = 68;                                            /* not from port 67 */
        assert_int_equal(dhcp_probe_parse(f, len, 1, &a), 0);
        f[14 + 20 + 1] = 67;
        f[14 + 28] = 1;                                                 /* a BOOTREQUEST */
        assert_int_equal(dhcp_probe_parse(f, len, 1, &a), 0);
        f[14 + 28] = 2;
        f[14 + 28 + 240 + 2] = 200;                                     /* option 53 runs past the end */
        assert_int_equal(dhcp_probe_parse(f, len, 1, &a), 0);
        /* our own DISCOVER is not an answer */
        len = dhcp_probe_build(f, mac, 1);
        assert_int_equal(dhcp_probe_parse(f, len, 1, &a), 0);
}

/* The far end of the wire: reads one DISCOVER off prtd1 and answers it. */
static void *responder(void *arg) {
        int fd = *(int *) arg;
        uint8_t in[2048], out[600];
        struct pollfd p = { .fd = fd, .events = POLLIN };

        while (poll(&p, 1, 5000) > 0) {
                ssize_t n = recv(fd, in, sizeof(in), 0);
                const uint8_t *b = in + 14 + 20 + 8;
                uint32_t xid;
                size_t len;

                if (n < 14 + 28 + 244 || g16(in + 12) != 0x0800 || in[14 + 9] != 17 ||
                    g16(in + 14 + 22) != 67 || b[0] != 1 || b[240] != 53 || b[242] != 1)
                        continue;
                xid = (uint32_t) b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7];
                len = make_reply(out, xid, "198.51.100.1", "198.51.100.1", 2);
                memcpy(out, in + 6, 6);
                assert_int_equal(send(fd, out, len, 0), (ssize_t) len);
                return NULL;
        }
        return NULL;
}

static int packet_socket(const char *ifname) {
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                                   .sll_ifindex = (int) if_nametoindex(ifname) };
        int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sll, sizeof(sll)), 0);
        return fd;
}

static void sh(const char *cmd) {
        char *argv[] = { "sh", "-c", (char *) cmd, NULL };
        assert_int_equal(run_program(argv, NULL), 0);
}

static void test_probe_real(void **state) {
        struct dhcp_probe_answer a = {};
        unsigned long long t0;
        pthread_t th;
        int fd;

        assert_int_equal(unshare(CLONE_NEWNET), 0);
        sh("ip link add prtd0 type veth peer name prtd1 && ip link set prtd1 up");

        /* nonexistent, then down: errors, nothing sent */
        assert_int_equal(dhcp_probe("prtnone", 100, &a), -ENODEV);
        assert_int_equal(dhcp_probe("prtd0", 100, &a), -ENETDOWN);
        sh("ip link set prtd0 up");

        /* nobody answers: 0 after the timeout, not before */
        t0 = now_usec();
        assert_int_equal(dhcp_probe("prtd0", 1200, &a), 0);
        assert_true(now_usec() - t0 >= 1200000);

        fd = packet_socket("prtd1");
        assert_int_equal(pthread_create(&th, NULL, responder, &fd), 0);
        assert_int_equal(dhcp_probe("prtd0", 3000, &a), 1);
        assert_int_equal(pthread_join(th, NULL), 0);
        close(fd);
        assert_string_equal(a.server, "198.51.100.1");
        assert_string_equal(a.mac, "02:00:00:00:00:67");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build_discover),
                cmocka_unit_test(test_parse_offer),
                cmocka_unit_test(test_parse_ignores),
                cmocka_unit_test(test_probe_real),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
