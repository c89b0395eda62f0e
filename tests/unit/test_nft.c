/* nft.c against the real kernel, each test in a fresh private network
 * namespace (root). The ruleset is read back with `nft -j list`, run as a
 * child in the same namespace: an independent reading of what the kernel
 * holds. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>

#include "basic/log.h"
#include "host/nft.h"
#include "basic/util.h"

#define TABLE "pxelab-test"

static const uint16_t any_udp_ports[] = { 547, 67, 547 };  /* unsorted, a duplicate */
static const uint16_t udp_ports[] = { 69 };
static const uint16_t tcp_ports[] = { 2222, 80, 445, 80 };
static struct in6_addr ula;

static struct nft_lab lab(const char *uplink) {
        struct nft_lab l = {
                .table = TABLE,
                .bridge = "pxe0",
                .uplink = uplink,
                .addr6 = &ula,
                .prefix = 24,
                .any_udp_ports = any_udp_ports,
                .n_any_udp = ELEMENTSOF(any_udp_ports),
                .udp_ports = udp_ports,
                .n_udp = ELEMENTSOF(udp_ports),
                .tcp_ports = tcp_ports,
                .n_tcp = ELEMENTSOF(tcp_ports),
        };
        assert_int_equal(inet_pton(AF_INET, "10.33.0.1", &l.addr), 1);
        assert_int_equal(inet_pton(AF_INET, "10.33.0.0", &l.net), 1);
        assert_int_equal(inet_pton(AF_INET6, "fd12:3456:789a::1", &ula), 1);
        return l;
}

static int new_netns(void **state) {
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "unshare(CLONE_NEWNET): %m (these tests must run as root)\n");
                return -1;
        }
        return 0;
}

static void sh(const char *cmd) {
        char *argv[] = { "sh", "-c", (char *) cmd, NULL };
        int r = run_program(argv, NULL);
        if (r != 0)
                fail_msg("'%s' exited with %d", cmd, r);
}

/* The "nftables" array of `nft -j ARGS`. */
static json_t *nft_json(const char *args) {
        _cleanup_free_ char *cmd = xasprintf("nft -j %s", args), *out = NULL;
        char *argv[] = { "sh", "-c", cmd, NULL };
        json_t *o, *arr;

        assert_int_equal(run_program(argv, &out), 0);
        o = json_loads(out, 0, NULL);
        assert_non_null(o);
        arr = json_incref(json_object_get(o, "nftables"));
        json_decref(o);
        assert_true(json_is_array(arr));
        return arr;
}

/* The objects of kind KIND ("table", "chain", "rule") in an nft -j list;
 * for rules of chain CHAIN only (when non-NULL). Borrowed references. */
static json_t *objects(json_t *list, const char *kind, const char *chain) {
        json_t *ret = json_array(), *v;
        size_t i;

        json_array_foreach(list, i, v) {
                json_t *o = json_object_get(v, kind);
                if (o && (!chain || streq(json_string_value(json_object_get(o, "chain")), chain)))
                        json_array_append(ret, o);
        }
        return ret;
}

/* The list as text without the kernel-assigned handles. */
static char *dump_without_handles(json_t *list) {
        json_t *v, *o;
        const char *k;
        size_t i;

        json_array_foreach(list, i, v)
                json_object_foreach(v, k, o)
                        json_object_del(o, "handle");
        return json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
}

/* A rule's expressions as compact JSON text, for exact comparisons. */
static char *rule_expr(json_t *rule) {
        return json_dumps(json_object_get(rule, "expr"), JSON_COMPACT | JSON_SORT_KEYS);
}

static void check_chain(json_t *chains, const char *name, const char *type, const char *hook, int prio) {
        json_t *c;
        size_t i;

        json_array_foreach(chains, i, c) {
                if (!streq(json_string_value(json_object_get(c, "name")), name))
                        continue;
                assert_string_equal(json_string_value(json_object_get(c, "type")), type);
                assert_string_equal(json_string_value(json_object_get(c, "hook")), hook);
                assert_int_equal(json_integer_value(json_object_get(c, "prio")), prio);
                assert_string_equal(json_string_value(json_object_get(c, "policy")), "accept");
                assert_string_equal(json_string_value(json_object_get(c, "family")), "inet");
                return;
        }
        fail_msg("no chain '%s'", name);
}

