/* ovsdb.c against a real ovsdb-server + ovs-vswitchd (netdev datapath),
 * started by tests/bats/ovsdb.bats inside a private network namespace.
 *
 *   itest_ovsdb SOCK [PROBE_SOCK]   full suite; PROBE_SOCK: a second
 *                                   listener with a 1 s inactivity probe
 *   itest_ovsdb --no-vswitchd SOCK  only ovsdb-server runs
 *
 * OVSDB state is cross-checked with ovs-vsctl, kernel state with
 * if_nametoindex(). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cmocka.h>

#include "basic/log.h"
#include "host/ovsdb.h"
#include "basic/util.h"

#define BR "pxt-ovs0"
#define TIMEOUT 10000

static const char *sock, *probe_sock;

/* ---- helpers ---------------------------------------------------------- */

static int saved_stderr = -1;
static FILE *captured;

/* Collects what the code under test logs to stderr. */
static void capture_start(void) {
        fflush(stderr);
        captured = tmpfile();
        assert_non_null(captured);
        saved_stderr = dup(STDERR_FILENO);
        assert_true(saved_stderr >= 0);
        assert_true(dup2(fileno(captured), STDERR_FILENO) >= 0);
}

static char *capture_end(void) {
        char *buf;
        long n;

        fflush(stderr);
        assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
        close(saved_stderr);
        saved_stderr = -1;
        n = ftell(captured);
        buf = xcalloc(1, n + 1);
        rewind(captured);
        assert_int_equal(fread(buf, 1, n, captured), (size_t) n);
        fclose(captured);
        fprintf(stderr, "(logged) %s", buf);
        return buf;
}

/* A failed assertion leaves a test mid-capture: restore and show it. */
static int teardown(void **state) {
        if (saved_stderr >= 0)
                free(capture_end());
        return 0;
}

static int count_lines(const char *s) {
        int n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* ovs-vsctl against the test database: exit status, stdout in *out. */
static int vsctl(char **out, ...) {
        _cleanup_free_ char *db = xasprintf("--db=unix:%s", sock);
        char *argv[32] = { "ovs-vsctl", db, "--timeout=10" };
        char *dummy = NULL;
        size_t n = 3;
        va_list ap;
        int r;

        va_start(ap, out);
        while ((argv[n] = va_arg(ap, char *)))
                n++;
        va_end(ap);
        r = run_program(argv, out ? out : &dummy);
        free(dummy);
        return r;
}

static char *vsctl_out(const char *a, const char *b, const char *c, const char *d) {
        char *out = NULL;
        assert_int_equal(vsctl(&out, a, b, c, d, NULL), 0);
        return out;
}

static int sh(const char *cmd) {
        return run_program((char *[]) { "sh", "-c", (char *) cmd, NULL }, NULL);
}

static struct ovsdb *connect_ok(const char *path) {
        struct ovsdb *db = NULL;
        assert_int_equal(ovsdb_connect(path, &db), 0);
        assert_non_null(db);
        return db;
}

static void assert_ports(struct ovsdb *db, const char *bridge, const char *expected) {
        _cleanup_strv_free_ char **ports = NULL;
        _cleanup_free_ char *joined = xstrdup("");

        assert_int_equal(ovsdb_bridge_ports(db, bridge, &ports), 0);
        for (char **p = ports; *p; p++) {
                char *j = xasprintf("%s%s%s", joined, *joined ? " " : "", *p);
                free(joined);
                joined = j;
        }
        assert_string_equal(joined, expected);
}

/* ---- connecting ------------------------------------------------------- */

static void test_connect_missing(void **state) {
        struct ovsdb *db = NULL;
        _cleanup_free_ char *log = NULL;

        capture_start();
        assert_int_equal(ovsdb_connect("/nonexistent-pxelab/db.sock", &db), -ENOENT);
        log = capture_end();
        assert_null(db);
        assert_string_equal(log, "Failed to connect to ovsdb-server at '/nonexistent-pxelab/db.sock': "
                                 "No such file or directory (is Open vSwitch running?)\n");
}

/* A socket bound but not listening: what a crashed server leaves behind. */
static void test_connect_refused(void **state) {
        char dir[] = "/tmp/itest-ovsdb-XXXXXX";
        _cleanup_free_ char *path = NULL, *log = NULL, *expected = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ovsdb *db = NULL;
        int fd;

        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "db.sock");
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        capture_start();
        assert_int_equal(ovsdb_connect(path, &db), -ECONNREFUSED);
        log = capture_end();
        expected = xasprintf("Failed to connect to ovsdb-server at '%s': Connection refused "
                             "(is Open vSwitch running?)\n", path);
        assert_string_equal(log, expected);
        assert_null(db);
        close(fd);
        rm_rf(dir);
        ovsdb_close(NULL);
}

