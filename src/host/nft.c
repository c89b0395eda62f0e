/* The lab's nftables table as one libnftnl batch (see nft.h for the rules).
 *
 * Expressions are spelled the way nft(8) itself compiles the same rules, so
 * `nft list table` prints them back in the familiar syntax: interface names
 * compare all IFNAMSIZ bytes (NUL padded), "udp dport" carries its
 * "meta l4proto udp" dependency, "ip saddr/daddr" and "ip6 daddr" their
 * "meta nfproto" one (the table is family inet), port lists are anonymous
 * constant sets. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <poll.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "basic/log.h"
#include "basic/rules.h"
#include "host/nft.h"
#include "basic/util.h"

/* nft's datatype numbers (its enum datatypes), stored with a set so that
 * `nft list` prints its elements as ports and ICMPv6 type names. */
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_ICMP6_TYPE 29

/* ICMP(v6) types the lab's clients send to the host (RFC 792, RFC 4443,
 * RFC 4861). */
#define ICMP_ECHO_REQUEST 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ROUTER_SOLICIT 133
#define ICMPV6_NEIGHBOR_SOLICIT 135
#define ICMPV6_NEIGHBOR_ADVERT 136

/* Plenty for a lab table; the kernel takes the batch in one sendmsg(). */
#define BATCH_LIMIT (64u * 1024u)

static void mnl_socket_closep(struct mnl_socket **p) { if (*p) mnl_socket_close(*p); }
static void nftnl_table_freep(struct nftnl_table **p) { if (*p) nftnl_table_free(*p); }
static void nftnl_chain_freep(struct nftnl_chain **p) { if (*p) nftnl_chain_free(*p); }
static void nftnl_set_freep(struct nftnl_set **p) { if (*p) nftnl_set_free(*p); }
#define _cleanup_mnl_socket_ _cleanup_(mnl_socket_closep)
#define _cleanup_nftnl_table_ _cleanup_(nftnl_table_freep)
#define _cleanup_nftnl_chain_ _cleanup_(nftnl_chain_freep)
#define _cleanup_nftnl_set_ _cleanup_(nftnl_set_freep)

/* Allocation failures abort, as everywhere in pxelab (xasprintf). */
static void *check_alloc(void *p) {
        if (!p)
                abort();
        return p;
}

/* One transaction being built: a libmnl batch plus, per message sequence
 * number, what it does (for the debug log when the kernel rejects it). */
struct batch {
        char *buf;
        struct mnl_nlmsg_batch *b;
        uint32_t seq0, seq;         /* first and next sequence number */
        char **what;                /* what[seq - seq0], NULL for begin/end */
        uint32_t set_id;            /* last anonymous set's ID in this batch */
        bool overflow;
};

static void batch_init(struct batch *bt) {
        *bt = (struct batch) {};
        /* Twice the limit: libmnl lets the last message run past it. */
        bt->buf = xcalloc(2, BATCH_LIMIT);
        bt->b = check_alloc(mnl_nlmsg_batch_start(bt->buf, BATCH_LIMIT));
        bt->seq0 = bt->seq = (uint32_t) time(NULL);
}

static void batch_done(struct batch *bt) {
        for (uint32_t i = 0; i < bt->seq - bt->seq0; i++)
                free(bt->what[i]);
        free(bt->what);
        if (bt->b)
                mnl_nlmsg_batch_stop(bt->b);
        free(bt->buf);
}

/* Advances past the message just written and records WHAT for its seq. */
static void batch_commit(struct batch *bt, char *what) {
        uint32_t n = bt->seq - bt->seq0;

        bt->what = xrealloc(bt->what, (n + 1) * sizeof(char *));
        bt->what[n] = what;
        bt->seq++;
        if (!mnl_nlmsg_batch_next(bt->b))
                bt->overflow = true;
}

static struct nlmsghdr *batch_hdr(struct batch *bt, uint16_t type, uint16_t flags) {
        return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
                                     flags | NLM_F_ACK, bt->seq);
}

