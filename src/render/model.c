#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>

#include "render/grub.h"
#include "render/model.h"
#include "basic/rules.h"
#include "basic/util.h"

static const char *ipstr(struct in_addr a, char buf[static INET_ADDRSTRLEN]) {
        return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

char *model_ula_prefix(const char *lab) {
        /* FNV-1a over the lab name gives a stable 40-bit global ID (RFC 4193
         * asks for a random one; stable per lab keeps re-renders identical). */
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *c = lab; *c; c++)
                h = (h ^ (unsigned char) *c) * 0x100000001b3ULL;
        return xasprintf("fd%02x:%04x:%04x::", (unsigned) (h >> 32) & 0xff,
                         (unsigned) (h >> 16) & 0xffff, (unsigned) h & 0xffff);
}

json_t *model_serve(json_t *files, const char *base, const char *entry, const char *path, const char *name) {
        _cleanup_free_ char *url_path = xasprintf("/files/%s/%s", entry, name), *real = realpath(path, NULL);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s+}", "name", name, "path", real ? real : path, "url_path", url_path,
                              "url", base, url_path);
        json_array_append_new(files, f);
        return f;       /* borrowed: FILES holds it */
}

static const struct render_kind *render_kind_of(const struct render_kind *const *kinds, const struct boot_entry *b) {
        for (size_t i = 0; kinds[i]; i++)
                if (streq(kinds[i]->name, b->kind->name))
                        return kinds[i];
        return NULL;
}

static const char *default_entry(const struct profile *p) {
        return p->menu.default_entry ? p->menu.default_entry : p->boots[0].name;
}

static json_t *boot_entry_json(const struct profile *p, const struct render_kind *const *kinds,
                               const struct boot_entry *b, json_t *files, const char *base, const char *run_dir) {
        const struct render_kind *k = render_kind_of(kinds, b);
        const struct model_entry me = { .p = p, .b = b, .run_dir = run_dir, .base = base, .files = files };
        json_t *o = json_object();

        /* the kind's own members first (kinds/KIND.c) */
        if (k && k->entry_model && k->entry_model(&me, o) < 0) {
                json_decref(o);
                return NULL;
        }
        json_object_set_new(o, "name", json_string(b->name));
        json_object_set_new(o, "title", json_string(b->title ? b->title : b->name));
        json_object_set_new(o, "kind", json_string(b->kind->name));
        json_object_set_new(o, "script", json_sprintf("boot/%s.ipxe", b->name));
        json_object_set_new(o, "script_url", json_sprintf("%s/boot/%s.ipxe", base, b->name));
        json_object_set_new(o, "is_default", json_boolean(streq(b->name, default_entry(p))));
        return o;
}

static json_t *hosts_json(const struct profile *p, json_t **ret_with_boot) {
        json_t *hosts = json_array(), *with_boot = json_array();

        for (size_t i = 0; i < p->n_hosts; i++) {
                const struct host *h = &p->hosts[i];
                _cleanup_free_ char *hyp = xstrdup(h->mac);
                for (char *c = hyp; *c; c++)
                        if (*c == ':')
                                *c = '-';
                json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", h->name, "mac", h->mac,
                                      "mac_hyphen", hyp, "has_ip", h->ip != NULL, "has_boot",
                                      h->boot != NULL);
                if (h->ip)
                        json_object_set_new(o, "ip", json_string(h->ip));
                if (h->boot) {
                        json_object_set_new(o, "boot", json_string(h->boot));
                        json_object_set_new(o, "script", json_sprintf("hosts/%s.ipxe", hyp));
                        json_array_append(with_boot, o);
                }
                json_array_append_new(hosts, o);
        }
        *ret_with_boot = with_boot;
        return hosts;
}