/* Expected rule expressions, as nft -j prints them. */
#define IIF(n) "{\"match\":{\"left\":{\"meta\":{\"key\":\"iifname\"}},\"op\":\"==\",\"right\":\"" n "\"}}"
#define NOT_IIF(n) "{\"match\":{\"left\":{\"meta\":{\"key\":\"iifname\"}},\"op\":\"!=\",\"right\":\"" n "\"}}"
#define OIF(n) "{\"match\":{\"left\":{\"meta\":{\"key\":\"oifname\"}},\"op\":\"==\",\"right\":\"" n "\"}}"
#define ACCEPT "{\"accept\":null}"
#define DROP "{\"drop\":null}"
#define CT_EST "{\"match\":{\"left\":{\"ct\":{\"key\":\"state\"}},\"op\":\"in\",\"right\":[\"established\",\"related\"]}}"
#define ICMP_TYPE(proto, r) "{\"match\":{\"left\":{\"payload\":{\"field\":\"type\",\"protocol\":\"" proto "\"}},\"op\":\"==\",\"right\":" r "}}"
#define DPORT(proto, r) "{\"match\":{\"left\":{\"payload\":{\"field\":\"dport\",\"protocol\":\"" proto "\"}},\"op\":\"==\",\"right\":" r "}}"
#define SADDR(a, l) "{\"match\":{\"left\":{\"payload\":{\"field\":\"saddr\",\"protocol\":\"ip\"}},\"op\":\"==\",\"right\":{\"prefix\":{\"addr\":\"" a "\",\"len\":" #l "}}}}"
#define DADDR(proto, a) "{\"match\":{\"left\":{\"payload\":{\"field\":\"daddr\",\"protocol\":\"" proto "\"}},\"op\":\"==\",\"right\":\"" a "\"}}"
#define MASQ "{\"masquerade\":null}"

static void check_rules(json_t *list, const char *chain, const char *const *want, size_t n) {
        _cleanup_(json_decrefp) json_t *rules = objects(list, "rule", chain);
        json_t *r;
        size_t i;

        if (json_array_size(rules) != n)
                fail_msg("chain '%s' has %zu rules, want %zu", chain, json_array_size(rules), n);
        json_array_foreach(rules, i, r) {
                _cleanup_free_ char *got = rule_expr(r);
                if (!streq(got, want[i]))
                        fail_msg("chain '%s' rule %zu:\n got  %s\n want %s", chain, i, got, want[i]);
        }
}

/* The lab's own addresses only from its bridge and the host (lo). */
#define GUARD(bridge, proto, a) "[" NOT_IIF(bridge) "," NOT_IIF("lo") "," DADDR(proto, a) "," DROP "]"

#define ND "{\"set\":[\"nd-router-solicit\",\"nd-neighbor-solicit\",\"nd-neighbor-advert\"]}"
#define ECHO "\"echo-request\""

/* From the bridge: replies, DHCP to any address, the rest at the lab's
 * addresses only, then the drop. */
static const char *const input_rules[] = {
        GUARD("pxe0", "ip", "10.33.0.1"),
        GUARD("pxe0", "ip6", "fd12:3456:789a::1"),
        "[" IIF("pxe0") "," CT_EST "," ACCEPT "]",
        "[" IIF("pxe0") "," DPORT("udp", "{\"set\":[67,547]}") "," ACCEPT "]",
        "[" IIF("pxe0") "," DADDR("ip", "10.33.0.1") "," DPORT("udp", "69") "," ACCEPT "]",
        "[" IIF("pxe0") "," DADDR("ip", "10.33.0.1") "," DPORT("tcp", "{\"set\":[80,445,2222]}") "," ACCEPT "]",
        "[" IIF("pxe0") "," DADDR("ip", "10.33.0.1") "," ICMP_TYPE("icmp", ECHO) "," ACCEPT "]",
        "[" IIF("pxe0") "," DADDR("ip6", "fd12:3456:789a::1") "," DPORT("udp", "69") "," ACCEPT "]",
        "[" IIF("pxe0") "," DADDR("ip6", "fd12:3456:789a::1") "," DPORT("tcp", "{\"set\":[80,445,2222]}") "," ACCEPT "]",
        "[" IIF("pxe0") "," DADDR("ip6", "fd12:3456:789a::1") "," ICMP_TYPE("icmpv6", ECHO) "," ACCEPT "]",
        "[" IIF("pxe0") "," ICMP_TYPE("icmpv6", ND) "," ACCEPT "]",
        "[" IIF("pxe0") "," DROP "]",
};