static void batch_begin(struct batch *bt) {
        nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), bt->seq);
        batch_commit(bt, NULL);
}

static void batch_end(struct batch *bt) {
        nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), bt->seq);
        batch_commit(bt, NULL);
}

static void batch_table(struct batch *bt, uint16_t type, uint16_t flags, const char *name) {
        _cleanup_nftnl_table_ struct nftnl_table *t = check_alloc(nftnl_table_alloc());

        nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        nftnl_table_nlmsg_build_payload(batch_hdr(bt, type, flags), t);
        batch_commit(bt, xasprintf("%s table", type == NFT_MSG_DELTABLE ? "delete" : "add"));
}

static void batch_chain(struct batch *bt, const char *table, const char *name,
                        const char *type, uint32_t hook, int32_t prio) {
        _cleanup_nftnl_chain_ struct nftnl_chain *c = check_alloc(nftnl_chain_alloc());

        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
        nftnl_chain_nlmsg_build_payload(batch_hdr(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE), c);
        batch_commit(bt, xasprintf("add chain '%s'", name));
}

/* An anonymous constant set of N keys of LEN bytes each (as they appear in
 * the packet), referenced by ID from the rule that uses it in the same
 * batch; the kernel names it (__setN) and deletes it with that rule.
 * Returns the ID. */
static uint32_t batch_set(struct batch *bt, const char *table, uint32_t key_type,
                          const void *keys, uint32_t len, size_t n) {
        _cleanup_nftnl_set_ struct nftnl_set *s = check_alloc(nftnl_set_alloc());
        uint32_t id = ++bt->set_id;

        nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, "__set%d");
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_u32(s, NFTNL_SET_ID, id);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
        nftnl_set_nlmsg_build_payload(batch_hdr(bt, NFT_MSG_NEWSET, NLM_F_CREATE), s);
        batch_commit(bt, xasprintf("add set %u", id));

        for (size_t i = 0; i < n; i++) {
                struct nftnl_set_elem *e = check_alloc(nftnl_set_elem_alloc());

                nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, (const uint8_t *) keys + i * len, len);
                nftnl_set_elem_add(s, e);       /* the set owns it now */
        }
        nftnl_set_elems_nlmsg_build_payload(batch_hdr(bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE), s);
        batch_commit(bt, xasprintf("add elements to set %u", id));
        return id;
}

/* Expression builders: each appends to R, which owns the expression. */

static struct nftnl_expr *expr_new(struct nftnl_rule *r, const char *name) {
        struct nftnl_expr *e = check_alloc(nftnl_expr_alloc(name));
        nftnl_rule_add_expr(r, e);
        return e;
}

