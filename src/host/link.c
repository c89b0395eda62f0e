/* Host links over rtnetlink with libnl-3.
 *
 * Writes are one explicit rtnetlink request each, built with libnl's
 * nlmsg/nla helpers and addressed by interface name where the kernel allows
 * it (no lookup-then-act race). We wait for the kernel's ACK ourselves so we
 * get its errno verbatim: libnl's own error codes fold many errnos into
 * NLE_FAILURE. Reads use libnl caches (one dump each). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>

#include "host/link.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "basic/util.h"

static void nl_socket_freep(struct nl_sock **p) { if (*p) nl_socket_free(*p); }
static void nlmsg_freep(struct nl_msg **p) { if (*p) nlmsg_free(*p); }
static void nl_cache_freep(struct nl_cache **p) { if (*p) nl_cache_free(*p); }
static void rtnl_link_putp(struct rtnl_link **p) { if (*p) rtnl_link_put(*p); }
#define _cleanup_nl_sock_ _cleanup_(nl_socket_freep)
#define _cleanup_nlmsg_ _cleanup_(nlmsg_freep)
#define _cleanup_nl_cache_ _cleanup_(nl_cache_freep)
#define _cleanup_rtnl_link_ _cleanup_(rtnl_link_putp)
/* json_decrefp() comes with jansson. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Only for failures that happen inside libnl (allocation, socket, parsing a
 * dump); kernel refusals are taken from the ACK in nl_transact(). */
static int nle_to_errno(int nle) {
        switch (nle < 0 ? -nle : nle) {
        case 0: return 0;
        case NLE_INTR: return -EINTR;
        case NLE_BAD_SOCK: return -EBADF;
        case NLE_AGAIN: return -EAGAIN;
        case NLE_NOMEM: return -ENOMEM;
        case NLE_EXIST: return -EEXIST;
        case NLE_INVAL: return -EINVAL;
        case NLE_RANGE: return -ERANGE;
        case NLE_MSGSIZE: return -EMSGSIZE;
        case NLE_OPNOTSUPP: return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND: return -ENOENT;
        case NLE_NOATTR: return -ENODATA;
        case NLE_MISSING_ATTR: return -EINVAL;
        case NLE_AF_MISMATCH: return -EAFNOSUPPORT;
        case NLE_SEQ_MISMATCH: return -EILSEQ;
        case NLE_MSG_OVERFLOW: return -EOVERFLOW;
        case NLE_MSG_TRUNC: return -EMSGSIZE;
        case NLE_NOADDR: return -EADDRNOTAVAIL;
        case NLE_SRCRT_NOSUPPORT: return -EOPNOTSUPP;
        case NLE_MSG_TOOSHORT: return -EBADMSG;
        case NLE_MSGTYPE_NOSUPPORT: return -EOPNOTSUPP;
        case NLE_OBJ_MISMATCH: return -EINVAL;
        case NLE_NOCACHE: return -ENOENT;
        case NLE_BUSY: return -EBUSY;
        case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
        case NLE_NOACCESS: return -EACCES;
        case NLE_PERM: return -EPERM;
        case NLE_PKTLOC_FILE: return -ENOENT;
        case NLE_PARSE_ERR: return -EBADMSG;
        case NLE_NODEV: return -ENODEV;
        case NLE_IMMUTABLE: return -EPERM;
        case NLE_DUMP_INTR: return -EINTR;
        case NLE_ATTRSIZE: return -EMSGSIZE;
        default: return -EIO;
        }
}

static int rtnl_open(struct nl_sock **ret) {
        _cleanup_nl_sock_ struct nl_sock *sk = nl_socket_alloc();
        int r;

        if (!sk)
                return -ENOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return nle_to_errno(r);
        *ret = TAKE_PTR(sk);
        return 0;
}

static int ack_cb(struct nl_msg *msg, void *arg) {
        return NL_STOP;
}

static int error_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg) {
        *(int *) arg = e->error;
        return NL_STOP;
}

/* Sends MSG (libnl adds NLM_F_ACK) and waits for its ACK. Returns the
 * kernel's -errno exactly. */
