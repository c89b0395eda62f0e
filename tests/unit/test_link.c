/* bridge.c and sysctl.c against the real kernel. Every test starts in a fresh
 * private network namespace (unshare(CLONE_NEWNET), needs root), so nothing
 * touches the host's links; `ip`, run as a child, sees the same namespace
 * and gives an independent reading of the kernel state. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>

#include "host/link.h"
#include "basic/log.h"
#include "host/sysctl.h"
#include "basic/util.h"

#define BR "pxt0"

/* The namespace we started in, to check that writes stayed private. */
static int host_netns = -1;

static int new_netns(void **state) {
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "unshare(CLONE_NEWNET): %m (these tests must run as root)\n");
                return -1;
        }
        return link_set_up("lo") < 0 ? -1 : 0;
}

/* Runs a shell command in our namespace; fails the test unless it exits 0. */
static void sh(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        char *argv[] = { "sh", "-c", cmd, NULL };
        r = run_program(argv, NULL);
        if (r != 0)
                fail_msg("'%s' exited with %d", cmd, r);
}

/* `ip -j ARGS` parsed; the first object of its array output. */
static json_t *ip_json(const char *args) {
        _cleanup_free_ char *cmd = xasprintf("ip -j %s", args), *out = NULL;
        char *argv[] = { "sh", "-c", cmd, NULL };
        json_t *arr, *first;

        assert_int_equal(run_program(argv, &out), 0);
        arr = json_loads(out, 0, NULL);
        assert_non_null(arr);
        assert_true(json_is_array(arr));
        first = json_incref(json_array_get(arr, 0));
        json_decref(arr);
        return first;   /* NULL when the array was empty */
}

/* Captures what the code under test logs to stderr. */
struct capture {
        int saved, fd;
};

static void capture_start(struct capture *c) {
        fflush(stderr);
        c->fd = memfd_create("stderr", MFD_CLOEXEC);
        assert_true(c->fd >= 0);
        c->saved = dup(STDERR_FILENO);
        assert_true(c->saved >= 0);
        assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

static char *capture_end(struct capture *c) {
        char *s = NULL;

        fflush(stderr);
        assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
        close(c->saved);
        _cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", c->fd);
        assert_int_equal(read_file(path, &s, NULL), 0);
        close(c->fd);
        return s;
}

static bool json_strv_contains(json_t *arr, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
                if (streq(json_string_value(v), s))
                        return true;
        return false;
}

static void test_bridge_create(void **state) {
        _cleanup_free_ char *log = NULL, *stp = NULL, *fd = NULL;
        struct capture c;
        bool is_bridge = true;
        json_t *j, *data;

        assert_int_equal(link_exists(BR, &is_bridge), 0);
        assert_false(is_bridge);
        assert_int_equal(bridge_create(BR, "02:70:78:0a:0b:0c"), 0);
        assert_int_equal(link_exists(BR, &is_bridge), 1);
        assert_true(is_bridge);

        /* The MAC came with the create, and stays when a port joins (a
         * bridge otherwise takes its lowest port's). */
        {
                _cleanup_free_ char *alias = NULL, *kind = NULL, *mac = NULL;
                assert_int_equal(link_mark(BR, &alias, &kind, &mac), 1);
                assert_null(alias);
                assert_string_equal(kind, "bridge");
                assert_string_equal(mac, "02:70:78:0a:0b:0c");
        }
        assert_int_equal(link_mark("nosuch0", NULL, NULL, NULL), 0);

        /* STP off and no forwarding delay, as the kernel reports them. */
        j = ip_json("-d link show " BR);
        data = json_object_get(json_object_get(j, "linkinfo"), "info_data");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "linkinfo"), "info_kind")), "bridge");
        assert_int_equal(json_integer_value(json_object_get(data, "stp_state")), 0);
        assert_true(json_is_integer(json_object_get(data, "forward_delay")));
        assert_int_equal(json_integer_value(json_object_get(data, "forward_delay")), 0);
        json_decref(j);

        /* And through sysfs, which shows this namespace's links only when
         * mounted from inside it: a private mount namespace for that. */
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        assert_int_equal(mount("sysfs", "/sys", "sysfs", 0, NULL), 0);
        assert_int_equal(read_file("/sys/class/net/" BR "/bridge/stp_state", &stp, NULL), 0);
        assert_int_equal(read_file("/sys/class/net/" BR "/bridge/forward_delay", &fd, NULL), 0);
        assert_int_equal(umount("/sys"), 0);
        assert_string_equal(stp, "0\n");
        assert_string_equal(fd, "0\n");

        /* A second create refuses, logged in the house style. */
        capture_start(&c);
        assert_int_equal(bridge_create(BR, NULL), -EEXIST);
        log = capture_end(&c);
        assert_string_equal(log, "Failed to create bridge '" BR "': File exists\n");

        /* A non-bridge link exists but is not a bridge. */
        sh("ip link add va type veth peer name vb");
        assert_int_equal(link_exists("va", &is_bridge), 1);
        assert_false(is_bridge);
        assert_int_equal(bridge_create("va", NULL), -EEXIST);
        assert_int_equal(bridge_create("this-name-is-too-long", NULL), -EINVAL);
}