int model_build(const struct profile *p, const struct render_kind *const *kinds, const char *run_dir,
                const char *state_dir, json_t **ret) {
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        struct in_addr mask = { .s_addr = htonl(rule_netmask(p->bridge.prefix)) };
        struct in_addr net = { .s_addr = p->bridge.addr.s_addr & mask.s_addr };
        _cleanup_free_ char *base = xasprintf("http://%s", ipstr(p->bridge.addr, a));
        _cleanup_free_ char *ula = model_ula_prefix(p->lab);
        _cleanup_free_ char *http = path_join(run_dir, "http"), *tftp = path_join(run_dir, "tftp"),
                            *logd = path_join(run_dir, "log"), *leases = path_join(state_dir, "dnsmasq.leases");
        json_t *m, *files = json_array(), *boots = json_array(), *hosts, *with_boot;
        bool nat = !streq(p->bridge.uplink, "none");

        for (size_t i = 0; i < p->n_boots; i++) {
                json_t *e = boot_entry_json(p, kinds, &p->boots[i], files, base, run_dir);
                if (!e) {
                        json_decref(files);
                        json_decref(boots);
                        return -EINVAL;
                }
                json_array_append_new(boots, e);
        }
        hosts = hosts_json(p, &with_boot);

        m = json_object();
        json_object_set_new(m, "lab", json_string(p->lab));
        json_object_set_new(m, "version", json_string(PXELAB_VERSION));
        json_object_set_new(m, "profile", json_string(p->path));
        json_object_set_new(m, "dirs", json_pack("{s:s, s:s, s:s, s:s, s:s}", "run", run_dir, "state",
                                                 state_dir, "http", http, "tftp", tftp, "log", logd));
        json_object_set_new(m, "bridge", json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:b, s:b}",
                "name", p->bridge.name, "type", p->bridge.type, "address", a,
                "prefix", (int) p->bridge.prefix, "cidr", p->bridge.address,
                "netmask", ipstr(mask, b), "network", "", "uplink", p->bridge.uplink,
                "nat", nat, "ipv6", p->bridge.ipv6));
        json_object_set_new(json_object_get(m, "bridge"), "network",
                            json_sprintf("%s/%u", ipstr(net, b), p->bridge.prefix));
        json_object_set_new(json_object_get(m, "bridge"), "network_address", json_string(ipstr(net, b)));
        if (p->bridge.ipv6) {
                json_object_set_new(json_object_get(m, "bridge"), "ipv6_address", json_sprintf("%s1", ula));
                json_object_set_new(json_object_get(m, "bridge"), "ipv6_cidr", json_sprintf("%s1/64", ula));
        }
        json_object_set_new(m, "dhcp", json_pack("{s:s, s:b, s:s, s:s, s:s, s:s}",
                "mode", p->dhcp.mode, "server", streq(p->dhcp.mode, "server"),
                "range_start", ipstr(p->dhcp.range_start, a),
                "range_end", "", "lease", p->dhcp.lease, "leasefile", leases));
        json_object_set_new(json_object_get(m, "dhcp"), "proxy", json_boolean(p->dhcp.proxy));
        json_object_set_new(json_object_get(m, "dhcp"), "interface",
                            json_string(p->dhcp.interface ? p->dhcp.interface : ""));
        json_object_set_new(json_object_get(m, "dhcp"), "range_end",
                            json_string(ipstr(p->dhcp.range_end, b)));
        json_object_set_new(m, "http", json_pack("{s:s, s:i, s:s}", "base", base, "port", 80,
                                                 "boot_url", ""));
        json_object_set_new(json_object_get(m, "http"), "boot_url", json_sprintf("%s/boot.ipxe", base));
        json_object_set_new(m, "menu", json_pack("{s:s, s:s, s:I, s:I, s:b}",
                "title", p->menu.title ? p->menu.title : p->lab, "default", default_entry(p),
                "timeout", (json_int_t) p->menu.timeout, "timeout_ms", (json_int_t) p->menu.timeout * 1000,
                "immediate", p->menu.timeout == 0));
        json_object_set_new(m, "boots", boots);
        json_object_set_new(m, "files", files);
        json_object_set_new(m, "hosts", hosts);
        json_object_set_new(m, "hosts_with_boot", with_boot);
        /* lab-wide members of the kinds ("smb") */
        for (size_t i = 0; kinds[i]; i++) {
                json_t *v;
                if (!kinds[i]->lab_key)
                        continue;
                v = kinds[i]->lab_model(p, run_dir, state_dir);
                if (!v) {
                        json_decref(m);
                        return -EINVAL;
                }
                json_object_set_new(m, kinds[i]->lab_key, v);
        }
        json_object_set_new(m, "loaders", json_pack("{s:s, s:s, s:s}", "bios", "undionly.kpxe",
                                                    "efi", "ipxe.efi", "snponly", "snponly.efi"));
        /* Secure Boot clients: shim, GRUB, TFTP paths (grub.c) */
        grub_model(p, m);
        *ret = m;
        return 0;
}