static int nl_transact(struct nl_sock *sk, struct nl_msg *msg) {
        struct nl_cb *orig, *cb;
        int kerr = 0, r;

        r = nl_send_auto(sk, msg);
        if (r < 0)
                return nle_to_errno(r);

        orig = nl_socket_get_cb(sk);
        cb = nl_cb_clone(orig);
        nl_cb_put(orig);
        if (!cb)
                return -ENOMEM;
        nl_cb_err(cb, NL_CB_CUSTOM, error_cb, &kerr);
        nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, NULL);
        r = nl_recvmsgs(sk, cb);
        nl_cb_put(cb);
        if (kerr < 0)
                return kerr;
        return nle_to_errno(r);
}

/* The kernel's own rules (dev_valid_name), checked here so a bad name is
 * reported as such rather than as a netlink attribute error. */
static bool ifname_valid(const char *name) {
        if (strempty(name) || strlen(name) >= IFNAMSIZ)
                return false;
        if (streq(name, ".") || streq(name, ".."))
                return false;
        for (const char *p = name; *p; p++)
                if (*p == '/' || *p == ':' || *p == ' ' || *p == '\t' || *p == '\n')
                        return false;
        return true;
}

static int check_ifname(const char *name) {
        if (!ifname_valid(name))
                return log_error_errno(-EINVAL, "Invalid interface name '%s'", strempty(name) ? "" : name);
        return 0;
}

/* A RTM_NEWLINK/RTM_DELLINK request for the link named NAME. */
static struct nl_msg *link_request(int type, int flags, const char *name,
                                   unsigned ifi_flags, unsigned ifi_change) {
        struct ifinfomsg ifi = {
                .ifi_family = AF_UNSPEC,
                .ifi_flags = ifi_flags,
                .ifi_change = ifi_change,
        };
        struct nl_msg *msg = nlmsg_alloc_simple(type, flags);

        if (!msg)
                return NULL;
        if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_string(msg, IFLA_IFNAME, name) < 0) {
                nlmsg_free(msg);
                return NULL;
        }
        return msg;
}

/* Looks up NAME; 0 with *ret = NULL when it does not exist. */
static int link_lookup(struct nl_sock *sk, const char *name, struct rtnl_link **ret) {
        int r = rtnl_link_get_kernel(sk, 0, name, ret);
        if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND) {
                *ret = NULL;
                return 0;
        }
        return nle_to_errno(r);
}

/* The socket and the link NAME (NULL when there is none), the prologue of
 * every call that works on one link; an error is logged as "Failed to WHAT
 * 'NAME'". */
static int link_open(const char *name, const char *what, struct nl_sock **sk, struct rtnl_link **link) {
        int r = check_ifname(name);
        if (r < 0)
                return r;
        r = rtnl_open(sk);
        if (r >= 0)
                r = link_lookup(*sk, name, link);
        if (r < 0)
                return log_error_errno(r, "Failed to %s '%s'", what, name);
        return 0;
}

int bridge_create(const char *name, const char *mac) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nlmsg_ struct nl_msg *msg = NULL;
        struct nlattr *info, *data;
        struct ether_addr ea;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        if (mac && !ether_aton_r(mac, &ea))
                return log_error_errno(-EINVAL, "Failed to create bridge '%s': bad MAC '%s'", name, mac);
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to create bridge '%s'", name);

        /* NLM_F_EXCL: never adopt a link someone else made. */
        msg = link_request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name, 0, 0);
        if (!msg ||
            (mac && nla_put(msg, IFLA_ADDRESS, ETH_ALEN, &ea) < 0) ||
            !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
            nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 ||
            !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
            /* The kernel accepts a forward_delay of 0 only while STP is
             * off, which a new bridge is until told otherwise. */
            nla_put_u32(msg, IFLA_BR_STP_STATE, 0) < 0 ||
            nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, 0) < 0 ||
            nla_nest_end(msg, data) < 0 ||
            nla_nest_end(msg, info) < 0)
                return log_error_errno(-ENOMEM, "Failed to create bridge '%s'", name);

        r = nl_transact(sk, msg);
        if (r < 0)
                return log_error_errno(r, "Failed to create bridge '%s'", name);
        return 0;
}

int link_exists(const char *name, bool *is_bridge) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
        int r;

        if (is_bridge)
                *is_bridge = false;
        r = link_open(name, "look up link", &sk, &link);
        if (r < 0)
                return r;
        if (!link)
                return 0;
        if (is_bridge)
                *is_bridge = streq(rtnl_link_get_type(link), "bridge");
        return 1;
}