static void e_meta(struct nftnl_rule *r, uint32_t key) {
        struct nftnl_expr *e = expr_new(r, "meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = expr_new(r, "cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len) {
        struct nftnl_expr *e = expr_new(r, "payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
}

/* reg1 = (reg1 & MASK) ^ 0 */
static void e_mask(struct nftnl_rule *r, const void *mask, uint32_t len) {
        struct nftnl_expr *e = expr_new(r, "bitwise");
        static const uint8_t zero[16];

        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void e_verdict(struct nftnl_rule *r, uint32_t verdict) {
        struct nftnl_expr *e = expr_new(r, "immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
}

static void e_accept(struct nftnl_rule *r) {
        e_verdict(r, NF_ACCEPT);
}

/* iifname/oifname OP NAME (OP: NFT_CMP_EQ or NFT_CMP_NEQ): the full
 * IFNAMSIZ bytes, so "pxe0" does not also match "pxe01". */
static void match_ifname_op(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name) {
        char buf[IFNAMSIZ] = {};

        strncpy(buf, name, sizeof(buf) - 1);
        e_meta(r, key);
        e_cmp(r, op, buf, sizeof(buf));
}

static void match_ifname(struct nftnl_rule *r, uint32_t key, const char *name) {
        match_ifname_op(r, key, NFT_CMP_EQ, name);
}

static void match_l4proto(struct nftnl_rule *r, uint8_t proto) {
        e_meta(r, NFT_META_L4PROTO);
        e_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* reg1 in the anonymous set SET_ID of this batch. */
static void e_lookup(struct nftnl_rule *r, uint32_t set_id) {
        struct nftnl_expr *e = expr_new(r, "lookup");

        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, "__set%d");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
}

/* L4PROTO dport { PORTS } (network byte order): one port is a plain
 * compare, more a lookup in a set added to the batch here. */
static void match_dport(struct batch *bt, const char *table, struct nftnl_rule *r, uint8_t l4proto,
                        const uint16_t *ports, size_t n) {
        match_l4proto(r, l4proto);
        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof(uint16_t));
        if (n == 1)
                e_cmp(r, NFT_CMP_EQ, &ports[0], sizeof(ports[0]));
        else
                e_lookup(r, batch_set(bt, table, NFT_TYPE_INET_SERVICE, ports, sizeof(uint16_t), n));
}

/* meta nfproto NFPROTO: what "icmpv6 type" or "ip daddr" depend on in the
 * inet family (the same offsets mean other fields in the other family). */
static void match_nfproto(struct nftnl_rule *r, uint8_t nfproto) {
        e_meta(r, NFT_META_NFPROTO);
        e_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto));
}

/* icmp|icmpv6 type { TYPES } (after the caller's nfproto match): one type a
 * plain compare, more a lookup. */
static void match_icmp_type(struct batch *bt, const char *table, struct nftnl_rule *r, uint8_t l4proto,
                            const uint8_t *types, size_t n) {
        match_l4proto(r, l4proto);
        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, sizeof(uint8_t));
        if (n == 1)
                e_cmp(r, NFT_CMP_EQ, &types[0], sizeof(types[0]));
        else
                e_lookup(r, batch_set(bt, table, NFT_TYPE_ICMP6_TYPE, types, sizeof(uint8_t), n));
}

/* ip saddr NET/PREFIX (family inet: only IPv4 packets). */
static void match_ip_saddr(struct nftnl_rule *r, struct in_addr net, unsigned prefix) {
        uint32_t mask = htonl(rule_netmask(prefix));
        uint32_t value = net.s_addr & mask;

        match_nfproto(r, NFPROTO_IPV4);
        e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, sizeof(uint32_t));  /* saddr */
        if (prefix < 32)
                e_mask(r, &mask, sizeof(mask));
        e_cmp(r, NFT_CMP_EQ, &value, sizeof(value));
}

/* ip daddr ADDR (4 bytes) or ip6 daddr ADDR (16 bytes), with the
 * "meta nfproto" dependency the inet family needs before a network header
 * load: the payload offset means a different field in the other family. */
static void match_daddr(struct nftnl_rule *r, const void *addr, uint32_t len) {
        uint8_t nfproto = len == sizeof(struct in_addr) ? NFPROTO_IPV4 : NFPROTO_IPV6;
        uint32_t offset = nfproto == NFPROTO_IPV4 ? offsetof(struct iphdr, daddr)
                                                  : offsetof(struct ip6_hdr, ip6_dst);

        match_nfproto(r, nfproto);
        e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len);
        e_cmp(r, NFT_CMP_EQ, addr, len);
}

/* ct state established,related: (state & (EST|REL)) != 0, host order. */
static void match_ct_established(struct nftnl_rule *r) {
        uint32_t bits = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;
        struct nftnl_expr *e = expr_new(r, "ct");

        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        e_mask(r, &bits, sizeof(bits));
        e_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

static struct nftnl_rule *rule_new(const char *table, const char *chain) {
        struct nftnl_rule *r = check_alloc(nftnl_rule_alloc());

        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        return r;
}

/* Appends R (and frees it). */
static void batch_rule(struct batch *bt, struct nftnl_rule *r, const char *what) {
        nftnl_rule_nlmsg_build_payload(batch_hdr(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND), r);
        batch_commit(bt, xasprintf("add rule '%s' to chain '%s'", what,
                                   nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)));
        nftnl_rule_free(r);
}

