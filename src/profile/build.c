/* struct profile from the parsed sections: every section's values checked
 * (values.h), cross references resolved, each boot entry handed to its
 * kind. See build.h. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/names.h"
#include "basic/rules.h"
#include "basic/uefiloader.h"
#include "host/ovsdb.h"
#include "profile/build.h"
#include "profile/kind.h"
#include "profile/problems.h"
#include "profile/syntax.h"
#include "profile/types.h"
#include "profile/secboot.h"
#include "profile/values.h"
#include "basic/util.h"

struct subnet {
        bool valid;
        uint32_t addr, net, bcast;
        unsigned prefix;
        char *cidr;             /* "10.33.0.0/24" */
};

struct builder {
        struct parse_ctx *ctx;
        struct profile *p;
        cfg_t *root;
        struct subnet subnet;
        bool range_valid;
        uint32_t range_start, range_end;
        unsigned range_line;
        const char **boot_index;        /* the boot names, sorted (boot_exists) */
        const struct profile_kind *const *kinds;
};

/* What a kind's build() gets: the entry's section. */
struct entry_builder {
        struct builder *b;
        const struct sec *s;
        const struct boot_entry *e;
};

/* Refuses the OVS-only OPTS set in S. */
static void refuse_ovs_opts(struct parse_ctx *ctx, const struct sec *s, const char *const *opts) {
        for (size_t i = 0; opts[i]; i++) {
                if (cfg_size(s->cfg, opts[i]) == 0)
                        continue;
                _cleanup_opt_ struct opt o = opt_get(ctx, s, opts[i]);
                problem_add(&ctx->problems, o.line, o.field, "only valid with type = \"ovs\"");
        }
}

static char *file_stem(const char *path) {
        const char *b = strrchr(path, '/');
        char *stem = xstrdup(b ? b + 1 : path), *dot = strrchr(stem, '.');
        if (dot && dot != stem)
                *dot = 0;
        return stem;
}

static void build_root(struct builder *b) {
        struct parse_ctx *ctx = b->ctx;
        struct sec root = { .cfg = b->root, .line = 1, .field = NULL };
        _cleanup_opt_ struct opt lab = opt_get(ctx, &root, "lab");
        _cleanup_opt_ struct opt templates = opt_get(ctx, &root, "templates");
        _cleanup_opt_ struct opt wimboot = opt_get(ctx, &root, "wimboot");
        _cleanup_opt_ struct opt loader = opt_get(ctx, &root, "uefi_loader");
        _cleanup_opt_ struct opt shim = opt_get(ctx, &root, "shim");

        b->p->uefi_loader = xstrdup(loader.value && check_choice(ctx, &loader, loader.value, uefi_loader_names) >= 0
                                            ? loader.value : "ipxe");
        if (shim.value)
                b->p->shim = check_path(ctx, &shim, shim.value, b->p->dir);
        if (lab.value) {
                if (lab_name_valid(lab.value))
                        b->p->lab = xstrdup(lab.value);
                else
                        problem_value(&ctx->problems, lab.line, "lab", lab.value, "is not a valid lab name (%s)",
                                      LAB_NAME_RULE);
        } else {
                _cleanup_free_ char *stem = file_stem(ctx->problems.path);
                if (lab_name_valid(stem))
                        b->p->lab = TAKE_PTR(stem);
                else {
                        _cleanup_free_ char *shown = show(&ctx->problems, stem);
                        problem_add(&ctx->problems, 1, "lab",
                                    "the file name gives '%s', which is not a valid lab name (%s); "
                                    "set lab = \"NAME\" in the profile", shown, LAB_NAME_RULE);
                }
        }
        if (templates.value)
                b->p->templates = check_path(ctx, &templates, templates.value, b->p->dir);
        if (wimboot.value)
                b->p->wimboot = check_path(ctx, &wimboot, wimboot.value, b->p->dir);
}

/* The first bridge/dhcp/menu section (on_section_open() reports others). */
static cfg_t *single_section(struct builder *b, const char *name) {
        return cfg_size(b->root, name) > 0 ? cfg_getnsec(b->root, name, 0) : NULL;
}

static void build_address(struct builder *b, const struct opt *o) {
        struct parse_ctx *ctx = b->ctx;
        struct subnet *sn = &b->subnet;
        unsigned prefix = 0;

        if (!o->value) {
                problem_add(&ctx->problems, o->line, o->field,
                            "not set; give the lab's own address and prefix, e.g. address = \"10.33.0.1/24\"");
                return;
        }
        switch (rule_lab_address_parse(o->value, &sn->addr, &prefix)) {
        case ADDRESS_OK:
                break;
        case ADDRESS_MALFORMED:
                problem_value(&ctx->problems, o->line, o->field, o->value, "is not an IPv4 address with a prefix length");
                return;
        case ADDRESS_PREFIX:
                problem_value(&ctx->problems, o->line, o->field, o->value,
                              "has prefix length %u; it must be between %u and %u", prefix, RULE_PREFIX_MIN,
                              RULE_PREFIX_MAX);
                return;
        }
        sn->prefix = prefix;
        sn->net = sn->addr & rule_netmask(prefix);
        sn->bcast = sn->net | ~rule_netmask(prefix);
        if (sn->addr == sn->net || sn->addr == sn->bcast) {
                _cleanup_free_ char *example = ipv4_str(sn->net + 1);
                problem_value(&ctx->problems, o->line, o->field, o->value,
                              "is the %s address of its subnet; use a host address such as %s/%u",
                              sn->addr == sn->net ? "network" : "broadcast", example, prefix);
                return;
        }
        _cleanup_free_ char *net = ipv4_str(sn->net);
        sn->cidr = xasprintf("%s/%u", net, prefix);
        sn->valid = true;
        b->p->bridge.address = xstrdup(o->value);
        b->p->bridge.addr.s_addr = htonl(sn->addr);
        b->p->bridge.prefix = prefix;
}