/* Out of the bridge to the uplink (if any), into it only replies. */
#define FORWARD_HEAD "[" IIF("pxe0") "," OIF("pxe0") "," ACCEPT "]"
#define FORWARD_TAIL                                                            \
        "[" IIF("pxe0") "," DROP "]",                                           \
        "[" OIF("pxe0") "," CT_EST "," ACCEPT "]",                              \
        "[" OIF("pxe0") "," DROP "]"

static void test_isolated(void **state) {
        static const char *const forward[] = { FORWARD_HEAD, FORWARD_TAIL };
        struct nft_lab l = lab(NULL);
        json_t *list, *chains, *tables;

        assert_int_equal(nft_lab_exists(TABLE), 0);
        assert_int_equal(nft_lab_apply(&l), 0);
        assert_int_equal(nft_lab_exists(TABLE), 1);

        list = nft_json("list table inet " TABLE);
        tables = objects(list, "table", NULL);
        assert_int_equal(json_array_size(tables), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(tables, 0), "family")), "inet");
        /* No uplink: nothing forwarded from or to the bridge, no NAT. */
        chains = objects(list, "chain", NULL);
        assert_int_equal(json_array_size(chains), 2);
        check_chain(chains, "input", "filter", "input", 0);
        check_chain(chains, "forward", "filter", "forward", 0);
        check_rules(list, "input", input_rules, ELEMENTSOF(input_rules));
        check_rules(list, "forward", forward, ELEMENTSOF(forward));
        json_decref(chains);
        json_decref(tables);
        json_decref(list);
}

static void test_uplink(void **state) {
        static const char *const forward[] = {
                FORWARD_HEAD,
                "[" IIF("pxe0") "," OIF("eth9") "," ACCEPT "]",
                FORWARD_TAIL,
        };
        static const char *const post[] = {
                "[" SADDR("10.33.0.0", 24) "," OIF("eth9") "," MASQ "]",
        };
        struct nft_lab l = lab("eth9");
        json_t *list, *chains;

        /* Host bits in net are masked off. */
        assert_int_equal(inet_pton(AF_INET, "10.33.0.1", &l.net), 1);
        assert_int_equal(nft_lab_apply(&l), 0);

        list = nft_json("list table inet " TABLE);
        chains = objects(list, "chain", NULL);
        assert_int_equal(json_array_size(chains), 3);
        check_chain(chains, "input", "filter", "input", 0);
        check_chain(chains, "forward", "filter", "forward", 0);
        check_chain(chains, "postrouting", "nat", "postrouting", 100);
        check_rules(list, "input", input_rules, ELEMENTSOF(input_rules));
        check_rules(list, "forward", forward, ELEMENTSOF(forward));
        check_rules(list, "postrouting", post, ELEMENTSOF(post));
        json_decref(chains);
        json_decref(list);
}

/* Odd prefixes take the bitwise path; /32 a plain compare. */
static void test_prefixes(void **state) {
        static const char *const p20[] = { "[" SADDR("172.16.16.0", 20) "," OIF("eth9") "," MASQ "]" };
        static const char *const p32[] = {
                "[{\"match\":{\"left\":{\"payload\":{\"field\":\"saddr\",\"protocol\":\"ip\"}},\"op\":\"==\","
                "\"right\":\"192.0.2.7\"}}," OIF("eth9") "," MASQ "]",
        };
        struct nft_lab l = lab("eth9");
        json_t *list;

        assert_int_equal(inet_pton(AF_INET, "172.16.20.9", &l.net), 1);
        l.prefix = 20;
        assert_int_equal(nft_lab_apply(&l), 0);
        list = nft_json("list table inet " TABLE);
        check_rules(list, "postrouting", p20, 1);
        json_decref(list);

        assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &l.net), 1);
        l.prefix = 32;
        assert_int_equal(nft_lab_apply(&l), 0);
        list = nft_json("list table inet " TABLE);
        check_rules(list, "postrouting", p32, 1);
        json_decref(list);
}