/* Sets the FLAGS of MASK on link NAME to their value in FLAGS (RTM_NEWLINK
 * with a change mask); WHAT names the change in the one error line:
 * "Failed to WHAT 'NAME': ...". */
static int link_change_flags(const char *name, unsigned flags, unsigned mask, const char *what) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nlmsg_ struct nl_msg *msg = NULL;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to %s '%s'", what, name);
        msg = link_request(RTM_NEWLINK, 0, name, flags & mask, mask);
        if (!msg)
                return log_error_errno(-ENOMEM, "Failed to %s '%s'", what, name);
        r = nl_transact(sk, msg);
        if (r < 0)
                return log_error_errno(r, "Failed to %s '%s'", what, name);
        return 0;
}

static int link_set_flags(const char *name, unsigned flags, const char *what) {
        return link_change_flags(name, flags, flags, what);
}

int link_set_down(const char *name) {
        return link_change_flags(name, 0, IFF_UP, "set down link");
}

int link_set_arp(const char *name, bool on) {
        return link_change_flags(name, on ? 0 : IFF_NOARP, IFF_NOARP, on ? "switch ARP on on link" : "switch ARP off on link");
}

int link_set_mtu(const char *name, unsigned mtu) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nlmsg_ struct nl_msg *msg = NULL;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to set the MTU of '%s' to %u", name, mtu);
        msg = link_request(RTM_NEWLINK, 0, name, 0, 0);
        if (!msg || nla_put_u32(msg, IFLA_MTU, mtu) < 0)
                return log_error_errno(-ENOMEM, "Failed to set the MTU of '%s' to %u", name, mtu);
        r = nl_transact(sk, msg);
        if (r < 0)
                return log_error_errno(r, "Failed to set the MTU of '%s' to %u", name, mtu);
        return 0;
}

int link_set_up(const char *name) {
        return link_set_flags(name, IFF_UP, "set up link");
}

int link_set_noarp(const char *name) {
        return link_set_flags(name, IFF_NOARP, "switch ARP off on link");
}

int link_set_alias(const char *name, const char *alias) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nlmsg_ struct nl_msg *msg = NULL;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to mark link '%s'", name);
        msg = link_request(RTM_NEWLINK, 0, name, 0, 0);
        if (!msg || nla_put_string(msg, IFLA_IFALIAS, alias) < 0)
                return log_error_errno(-ENOMEM, "Failed to mark link '%s'", name);
        r = nl_transact(sk, msg);
        if (r < 0)
                return log_error_errno(r, "Failed to mark link '%s'", name);
        return 0;
}

static char *mac_str(struct nl_addr *a) {
        const uint8_t *b;

        if (!a || nl_addr_get_len(a) != 6)
                return NULL;
        b = nl_addr_get_binary_addr(a);
        return xasprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

int link_mark(const char *name, char **ret_alias, char **ret_kind, char **ret_mac) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
        const char *alias, *kind;
        struct nl_addr *a;
        int r;

        r = link_open(name, "look up link", &sk, &link);
        if (r < 0)
                return r;
        if (!link)
                return 0;
        alias = rtnl_link_get_ifalias(link);
        kind = rtnl_link_get_type(link);
        if (ret_alias)
                *ret_alias = strempty(alias) ? NULL : xstrdup(alias);
        if (ret_kind)
                *ret_kind = xstrdup(kind ? kind : "");
        if (ret_mac) {
                a = rtnl_link_get_addr(link);
                *ret_mac = mac_str(a) ?: xstrdup("");
        }
        return 1;
}

int link_delete(const char *name) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nlmsg_ struct nl_msg *msg = NULL;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to delete link '%s'", name);
        msg = link_request(RTM_DELLINK, 0, name, 0, 0);
        if (!msg)
                return log_error_errno(-ENOMEM, "Failed to delete link '%s'", name);
        r = nl_transact(sk, msg);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to delete link '%s'", name);
        return 0;
}

/* Sets IFNAME's master to MASTER_IFINDEX (0 = no master). */
static int set_master_ifindex(struct nl_sock *sk, const char *ifname, int master_ifindex) {
        _cleanup_nlmsg_ struct nl_msg *msg = link_request(RTM_NEWLINK, 0, ifname, 0, 0);

        if (!msg || nla_put_u32(msg, IFLA_MASTER, (uint32_t) master_ifindex) < 0)
                return -ENOMEM;
        return nl_transact(sk, msg);
}