/* "PORT/tcp" or "PORT/udp", PORT 1..65535 in decimal without leading zeros. */
static bool parse_host_port(const char *s, struct host_port *ret) {
        size_t digits = strspn(s, "0123456789");
        unsigned long port = 0;

        if (digits == 0 || digits > 5 || s[0] == '0' || s[digits] != '/')
                return false;
        for (size_t i = 0; i < digits; i++)
                port = port * 10 + (unsigned long) (s[i] - '0');
        if (port > 65535 || (!streq(s + digits + 1, "tcp") && !streq(s + digits + 1, "udp")))
                return false;
        *ret = (struct host_port) { .port = (uint16_t) port, .udp = streq(s + digits + 1, "udp") };
        return true;
}

/* bridge.allow_host_ports: host ports the lab may reach besides its own
 * services (the nftables table drops the rest). */
static void build_host_ports(struct builder *b, const struct sec *s) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        unsigned n = s->cfg ? cfg_size(s->cfg, "allow_host_ports") : 0;

        if (n == 0)
                return;
        _cleanup_opt_ struct opt list = opt_get(ctx, s, "allow_host_ports");
        _cleanup_free_ unsigned *lines = xcalloc(n, sizeof(unsigned));
        struct host_port *v = p->bridge.allow_host_ports = xcalloc(n, sizeof(struct host_port));
        size_t *m = &p->bridge.n_allow_host_ports;

        for (unsigned i = 0; i < n; i++) {
                const char *value = cfg_getnstr(s->cfg, "allow_host_ports", i);
                unsigned line = item_line(ctx, s, "allow_host_ports", i, list.line);
                struct host_port hp;
                size_t j;

                if (!parse_host_port(value, &hp)) {
                        problem_value(&ctx->problems, line, list.field, value,
                                      "is not PORT/tcp or PORT/udp (PORT 1-65535)");
                        continue;
                }
                for (j = 0; j < *m && (v[j].port != hp.port || v[j].udp != hp.udp); j++)
                        ;
                if (j < *m) {
                        problem_value(&ctx->problems, line, list.field, value,
                                      "is listed twice (first on line %u)", lines[j]);
                        continue;
                }
                lines[*m] = line;
                v[(*m)++] = hp;
        }
}

/* bridge.ports: real interfaces joined to the lab's bridge. Only the names
 * are checked here; what the host makes of them (exists, in use, wireless)
 * is `up`'s preflight (lab/ports.c). */
static void build_ports(struct builder *b, const struct sec *s, const char *bridge_name) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        unsigned n = s->cfg ? cfg_size(s->cfg, "ports") : 0;
        size_t m = 0;

        p->bridge.ports = xcalloc(n + 1, sizeof(char *));
        if (n == 0)
                return;
        _cleanup_opt_ struct opt list = opt_get(ctx, s, "ports");
        _cleanup_free_ unsigned *lines = xcalloc(n, sizeof(unsigned));

        for (unsigned i = 0; i < n; i++) {
                const char *value = cfg_getnstr(s->cfg, "ports", i);
                unsigned line = item_line(ctx, s, "ports", i, list.line);
                size_t j;

                if (!ifname_valid(value)) {
                        problem_value(&ctx->problems, line, list.field, value,
                                      "is not a valid interface name (1-%d characters from A-Z a-z 0-9 _ . -, not . or ..)",
                                      MAX_IFNAME);
                        continue;
                }
                if (streq(value, p->bridge.name) || streq(value, bridge_name)) {
                        problem_value(&ctx->problems, line, list.field, value, "is the lab's bridge itself");
                        continue;
                }
                if (streq(value, p->bridge.uplink)) {
                        problem_value(&ctx->problems, line, list.field, value,
                                      "is the lab's uplink; a port joins the lab's own network");
                        continue;
                }
                for (j = 0; j < m && !streq(p->bridge.ports[j], value); j++)
                        ;
                if (j < m) {
                        problem_value(&ctx->problems, line, list.field, value, "is listed twice (first on line %u)",
                                      lines[j]);
                        continue;
                }
                lines[m] = line;
                p->bridge.ports[m++] = xstrdup(value);
        }
}

