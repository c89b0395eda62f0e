/* probe.c: port_in_use() against real sockets in a private network
 * namespace, IPv6 ones included, each answer checked against what a real
 * IPv4 bind at that address and port does. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* tftp_size() against a real dnsmasq serving a TFTP root on 127.0.0.1 in
 * this test's own network namespace. */
static void write_file(const char *path, size_t size) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        assert_non_null(f);
        for (size_t i = 0; i < size; i++)
                fputc('x', f);
}

static void test_tftp_size(void **state) {
        char dir[] = "/tmp/pxelab-test-tftp.XXXXXX";
        _cleanup_free_ char *a = NULL, *b = NULL, *sub = NULL, *root = NULL, *err = NULL;
        long long size = -1;
        pid_t pid;
        int status;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
        a = path_join(dir, "a.efi"), sub = path_join(dir, "efi"), b = path_join(dir, "efi/b.cfg");
        write_file(a, 70000);   /* more than 65535 blocks of 1: tsize is not a block count */
        assert_int_equal(mkdir(sub, 0755), 0);
        write_file(b, 3);
        root = xasprintf("--tftp-root=%s", dir);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execlp("dnsmasq", "dnsmasq", "--keep-in-foreground", "--port=0", "--enable-tftp", root,
                       "--listen-address=127.0.0.1", "--bind-interfaces", "--user=root", "--pid-file",
                       "--conf-file=/dev/null", "--log-facility=/dev/null", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && port_in_use(false, v4("127.0.0.1"), 69) != 1; i++)
                usleep(10 * 1000);

        assert_int_equal(tftp_size(v4("127.0.0.1"), "a.efi", 2000, &size, NULL), 0);
        assert_int_equal(size, 70000);
        assert_int_equal(tftp_size(v4("127.0.0.1"), "efi/b.cfg", 2000, &size, NULL), 0);
        assert_int_equal(size, 3);
        assert_int_equal(tftp_size(v4("127.0.0.1"), "nope.efi", 2000, &size, &err), -ENOENT);
        assert_non_null(err);
        assert_non_null(strstr(err, "not found"));
        /* Nobody on that address: no answer. */
        assert_int_equal(tftp_size(v4("127.0.0.2"), "a.efi", 300, &size, NULL), -ETIMEDOUT);

        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        unlink(b), rmdir(sub), unlink(a), rmdir(dir);
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
                cmocka_unit_test(test_tftp_size),
        };
        return cmocka_run_group_tests(tests, setup_all, NULL);
}