static int cmp_u16(const void *a, const void *b) {
        return (int) *(const uint16_t *) a - (int) *(const uint16_t *) b;
}

/* Sorted, without duplicates (a set rejects duplicate elements), in
 * network byte order as the packet has them. */
static size_t ports_unique(const uint16_t *in, size_t n, uint16_t **ret) {
        uint16_t *p = xcalloc(n, sizeof(uint16_t));
        size_t m = 0;

        if (n > 0)
                memcpy(p, in, n * sizeof(uint16_t));
        qsort(p, n, sizeof(uint16_t), cmp_u16);
        for (size_t i = 0; i < n; i++)
                if (m == 0 || p[m - 1] != p[i])
                        p[m++] = p[i];
        for (size_t i = 0; i < m; i++)
                p[i] = htons(p[i]);
        *ret = p;
        return m;
}

/* iifname != BRIDGE iifname != "lo" [ip|ip6] daddr ADDR drop */
static void batch_guard_rule(struct batch *bt, const struct nft_lab *lab, const void *addr, uint32_t len,
                             const char *what) {
        struct nftnl_rule *r = rule_new(lab->table, "input");

        match_ifname_op(r, NFT_META_IIFNAME, NFT_CMP_NEQ, lab->bridge);
        match_ifname_op(r, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo");
        match_daddr(r, addr, len);
        e_verdict(r, NF_DROP);
        batch_rule(bt, r, what);
}

/* iifname BRIDGE, the start of every rule about what the lab sends. */
static struct nftnl_rule *rule_from_bridge(const struct nft_lab *lab, const char *chain) {
        struct nftnl_rule *r = rule_new(lab->table, chain);

        match_ifname(r, NFT_META_IIFNAME, lab->bridge);
        return r;
}

/* iifname BRIDGE [DADDR] L4PROTO dport { PORTS } accept, when there are
 * ports; DADDR (LEN bytes) NULL: to any address. */
static void batch_ports_rule(struct batch *bt, const struct nft_lab *lab, const void *daddr, uint32_t len,
                             uint8_t l4proto, const uint16_t *ports, size_t n, const char *what) {
        _cleanup_free_ uint16_t *be = NULL;
        struct nftnl_rule *r;

        n = ports_unique(ports, n, &be);
        if (n == 0)
                return;
        r = rule_from_bridge(lab, "input");
        if (daddr)
                match_daddr(r, daddr, len);
        match_dport(bt, lab->table, r, l4proto, be, n);
        e_accept(r);
        batch_rule(bt, r, what);
}

/* The lab's services, at one of its addresses (4 or 16 bytes): its ports
 * and ping. */
static void batch_services_at(struct batch *bt, const struct nft_lab *lab, const void *addr, uint32_t len) {
        bool v4 = len == sizeof(struct in_addr);
        uint8_t echo = v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
        struct nftnl_rule *r;

        batch_ports_rule(bt, lab, addr, len, IPPROTO_UDP, lab->udp_ports, lab->n_udp, "udp dport accept");
        batch_ports_rule(bt, lab, addr, len, IPPROTO_TCP, lab->tcp_ports, lab->n_tcp, "tcp dport accept");

        r = rule_from_bridge(lab, "input");
        match_daddr(r, addr, len);
        match_icmp_type(bt, lab->table, r, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, &echo, 1);
        e_accept(r);
        batch_rule(bt, r, "echo-request accept");
}

static void batch_input_chain(struct batch *bt, const struct nft_lab *lab) {
        /* What IPv6 needs on a link: routers (RAs, which the host sends, in
         * answer to these) and neighbours, their addresses often multicast. */
        static const uint8_t nd[] = { ICMPV6_ROUTER_SOLICIT, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_NEIGHBOR_ADVERT };
        struct nftnl_rule *r;

        batch_chain(bt, lab->table, "input", "filter", NF_INET_LOCAL_IN, 0);

        /* First, before any accept: the lab's addresses are for the lab
         * (and the host itself, over lo), not for whatever routes to them
         * through another interface. */
        batch_guard_rule(bt, lab, &lab->addr, sizeof(lab->addr), "ip daddr drop");
        if (lab->addr6)
                batch_guard_rule(bt, lab, lab->addr6, sizeof(*lab->addr6), "ip6 daddr drop");

        /* Replies to the host's own packets: the lab's answers to dnsmasq's
         * pings, and TFTP's ACKs, which go to the port dnsmasq sends each
         * transfer's data from. */
        r = rule_from_bridge(lab, "input");
        match_ct_established(r);
        e_accept(r);
        batch_rule(bt, r, "ct state established,related accept");

        /* DHCP's broadcasts and DHCPv6's multicasts name no lab address. */
        batch_ports_rule(bt, lab, NULL, 0, IPPROTO_UDP, lab->any_udp_ports, lab->n_any_udp, "udp dport accept");

        batch_services_at(bt, lab, &lab->addr, sizeof(lab->addr));
        if (lab->addr6)
                batch_services_at(bt, lab, lab->addr6, sizeof(*lab->addr6));

        r = rule_from_bridge(lab, "input");
        match_nfproto(r, NFPROTO_IPV6);
        match_icmp_type(bt, lab->table, r, IPPROTO_ICMPV6, nd, ELEMENTSOF(nd));
        e_accept(r);
        batch_rule(bt, r, "neighbour discovery accept");

        /* Everything else the lab sends to the host: to its other services,
         * at any of its addresses. */
        r = rule_from_bridge(lab, "input");
        e_verdict(r, NF_DROP);
        batch_rule(bt, r, "bridge drop");
}

/* A proxy lab's input chain: the lab's ports on the LAN interface, accepted
 * ahead of the host's own rules in this table's hook; no drop. */
static void batch_proxy_input_chain(struct batch *bt, const struct nft_lab *lab) {
        batch_chain(bt, lab->table, "input", "filter", NF_INET_LOCAL_IN, 0);
        batch_ports_rule(bt, lab, NULL, 0, IPPROTO_UDP, lab->any_udp_ports, lab->n_any_udp, "udp dport accept");
        batch_ports_rule(bt, lab, &lab->addr, sizeof(lab->addr), IPPROTO_UDP, lab->udp_ports, lab->n_udp,
                         "udp dport accept");
        batch_ports_rule(bt, lab, &lab->addr, sizeof(lab->addr), IPPROTO_TCP, lab->tcp_ports, lab->n_tcp,
                         "tcp dport accept");
}

/* What the host routes for the lab: out of the uplink, nowhere else (not
 * to other labs, containers or VPNs); in, only replies. */
static void batch_forward_chain(struct batch *bt, const struct nft_lab *lab) {
        struct nftnl_rule *r;

        batch_chain(bt, lab->table, "forward", "filter", NF_INET_FORWARD, 0);

        /* Within the lab: the bridged frames that br_netfilter (docker
         * loads it) passes through this hook never leave the bridge. */
        r = rule_from_bridge(lab, "forward");
        match_ifname(r, NFT_META_OIFNAME, lab->bridge);
        e_accept(r);
        batch_rule(bt, r, "bridge to bridge accept");

        if (lab->uplink) {
                r = rule_from_bridge(lab, "forward");
                match_ifname(r, NFT_META_OIFNAME, lab->uplink);
                e_accept(r);
                batch_rule(bt, r, "bridge to uplink accept");
        }

        r = rule_from_bridge(lab, "forward");
        e_verdict(r, NF_DROP);
        batch_rule(bt, r, "bridge to elsewhere drop");

        /* Nothing from outside reaches the lab's machines but replies, even
         * for a neighbour that routes the lab's subnet through this host. */
        r = rule_new(lab->table, "forward");
        match_ifname(r, NFT_META_OIFNAME, lab->bridge);
        match_ct_established(r);
        e_accept(r);
        batch_rule(bt, r, "to bridge established,related accept");

        r = rule_new(lab->table, "forward");
        match_ifname(r, NFT_META_OIFNAME, lab->bridge);
        e_verdict(r, NF_DROP);
        batch_rule(bt, r, "to bridge drop");
}

static void batch_nat_chain(struct batch *bt, const struct nft_lab *lab) {
        struct nftnl_rule *r;

        /* priority 100 = srcnat */
        batch_chain(bt, lab->table, "postrouting", "nat", NF_INET_POST_ROUTING, 100);

        r = rule_new(lab->table, "postrouting");
        match_ip_saddr(r, lab->net, lab->prefix);
        match_ifname(r, NFT_META_OIFNAME, lab->uplink);
        expr_new(r, "masq");    /* masquerade: no attributes needed */
        batch_rule(bt, r, "masquerade");
}

static int nfnl_open(struct mnl_socket **ret) {
        _cleanup_mnl_socket_ struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
        int one = 1;

        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        /* Error ACKs without a copy of our (large) request. Best effort. */
        (void) mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        *ret = TAKE_PTR(nl);
        return 0;
}

/* Reads the ACKs for a batch of messages. nfnetlink processes the batch
 * inside sendmsg(), so all replies are queued by the time we read; we read
 * until every message is answered, with a timeout only as a safety net.
 * Returns the error of the lowest-numbered failed message, and sets
 * *ret_failed to its sequence number. */
static int batch_read_acks(struct mnl_socket *nl, const struct batch *bt, uint32_t *ret_failed) {
        uint32_t portid = mnl_socket_get_portid(nl), n = bt->seq - bt->seq0;
        _cleanup_free_ bool *answered = xcalloc(n, sizeof(bool));
        _cleanup_free_ char *buf = xcalloc(1, MNL_SOCKET_BUFFER_SIZE);
        uint32_t expected = 0, got = 0, failed_seq = 0;
        int first_err = 0;

        for (uint32_t i = 0; i < n; i++)
                if (bt->what[i])
                        expected++;

        while (got < expected) {
                struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
                ssize_t n_read;
                int r, len;

                /* Once an error arrived, the kernel may have answered the
                 * batch as a whole (e.g. EPERM): don't wait for the rest. */
                r = poll(&p, 1, first_err ? 0 : 5000);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        break;
                n_read = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
                if (n_read < 0)
                        return -errno;

                len = (int) n_read;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; mnl_nlmsg_ok(h, len);
                     h = mnl_nlmsg_next(h, &len)) {
                        const struct nlmsgerr *e;
                        uint32_t i = h->nlmsg_seq - bt->seq0;

                        if (h->nlmsg_pid != portid || h->nlmsg_type != NLMSG_ERROR ||
                            h->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
                                continue;
                        e = mnl_nlmsg_get_payload(h);
                        if (i < n && !answered[i]) {
                                answered[i] = true;
                                got++;
                        }
                        if (e->error < 0 && (!first_err || h->nlmsg_seq < failed_seq)) {
                                first_err = e->error;
                                failed_seq = h->nlmsg_seq;
                        }
                }
        }
        if (first_err) {
                *ret_failed = failed_seq;
                return first_err;
        }
        return got == expected ? 0 : -ETIMEDOUT;
}

static int batch_send(struct batch *bt, const char *table) {
        _cleanup_mnl_socket_ struct mnl_socket *nl = NULL;
        uint32_t failed = 0;
        int r;

        if (bt->overflow)
                return -E2BIG;
        r = nfnl_open(&nl);
        if (r < 0)
                return r;
        if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b)) < 0)
                return -errno;
        r = batch_read_acks(nl, bt, &failed);
        if (r < 0 && failed) {
                uint32_t i = failed - bt->seq0;
                log_debug("nftables table '%s': the kernel rejected message %u (%s)", table, i,
                          i < bt->seq - bt->seq0 && bt->what[i] ? bt->what[i] : "batch");
        }
        return r;
}