static void build_bridge(struct builder *b) {
        static const char *const types[] = { "linux", "ovs", NULL };
        static const char *const existing[] = { "refuse", "use", NULL };
        static const char *const datapaths[] = { "system", "netdev", NULL };
        static const char *const ovs_only[] = { "ovsdb", "existing", "datapath_type", NULL };
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "bridge"), "bridge");
        _cleanup_opt_ struct opt name = opt_get(ctx, &s, "name");
        _cleanup_opt_ struct opt type = opt_get(ctx, &s, "type");
        _cleanup_opt_ struct opt address = opt_get(ctx, &s, "address");
        _cleanup_opt_ struct opt uplink = opt_get(ctx, &s, "uplink");
        _cleanup_opt_ struct opt ovsdb = opt_get(ctx, &s, "ovsdb");
        _cleanup_opt_ struct opt exist = opt_get(ctx, &s, "existing");
        _cleanup_opt_ struct opt dp = opt_get(ctx, &s, "datapath_type");

        if (name.value) {
                if (ifname_valid(name.value))
                        p->bridge.name = xstrdup(name.value);
                else if (strlen(name.value) > MAX_IFNAME && strspn(name.value,
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(name.value))
                        problem_value(&ctx->problems, name.line, name.field, name.value,
                                      "is too long for an interface name (%zu characters, at most %d)",
                                      strlen(name.value), MAX_IFNAME);
                else
                        problem_value(&ctx->problems, name.line, name.field, name.value,
                                      "is not a valid interface name (1-%d characters from A-Z a-z 0-9 _ . -, not . or ..)",
                                      MAX_IFNAME);
        } else if (p->lab)
                p->bridge.name = lab_bridge_name(p->lab);

        p->bridge.type = xstrdup("linux");
        if (type.value && check_choice(ctx, &type, type.value, types) >= 0) {
                free(p->bridge.type);
                p->bridge.type = xstrdup(type.value);
        }

        build_address(b, &address);

        p->bridge.uplink = xstrdup("auto");
        if (uplink.value) {
                if (!streq(uplink.value, "auto") && !streq(uplink.value, "none") && !ifname_valid(uplink.value))
                        problem_value(&ctx->problems, uplink.line, uplink.field, uplink.value,
                                      "is not auto, none or a valid interface name");
                else if (streq(uplink.value, p->bridge.name) || streq(uplink.value, name.value))
                        problem_value(&ctx->problems, uplink.line, uplink.field, uplink.value,
                                      "is the lab's bridge itself; name the interface that leads out");
                else {
                        free(p->bridge.uplink);
                        p->bridge.uplink = xstrdup(uplink.value);
                }
        }

        p->bridge.ipv6 = s.cfg && cfg_size(s.cfg, "ipv6") > 0 ? cfg_getbool(s.cfg, "ipv6") : true;
        build_host_ports(b, &s);
        build_ports(b, &s, name.value);

        p->bridge.ovsdb = xstrdup(OVSDB_DEFAULT_SOCKET);
        p->bridge.existing = xstrdup("refuse");
        p->bridge.datapath_type = xstrdup("system");
        if (s.cfg && !streq(p->bridge.type, "ovs")) {
                if (!type.value || streq(type.value, "linux"))
                        refuse_ovs_opts(ctx, &s, ovs_only);
                return;
        }
        if (ovsdb.value) {
                char *r = check_path(ctx, &ovsdb, ovsdb.value, p->dir);
                if (r) {
                        free(p->bridge.ovsdb);
                        p->bridge.ovsdb = r;
                }
        }
        if (exist.value && check_choice(ctx, &exist, exist.value, existing) >= 0) {
                free(p->bridge.existing);
                p->bridge.existing = xstrdup(exist.value);
        }
        if (dp.value && check_choice(ctx, &dp, dp.value, datapaths) >= 0) {
                free(p->bridge.datapath_type);
                p->bridge.datapath_type = xstrdup(dp.value);
        }
}

/* Whether A is a usable address in the lab's subnet; reports otherwise. */
static bool check_in_subnet(struct builder *b, const struct opt *o, const char *value, uint32_t a) {
        struct subnet *sn = &b->subnet;
        if ((a & rule_netmask(sn->prefix)) != sn->net) {
                problem_value(&b->ctx->problems, o->line, o->field, value, "is outside the lab subnet %s", sn->cidr);
                return false;
        }
        if (a == sn->net || a == sn->bcast) {
                problem_value(&b->ctx->problems, o->line, o->field, value, "is the %s address of %s",
                              a == sn->net ? "network" : "broadcast", sn->cidr);
                return false;
        }
        return true;
}

/* .100-.200 of the subnet when that fits beside the lab's own address,
 * else the larger free part of the upper half. */
static bool derive_range(const struct subnet *sn, uint32_t *start, uint32_t *end) {
        uint32_t size = sn->bcast - sn->net + 1, own = sn->addr - sn->net, lo, hi;
        if (size > 201 && (own < 100 || own > 200)) {
                *start = sn->net + 100;
                *end = sn->net + 200;
                return true;
        }
        lo = size / 2;
        hi = size - 2;
        if (own >= lo && own <= hi) {
                if (own - lo >= hi - own) {
                        if (own == lo)
                                return false;
                        hi = own - 1;
                } else
                        lo = own + 1;
        }
        if (lo > hi)
                return false;
        *start = sn->net + lo;
        *end = sn->net + hi;
        return true;
}

/* Proxy DHCP: no bridge, no addresses handed out. The lab serves on
 * dhcp.interface, whose address `check`, `up` and `render` read and set
 * (profile_set_address()); the parser stays pure. */
static bool dhcp_proxy_mode(struct builder *b) {
        cfg_t *d = single_section(b, "dhcp");
        const char *mode = d ? cfg_getstr(d, "mode") : NULL;
        return mode && streq(mode, "proxy");
}

/* What proxy mode has no use for: KEYS of section S, each reported where it is. */
static void refuse_in_proxy(struct parse_ctx *ctx, struct sec *s, const char *const *keys, const char *why) {
        for (const char *const *k = keys; *k; k++) {
                _cleanup_opt_ struct opt o = opt_get(ctx, s, *k);
                if (o.value || (s->cfg && cfg_size(s->cfg, *k) > 0))
                        problem_add(&ctx->problems, o.line, o.field, "not used with dhcp.mode = \"proxy\": %s", why);
        }
}