static void test_reapply_replaces(void **state) {
        static const uint16_t one_udp[] = { 67 };
        static const char *const input2[] = {
                GUARD("pxe1", "ip", "10.34.0.1"),
                "[" IIF("pxe1") "," CT_EST "," ACCEPT "]",
                "[" IIF("pxe1") "," DPORT("udp", "67") "," ACCEPT "]",
                "[" IIF("pxe1") "," DADDR("ip", "10.34.0.1") "," ICMP_TYPE("icmp", ECHO) "," ACCEPT "]",
                "[" IIF("pxe1") "," ICMP_TYPE("icmpv6", ND) "," ACCEPT "]",
                "[" IIF("pxe1") "," DROP "]",
        };
        struct nft_lab l = lab("eth9");
        _cleanup_free_ char *first = NULL, *second = NULL;
        json_t *list, *v;

        /* Twice the same: one table, the same rules, no duplicates. */
        assert_int_equal(nft_lab_apply(&l), 0);
        list = nft_json("list ruleset");
        first = dump_without_handles(list);
        json_decref(list);
        assert_int_equal(nft_lab_apply(&l), 0);
        list = nft_json("list ruleset");
        v = objects(list, "table", NULL);
        assert_int_equal(json_array_size(v), 1);
        json_decref(v);
        check_rules(list, "input", input_rules, ELEMENTSOF(input_rules));
        /* Identical except for the handles the kernel numbered anew. */
        second = dump_without_handles(list);
        json_decref(list);
        assert_string_equal(first, second);

        /* A changed lab replaces the old rules entirely. */
        l.bridge = "pxe1";
        l.uplink = NULL;
        assert_int_equal(inet_pton(AF_INET, "10.34.0.1", &l.addr), 1);
        l.addr6 = NULL;
        l.any_udp_ports = one_udp;
        l.n_any_udp = 1;
        l.n_udp = 0;
        l.n_tcp = 0;
        assert_int_equal(nft_lab_apply(&l), 0);
        list = nft_json("list ruleset");
        v = objects(list, "chain", NULL);
        assert_int_equal(json_array_size(v), 2);
        json_decref(v);
        check_rules(list, "input", input2, ELEMENTSOF(input2));
        json_decref(list);
}

/* The guard's bytecode: nft's JSON hides the "meta nfproto" dependency, so
 * check in the kernel's own listing that it precedes each daddr load
 * (without it, offset 16 of an IPv6 header is its source address). */
#define GUARD_CODE(nfproto, load)                                                                       \
        "[ meta load iifname => reg 1 ]", "[ cmp neq reg 1 ",   /* pxe0 */                              \
        "[ meta load iifname => reg 1 ]", "[ cmp neq reg 1 ",   /* lo */                                \
        "[ meta load nfproto => reg 1 ]", "[ cmp eq reg 1 " nfproto,                                    \
        "[ payload load " load " => reg 1 ]", "[ cmp eq reg 1 ",                                        \
        "[ immediate reg 0 drop ]"

/* The expression lines of the input chain's rule N in `nft --debug=netlink
 * list` output OUT, without indentation. */
static char **rule_code(const char *out, unsigned n, size_t *ret_n) {
        char **lines = NULL;
        size_t m = 0;
        int rule = -1;

        for (const char *l = out; *l;) {
                const char *eol = strchrnul(l, '\n');

                if (strncmp(l, "  [", 3) == 0 && rule == (int) n) {
                        lines = xrealloc(lines, (m + 1) * sizeof(char *));
                        lines[m++] = strndup(l + 2, eol - l - 2);
                } else if (strncmp(l, "inet " TABLE " input ", strlen("inet " TABLE " input ")) == 0)
                        rule++;                 /* "inet pxelab-test input 2" */
                l = *eol ? eol + 1 : eol;
        }
        *ret_n = m;
        return lines;
}