static int link_set_master_sk(struct nl_sock *sk, const char *ifname, const char *master) {
        _cleanup_rtnl_link_ struct rtnl_link *m = NULL;
        int r;

        if (master) {
                r = link_lookup(sk, master, &m);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up link '%s'", master);
                if (!m)
                        return log_error_errno(-ENODEV, "Failed to add '%s' to bridge '%s'", ifname, master);
        }
        r = set_master_ifindex(sk, ifname, m ? rtnl_link_get_ifindex(m) : 0);
        if (r < 0) {
                if (master)
                        return log_error_errno(r, "Failed to add '%s' to bridge '%s'", ifname, master);
                return log_error_errno(r, "Failed to release '%s' from its bridge", ifname);
        }
        return 0;
}

int link_set_master(const char *ifname, const char *master) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        int r;

        r = check_ifname(ifname);
        if (r >= 0 && master)
                r = check_ifname(master);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to set master of '%s'", ifname);
        return link_set_master_sk(sk, ifname, master);
}

union inaddr {
        struct in_addr in;
        struct in6_addr in6;
};

/* "ADDR/PREFIX" with a mandatory, in-range prefix. */
static int parse_cidr(const char *s, int *ret_family, union inaddr *ret_addr, unsigned *ret_prefix) {
        const char *slash = strrchr(s, '/');
        char buf[INET6_ADDRSTRLEN], *end;
        unsigned long prefix;
        int family;

        if (!slash || slash == s || (size_t) (slash - s) >= sizeof(buf) || !slash[1])
                return -EINVAL;
        memcpy(buf, s, slash - s);
        buf[slash - s] = 0;
        if (inet_pton(AF_INET, buf, &ret_addr->in) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, buf, &ret_addr->in6) == 1)
                family = AF_INET6;
        else
                return -EINVAL;
        errno = 0;
        prefix = strtoul(slash + 1, &end, 10);
        if (errno || *end || slash[1] < '0' || slash[1] > '9' ||
            prefix > (family == AF_INET ? 32u : 128u))
                return -EINVAL;
        *ret_family = family;
        *ret_prefix = (unsigned) prefix;
        return 0;
}

/* Adds (RTM_NEWADDR) or deletes (RTM_DELADDR) CIDR on link NAME. */
static int link_address_op(const char *name, const char *cidr, bool add) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
        _cleanup_nlmsg_ struct nl_msg *msg = NULL;
        union inaddr a = {};
        unsigned prefix;
        int family, r;
        size_t alen;

        r = check_ifname(name);
        if (r < 0)
                return r;
        if (!cidr || parse_cidr(cidr, &family, &a, &prefix) < 0)
                return log_error_errno(-EINVAL, "Invalid address '%s' for link '%s'", cidr ? cidr : "", name);
        const char *what = add ? "add" : "remove";
        alen = family == AF_INET ? sizeof(a.in) : sizeof(a.in6);

        r = rtnl_open(&sk);
        if (r >= 0)
                r = link_lookup(sk, name, &link);
        if (r >= 0 && !link)
                r = add ? -ENODEV : 0;
        if (r < 0)
                return log_error_errno(r, "Failed to %s address '%s' on '%s'", what, cidr, name);
        if (!link)
                return 0;       /* deleting from a missing link: nothing to do */

        uint32_t flags = family == AF_INET6 ? IFA_F_NODAD : 0;
        struct ifaddrmsg ifa = {
                .ifa_family = family,
                .ifa_prefixlen = prefix,
                .ifa_flags = flags,
                .ifa_scope = RT_SCOPE_UNIVERSE,
                .ifa_index = rtnl_link_get_ifindex(link),
        };
        /* EXCL so that "already there" comes back as EEXIST, which is
         * success for us, instead of silently updating its flags. */
        msg = add ? nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL) : nlmsg_alloc_simple(RTM_DELADDR, 0);
        if (!msg ||
            nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
            nla_put(msg, IFA_LOCAL, alen, &a) < 0 ||
            nla_put(msg, IFA_ADDRESS, alen, &a) < 0 ||
            nla_put_u32(msg, IFA_FLAGS, flags) < 0)
                return log_error_errno(-ENOMEM, "Failed to %s address '%s' on '%s'", what, cidr, name);
        r = nl_transact(sk, msg);
        /* Already there (add) or already gone (delete): success. */
        if ((add && r == -EEXIST) || (!add && r == -EADDRNOTAVAIL))
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to %s address '%s' on '%s'", what, cidr, name);
        return 0;
}