static void build_proxy(struct builder *b) {
        static const char *const server_only[] = { "range", "lease", NULL };
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "dhcp"), "dhcp");
        _cleanup_opt_ struct opt iface = opt_get(ctx, &s, "interface");
        cfg_t *bridge = single_section(b, "bridge");

        p->dhcp.mode = xstrdup("proxy");
        p->dhcp.proxy = true;
        p->dhcp.lease = xstrdup("");
        p->dhcp.probe = cfg_size(s.cfg, "probe") > 0 ? cfg_getbool(s.cfg, "probe") : true;
        refuse_in_proxy(ctx, &s, server_only, "the LAN's DHCP server hands out the addresses");
        if (bridge) {
                _cleanup_sec_ struct sec bs = {};
                sec_init(&bs, bridge, "bridge");
                problem_add(&ctx->problems, bs.line, "bridge",
                            "not used with dhcp.mode = \"proxy\": no bridge is made, the lab serves on dhcp.interface");
        }
        if (!iface.value)
                problem_add(&ctx->problems, iface.line, iface.field,
                            "not set; name the interface on the LAN whose DHCP server proxy DHCP joins, e.g. interface = \"eth0\"");
        else if (!ifname_valid(iface.value))
                problem_value(&ctx->problems, iface.line, iface.field, iface.value,
                              "is not a valid interface name (1-%d characters from A-Z a-z 0-9 _ . -, not . or ..)",
                              MAX_IFNAME);
        else
                p->dhcp.interface = xstrdup(iface.value);

        /* The bridge members the rest of pxelab reads: the interface, no
         * uplink (no NAT), no IPv6 RAs (the LAN's routers are not ours). */
        p->bridge.name = xstrdup(p->dhcp.interface ? p->dhcp.interface : "");
        p->bridge.type = xstrdup("linux");
        p->bridge.uplink = xstrdup("none");
        p->bridge.ipv6 = false;
        p->bridge.ports = xcalloc(1, sizeof(char *));
        p->bridge.ovsdb = xstrdup(OVSDB_DEFAULT_SOCKET);
        p->bridge.existing = xstrdup("refuse");
        p->bridge.datapath_type = xstrdup("system");
}

static void build_dhcp(struct builder *b) {
        static const char *const modes[] = { "server", "proxy", NULL };
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        struct subnet *sn = &b->subnet;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "dhcp"), "dhcp");
        _cleanup_opt_ struct opt mode = opt_get(ctx, &s, "mode");
        _cleanup_opt_ struct opt lease = opt_get(ctx, &s, "lease");
        _cleanup_opt_ struct opt range = opt_get(ctx, &s, "range");
        unsigned n_range = s.cfg ? cfg_size(s.cfg, "range") : 0;

        _cleanup_opt_ struct opt iface = opt_get(ctx, &s, "interface");

        p->dhcp.mode = xstrdup("server");
        if (mode.value && check_choice(ctx, &mode, mode.value, modes) >= 0) {
                free(p->dhcp.mode);
                p->dhcp.mode = xstrdup(mode.value);
        }
        if (iface.value)
                problem_value(&ctx->problems, iface.line, iface.field, iface.value,
                              "is for dhcp.mode = \"proxy\"; a server lab serves on its bridge");
        p->dhcp.probe = s.cfg && cfg_size(s.cfg, "probe") > 0 ? cfg_getbool(s.cfg, "probe") : true;
        p->dhcp.lease = xstrdup("12h");
        if (lease.value && check_lease(ctx, &lease)) {
                free(p->dhcp.lease);
                p->dhcp.lease = xstrdup(lease.value);
        }

        /* without a range of its own the section's line stands for it, or
         * the address it is derived from */
        if (!s.cfg)
                range.line = field_line(ctx, "bridge.address", 1);
        b->range_line = range.line;

        if (n_range == 0) {
                if (!sn->valid)
                        return;
                if (!derive_range(sn, &b->range_start, &b->range_end)) {
                        problem_add(&ctx->problems, range.line, range.field,
                                    "no room for a DHCP range in %s beside the lab's own address; set range = {\"START\", \"END\"}",
                                    sn->cidr);
                        return;
                }
                b->range_valid = true;
        } else if (n_range != 2) {
                problem_add(&ctx->problems, range.line, range.field,
                            "needs exactly 2 addresses {\"START\", \"END\"}, got %u", n_range);
                return;
        } else {
                const char *v[2] = { cfg_getnstr(s.cfg, "range", 0), cfg_getnstr(s.cfg, "range", 1) };
                uint32_t a[2];
                bool ok = true;
                for (unsigned i = 0; i < 2; i++) {
                        struct opt item = range;
                        item.line = item_line(ctx, &s, "range", i, range.line);
                        if (!parse_ipv4(v[i], &a[i])) {
                                problem_value(&ctx->problems, item.line, item.field, v[i], "is not an IPv4 address");
                                ok = false;
                        } else if (sn->valid && !check_in_subnet(b, &item, v[i], a[i]))
                                ok = false;
                }
                if (!ok)
                        return;
                if (a[0] > a[1]) {
                        _cleanup_free_ char *e = show(&ctx->problems, v[1]);
                        problem_value(&ctx->problems, range.line, range.field, v[0], "comes after '%s'; give the start first", e);
                        return;
                }
                if (!sn->valid)
                        return;
                if (sn->addr >= a[0] && sn->addr <= a[1]) {
                        _cleanup_free_ char *e = show(&ctx->problems, v[1]), *own = ipv4_str(sn->addr);
                        problem_value(&ctx->problems, range.line, range.field, v[0],
                                      "to '%s' contains the lab's own address %s", e, own);
                        return;
                }
                b->range_start = a[0];
                b->range_end = a[1];
                b->range_valid = true;
        }
        p->dhcp.range_start.s_addr = htonl(b->range_start);
        p->dhcp.range_end.s_addr = htonl(b->range_end);
}