static void check_code(const char *out, unsigned n, const char *const *want, size_t n_want) {
        size_t m;
        char **got = rule_code(out, n, &m);

        if (m != n_want)
                fail_msg("rule %u has %zu expressions, want %zu:\n%s", n, m, n_want, out);
        for (size_t i = 0; i < m; i++) {
                if (strncmp(got[i], want[i], strlen(want[i])) != 0)
                        fail_msg("rule %u line %zu: got '%s', want '%s...'", n, i, got[i], want[i]);
                free(got[i]);
        }
        free(got);
}

static void test_guard_bytecode(void **state) {
        /* NFPROTO_IPV4 = 2, NFPROTO_IPV6 = 10 (one byte, printed as a host-order word) */
        static const char *const v4[] = { GUARD_CODE("0x00000002", "4b @ network header + 16") };
        static const char *const v6[] = { GUARD_CODE("0x0000000a", "16b @ network header + 24") };
        /* ICMP's type after the daddr's nfproto, ICMPv6's after its own:
         * an IPv4 packet of protocol 58 is no neighbour solicitation. */
        static const char *const echo[] = {
                "[ meta load iifname => reg 1 ]", "[ cmp eq reg 1 ",
                "[ meta load nfproto => reg 1 ]", "[ cmp eq reg 1 0x00000002 ]",
                "[ payload load 4b @ network header + 16 => reg 1 ]", "[ cmp eq reg 1 0x0100210a ]",
                "[ meta load l4proto => reg 1 ]", "[ cmp eq reg 1 0x00000001 ]",
                "[ payload load 1b @ transport header + 0 => reg 1 ]", "[ cmp eq reg 1 0x00000008 ]",
                "[ immediate reg 0 accept ]",
        };
        static const char *const nd[] = {
                "[ meta load iifname => reg 1 ]", "[ cmp eq reg 1 ",
                "[ meta load nfproto => reg 1 ]", "[ cmp eq reg 1 0x0000000a ]",
                "[ meta load l4proto => reg 1 ]", "[ cmp eq reg 1 0x0000003a ]",
                "[ payload load 1b @ transport header + 0 => reg 1 ]", "[ lookup reg 1 set __set",
                "[ immediate reg 0 accept ]",
        };
        char *argv[] = { "nft", "--debug=netlink", "list", "chain", "inet", TABLE, "input", NULL };
        struct nft_lab l = lab(NULL);
        _cleanup_free_ char *out = NULL;

        assert_int_equal(nft_lab_apply(&l), 0);
        assert_int_equal(run_program(argv, &out), 0);
        check_code(out, 0, v4, ELEMENTSOF(v4));
        check_code(out, 1, v6, ELEMENTSOF(v6));
        check_code(out, 6, echo, ELEMENTSOF(echo));
        check_code(out, 10, nd, ELEMENTSOF(nd));
}

/* Real packets in this namespace: "pxe0" (lab side) and "eth9" (uplink
 * side) are veths to two peer namespaces held open by a sleep; the uplink
 * peer routes the lab's subnets through us, as an office machine could. */
#define PEERS_UP                                                                                        \
        "set -e\n"                                                                                      \
        "peer() { unshare -n sleep 60 </dev/null >/dev/null 2>&1 & p=$!\n"                              \
        "  while [ \"$(readlink /proc/$p/ns/net)\" = \"$(readlink /proc/self/ns/net)\" ]; do sleep 0.01; done\n" \
        "  echo $p; }\n"                                                                                \
        "inns() { p=$1; shift; nsenter -t $p -n sh -ec \"$*\"; }\n"                                       \
        "lab=$(peer); up=$(peer)\n"                                                                     \
        "ip link set lo up\n"                                                                           \
        "ip link add pxe0 type veth peer name eth0 netns $lab\n"                                        \
        "ip addr add 10.33.0.1/24 dev pxe0; ip addr add fd12:3456:789a::1/64 dev pxe0 nodad\n"         \
        "ip link set pxe0 up\n"                                                                         \
        "ip link add eth9 type veth peer name eth0 netns $up\n"                                         \
        "ip addr add 10.99.0.1/24 dev eth9; ip addr add fd99::1/64 dev eth9 nodad; ip link set eth9 up\n" \
        "inns $lab 'ip link set lo up; ip link set eth0 up; ip addr add 10.33.0.9/24 dev eth0;"           \
        "  ip addr add fd12:3456:789a::9/64 dev eth0 nodad; ip route add default via 10.33.0.1'\n"      \
        "inns $up 'ip link set lo up; ip link set eth0 up; ip addr add 10.99.0.2/24 dev eth0;"            \
        "  ip addr add fd99::2/64 dev eth0 nodad; ip route add 10.33.0.0/24 via 10.99.0.1;"             \
        "  ip -6 route add fd12:3456:789a::/64 via fd99::1'\n"                                          \
        "echo $lab $up\n"