static bool lab_valid(const struct nft_lab *lab) {
        return lab && !strempty(lab->table) && lab->addr.s_addr != INADDR_ANY &&
               !strempty(lab->bridge) && strlen(lab->bridge) < IFNAMSIZ &&
               (!lab->uplink || (*lab->uplink && strlen(lab->uplink) < IFNAMSIZ)) &&
               lab->prefix >= 1 && lab->prefix <= 32 && (lab->n_any_udp == 0 || lab->any_udp_ports) &&
               (lab->n_udp == 0 || lab->udp_ports) && (lab->n_tcp == 0 || lab->tcp_ports);
}

int nft_lab_apply(const struct nft_lab *lab) {
        struct batch bt;
        int r;

        if (!lab_valid(lab))
                return log_error_errno(-EINVAL, "Failed to apply nftables table '%s'",
                                       lab && lab->table ? lab->table : "");
        batch_init(&bt);
        batch_begin(&bt);
        /* add (no-op if present) + delete + add: replaces an existing table
         * and creates a missing one, without a racy "does it exist?" */
        batch_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, lab->table);
        batch_table(&bt, NFT_MSG_DELTABLE, 0, lab->table);
        batch_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, lab->table);
        if (lab->proxy)
                batch_proxy_input_chain(&bt, lab);
        else {
                batch_input_chain(&bt, lab);
                batch_forward_chain(&bt, lab);
                if (lab->uplink)
                        batch_nat_chain(&bt, lab);
        }
        batch_end(&bt);

        r = batch_send(&bt, lab->table);
        batch_done(&bt);
        if (r < 0)
                return log_error_errno(r, "Failed to apply nftables table '%s'", lab->table);
        return 0;
}