static void build_menu(struct builder *b) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "menu"), "menu");
        _cleanup_opt_ struct opt title = opt_get(ctx, &s, "title");
        _cleanup_opt_ struct opt timeout = opt_get(ctx, &s, "timeout");

        if (title.value) {
                if (check_text(ctx, &title, title.value, CS_TITLE, MAX_STRING))
                        p->menu.title = xstrdup(title.value);
        } else
                p->menu.title = xasprintf("pxelab %s", p->lab ? p->lab : "");

        p->menu.timeout = 5;
        if (s.cfg && cfg_size(s.cfg, "timeout") > 0) {
                long t = cfg_getint(s.cfg, "timeout");
                if (t == LONG_MIN)
                        ;       /* reported by parse_number() */
                else if (t < 0 || t > 3600)
                        problem_add(&ctx->problems, timeout.line, timeout.field,
                                    "'%ld' is out of range (0..3600 seconds)", t);
                else
                        p->menu.timeout = t;
        }
        /* menu.default is checked once the boot entries are known */
}

/* Whether kind K takes KEY (besides title and kind). */
static bool kind_takes(const struct profile_kind *k, const char *key) {
        for (const struct kind_key *kk = k->keys; kk && kk->name; kk++)
                if (streq(kk->name, key))
                        return true;
        return false;
}

/* ---- what a kind's build() calls (build.h) ------------------------------- */

const char *entry_value(struct entry_builder *eb, const char *key) {
        _cleanup_opt_ struct opt o = opt_get(eb->b->ctx, eb->s, key);
        return o.value;
}

void entry_problem(struct entry_builder *eb, const char *key, const char *fmt, ...) {
        _cleanup_opt_ struct opt o = opt_get(eb->b->ctx, eb->s, key);
        va_list ap;
        va_start(ap, fmt);
        problem_addv(&eb->b->ctx->problems, o.line, o.field, fmt, ap);
        va_end(ap);
}

void entry_problem_value(struct entry_builder *eb, const char *key, const char *fmt, ...) {
        _cleanup_opt_ struct opt o = opt_get(eb->b->ctx, eb->s, key);
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        problem_value(&eb->b->ctx->problems, o.line, o.field, o.value ? o.value : "", "%s", msg);
}

bool entry_text_valid(struct entry_builder *eb, const char *key, enum charset cs) {
        _cleanup_opt_ struct opt o = opt_get(eb->b->ctx, eb->s, key);
        return o.value && check_text(eb->b->ctx, &o, o.value, cs, MAX_STRING);
}

char *entry_path(struct entry_builder *eb, const char *key, bool required) {
        struct builder *b = eb->b;
        _cleanup_opt_ struct opt o = opt_get(b->ctx, eb->s, key);
        if (!o.value) {
                if (required)
                        problem_add(&b->ctx->problems, o.line, o.field, "not set (required for kind '%s')",
                                    eb->e->kind->name);
                return NULL;
        }
        return check_path(b->ctx, &o, o.value, b->p->dir);
}

char *entry_served_name(struct entry_builder *eb, const char *key, const char *path) {
        _cleanup_opt_ struct opt o = opt_get(eb->b->ctx, eb->s, key);
        return served_name(eb->b->ctx, &o, o.value, path);
}

/* Each path with its served_name() in *RET_NAMES; the names must differ. */
char **entry_path_list(struct entry_builder *eb, const char *key, char ***ret_names, size_t *ret_n) {
        struct builder *b = eb->b;
        const struct sec *s = eb->s;
        struct parse_ctx *ctx = b->ctx;
        _cleanup_opt_ struct opt o = opt_get(ctx, s, key);
        unsigned n = cfg_size(s->cfg, key);
        char **v = xcalloc(n + 1, sizeof(char *)), **names = xcalloc(n + 1, sizeof(char *));
        size_t k = 0;
        for (unsigned i = 0; i < n; i++) {
                struct opt item = o;
                const char *value = cfg_getnstr(s->cfg, key, i);
                _cleanup_free_ char *r = NULL, *served = NULL;
                bool clash = false;
                item.line = item_line(ctx, s, key, i, o.line);
                r = check_path(ctx, &item, value, b->p->dir);
                if (!r || !(served = served_name(ctx, &item, value, r)))
                        continue;
                for (size_t j = 0; j < k && !clash; j++)
                        clash = streq(names[j], served);
                if (clash) {
                        problem_value(&ctx->problems, item.line, item.field, value,
                                      "has the same base name as another %s of this entry; they are served by name",
                                      key);
                        continue;
                }
                v[k] = TAKE_PTR(r);
                names[k++] = TAKE_PTR(served);
        }
        *ret_names = names;
        *ret_n = k;
        return v;
}

char *entry_text(struct entry_builder *eb, const char *key, enum charset cs) {
        _cleanup_opt_ struct opt o = opt_get(eb->b->ctx, eb->s, key);
        if (!o.value || !*o.value)
                return NULL;
        return check_text(eb->b->ctx, &o, o.value, cs, MAX_STRING) ? xstrdup(o.value) : NULL;
}