/* ping [PEER_PID] ADDR: exit 0 if ADDR answers (from the peer's namespace). */
static bool pings(pid_t peer, const char *addr) {
        _cleanup_free_ char *cmd = peer > 0 ?
                xasprintf("nsenter -t %d -n busybox ping -q -c 1 -W 2 %s >/dev/null 2>&1", (int) peer, addr) :
                xasprintf("busybox ping -q -c 1 -W 2 %s >/dev/null 2>&1", addr);
        char *argv[] = { "sh", "-c", cmd, NULL };

        return run_program(argv, NULL) == 0;
}

static void test_guard_traffic(void **state) {
        static const char *const lab_addrs[] = { "10.33.0.1", "fd12:3456:789a::1" };
        char *argv[] = { "sh", "-c", PEERS_UP, NULL };
        _cleanup_free_ char *out = NULL, *kill = NULL;
        struct nft_lab l = lab("eth9");
        int lab_ns, up_ns;

        assert_int_equal(run_program(argv, &out), 0);
        assert_int_equal(sscanf(out, "%d %d", &lab_ns, &up_ns), 2);

        /* Without the table the uplink side reaches the lab's addresses... */
        for (size_t i = 0; i < ELEMENTSOF(lab_addrs); i++)
                assert_true(pings(up_ns, lab_addrs[i]));
        assert_int_equal(nft_lab_apply(&l), 0);
        for (size_t i = 0; i < ELEMENTSOF(lab_addrs); i++) {
                /* ... with it no longer, while the lab and this host do. */
                if (pings(up_ns, lab_addrs[i]))
                        fail_msg("the uplink side still reaches %s", lab_addrs[i]);
                assert_true(pings(lab_ns, lab_addrs[i]));
                assert_true(pings(0, lab_addrs[i]));
        }
        /* The host's other addresses are none of the lab's business. */
        assert_true(pings(up_ns, "10.99.0.1"));
        assert_true(pings(up_ns, "fd99::1"));

        kill = xasprintf("kill %d %d", lab_ns, up_ns);
        sh(kill);
}

/* What the lab reaches: the lab's address, not the host's others; through
 * the host only the uplink's side, and only when it has an uplink; nothing
 * from there opens a way into the lab. */
static void test_lab_traffic(void **state) {
        char *argv[] = { "sh", "-c", PEERS_UP, NULL };
        _cleanup_free_ char *out = NULL, *kill = NULL;
        struct nft_lab l = lab("eth9");
        int lab_ns, up_ns;

        assert_int_equal(run_program(argv, &out), 0);
        assert_int_equal(sscanf(out, "%d %d", &lab_ns, &up_ns), 2);
        sh("sysctl -qw net.ipv4.ip_forward=1");

        /* Without the table, everything answers everyone. */
        assert_true(pings(lab_ns, "10.99.0.1"));
        assert_true(pings(lab_ns, "10.99.0.2"));
        assert_true(pings(up_ns, "10.33.0.9"));

        assert_int_equal(nft_lab_apply(&l), 0);
        assert_true(pings(lab_ns, "10.33.0.1"));
        assert_true(pings(lab_ns, "fd12:3456:789a::1"));
        if (pings(lab_ns, "10.99.0.1"))
                fail_msg("the lab still reaches the host's uplink address");
        assert_true(pings(lab_ns, "10.99.0.2"));        /* forwarded to the uplink */
        if (pings(up_ns, "10.33.0.9"))
                fail_msg("the uplink side still reaches a lab client");

        /* Without uplink, nothing is forwarded. */
        l.uplink = NULL;
        assert_int_equal(nft_lab_apply(&l), 0);
        if (pings(lab_ns, "10.99.0.2"))
                fail_msg("an isolated lab still reaches the uplink side");
        assert_true(pings(lab_ns, "10.33.0.1"));

        kill = xasprintf("kill %d %d", lab_ns, up_ns);
        sh(kill);
}