int nft_lab_delete(const char *table) {
        struct batch bt;
        int r;

        if (strempty(table))
                return log_error_errno(-EINVAL, "Failed to delete nftables table ''");
        batch_init(&bt);
        batch_begin(&bt);
        /* Same trick: the add makes the delete succeed when it's missing. */
        batch_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, table);
        batch_table(&bt, NFT_MSG_DELTABLE, 0, table);
        batch_end(&bt);

        r = batch_send(&bt, table);
        batch_done(&bt);
        if (r < 0)
                return log_error_errno(r, "Failed to delete nftables table '%s'", table);
        return 0;
}

int nft_lab_exists(const char *table) {
        _cleanup_mnl_socket_ struct mnl_socket *nl = NULL;
        _cleanup_nftnl_table_ struct nftnl_table *t = NULL;
        _cleanup_free_ char *buf = NULL;
        uint32_t seq = (uint32_t) time(NULL);
        struct nlmsghdr *nlh;
        ssize_t len;
        int r;

        if (strempty(table))
                return log_error_errno(-EINVAL, "Failed to look up nftables table ''");
        r = nfnl_open(&nl);
        if (r < 0)
                return log_error_errno(r, "Failed to look up nftables table '%s'", table);

        buf = xcalloc(1, MNL_SOCKET_BUFFER_SIZE);
        t = check_alloc(nftnl_table_alloc());
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
        /* No NLM_F_ACK: the answer is the table or an error, one message. */
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, 0, seq);
        nftnl_table_nlmsg_build_payload(nlh, t);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return log_error_errno(-errno, "Failed to look up nftables table '%s'", table);

        len = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
        if (len < 0)
                return log_error_errno(-errno, "Failed to look up nftables table '%s'", table);
        r = mnl_cb_run(buf, (size_t) len, seq, mnl_socket_get_portid(nl), NULL, NULL);
        if (r < 0 && errno == ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(-errno, "Failed to look up nftables table '%s'", table);
        return 1;
}