/* entry > global `wimboot` > $PXELAB_WIMBOOT */
char *entry_wimboot(struct entry_builder *eb) {
        struct builder *b = eb->b;
        const struct sec *s = eb->s;
        struct parse_ctx *ctx = b->ctx;
        const char *env;
        _cleanup_opt_ struct opt o = opt_get(ctx, s, "wimboot");
        if (o.value)
                return check_path(ctx, &o, o.value, b->p->dir);
        if (b->p->wimboot)
                return xstrdup(b->p->wimboot);
        if (cfg_size(b->root, "wimboot") > 0)
                return NULL;    /* set but bad: reported already */
        env = getenv("PXELAB_WIMBOOT");
        if (env && *env) {
                struct opt e = { .line = s->line, .field = "PXELAB_WIMBOOT" };
                _cleanup_free_ char *cwd = get_current_dir_name();
                char *r = check_path(ctx, &e, env, cwd ? cwd : "/");
                if (r)
                        fieldmap_set(ctx->fields, "PXELAB_WIMBOOT", 0, env);
                return r;
        }
        problem_add(&ctx->problems, o.line, o.field,
                    "wimboot is not packaged by Debian; download wimboot from the iPXE project's releases "
                    "(https://github.com/ipxe/wimboot/releases) and set wimboot = \"PATH\" or PXELAB_WIMBOOT");
        return NULL;
}

/* ---- boot entries ---------------------------------------------------------- */

/* "linux, chain, ..." of the kinds, and their names NULL-terminated. */
static const char **kind_names(const struct profile_kind *const *kinds, char *list, size_t n) {
        size_t k = 0;
        const char **v;
        while (kinds[k])
                k++;
        v = xcalloc(k + 1, sizeof(char *));
        list[0] = 0;
        for (size_t i = 0; i < k; i++) {
                v[i] = kinds[i]->name;
                snprintf(list + strlen(list), n - strlen(list), "%s%s", i ? ", " : "", kinds[i]->name);
        }
        return v;
}

static void build_boot(struct builder *b, cfg_t *cfg, struct boot_entry *e) {
        struct parse_ctx *ctx = b->ctx;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, cfg, "boot");
        _cleanup_opt_ struct opt kind = opt_get(ctx, &s, "kind");
        _cleanup_opt_ struct opt title = opt_get(ctx, &s, "title");
        char list[256];
        _cleanup_free_ const char **names = kind_names(b->kinds, list, sizeof(list));
        const struct profile_kind *k;
        int i;

        e->name = xstrdup(cfg_title(cfg));
        e->line = s.line;
        if (!rule_name_valid(e->name))
                problem_value(&ctx->problems, s.line, "boot", e->name,
                              "is not a valid name (%s)", RULE_NAME_RULE);

        if (title.value) {
                if (check_text(ctx, &title, title.value, CS_TITLE, MAX_STRING))
                        e->title = xstrdup(title.value);
        } else
                e->title = xstrdup(e->name);

        if (!kind.value) {
                problem_add(&ctx->problems, kind.line, kind.field, "not set (one of: %s)", list);
                return;
        }
        i = check_choice(ctx, &kind, kind.value, names);
        if (i < 0)
                return;
        k = e->kind = b->kinds[i];

        /* another kind's key (every key of the section but title, kind) */
        for (cfg_opt_t *o = cfg->opts; o->name; o++) {
                if (streq(o->name, "title") || streq(o->name, "kind") || streq(o->name, LINE_OPT) ||
                    cfg_size(cfg, o->name) == 0 || kind_takes(k, o->name))
                        continue;
                _cleanup_opt_ struct opt other = opt_get(ctx, &s, o->name);
                problem_add(&ctx->problems, other.line, other.field, "not valid for kind '%s'", kind.value);
        }

        if (k->build) {
                struct entry_builder eb = { .b = b, .s = &s, .e = e };
                k->build(&eb, e);
        }
}

/* A MAC or IP address in use, for the uniqueness checks (MACs across hosts
 * and VMs). */
struct use {
        char *key;              /* normalised */
        const char *value;      /* as written */
        unsigned line;
        size_t order;
        char *field;            /* "host.vm1.mac" */
        char *owner;            /* "host.vm1" */
};

struct uses {
        struct use *v;
        size_t n;
};

static void uses_add(struct uses *u, const char *key, const struct opt *o, const char *owner) {
        u->v = xrealloc(u->v, (u->n + 1) * sizeof(*u->v));
        u->v[u->n] = (struct use) { xstrdup(key), o->value, o->line, u->n, xstrdup(o->field), xstrdup(owner) };
        u->n++;
}

