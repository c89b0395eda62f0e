/* probe.c: port_in_use() against real sockets in a private network
 * namespace, IPv6 ones included, each answer checked against what a real
 * IPv4 bind at that address and port does. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "host/link.h"
#include "host/probe.h"
#include "basic/util.h"

#define PORT 80

static int setup_all(void **state) {
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "unshare(CLONE_NEWNET): %m (these tests must run as root)\n");
                return -1;
        }
        return link_set_up("lo") < 0 ? -1 : 0;
}

static struct in_addr v4(const char *s) {
        struct in_addr a;
        assert_int_equal(inet_pton(AF_INET, s, &a), 1);
        return a;
}

/* A socket of TYPE bound at the IPv6 address S (listening when TCP). */
static int bind6(int type, const char *s, bool v6only) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(PORT) };
        int fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0), on = v6only;
        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET6, s, &sa.sin6_addr), 1);
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)), 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (type == SOCK_STREAM)
                assert_int_equal(listen(fd, 1), 0);
        return fd;
}

/* What nginx/dnsmasq would get: 0 or -errno of an IPv4 bind (no
 * SO_REUSEADDR, IP_FREEBIND: the lab's address does not exist yet). */
static int bind4_result(int type, const char *s) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = v4(s) };
        _cleanup_close_ int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        int on = 1;
        assert_true(fd >= 0);
        assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on)), 0);
        return bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
}

static void test_nothing_bound(void **state) {
        assert_int_equal(port_in_use(true, v4("10.81.0.1"), PORT), 0);
        assert_int_equal(port_in_use(false, v4("10.81.0.1"), PORT), 0);
}

/* The default IPv6 wildcard socket is dual-stack: it holds the port on
 * every IPv4 address too, and the lab's own bind would fail. */
static void test_dual_stack_wildcard(void **state) {
        int types[] = { SOCK_STREAM, SOCK_DGRAM };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                bool tcp = types[i] == SOCK_STREAM;
                _cleanup_close_ int fd = bind6(types[i], "::", false);
                assert_int_equal(port_in_use(tcp, v4("10.81.0.1"), PORT), 1);
                assert_int_equal(bind4_result(types[i], "10.81.0.1"), -EADDRINUSE);
                /* the other protocol is free */
                assert_int_equal(port_in_use(!tcp, v4("10.81.0.1"), PORT), 0);
        }
}

/* /proc cannot tell IPV6_V6ONLY: an IPv6-only wildcard counts as taken
 * too (the lab's IPv6 address would collide with it anyway). */
static void test_v6only_wildcard(void **state) {
        _cleanup_close_ int fd = bind6(SOCK_STREAM, "::", true);
        assert_int_equal(port_in_use(true, v4("10.81.0.1"), PORT), 1);
}

/* IPv4 through an IPv6 socket: ::ffff:ADDR blocks exactly ADDR. */
static void test_v4_mapped(void **state) {
        _cleanup_close_ int fd = bind6(SOCK_STREAM, "::ffff:127.0.0.1", false);
        assert_int_equal(port_in_use(true, v4("127.0.0.1"), PORT), 1);
        assert_int_equal(bind4_result(SOCK_STREAM, "127.0.0.1"), -EADDRINUSE);
        assert_int_equal(port_in_use(true, v4("10.81.0.1"), PORT), 0);
        assert_int_equal(bind4_result(SOCK_STREAM, "10.81.0.1"), 0);
}

/* A specific IPv6 address does not block IPv4. */
static void test_v6_address(void **state) {
        _cleanup_close_ int fd = bind6(SOCK_STREAM, "::1", false);
        assert_int_equal(port_in_use(true, v4("127.0.0.1"), PORT), 0);
        assert_int_equal(bind4_result(SOCK_STREAM, "127.0.0.1"), 0);
}

/* TCP counts only listening sockets. */
static void test_tcp_not_listening(void **state) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(PORT), .sin6_addr = in6addr_any };
        _cleanup_close_ int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(port_in_use(true, v4("10.81.0.1"), PORT), 0);
}

/* IPv4 sockets as before: the address itself or 0.0.0.0. */
static void test_v4(void **state) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = v4("127.0.0.1") };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(port_in_use(false, v4("127.0.0.1"), PORT), 1);
        assert_int_equal(port_in_use(false, v4("10.81.0.1"), PORT), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nothing_bound),
                cmocka_unit_test(test_dual_stack_wildcard),
                cmocka_unit_test(test_v6only_wildcard),
                cmocka_unit_test(test_v4_mapped),
                cmocka_unit_test(test_v6_address),
                cmocka_unit_test(test_tcp_not_listening),
                cmocka_unit_test(test_v4),
        };
        return cmocka_run_group_tests(tests, setup_all, NULL);
}