static void test_addresses_and_info(void **state) {
        json_t *j, *info, *addrs, *a;
        int n4 = 0, n6 = 0;
        size_t i;

        assert_int_equal(bridge_create(BR, NULL), 0);
        for (int k = 0; k < 2; k++) {   /* twice: idempotent */
                assert_int_equal(link_add_address(BR, "10.33.0.1/24"), 0);
                assert_int_equal(link_add_address(BR, "fd12:3456:789a::1/64"), 0);
        }
        assert_int_equal(link_set_up(BR), 0);

        j = ip_json("addr show dev " BR);
        addrs = json_object_get(j, "addr_info");
        json_array_foreach(addrs, i, a) {
                const char *local = json_string_value(json_object_get(a, "local"));
                if (streq(local, "10.33.0.1")) {
                        n4++;
                        assert_int_equal(json_integer_value(json_object_get(a, "prefixlen")), 24);
                } else if (streq(local, "fd12:3456:789a::1")) {
                        n6++;
                        assert_int_equal(json_integer_value(json_object_get(a, "prefixlen")), 64);
                        /* NODAD: usable at once although the bridge has
                         * no carrier (no ports). */
                        assert_null(json_object_get(a, "tentative"));
                        assert_true(json_is_true(json_object_get(a, "nodad")));
                }
        }
        assert_int_equal(n4, 1);
        assert_int_equal(n6, 1);
        assert_true(json_strv_contains(json_object_get(j, "flags"), "UP"));

        assert_int_equal(link_info(BR, &info), 0);
        assert_string_equal(json_string_value(json_object_get(info, "name")), BR);
        assert_true(json_is_true(json_object_get(info, "exists")));
        assert_true(json_is_true(json_object_get(info, "up")));
        /* No ports, no carrier. */
        assert_string_equal(json_string_value(json_object_get(info, "operstate")),
                            json_string_value(json_object_get(j, "operstate")));
        assert_int_equal(json_integer_value(json_object_get(info, "mtu")), json_integer_value(json_object_get(j, "mtu")));
        assert_string_equal(json_string_value(json_object_get(info, "mac")), json_string_value(json_object_get(j, "address")));
        assert_true(json_strv_contains(json_object_get(info, "addresses"), "10.33.0.1/24"));
        assert_true(json_strv_contains(json_object_get(info, "addresses"), "fd12:3456:789a::1/64"));
        assert_int_equal(json_array_size(json_object_get(info, "ports")), 0);
        json_decref(info);
        json_decref(j);

        assert_int_equal(link_add_address(BR, "10.33.0.1"), -EINVAL);
        assert_int_equal(link_add_address(BR, "10.33.0.1/33"), -EINVAL);
        assert_int_equal(link_add_address(BR, "10.33.0.300/24"), -EINVAL);
        assert_int_equal(link_add_address(BR, "fd00::1/"), -EINVAL);
        assert_int_equal(link_add_address("nosuch0", "10.1.1.1/24"), -ENODEV);
        assert_int_equal(link_set_up("nosuch0"), -ENODEV);

        /* A missing link is described, not an error. */
        assert_int_equal(link_info("nosuch0", &info), 0);
        assert_false(json_is_true(json_object_get(info, "exists")));
        assert_string_equal(json_string_value(json_object_get(info, "name")), "nosuch0");
        json_decref(info);
}