static int use_cmp(const void *a, const void *b) {
        const struct use *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Orders indexes into a struct uses by key, then by position (the uses
 * are sorted by line already): the first of a run of equal keys is the
 * earliest use. qsort_r: the comparison needs the array. */
static int use_key_cmp(const void *a, const void *b, void *userdata) {
        const struct use *v = userdata;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        int c = strcmp(v[x].key, v[y].key);
        return c ? c : x < y ? -1 : x > y;
}

/* Reports every use of a value that an earlier line already used, naming
 * the earliest: sorted, O(n log n). */
static void uses_check(struct parse_ctx *ctx, struct uses *u) {
        _cleanup_free_ size_t *by_key = xcalloc(u->n + 1, sizeof(size_t));
        _cleanup_free_ size_t *first = xcalloc(u->n + 1, sizeof(size_t));

        if (u->n > 1)
                qsort(u->v, u->n, sizeof(*u->v), use_cmp);
        for (size_t i = 0; i < u->n; i++)
                by_key[i] = i;
        if (u->n > 1)
                qsort_r(by_key, u->n, sizeof(*by_key), use_key_cmp, u->v);
        for (size_t i = 0, run = 0; i < u->n; i++) {
                if (i > 0 && !streq(u->v[by_key[i]].key, u->v[by_key[run]].key))
                        run = i;
                first[by_key[i]] = by_key[run];
        }
        /* in line order, as problems are found */
        for (size_t i = 0; i < u->n; i++)
                if (first[i] != i)
                        problem_value(&ctx->problems, u->v[i].line, u->v[i].field, u->v[i].value,
                                      "is already used by %s on line %u", u->v[first[i]].owner,
                                      u->v[first[i]].line);
        for (size_t i = 0; i < u->n; i++) {
                free(u->v[i].key);
                free(u->v[i].field);
                free(u->v[i].owner);
        }
        free(u->v);
}

/* Sorted once, so 10,000 hosts referring to entries cost O(n log n). */
static void boot_index_build(struct builder *b) {
        b->boot_index = xcalloc(b->p->n_boots + 1, sizeof(char *));
        for (size_t i = 0; i < b->p->n_boots; i++)
                b->boot_index[i] = b->p->boots[i].name;
        qsort(b->boot_index, b->p->n_boots, sizeof(char *), strcmp_ptr);
}

static bool boot_exists(const struct builder *b, const char *name) {
        return bsearch(&name, b->boot_index, b->p->n_boots, sizeof(char *), strcmp_ptr) != NULL;
}

static void check_boot_ref(struct builder *b, const struct opt *o) {
        char list[512] = "";
        if (boot_exists(b, o->value))
                return;
        /* the list is cut at the buffer's end: stop there */
        for (size_t i = 0; i < b->p->n_boots && strlen(list) + 1 < sizeof(list); i++) {
                _cleanup_free_ char *name = show(&b->ctx->problems, b->p->boots[i].name);
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", name);
        }
        problem_value(&b->ctx->problems, o->line, o->field, o->value, "is not a boot entry (known: %s)",
                      *list ? list : "none");
}

static void build_host(struct builder *b, cfg_t *cfg, struct host *h, struct uses *macs, struct uses *ips) {
        struct parse_ctx *ctx = b->ctx;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, cfg, "host");
        _cleanup_opt_ struct opt mac = opt_get(ctx, &s, "mac");
        _cleanup_opt_ struct opt ip = opt_get(ctx, &s, "ip");
        _cleanup_opt_ struct opt boot = opt_get(ctx, &s, "boot");
        _cleanup_opt_ struct opt loader = opt_get(ctx, &s, "uefi_loader");
        _cleanup_opt_ struct opt disk = opt_get(ctx, &s, "disk");
        uint32_t a;

        h->name = xstrdup(cfg_title(cfg));
        h->line = s.line;
        h->uefi_loader = xstrdup(loader.value && check_choice(ctx, &loader, loader.value, uefi_loader_names) >= 0
                                         ? loader.value : b->p->uefi_loader);
        if (!rule_name_valid(h->name))
                problem_value(&ctx->problems, s.line, "host", h->name,
                              "is not a valid name (%s)", RULE_NAME_RULE);
        if (!mac.value)
                problem_add(&ctx->problems, mac.line, mac.field, "not set; a host is known by its MAC address");
        else if ((h->mac = check_mac(ctx, &mac)))
                uses_add(macs, h->mac, &mac, s.field);

        if (ip.value && b->p->dhcp.proxy)
                problem_add(&ctx->problems, ip.line, ip.field,
                            "not used with dhcp.mode = \"proxy\": the LAN's DHCP server gives the addresses");
        else if (ip.value) {
                if (!parse_ipv4(ip.value, &a))
                        problem_value(&ctx->problems, ip.line, ip.field, ip.value, "is not an IPv4 address");
                else if (b->subnet.valid && check_in_subnet(b, &ip, ip.value, a)) {
                        if (a == b->subnet.addr)
                                problem_value(&ctx->problems, ip.line, ip.field, ip.value,
                                              "is the lab's own address (bridge.address)");
                        else if (b->range_valid && a >= b->range_start && a <= b->range_end) {
                                _cleanup_free_ char *rs = ipv4_str(b->range_start), *re = ipv4_str(b->range_end);
                                problem_value(&ctx->problems, ip.line, ip.field, ip.value,
                                              "is inside the DHCP range %s-%s", rs, re);
                        } else {
                                h->ip = ipv4_str(a);
                                uses_add(ips, h->ip, &ip, s.field);
                        }
                }
        }
        if (boot.value) {
                h->boot = xstrdup(boot.value);
                check_boot_ref(b, &boot);
        }
        /* Which entries take a host's disk is the kinds' business (iscsi.c). */
        if (disk.value)
                h->disk = check_path(ctx, &disk, disk.value, b->p->dir);
}