/* ---- bridges and ports ------------------------------------------------ */

static void test_bridge_lifecycle(void **state) {
        struct ovsdb *db = connect_ok(sock);
        _cleanup_free_ char *dp = NULL, *ids = NULL, *lab = NULL, *log = NULL;

        assert_int_equal(ovsdb_bridge_exists(db, BR), 0);
        assert_int_equal(if_nametoindex(BR), 0);

        assert_int_equal(ovsdb_bridge_add(db, BR, "netdev", "itest", TIMEOUT), 0);
        assert_int_equal(ovsdb_bridge_exists(db, BR), 1);
        dp = vsctl_out("get", "Bridge", BR, "datapath_type");
        assert_string_equal(dp, "netdev\n");
        ids = vsctl_out("get", "Bridge", BR, "external_ids");
        assert_string_equal(ids, "{pxelab-lab=itest}\n");
        assert_int_equal(ovsdb_bridge_owner(db, BR, &lab), 1);
        assert_string_equal(lab, "itest");
        /* the userspace datapath shows the bridge as a kernel tap device,
         * there by the time ovs-vswitchd reports the change as applied */
        assert_true(if_nametoindex(BR) > 0);
        assert_ports(db, BR, BR);

        capture_start();
        assert_int_equal(ovsdb_bridge_add(db, BR, "netdev", "other", TIMEOUT), -EEXIST);
        log = capture_end();
        assert_string_equal(log, "Failed to create bridge '" BR "': File exists\n");

        assert_int_equal(ovsdb_bridge_del(db, BR, TIMEOUT), 0);
        assert_int_equal(ovsdb_bridge_exists(db, BR), 0);
        assert_int_equal(vsctl(NULL, "br-exists", BR, NULL), 2);
        assert_int_equal(if_nametoindex(BR), 0);
        /* deleting what is gone is fine */
        assert_int_equal(ovsdb_bridge_del(db, BR, TIMEOUT), 0);
        free(lab);
        assert_int_equal(ovsdb_bridge_owner(db, BR, &lab), -ENOENT);
        assert_null(lab);
        ovsdb_close(db);
}