static void test_ports_taps_delete(void **state) {
        json_t *info, *j;

        assert_int_equal(bridge_create(BR, NULL), 0);
        assert_int_equal(link_set_up(BR), 0);
        sh("ip link add va type veth peer name vb");

        assert_int_equal(link_set_master("va", BR), 0);
        j = ip_json("link show va");
        assert_string_equal(json_string_value(json_object_get(j, "master")), BR);
        json_decref(j);
        assert_int_equal(link_info(BR, &info), 0);
        assert_int_equal(json_array_size(json_object_get(info, "ports")), 1);
        assert_true(json_strv_contains(json_object_get(info, "ports"), "va"));
        json_decref(info);

        assert_int_equal(link_set_master("va", NULL), 0);
        j = ip_json("link show va");
        assert_null(json_object_get(j, "master"));
        json_decref(j);
        assert_int_equal(link_set_master("va", "nosuch0"), -ENODEV);
        assert_int_equal(link_set_master("nosuch0", BR), -ENODEV);

        /* A persistent tap, in the bridge and up. */
        assert_int_equal(tap_create("pxtap0", BR, "pxelab:t"), 0);
        j = ip_json("-d link show pxtap0");
        assert_string_equal(json_string_value(json_object_get(j, "ifalias")), "pxelab:t");
        assert_string_equal(json_string_value(json_object_get(j, "master")), BR);
        assert_true(json_strv_contains(json_object_get(j, "flags"), "UP"));
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "linkinfo"), "info_kind")), "tun");
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(j, "linkinfo"),
                                                                               "info_data"), "type")), "tap");
        assert_false(json_is_true(json_object_get(json_object_get(json_object_get(j, "linkinfo"), "info_data"), "pi")));
        json_decref(j);
        assert_int_equal(tap_create("pxtap0", BR, NULL), 0);     /* reused, keeps its alias */
        assert_int_equal(tap_create("vb", BR, NULL), -EEXIST);   /* not a tap */
        assert_int_equal(tap_create("pxtap1", NULL, NULL), 0);   /* standalone */
        /* A failure after creating it leaves no tap behind. */
        assert_int_equal(tap_create("pxtap2", "nosuch0", NULL), -ENODEV);
        assert_int_equal(link_exists("pxtap2", NULL), 0);
        j = ip_json("link show pxtap1");
        assert_null(json_object_get(j, "master"));
        json_decref(j);

        assert_int_equal(link_info(BR, &info), 0);
        assert_true(json_strv_contains(json_object_get(info, "ports"), "pxtap0"));
        assert_false(json_strv_contains(json_object_get(info, "ports"), "pxtap1"));
        json_decref(info);

        /* Deleting: gone for the kernel, and a missing link is fine. */
        assert_int_equal(link_delete("pxtap0"), 0);
        assert_int_equal(link_exists("pxtap0", NULL), 0);
        assert_int_equal(link_delete("pxtap0"), 0);
        assert_int_equal(link_delete(BR), 0);
        assert_null(ip_json("link show type bridge"));
        assert_int_equal(link_delete(BR), 0);
}