static void build_vm(struct builder *b, cfg_t *cfg, struct vm_decl *v, struct uses *macs) {
        static const char *const firmwares[] = { "bios", "uefi", "uefi-pxe", "uefi-secure", NULL };
        int fw;
        struct parse_ctx *ctx = b->ctx;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, cfg, "vm");
        _cleanup_opt_ struct opt firmware = opt_get(ctx, &s, "firmware");
        _cleanup_opt_ struct opt mac = opt_get(ctx, &s, "mac");
        _cleanup_opt_ struct opt memory = opt_get(ctx, &s, "memory");
        _cleanup_opt_ struct opt disk = opt_get(ctx, &s, "disk");

        v->name = xstrdup(cfg_title(cfg));
        v->line = s.line;
        if (!rule_name_valid(v->name))
                problem_value(&ctx->problems, s.line, "vm", v->name,
                              "is not a valid name (%s)", RULE_NAME_RULE);
        v->firmware = FIRMWARE_BIOS;
        /* check_choice() words the message; the firmware table decides */
        if (firmware.value && (fw = firmware_from_string(firmware.value)) >= 0)
                v->firmware = fw;
        else if (firmware.value)
                check_choice(ctx, &firmware, firmware.value, firmwares);
        if (mac.value && (v->mac = check_mac(ctx, &mac)))
                uses_add(macs, v->mac, &mac, s.field);

        v->memory = VM_MEMORY_DEFAULT;
        if (cfg_size(cfg, "memory") > 0) {
                long m = cfg_getint(cfg, "memory");
                if (m == LONG_MIN)
                        ;       /* reported by parse_number() */
                else if (!rule_memory_valid(m))
                        problem_add(&ctx->problems, memory.line, memory.field,
                                    "'%ld' is out of range (%d..%d MiB)", m, VM_MEMORY_MIN, VM_MEMORY_MAX);
                else
                        v->memory = m;
        }
        if (disk.value) {
                enum disk_form form = rule_disk_form(disk.value);
                if (form == DISK_EMPTY)
                        problem_value(&ctx->problems, disk.line, disk.field, disk.value, "is an empty disk");
                else if (form == DISK_SIZE)
                        v->disk = xstrdup(disk.value);
                else
                        v->disk = check_path(ctx, &disk, disk.value, b->p->dir);
        }
        v->autostart = cfg_size(cfg, "autostart") > 0 && cfg_getbool(cfg, "autostart");
}

/* Shim clients boot through Debian's network GRUB, which boots linux
 * entries only (secboot.h): there must be one. Shim's default path is
 * looked up here, so check, up and render all name the same file. */
static void build_secboot(struct builder *b) {
        struct profile *p = b->p;
        size_t i;

        if (!profile_uses_shim(p))
                return;
        /* Debian 12's GRUB takes its TFTP server from the DHCP server's
         * answer: behind proxy DHCP that is the LAN's server. */
        if (p->dhcp.proxy) {
                problem_add(&b->ctx->problems, field_line(b->ctx, "uefi_loader", 1), "uefi_loader",
                            "'shim' is not used with dhcp.mode = \"proxy\": Debian's network GRUB fetches its files "
                            "from the LAN's DHCP server, not from this lab");
                return;
        }
        for (i = 0; i < p->n_boots && !secboot_entry_boots(&p->boots[i]); i++)
                ;
        if (i == p->n_boots)
                problem_add(&b->ctx->problems, field_line(b->ctx, "uefi_loader", 1), "uefi_loader",
                            "'shim' clients boot through GRUB, which boots only 'linux' entries; add one");
        if (!p->shim)
                p->shim = secboot_default_shim();
        p->grub = xstrdup(SECBOOT_GRUB);
}

static void build_lists(struct builder *b) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        struct uses macs = {}, ips = {};
        unsigned n;

        n = cfg_size(b->root, "boot");
        p->boots = xcalloc(n, sizeof(*p->boots));
        for (unsigned i = 0; i < n; i++)
                build_boot(b, cfg_getnsec(b->root, "boot", i), &p->boots[p->n_boots++]);
        if (n == 0)
                problem_add(&ctx->problems, 1, "boot", "no boot entries; add at least one boot \"NAME\" { kind = ... }");
        boot_index_build(b);

        /* menu.default can be checked now */
        {
                _cleanup_sec_ struct sec s = {};
                sec_init(&s, single_section(b, "menu"), "menu");
                _cleanup_opt_ struct opt def = opt_get(ctx, &s, "default");
                if (def.value) {
                        p->menu.default_entry = xstrdup(def.value);
                        check_boot_ref(b, &def);
                } else if (p->n_boots > 0)
                        p->menu.default_entry = xstrdup(p->boots[0].name);
        }

        n = cfg_size(b->root, "host");
        p->hosts = xcalloc(n, sizeof(*p->hosts));
        for (unsigned i = 0; i < n; i++)
                build_host(b, cfg_getnsec(b->root, "host", i), &p->hosts[p->n_hosts++], &macs, &ips);

        n = cfg_size(b->root, "vm");
        if (n > 0 && p->dhcp.proxy) {
                _cleanup_sec_ struct sec vs = {};
                sec_init(&vs, cfg_getnsec(b->root, "vm", 0), "vm");
                problem_add(&ctx->problems, vs.line, "vm",
                            "not used with dhcp.mode = \"proxy\": pxelab's VMs join a lab's bridge, and a proxy lab has "
                            "none; boot the LAN's machines");
                n = 0;
        }
        p->vms = xcalloc(n, sizeof(*p->vms));
        for (unsigned i = 0; i < n; i++)
                build_vm(b, cfg_getnsec(b->root, "vm", i), &p->vms[p->n_vms++], &macs);

        uses_check(ctx, &macs);
        uses_check(ctx, &ips);
        build_secboot(b);
        free(b->boot_index);
        b->boot_index = NULL;
}


void build_profile(struct parse_ctx *ctx, cfg_t *root, const struct profile_kind *const *kinds, struct profile *p) {
        struct builder b = { .ctx = ctx, .p = p, .root = root, .kinds = kinds };

        syntax_enter(ctx);              /* show() of titles in field names */
        build_root(&b);
        if (dhcp_proxy_mode(&b))
                build_proxy(&b);
        else {
                build_bridge(&b);
                build_dhcp(&b);
        }
        build_menu(&b);
        build_lists(&b);
        syntax_leave();
        free(b.subnet.cidr);
}