int link_add_address(const char *name, const char *cidr) {
        return link_address_op(name, cidr, true);
}

int link_del_address(const char *name, const char *cidr) {
        return link_address_op(name, cidr, false);
}


int tap_create(const char *name, const char *master, const char *alias) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
        _cleanup_close_ int fd = -1;
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        int r;

        r = check_ifname(name);
        if (r >= 0 && master)
                r = check_ifname(master);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r >= 0)
                r = link_lookup(sk, name, &link);
        if (r < 0)
                return log_error_errno(r, "Failed to create tap '%s'", name);
        /* TUNSETIFF would say EINVAL for a foreign link of that name. */
        if (link && !streq(rtnl_link_get_type(link), "tun"))
                return log_error_errno(-EEXIST, "Failed to create tap '%s'", name);

        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to open /dev/net/tun for tap '%s'", name);
        memcpy(ifr.ifr_name, name, strlen(name) + 1);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return log_error_errno(-errno, "Failed to create tap '%s'", name);
        /* Marked while a kill still takes the tap with our fd. */
        if (!link && alias) {
                r = link_set_alias(name, alias);
                if (r < 0)
                        return r;
        }
        /* Persistent: the device outlives this fd until deleted. */
        if (ioctl(fd, TUNSETPERSIST, 1) < 0)
                return log_error_errno(-errno, "Failed to make tap '%s' persistent", name);

        if (master)
                r = link_set_master_sk(sk, name, master);
        if (r >= 0)
                r = link_set_up(name);
        /* Don't leave a half-configured tap behind that we made. */
        if (r < 0 && !link)
                (void) link_delete(name);
        return r;
}

/* As iproute2 prints it: "UP", "LOWERLAYERDOWN"… */
static void operstate_str(uint8_t state, char *buf, size_t size) {
        rtnl_link_operstate2str(state, buf, size);
        for (char *p = buf; *p; p++)
                *p = (char) toupper((unsigned char) *p);
}

/* "ADDR/PREFIX" of an rtnl_addr's local address, NULL if it has none. */
static char *addr_cidr(struct rtnl_addr *a) {
        struct nl_addr *local = rtnl_addr_get_local(a);
        char buf[INET6_ADDRSTRLEN];
        int family;

        if (!local)
                return NULL;
        family = nl_addr_get_family(local);
        if ((family != AF_INET && family != AF_INET6) ||
            !inet_ntop(family, nl_addr_get_binary_addr(local), buf, sizeof(buf)))
                return NULL;
        return xasprintf("%s/%u", buf, (unsigned) rtnl_addr_get_prefixlen(a));
}

static json_t *link_addresses_json(struct nl_cache *addrs, int ifindex) {
        json_t *arr = json_array();

        for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                _cleanup_free_ char *s = NULL;

                if (rtnl_addr_get_ifindex(a) != ifindex)
                        continue;
                s = addr_cidr(a);
                if (s)
                        json_array_append_new(arr, json_string(s));
        }
        return arr;
}

static json_t *link_ports_json(struct nl_cache *links, int ifindex) {
        json_t *arr = json_array();

        for (struct nl_object *o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *l = (struct rtnl_link *) o;
                if (rtnl_link_get_master(l) == ifindex && rtnl_link_get_ifindex(l) != ifindex)
                        json_array_append_new(arr, json_string(rtnl_link_get_name(l)));
        }
        return arr;
}