static void test_ports(void **state) {
        struct ovsdb *db = connect_ok(sock);
        _cleanup_free_ char *listed = NULL, *listed2 = NULL, *log = NULL, *log2 = NULL, *mark = NULL, *type = NULL;
        char **ports = NULL;

        assert_int_equal(sh("ip link add pxt-va type veth peer name pxt-vb && ip link set pxt-va up"), 0);
        assert_int_equal(ovsdb_bridge_add(db, BR, "netdev", "itest", TIMEOUT), 0);

        assert_int_equal(ovsdb_port_add(db, BR, "pxt-va", "itest", TIMEOUT), 0);
        assert_ports(db, BR, BR " pxt-va");
        listed = vsctl_out("list-ports", BR, NULL, NULL);
        assert_string_equal(listed, "pxt-va\n");
        /* the Port carries the lab's mark, the Interface is a system one */
        mark = vsctl_out("get", "Port", "pxt-va", "external_ids:" OVSDB_LAB_KEY);
        assert_string_equal(mark, "itest\n");
        type = vsctl_out("get", "Interface", "pxt-va", "type");
        assert_string_equal(type, "\"\"\n");

        capture_start();
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-va", "itest", TIMEOUT), -EEXIST);
        /* ovs-vswitchd cannot open a device that does not exist: the port
         * is rolled back */
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-nodev", "itest", TIMEOUT), -ENODEV);
        log = capture_end();
        assert_string_equal(log,
                "Failed to add port 'pxt-va' to bridge '" BR "': an Open vSwitch port of that name exists\n"
                "Failed to add port 'pxt-nodev' to bridge '" BR "': could not open network device pxt-nodev (No such device)\n");
        assert_ports(db, BR, BR " pxt-va");
        assert_int_equal(vsctl(NULL, "port-to-br", "pxt-nodev", NULL), 1);

        assert_int_equal(ovsdb_port_del(db, BR, "pxt-va", TIMEOUT), 0);
        assert_ports(db, BR, BR);
        listed2 = vsctl_out("list-ports", BR, NULL, NULL);
        assert_string_equal(listed2, "");
        assert_int_equal(ovsdb_port_del(db, BR, "pxt-va", TIMEOUT), 0);
        /* OVS lets go of a system port; the device stays */
        assert_true(if_nametoindex("pxt-va") > 0);

        /* a port on one bridge is not removed through another */
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-va", "itest", TIMEOUT), 0);
        capture_start();
        assert_int_equal(ovsdb_port_del(db, "pxt-other", "pxt-va", TIMEOUT), -EINVAL);
        assert_int_equal(ovsdb_port_add(db, "pxt-nobr", "pxt-vb", NULL, TIMEOUT), -ENOENT);
        log2 = capture_end();
        assert_int_equal(count_lines(log2), 2);
        assert_non_null(strstr(log2, "no such Open vSwitch bridge"));

        /* the ports of one lab go together; unmarked and other labs' stay */
        assert_int_equal(sh("ip link set pxt-vb up && ip link add pxt-vc type veth peer name pxt-vd && "
                            "ip link set pxt-vc up && ip link set pxt-vd up"), 0);
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-vb", "itest", TIMEOUT), 0);
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-vc", "other", TIMEOUT), 0);
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-vd", NULL, TIMEOUT), 0);
        assert_ports(db, BR, BR " pxt-va pxt-vb pxt-vc pxt-vd");
        assert_int_equal(ovsdb_port_del_marked(db, BR, "itest", TIMEOUT), 2);
        assert_ports(db, BR, BR " pxt-vc pxt-vd");
        assert_int_equal(vsctl(NULL, "port-to-br", "pxt-va", NULL), 1);
        assert_int_equal(ovsdb_port_del_marked(db, BR, "itest", TIMEOUT), 0);
        assert_int_equal(ovsdb_port_del_marked(db, "pxt-nobr", "itest", TIMEOUT), 0);
        assert_int_equal(ovsdb_port_add(db, BR, "pxt-va", "itest", TIMEOUT), 0);

        /* deleting the bridge takes its ports along */
        assert_int_equal(ovsdb_bridge_del(db, BR, TIMEOUT), 0);
        assert_int_equal(vsctl(NULL, "port-to-br", "pxt-va", NULL), 1);
        assert_int_equal(ovsdb_bridge_ports(db, BR, &ports), -ENOENT);
        assert_null(ports);
        assert_int_equal(sh("ip link del pxt-va && ip link del pxt-vc"), 0);
        ovsdb_close(db);
}

/* A bridge made by someone else: no lab mark, and not ours to replace. */
static void test_foreign_bridge(void **state) {
        struct ovsdb *db = connect_ok(sock);
        char *lab = (char *) "sentinel";
        _cleanup_free_ char *log = NULL;

        assert_int_equal(vsctl(NULL, "add-br", "pxt-foreign", "--", "set", "bridge", "pxt-foreign",
                               "datapath_type=netdev", NULL), 0);
        assert_int_equal(ovsdb_bridge_owner(db, "pxt-foreign", &lab), 0);
        assert_null(lab);
        capture_start();
        assert_int_equal(ovsdb_bridge_add(db, "pxt-foreign", "netdev", "itest", TIMEOUT), -EEXIST);
        log = capture_end();
        assert_string_equal(log, "Failed to create bridge 'pxt-foreign': File exists\n");
        assert_int_equal(ovsdb_bridge_del(db, "pxt-foreign", TIMEOUT), 0);
        assert_int_equal(vsctl(NULL, "br-exists", "pxt-foreign", NULL), 2);
        ovsdb_close(db);
}

