/* The lab's nftables table and IPv4 forwarding. See forward.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>

#include "basic/fault.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "basic/util.h"
#include "host/nft.h"
#include "host/sysctl.h"
#include "kinds/kind.h"
#include "kinds/iscsi.h"
#include "kinds/windows.h"
#include "lab/forward.h"

#define IP_FORWARD "net/ipv4/ip_forward"
/* The host's ip_forward before the first lab that needed it changed it. */
#define IP_FORWARD_SAVED PXELAB_RUN_ROOT "/ip_forward.saved"

/* What the host accepts from the lab's bridge: DHCP and DHCPv6 at any
 * address (broadcasts, multicasts), TFTP and HTTP at the lab's own. */
static const uint16_t lab_any_udp_ports[] = { 67, 547 };
static const uint16_t lab_udp_ports[] = { 69 };
static const uint16_t lab_tcp_ports[] = { 80 };
/* A proxy lab's: proxy DHCP on 67 and 4011 (where UEFI firmware asks its
 * boot server), at any address (broadcasts). */
static const uint16_t proxy_any_udp_ports[] = { 67, 4011 };

static int forwarding_on(struct lab_record *st) {
        _cleanup_free_ char *cur = NULL;
        int r;

        st->forwarding = true;
        r = lab_record_save(st);
        if (r < 0)
                return r;
        fault_point("forwarding-recorded");
        r = sysctl_read(IP_FORWARD, &cur);
        if (r < 0)
                return r == -ENOENT ? log_error_errno(r, "Failed to read %s", IP_FORWARD) : r;
        if (streq(cur, "1"))
                return 0;
        /* Remember the host's value once, for the last lab's `down`. */
        if (access(IP_FORWARD_SAVED, F_OK) < 0) {
                r = write_file_atomic(IP_FORWARD_SAVED, cur, strlen(cur), 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write '%s'", IP_FORWARD_SAVED);
        }
        return sysctl_write(IP_FORWARD, "1");
}

/* The ports of PROTO (udp or tcp) the lab's clients reach at its addresses:
 * its services', SMB for windows entries' Setup shares, and the profile's
 * allow_host_ports. Returns how many (duplicates are fine for nft). */
static size_t lab_ports(const struct profile *p, bool udp, uint16_t **ret) {
        const uint16_t *own = udp ? lab_udp_ports : lab_tcp_ports;
        size_t n_own = udp ? ELEMENTSOF(lab_udp_ports) : ELEMENTSOF(lab_tcp_ports), n = 0;
        uint16_t *v = xcalloc(n_own + 2 + p->bridge.n_allow_host_ports, sizeof(uint16_t));

        for (size_t i = 0; i < n_own; i++)
                v[n++] = own[i];
        if (!udp && kinds_need(p, "smbd"))
                v[n++] = WINDOWS_SMB_PORT;
        if (!udp && iscsi_lab_uses(p))
                v[n++] = ISCSI_PORT;
        for (size_t i = 0; i < p->bridge.n_allow_host_ports; i++)
                if (p->bridge.allow_host_ports[i].udp == udp)
                        v[n++] = p->bridge.allow_host_ports[i].port;
        *ret = v;
        return n;
}

int lab_forward_setup(const struct profile *p, json_t *model, const char *uplink, struct lab_record *st) {
        _cleanup_free_ char *table = lab_nft_table_name(p->lab);
        const char *ula = json_string_value(json_object_get(json_object_get(model, "bridge"), "ipv6_address"));
        struct in_addr mask = { .s_addr = htonl(rule_netmask(p->bridge.prefix)) };
        struct in6_addr addr6;
        _cleanup_free_ uint16_t *udp = NULL, *tcp = NULL;
        struct nft_lab cfg = {
                .table = table,
                .bridge = p->bridge.name,
                .uplink = uplink,
                .addr = p->bridge.addr,
                .net = { .s_addr = p->bridge.addr.s_addr & mask.s_addr },
                .prefix = p->bridge.prefix,
                .any_udp_ports = lab_any_udp_ports,
                .n_any_udp = ELEMENTSOF(lab_any_udp_ports),
                .proxy = p->dhcp.proxy,
        };
        int r;

        if (p->dhcp.proxy) {
                cfg.any_udp_ports = proxy_any_udp_ports;
                cfg.n_any_udp = ELEMENTSOF(proxy_any_udp_ports);
        }
        cfg.n_udp = lab_ports(p, true, &udp);
        cfg.udp_ports = udp;
        cfg.n_tcp = lab_ports(p, false, &tcp);
        cfg.tcp_ports = tcp;
        /* The model has one exactly when the bridge gets its ULA. */
        if (ula) {
                if (inet_pton(AF_INET6, ula, &addr6) != 1)
                        return log_error_errno(-EINVAL, "Failed to parse the lab's IPv6 address '%s'", ula);
                cfg.addr6 = &addr6;
        }

        st->has_nft = true;
        free(st->nft_table);
        st->nft_table = xstrdup(table);
        free(st->nft_uplink);
        st->nft_uplink = xstrdup(uplink);
        r = lab_record_save(st);
        if (r < 0)
                return r;
        fault_point("nft-recorded");
        r = nft_lab_apply(&cfg);
        if (r < 0)
                return r;
        fault_point("nft");
        if (uplink) {
                r = forwarding_on(st);
                fault_point("forwarding");
        }
        return r;
}

/* Does any lab other than SELF still need IPv4 forwarding? */
static bool forwarding_needed_elsewhere(const char *self) {
        _cleanup_strv_free_ char **labs = NULL;
        bool needed = false;
        state_list_labs(&labs);
        for (char **l = labs; l && *l && !needed; l++) {
                struct lab_record *st = NULL;
                if (streq(*l, self) || lab_record_load(*l, &st) < 0)
                        continue;
                needed = st->forwarding;
                lab_record_free(st);
        }
        return needed;
}

/* The temp file of an `up` killed while writing IP_FORWARD_SAVED. We hold
 * the lock: no live pxelab is writing it. */
static void forwarding_remove_stale_temp(void) {
        glob_t g = {};
        if (glob(IP_FORWARD_SAVED ".tmp.*", 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        (void) unlink(g.gl_pathv[i]);
        globfree(&g);
}

static int forwarding_restore(const char *lab) {
        _cleanup_free_ char *saved = NULL;
        int r;

        if (forwarding_needed_elsewhere(lab))
                return 0;
        forwarding_remove_stale_temp();
        r = read_file(IP_FORWARD_SAVED, &saved, NULL);
        if (r == -ENOENT)
                return 0;       /* it was on before any lab */
        if (r < 0)
                return log_error_errno(r, "Failed to read '%s'", IP_FORWARD_SAVED);
        r = sysctl_write(IP_FORWARD, saved);
        if (r < 0)
                return r;
        unlink(IP_FORWARD_SAVED);
        return 0;
}

int lab_forward_teardown(const struct lab_record *st) {
        _cleanup_free_ char *table = lab_nft_table_name(st->lab);
        int r, ret = 0;

        /* The derived name only: a record naming another table (Debian's
         * "inet filter") is never believed. */
        if (st->has_nft) {
                r = nft_lab_delete(table);
                if (r < 0)
                        ret = r;
        }
        if (st->forwarding) {
                r = forwarding_restore(st->lab);
                if (r < 0)
                        ret = r;
        }
        return ret;
}