int link_info(const char *name, json_t **ret) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
        _cleanup_nl_cache_ struct nl_cache *addrs = NULL, *links = NULL;
        _cleanup_json_ json_t *o = NULL;
        _cleanup_free_ char *mac = NULL;
        char operstate[32];
        int r, ifindex;

        r = link_open(name, "read link", &sk, &link);
        if (r < 0)
                return r;
        if (!link) {
                *ret = json_pack("{s:s, s:b}", "name", name, "exists", 0);
                return *ret ? 0 : log_error_errno(-ENOMEM, "Failed to describe link '%s'", name);
        }

        r = rtnl_addr_alloc_cache(sk, &addrs);
        if (r >= 0)
                r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
        if (r < 0)
                return log_error_errno(nle_to_errno(r), "Failed to read addresses and ports of '%s'", name);

        ifindex = rtnl_link_get_ifindex(link);
        mac = mac_str(rtnl_link_get_addr(link));
        operstate_str(rtnl_link_get_operstate(link), operstate, sizeof(operstate));
        o = json_pack("{s:s, s:b, s:b, s:s, s:i, s:o, s:o, s:o}",
                      "name", name,
                      "exists", 1,
                      "up", !!(rtnl_link_get_flags(link) & IFF_UP),
                      "operstate", operstate,
                      "mtu", (int) rtnl_link_get_mtu(link),
                      "mac", mac ? json_string(mac) : json_null(),
                      "addresses", link_addresses_json(addrs, ifindex),
                      "ports", link_ports_json(links, ifindex));
        if (!o)
                return log_error_errno(-ENOMEM, "Failed to describe link '%s'", name);
        *ret = TAKE_PTR(o);
        return 0;
}

/* The (first) output interface of ROUTE, 0 if none. */
static int route_oif(struct rtnl_route *route) {
        for (int i = 0; i < rtnl_route_get_nnexthops(route); i++) {
                int ifindex = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, i));
                if (ifindex > 0)
                        return ifindex;
        }
        return 0;
}

static unsigned route_dst_prefixlen(struct rtnl_route *route) {
        struct nl_addr *dst = rtnl_route_get_dst(route);
        return dst ? nl_addr_get_prefixlen(dst) : 0;
}

int route_default_ifname(char **ret) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nl_cache_ struct nl_cache *routes = NULL;
        char name[IF_NAMESIZE];
        uint32_t best_metric = UINT32_MAX;
        int r, best = 0;

        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to read routes");
        r = rtnl_route_alloc_cache(sk, AF_INET, 0, &routes);
        if (r < 0)
                return log_error_errno(nle_to_errno(r), "Failed to read routes");

        for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *route = (struct rtnl_route *) o;
                int oif;

                if (rtnl_route_get_table(route) != RT_TABLE_MAIN ||
                    rtnl_route_get_type(route) != RTN_UNICAST ||
                    route_dst_prefixlen(route) != 0)
                        continue;
                oif = route_oif(route);
                if (oif > 0 && (!best || rtnl_route_get_priority(route) < best_metric)) {
                        best = oif;
                        best_metric = rtnl_route_get_priority(route);
                }
        }
        if (!best)
                return -ENOENT;
        if (!if_indextoname(best, name))
                return log_error_errno(-errno, "Failed to resolve interface index %d", best);
        *ret = xstrdup(name);
        return 0;
}

/* Do A/PA and B/PB share their first min(PA, PB) bits? (network order) */
static bool ipv4_overlap(struct in_addr a, unsigned pa, struct in_addr b, unsigned pb) {
        unsigned p = pa < pb ? pa : pb;
        uint32_t mask = htonl(rule_netmask(p));
        return ((a.s_addr ^ b.s_addr) & mask) == 0;
}

static void ifname_of(struct nl_cache *links, int ifindex, char *buf, size_t size) {
        if (!rtnl_link_i2name(links, ifindex, buf, size))
                snprintf(buf, size, "ifindex %d", ifindex);
}

static int address_conflict(struct nl_cache *addrs, struct nl_cache *links, int ignore,
                            struct in_addr net, unsigned prefix, char **ret_desc) {
        for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                char ifname[IF_NAMESIZE + 16];
                struct in_addr in;

                if (!local || nl_addr_get_family(local) != AF_INET || nl_addr_get_len(local) != 4 ||
                    (ignore > 0 && rtnl_addr_get_ifindex(a) == ignore))
                        continue;
                memcpy(&in, nl_addr_get_binary_addr(local), 4);
                if (!ipv4_overlap(net, prefix, in, rtnl_addr_get_prefixlen(a)))
                        continue;
                if (ret_desc) {
                        _cleanup_free_ char *cidr = addr_cidr(a);
                        ifname_of(links, rtnl_addr_get_ifindex(a), ifname, sizeof(ifname));
                        *ret_desc = xasprintf("address %s on %s", cidr, ifname);
                }
                return 1;
        }
        return 0;
}