/* The kernel datapath needs the openvswitch module, which this test
 * machine lacks: the failure must be reported and leave nothing behind. */
static void test_system_datapath(void **state) {
        struct ovsdb *db = connect_ok(sock);
        _cleanup_free_ char *log = NULL;
        struct stat st;

        if (stat("/sys/module/openvswitch", &st) == 0) {
                assert_int_equal(ovsdb_bridge_add(db, "pxt-sys", "system", "itest", TIMEOUT), 0);
                assert_true(if_nametoindex("pxt-sys") > 0);
        } else {
                capture_start();
                assert_int_equal(ovsdb_bridge_add(db, "pxt-sys", "system", "itest", TIMEOUT), -EIO);
                log = capture_end();
                assert_string_equal(log, "Failed to create bridge 'pxt-sys': ovs-vswitchd could not open its "
                                         "datapath (datapath type 'system' needs the openvswitch kernel "
                                         "module, 'netdev' does not)\n");
        }
        assert_int_equal(ovsdb_bridge_del(db, "pxt-sys", TIMEOUT), 0);
        assert_int_equal(ovsdb_bridge_exists(db, "pxt-sys"), 0);
        ovsdb_close(db);
}

static void test_invalid_names(void **state) {
        struct ovsdb *db = connect_ok(sock);
        _cleanup_free_ char *log = NULL;

        capture_start();
        assert_int_equal(ovsdb_bridge_add(db, "much-too-long-name0", "netdev", NULL, TIMEOUT), -EINVAL);
        assert_int_equal(ovsdb_bridge_add(db, "a/b", "netdev", NULL, TIMEOUT), -EINVAL);
        assert_int_equal(ovsdb_port_add(db, BR, "", NULL, TIMEOUT), -EINVAL);
        assert_int_equal(ovsdb_bridge_add(db, "pxt-x", "netdev", "\xff", TIMEOUT), -EINVAL);
        log = capture_end();
        assert_string_equal(log, "Invalid interface name 'much-too-long-name0'\n"
                                 "Invalid interface name 'a/b'\n"
                                 "Invalid interface name ''\n"
                                 "Invalid lab name '\xff': not UTF-8\n");
        assert_int_equal(ovsdb_bridge_exists(db, "pxt-x"), 0);
        ovsdb_close(db);
}

/* ---- raw transactions ------------------------------------------------- */

static void test_transact_errors(void **state) {
        struct ovsdb *db = connect_ok(sock);
        _cleanup_free_ char *log = NULL, *log2 = NULL;
        json_t *ops, *result = NULL;

        assert_int_equal(ovsdb_bridge_add(db, BR, "netdev", "itest", TIMEOUT), 0);

        /* a second Bridge row of the same name, by hand */
        ops = json_loads("[{\"op\":\"insert\",\"table\":\"Bridge\",\"row\":{\"name\":\"" BR "\"},\"uuid-name\":\"b\"},"
                         " {\"op\":\"mutate\",\"table\":\"Open_vSwitch\",\"where\":[],"
                         "  \"mutations\":[[\"bridges\",\"insert\",[\"set\",[[\"named-uuid\",\"b\"]]]]]}]", 0, NULL);
        assert_non_null(ops);
        capture_start();
        assert_int_equal(ovsdb_transact(db, ops, &result), -EIO);
        log = capture_end();
        json_decref(ops);
        assert_null(result);
        assert_int_equal(count_lines(log), 1);
        assert_true(strncmp(log, "OVSDB transaction failed: constraint violation: ", 48) == 0);
        assert_non_null(strstr(log, "identical values"));
        assert_non_null(strstr(log, BR));

        /* an error from one operation */
        ops = json_loads("[{\"op\":\"select\",\"table\":\"NoSuchTable\",\"where\":[]}]", 0, NULL);
        capture_start();
        assert_int_equal(ovsdb_transact(db, ops, &result), -EIO);
        log2 = capture_end();
        json_decref(ops);
        assert_int_equal(count_lines(log2), 1);
        assert_string_equal(log2, "OVSDB transaction failed: syntax error: Parsing ovsdb operation 1 of 1 "
                                  "failed: No table named NoSuchTable.\n");

        /* the connection is still good, and a successful transact returns
         * one result per operation */
        ops = json_loads("[{\"op\":\"select\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"" BR "\"]],"
                         "\"columns\":[\"name\"]}]", 0, NULL);
        assert_int_equal(ovsdb_transact(db, ops, &result), 0);
        json_decref(ops);
        assert_int_equal(json_array_size(result), 1);
        assert_int_equal(json_array_size(json_object_get(json_array_get(result, 0), "rows")), 1);
        json_decref(result);

        assert_int_equal(ovsdb_bridge_del(db, BR, TIMEOUT), 0);
        ovsdb_close(db);
}