static void test_delete_and_others(void **state) {
        struct nft_lab l = lab("eth9");
        json_t *list, *tables;

        /* Someone else's table is left alone. */
        sh("nft add table inet other && nft add chain inet other c '{ type filter hook input priority 0; policy accept; }'");
        assert_int_equal(nft_lab_delete(TABLE), 0);     /* missing: fine */
        assert_int_equal(nft_lab_apply(&l), 0);
        assert_int_equal(nft_lab_delete(TABLE), 0);
        assert_int_equal(nft_lab_exists(TABLE), 0);
        assert_int_equal(nft_lab_delete(TABLE), 0);

        list = nft_json("list tables");
        tables = objects(list, "table", NULL);
        assert_int_equal(json_array_size(tables), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(tables, 0), "name")), "other");
        json_decref(tables);
        json_decref(list);
        list = nft_json("list table inet other");
        tables = objects(list, "chain", NULL);
        assert_int_equal(json_array_size(tables), 1);
        json_decref(tables);
        json_decref(list);
}

/* Runs F in a child that lost CAP_NET_ADMIN over this namespace (a new user
 * namespace owns nothing here); returns the child's result. */
static int without_net_admin(int (*f)(void)) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(100);
                _exit(-f() & 0xff);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return -WEXITSTATUS(status);
}

static int apply_default(void) {
        struct nft_lab l = lab("eth9");
        return nft_lab_apply(&l);
}

static int exists_default(void) {
        return nft_lab_exists(TABLE);
}

static void test_errors(void **state) {
        struct nft_lab l = lab("eth9");
        _cleanup_free_ char *log = NULL;
        char name[300];
        int fd, saved, r;

        /* The kernel's refusal, logged once in the house style. */
        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = 0;
        l.table = name;
        fflush(stderr);
        fd = memfd_create("stderr", MFD_CLOEXEC);
        saved = dup(STDERR_FILENO);
        assert_true(fd >= 0 && saved >= 0);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        r = nft_lab_apply(&l);
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        _cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", fd);
        assert_int_equal(read_file(path, &log, NULL), 0);
        close(fd);
        assert_int_equal(r, -ERANGE);
        _cleanup_free_ char *want = xasprintf("Failed to apply nftables table '%s': %s\n", name, strerror(ERANGE));
        assert_string_equal(log, want);
        assert_int_equal(nft_lab_exists(TABLE), 0);

        /* A batch refused as a whole (no CAP_NET_ADMIN) changes nothing. */
        assert_int_equal(without_net_admin(apply_default), -EPERM);
        assert_int_equal(without_net_admin(exists_default), -EPERM);
        assert_int_equal(nft_lab_exists(TABLE), 0);

        /* Invalid input never reaches the kernel. */
        l = lab("eth9");
        l.prefix = 0;
        assert_int_equal(nft_lab_apply(&l), -EINVAL);
        l = lab("eth9");
        l.addr.s_addr = INADDR_ANY;
        assert_int_equal(nft_lab_apply(&l), -EINVAL);
        l = lab("this-name-is-too-long");
        assert_int_equal(nft_lab_apply(&l), -EINVAL);
        assert_int_equal(nft_lab_exists(TABLE), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_isolated, new_netns),
                cmocka_unit_test_setup(test_uplink, new_netns),
                cmocka_unit_test_setup(test_prefixes, new_netns),
                cmocka_unit_test_setup(test_reapply_replaces, new_netns),
                cmocka_unit_test_setup(test_guard_bytecode, new_netns),
                cmocka_unit_test_setup(test_guard_traffic, new_netns),
                cmocka_unit_test_setup(test_lab_traffic, new_netns),
                cmocka_unit_test_setup(test_delete_and_others, new_netns),
                cmocka_unit_test_setup(test_errors, new_netns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