static int route_conflict(struct nl_cache *routes, struct nl_cache *links, int ignore,
                          struct in_addr net, unsigned prefix, char **ret_desc) {
        for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *route = (struct rtnl_route *) o;
                struct nl_addr *dst = rtnl_route_get_dst(route);
                unsigned plen = route_dst_prefixlen(route);
                uint8_t type = rtnl_route_get_type(route);
                char ifname[IF_NAMESIZE + 16], dstbuf[INET_ADDRSTRLEN];
                struct in_addr in;
                int oif;

                /* The local table mirrors addresses (already checked) and
                 * broadcast entries; default routes overlap everything. */
                if (plen == 0 || !dst || nl_addr_get_len(dst) != 4 ||
                    rtnl_route_get_table(route) == RT_TABLE_LOCAL ||
                    type == RTN_LOCAL || type == RTN_BROADCAST ||
                    type == RTN_ANYCAST || type == RTN_MULTICAST)
                        continue;
                oif = route_oif(route);
                if (ignore > 0 && oif == ignore)
                        continue;
                memcpy(&in, nl_addr_get_binary_addr(dst), 4);
                if (!ipv4_overlap(net, prefix, in, plen))
                        continue;
                if (ret_desc) {
                        inet_ntop(AF_INET, &in, dstbuf, sizeof(dstbuf));
                        if (oif > 0) {
                                ifname_of(links, oif, ifname, sizeof(ifname));
                                *ret_desc = xasprintf("route %s/%u via %s", dstbuf, plen, ifname);
                        } else {
                                char tbuf[32];
                                *ret_desc = xasprintf("route %s/%u (%s)", dstbuf, plen,
                                                      nl_rtntype2str(type, tbuf, sizeof(tbuf)));
                        }
                }
                return 1;
        }
        return 0;
}

int host_subnet_conflict(struct in_addr net, unsigned prefix, const char *ignore_ifname, char **ret_desc) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_nl_cache_ struct nl_cache *links = NULL, *addrs = NULL, *routes = NULL;
        int r, ignore = 0;

        if (ret_desc)
                *ret_desc = NULL;
        if (prefix > 32)
                return log_error_errno(-EINVAL, "Invalid IPv4 prefix length %u", prefix);
        r = rtnl_open(&sk);
        if (r < 0)
                return log_error_errno(r, "Failed to read addresses and routes");
        r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
        if (r >= 0)
                r = rtnl_addr_alloc_cache(sk, &addrs);
        if (r >= 0)
                r = rtnl_route_alloc_cache(sk, AF_INET, 0, &routes);
        if (r < 0)
                return log_error_errno(nle_to_errno(r), "Failed to read addresses and routes");
        if (ignore_ifname)
                ignore = rtnl_link_name2i(links, ignore_ifname);   /* 0 if missing */

        r = address_conflict(addrs, links, ignore, net, prefix, ret_desc);
        if (r == 0)
                r = route_conflict(routes, links, ignore, net, prefix, ret_desc);
        return r;
}

/* Throws away whatever is queued on a notification socket. */
static void drain(int fd) {
        char buf[8192];
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                /* ENOBUFS: events were lost, harmless since we re-check. */
                if (n < 0 && errno != EINTR && errno != ENOBUFS)
                        return;
                if (n == 0)
                        return;
        }
}

int link_wait_exists(const char *name, unsigned timeout_ms) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL, *mon = NULL;
        unsigned long long deadline = now_usec() + (unsigned long long) timeout_ms * 1000ULL;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        /* Subscribe before the first look so a link created in between
         * still wakes us; any link event triggers a fresh lookup. */
        r = rtnl_open(&sk);
        if (r >= 0)
                r = rtnl_open(&mon);
        if (r >= 0)
                r = nle_to_errno(nl_socket_add_membership(mon, RTNLGRP_LINK));
        if (r < 0)
                return log_error_errno(r, "Failed to watch for link '%s'", name);

        for (;;) {
                _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
                struct pollfd p = { .fd = nl_socket_get_fd(mon), .events = POLLIN };
                unsigned long long now;

                r = link_lookup(sk, name, &link);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up link '%s'", name);
                if (link)
                        return 0;
                now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        return log_error_errno(-errno, "Failed to wait for link '%s'", name);
                if (r > 0)
                        drain(p.fd);
        }
}