static void test_default_route(void **state) {
        struct capture c;
        _cleanup_free_ char *log = NULL, *name = NULL, *name2 = NULL;

        capture_start(&c);
        assert_int_equal(route_default_ifname(&name), -ENOENT);
        log = capture_end(&c);
        assert_string_equal(log, "");    /* quiet: the caller decides */

        sh("ip link add va type veth peer name vb && ip link set va up && ip link set vb up"
           " && ip addr add 192.0.2.1/24 dev va && ip addr add 198.51.100.1/24 dev vb"
           " && ip route add default via 192.0.2.254 dev va metric 100");
        assert_int_equal(route_default_ifname(&name), 0);
        assert_string_equal(name, "va");

        /* The lowest metric wins; other tables don't count. */
        sh("ip route add default via 198.51.100.254 dev vb metric 50"
           " && ip route add default dev va table 100");
        assert_int_equal(route_default_ifname(&name2), 0);
        assert_string_equal(name2, "vb");
}

static void expect_conflict(const char *net, unsigned prefix, const char *ignore, const char *desc) {
        _cleanup_free_ char *d = NULL, *log = NULL;
        struct in_addr a;
        struct capture c;
        int r;

        assert_int_equal(inet_pton(AF_INET, net, &a), 1);
        capture_start(&c);
        r = host_subnet_conflict(a, prefix, ignore, &d);
        log = capture_end(&c);
        assert_string_equal(log, "");
        if (!desc) {
                if (r != 0)
                        fail_msg("%s/%u: unexpected conflict: %s", net, prefix, d);
                assert_null(d);
                return;
        }
        assert_int_equal(r, 1);
        assert_non_null(d);
        assert_string_equal(d, desc);
        /* NULL for the description is allowed. */
        assert_int_equal(host_subnet_conflict(a, prefix, ignore, NULL), 1);
}

static void test_subnet_conflict(void **state) {
        /* Only loopback so far. */
        expect_conflict("10.33.0.0", 24, NULL, NULL);
        expect_conflict("127.0.0.0", 24, NULL, "address 127.0.0.1/8 on lo");

        /* No dummy module here: veths hold the addresses and routes. */
        sh("ip link add va type veth peer name vb && ip link set va up && ip link set vb up"
           " && ip addr add 10.33.0.5/24 dev va");
        expect_conflict("10.33.0.0", 24, NULL, "address 10.33.0.5/24 on va");
        expect_conflict("10.33.0.128", 25, NULL, "address 10.33.0.5/24 on va");  /* inside */
        expect_conflict("10.0.0.0", 8, NULL, "address 10.33.0.5/24 on va");      /* around */
        expect_conflict("10.34.0.0", 24, NULL, NULL);                             /* beside */
        /* Its own bridge (re-running `up`): address and prefix route skipped. */
        expect_conflict("10.33.0.0", 24, "va", NULL);

        sh("ip route add 10.40.0.0/16 dev vb");
        expect_conflict("10.40.3.0", 24, NULL, "route 10.40.0.0/16 via vb");
        expect_conflict("10.41.0.0", 24, NULL, NULL);
        expect_conflict("10.40.3.0", 24, "vb", NULL);

        /* Default routes overlap everything and are ignored. */
        sh("ip addr add 192.0.2.1/24 dev vb && ip route add default via 192.0.2.254");
        expect_conflict("10.99.0.0", 24, NULL, NULL);

        /* Routes without a device, and in other tables, count. */
        sh("ip route add blackhole 10.50.0.0/16 && ip route add 10.60.0.0/16 dev vb table 100");
        expect_conflict("10.50.1.0", 24, NULL, "route 10.50.0.0/16 (blackhole)");
        expect_conflict("10.60.1.0", 24, "va", "route 10.60.0.0/16 via vb");

        /* An unknown ignore_ifname ignores nothing. */
        expect_conflict("10.33.0.0", 24, "nosuch0", "address 10.33.0.5/24 on va");
}