/* PROBE_SOCK's server sends "echo" after 1 s without traffic from us and
 * drops the connection 1 s later unless we answer. A server-side "wait"
 * keeps our request open for 3 s, so the reply only arrives if the echo
 * was answered meanwhile. */
static void test_echo(void **state) {
        struct ovsdb *db = connect_ok(probe_sock);
        _cleanup_free_ char *log = NULL;
        unsigned long long t0;
        json_t *ops;

        ops = json_loads("[{\"op\":\"wait\",\"table\":\"Open_vSwitch\",\"where\":[],\"columns\":[\"cur_cfg\"],"
                         "\"until\":\"==\",\"rows\":[{\"cur_cfg\":-1}],\"timeout\":3000}]", 0, NULL);
        t0 = now_usec();
        capture_start();
        assert_int_equal(ovsdb_transact(db, ops, NULL), -EIO);
        log = capture_end();
        json_decref(ops);
        assert_true(now_usec() - t0 >= 2900000ULL);
        assert_true(strncmp(log, "OVSDB transaction failed: timed out", 35) == 0);
        assert_int_equal(ovsdb_bridge_exists(db, "pxt-none"), 0);
        ovsdb_close(db);
}

/* ---- without ovs-vswitchd --------------------------------------------- */

static void test_no_vswitchd(void **state) {
        struct ovsdb *db = connect_ok(sock);
        _cleanup_free_ char *log = NULL;
        unsigned long long t0 = now_usec();

        capture_start();
        assert_int_equal(ovsdb_bridge_add(db, BR, "netdev", "itest", 500), -ETIMEDOUT);
        log = capture_end();
        assert_true(now_usec() - t0 >= 500000ULL);
        assert_string_equal(log, "Timed out after 500 ms waiting for ovs-vswitchd to apply the change "
                                 "(is ovs-vswitchd running?)\n");
        /* committed all the same; timeout 0 does not wait */
        assert_int_equal(ovsdb_bridge_exists(db, BR), 1);
        assert_int_equal(ovsdb_bridge_del(db, BR, 0), 0);
        assert_int_equal(ovsdb_bridge_exists(db, BR), 0);
        assert_int_equal(vsctl(NULL, "--no-wait", "br-exists", BR, NULL), 2);
        ovsdb_close(db);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest full[] = {
                cmocka_unit_test_teardown(test_connect_missing, teardown),
                cmocka_unit_test_teardown(test_connect_refused, teardown),
                cmocka_unit_test_teardown(test_bridge_lifecycle, teardown),
                cmocka_unit_test_teardown(test_ports, teardown),
                cmocka_unit_test_teardown(test_foreign_bridge, teardown),
                cmocka_unit_test_teardown(test_system_datapath, teardown),
                cmocka_unit_test_teardown(test_invalid_names, teardown),
                cmocka_unit_test_teardown(test_transact_errors, teardown),
                cmocka_unit_test_teardown(test_echo, teardown),
        };
        const struct CMUnitTest no_vswitchd[] = {
                cmocka_unit_test_teardown(test_no_vswitchd, teardown),
        };

        if (argc == 3 && streq(argv[1], "--no-vswitchd")) {
                sock = argv[2];
                return cmocka_run_group_tests(no_vswitchd, NULL, NULL);
        }
        if (argc != 3) {
                fprintf(stderr, "Usage: %s SOCK PROBE_SOCK | --no-vswitchd SOCK\n", argv[0]);
                return 2;
        }
        sock = argv[1];
        probe_sock = argv[2];
        return cmocka_run_group_tests(full, NULL, NULL);
}