/* A link-local IPv6 address is every up link's: not a use of the link. */
static bool addr_is_a_use(struct rtnl_addr *a) {
        return rtnl_addr_get_family(a) != AF_INET6 || rtnl_addr_get_scope(a) == RT_SCOPE_UNIVERSE;
}

static bool addr_is_ipv4(struct rtnl_addr *a) {
        struct nl_addr *local = rtnl_addr_get_local(a);

        return local && nl_addr_get_family(local) == AF_INET && nl_addr_get_len(local) == sizeof(struct in_addr);
}

/* The first address of LINK that ACCEPT takes: 1 and *ret (alive as long as
 * *ret_cache), 0 if none, or a negative errno (logged). */
static int link_first_address(struct nl_sock *sk, struct rtnl_link *link, const char *name,
                              bool (*accept)(struct rtnl_addr *a), struct nl_cache **ret_cache,
                              struct rtnl_addr **ret) {
        int r, ifindex = rtnl_link_get_ifindex(link);

        *ret = NULL;
        r = rtnl_addr_alloc_cache(sk, ret_cache);
        if (r < 0)
                return log_error_errno(nle_to_errno(r), "Failed to read the addresses of '%s'", name);
        for (struct nl_object *o = nl_cache_get_first(*ret_cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;

                if (rtnl_addr_get_ifindex(a) == ifindex && accept(a)) {
                        *ret = a;
                        return 1;
                }
        }
        return 0;
}

int link_state(const char *name, struct link_state *ret) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL, *master = NULL;
        _cleanup_nl_cache_ struct nl_cache *addrs = NULL;
        struct rtnl_addr *a;
        unsigned flags;
        int r;

        *ret = (struct link_state) {};
        r = link_open(name, "read link", &sk, &link);
        if (r < 0)
                return r;
        if (!link)
                return 0;
        flags = rtnl_link_get_flags(link);
        ret->up = flags & IFF_UP;
        ret->noarp = flags & IFF_NOARP;
        ret->carrier = rtnl_link_get_carrier(link) > 0;
        ret->mtu = rtnl_link_get_mtu(link);
        ret->is_bridge = streq(rtnl_link_get_type(link), "bridge");
        operstate_str(rtnl_link_get_operstate(link), ret->operstate, sizeof(ret->operstate));
        if (rtnl_link_get_master(link) > 0) {
                r = rtnl_link_get_kernel(sk, rtnl_link_get_master(link), NULL, &master);
                if (r < 0)
                        return log_error_errno(nle_to_errno(r), "Failed to read the master of link '%s'", name);
                snprintf(ret->master, sizeof(ret->master), "%s", rtnl_link_get_name(master));
        }
        r = link_first_address(sk, link, name, addr_is_a_use, &addrs, &a);
        if (r < 0)
                return r;
        if (r > 0) {
                _cleanup_free_ char *cidr = addr_cidr(a);

                if (cidr)
                        snprintf(ret->address, sizeof(ret->address), "%s", cidr);
        }
        return 1;
}

int link_ipv4_address(const char *name, struct in_addr *ret, unsigned *ret_prefix) {
        _cleanup_nl_sock_ struct nl_sock *sk = NULL;
        _cleanup_rtnl_link_ struct rtnl_link *link = NULL;
        _cleanup_nl_cache_ struct nl_cache *addrs = NULL;
        struct rtnl_addr *a;
        int r;

        r = link_open(name, "read link", &sk, &link);
        if (r < 0)
                return r;
        if (!link)
                return -ENODEV;
        r = link_first_address(sk, link, name, addr_is_ipv4, &addrs, &a);
        if (r <= 0)
                return r;
        memcpy(ret, nl_addr_get_binary_addr(rtnl_addr_get_local(a)), sizeof(*ret));
        *ret_prefix = (unsigned) rtnl_addr_get_prefixlen(a);
        return 1;
}

int link_is_wireless(const char *name) {
        _cleanup_free_ char *w = NULL, *phy = NULL;

        if (!ifname_valid(name))
                return -EINVAL;
        w = xasprintf("/sys/class/net/%s/wireless", name);
        phy = xasprintf("/sys/class/net/%s/phy80211", name);
        return access(w, F_OK) == 0 || access(phy, F_OK) == 0;
}