static void test_wait_exists(void **state) {
        unsigned long long t0;
        struct capture c;
        _cleanup_free_ char *log = NULL;
        pid_t pid;
        int status;

        t0 = now_usec();
        capture_start(&c);
        assert_int_equal(link_wait_exists("late0", 150), -ETIMEDOUT);
        log = capture_end(&c);
        assert_true(now_usec() - t0 >= 150000);
        assert_string_equal(log, "");

        sh("ip link add early0 type veth peer name early1");
        assert_int_equal(link_wait_exists("early0", 0), 0);

        /* Appears while we wait; the child shares our namespace. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                usleep(300 * 1000);
                execlp("ip", "ip", "link", "add", "late0", "type", "veth", "peer", "name", "late1", (char *) NULL);
                _exit(127);
        }
        t0 = now_usec();
        assert_int_equal(link_wait_exists("late0", 10000), 0);
        assert_true(now_usec() - t0 >= 250000);
        assert_true(now_usec() - t0 < 5000000);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Reads /proc/sys/net/ipv4/ip_forward of the namespace we started in. */
static char *host_ip_forward(void) {
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        char *v = NULL;

        assert_true(self >= 0);
        assert_int_equal(setns(host_netns, CLONE_NEWNET), 0);
        assert_int_equal(sysctl_read("net.ipv4.ip_forward", &v), 0);
        assert_int_equal(setns(self, CLONE_NEWNET), 0);
        close(self);
        return v;
}

static void test_sysctl(void **state) {
        _cleanup_free_ char *host_before = host_ip_forward(), *host_after = NULL;
        _cleanup_free_ char *v = NULL, *v2 = NULL, *v3 = NULL, *v4 = NULL, *raw = NULL, *log = NULL;
        const char *want = streq(host_before, "1") ? "0" : "1";
        struct capture c;

        assert_int_equal(sysctl_write("net.ipv4.ip_forward", want), 0);
        assert_int_equal(sysctl_read("net.ipv4.ip_forward", &v), 0);
        assert_string_equal(v, want);
        assert_int_equal(read_file("/proc/sys/net/ipv4/ip_forward", &raw, NULL), 0);
        assert_true(raw[0] == want[0] && raw[1] == '\n');
        /* Same value again: no write needed, still fine. */
        assert_int_equal(sysctl_write("net/ipv4/ip_forward", want), 0);
        /* Only this namespace changed. */
        host_after = host_ip_forward();
        assert_string_equal(host_after, host_before);

        /* Per-link keys, with a dot in the interface name. */
        sh("ip link add v.100 type veth peer name v100p");
        assert_int_equal(sysctl_write_link("ipv4", "v.100", "forwarding", "1"), 0);
        assert_int_equal(sysctl_read("net/ipv4/conf/v.100/forwarding", &v2), 0);
        assert_string_equal(v2, "1");
        assert_int_equal(sysctl_write_link("ipv6", "v.100", "disable_ipv6", "1"), 0);
        assert_int_equal(sysctl_read_link("ipv6", "v.100", "disable_ipv6", &v3), 0);
        assert_string_equal(v3, "1");

        /* A missing key is quiet; the caller decides. */
        capture_start(&c);
        assert_int_equal(sysctl_read("net.ipv4.no_such_key", &v4), -ENOENT);
        log = capture_end(&c);
        assert_string_equal(log, "");
        assert_int_equal(sysctl_write("net.ipv4.no_such_key", "1"), -ENOENT);
        assert_int_equal(sysctl_read("../../etc/passwd", &v4), -EINVAL);
        assert_int_equal(sysctl_write_link("ipv4", "../x", "forwarding", "1"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_bridge_create, new_netns),
                cmocka_unit_test_setup(test_addresses_and_info, new_netns),
                cmocka_unit_test_setup(test_ports_taps_delete, new_netns),
                cmocka_unit_test_setup(test_default_route, new_netns),
                cmocka_unit_test_setup(test_subnet_conflict, new_netns),
                cmocka_unit_test_setup(test_wait_exists, new_netns),
                cmocka_unit_test_setup(test_sysctl, new_netns),
        };

        host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (host_netns < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
