/* The journal-line parser (lab/events.h) on real lines: dnsmasq 2.90 with
 * log-dhcp and nginx's `pxelab` access-log format, as journald stored them
 * while a BIOS VM (iPXE ROM; its host entry's kernel was missing: 404, the
 * failed beacon, then the menu's default) and a UEFI-PXE VM (OVMF's PXE,
 * TFTP ipxe.efi, then iPXE) booted through a lab (tests/bats/watch.bats
 * setup). Then each problem the parser names, on lines of the same forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "basic/util.h"
#include "lab/events.h"

struct line {
        const char *ident;
        uint64_t usec;
        const char *msg;
};

/* Captured in the harness; only dnsmasq's DHCP option dumps are left out. */
static const struct line real_lines[] = {
        { "dnsmasq", 1796176440804621ULL, "dnsmasq[267]: started, version 2.90 DNS disabled" },
        { "dnsmasq", 1796176440804621ULL, "dnsmasq-dhcp[267]: DHCP, IP range 10.67.0.100 -- 10.67.0.200, lease time 12h" },
        { "dnsmasq", 1796176440804621ULL, "dnsmasq-dhcp[267]: DHCPv6 stateless on pxe-wat" },
        /* up's self-check: a tsize probe of each TFTP file from the lab's address */
        { "dnsmasq", 1796176440904621ULL, "dnsmasq-tftp[267]: error 8 probe received from 10.67.0.1" },
        { "dnsmasq", 1796176440904650ULL, "dnsmasq-tftp[267]: sent /run/pxelab/wat/tftp/snponly.efi to 10.67.0.1" },
        { "dnsmasq", 1796176440904700ULL, "dnsmasq-tftp[267]: error 8 probe received from 10.67.0.1" },
        { "dnsmasq", 1796176440904750ULL, "dnsmasq-tftp[267]: sent /run/pxelab/wat/tftp/undionly.kpxe to 10.67.0.1" },
        { "dnsmasq", 1796176440805028ULL, "dnsmasq-dhcp[267]: router advertisement on pxe-wat" },
        { "dnsmasq", 1796176440805028ULL, "dnsmasq-dhcp[267]: DHCPv6 stateless on fd19:487c:acb3::, constructed for pxe-wat" },
        { "dnsmasq", 1796176440805028ULL, "dnsmasq-dhcp[267]: router advertisement on fd19:487c:acb3::, constructed for pxe-wat" },
        { "dnsmasq", 1796176440805028ULL, "dnsmasq-dhcp[267]: IPv6 router advertisement enabled" },
        { "dnsmasq", 1796176440805028ULL, "dnsmasq-dhcp[267]: DHCP, sockets bound exclusively to interface pxe-wat" },
        { "dnsmasq", 1796176440805028ULL, "dnsmasq-tftp[267]: TFTP root is /run/pxelab/wat/tftp" },
        { "pxelab_http", 1796176441332406ULL, "10.67.0.1 [2026-12-02T01:54:01+00:00] \"GET /boot.ipxe HTTP/1.0\" 200 419 len=419 t=0.000" },
        { "pxelab_http", 1796176441333113ULL, "10.67.0.1 [2026-12-02T01:54:01+00:00] \"HEAD /files/good/vmlinuz HTTP/1.0\" 200 0 len=8247232 t=0.000" },
        { "pxelab_http", 1796176441333342ULL, "10.67.0.1 [2026-12-02T01:54:01+00:00] \"HEAD /files/good/initrd.img HTTP/1.0\" 200 0 len=1031771 t=0.000" },
        { "pxelab_http", 1796176441333643ULL, "10.67.0.1 [2026-12-02T01:54:01+00:00] \"HEAD /files/broken/gone-vmlinuz HTTP/1.0\" 200 0 len=8247232 t=0.000" },
        { "pxelab_http", 1796176441334656ULL, "10.67.0.1 [2026-12-02T01:54:01+00:00] \"HEAD /files/broken/initrd.img HTTP/1.0\" 200 0 len=1031771 t=0.000" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 vendor class: PXEClient:Arch:00000:UNDI:002001" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 user class: iPXE" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:01" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 tags: lab, known, ipxe, bios, pxe-wat" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 DHCPOFFER(pxe-wat) 10.67.0.172 52:54:00:67:00:01" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 sent size: 27 option: 67 bootfile-name  http://10.67.0.1/boot.ipxe" },
        { "dnsmasq", 1796176443844036ULL, "dnsmasq-dhcp[267]: 1164572534 sent size:  4 option:175   b0:01:01:ff" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 4479928 vendor class: 343" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 4479928 client MAC address: 52:54:00:67:00:01" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 4479928 DHCPINFORMATION-REQUEST(pxe-wat) 00:04:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00 b1" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 4479928 tags: known, ipxe, dhcpv6, pxe-wat" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 1164572534 vendor class: PXEClient:Arch:00000:UNDI:002001" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 1164572534 user class: iPXE" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 1164572534 DHCPREQUEST(pxe-wat) 10.67.0.172 52:54:00:67:00:01" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 1164572534 tags: lab, known, ipxe, bios, pxe-wat" },
        { "dnsmasq", 1796176443947545ULL, "dnsmasq-dhcp[267]: 1164572534 DHCPACK(pxe-wat) 10.67.0.172 52:54:00:67:00:01 b1" },
        { "dnsmasq", 1796176443948009ULL, "dnsmasq-dhcp[267]: 1164572534 sent size: 27 option: 67 bootfile-name  http://10.67.0.1/boot.ipxe" },
        { "dnsmasq", 1796176443948009ULL, "dnsmasq-dhcp[267]: 1164572534 sent size:  4 option:175   b0:01:01:ff" },
        { "pxelab_http", 1796176444368832ULL, "10.67.0.172 [2026-12-02T01:54:04+00:00] \"GET /boot.ipxe HTTP/1.1\" 200 419 len=419 t=0.000" },
        { "pxelab_http", 1796176444388319ULL, "10.67.0.172 [2026-12-02T01:54:04+00:00] \"GET /hosts/52-54-00-67-00-01.ipxe HTTP/1.1\" 200 179 len=179 t=0.000" },
        { "pxelab_http", 1796176444403449ULL, "10.67.0.172 [2026-12-02T01:54:04+00:00] \"GET /boot/broken.ipxe HTTP/1.1\" 200 681 len=681 t=0.000" },
        { "pxelab_http", 1796176444427367ULL, "10.67.0.172 [2026-12-02T01:54:04+00:00] \"GET /files/broken/gone-vmlinuz HTTP/1.1\" 404 146 len=146 t=0.000" },
        { "pxelab_http", 1796176444435913ULL, "10.67.0.172 [2026-12-02T01:54:04+00:00] \"GET /_/failed?mac=52%3A54%3A00%3A67%3A00%3A01&entry=broken&err=0x2d0c613b HTTP/1.1\" 204 0 len=- t=0.000" },
        { "dnsmasq", 1796176446689938ULL, "dnsmasq-dhcp[267]: 1525237627 vendor class: PXEClient:Arch:00007:UNDI:003000" },
        { "dnsmasq", 1796176446689972ULL, "dnsmasq-dhcp[267]: 1525237627 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:02" },
        { "dnsmasq", 1796176446689997ULL, "dnsmasq-dhcp[267]: 1525237627 tags: lab, efi64, pxe-wat" },
        { "dnsmasq", 1796176446690022ULL, "dnsmasq-dhcp[267]: 1525237627 DHCPOFFER(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
        { "dnsmasq", 1796176446690429ULL, "dnsmasq-dhcp[267]: 1525237627 sent size:  9 option: 67 bootfile-name  ipxe.efi" },
        { "dnsmasq", 1796176450499435ULL, "dnsmasq-dhcp[267]: 1525237627 vendor class: PXEClient:Arch:00007:UNDI:003000" },
        { "dnsmasq", 1796176450499435ULL, "dnsmasq-dhcp[267]: 1525237627 DHCPREQUEST(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
        { "dnsmasq", 1796176450499435ULL, "dnsmasq-dhcp[267]: 1525237627 tags: lab, efi64, pxe-wat" },
        { "dnsmasq", 1796176450499435ULL, "dnsmasq-dhcp[267]: 1525237627 DHCPACK(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
        { "dnsmasq", 1796176450499435ULL, "dnsmasq-dhcp[267]: 1525237627 sent size:  9 option: 67 bootfile-name  ipxe.efi" },
        { "dnsmasq", 1796176450507561ULL, "dnsmasq-tftp[267]: error 8 User aborted the transfer received from 10.67.0.173" },
        { "dnsmasq", 1796176450507658ULL, "dnsmasq-tftp[267]: sent /run/pxelab/wat/tftp/ipxe.efi to 10.67.0.173" },
        { "dnsmasq", 1796176450725618ULL, "dnsmasq-tftp[267]: sent /run/pxelab/wat/tftp/ipxe.efi to 10.67.0.173" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 vendor class: PXEClient:Arch:00007:UNDI:003010" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 user class: iPXE" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:02" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 tags: lab, ipxe, efi64, pxe-wat" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 DHCPOFFER(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 sent size: 27 option: 67 bootfile-name  http://10.67.0.1/boot.ipxe" },
        { "dnsmasq", 1796176456963692ULL, "dnsmasq-dhcp[267]: 4202229262 sent size:  4 option:175   b0:01:01:ff" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 vendor class: PXEClient:Arch:00007:UNDI:003010" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 user class: iPXE" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 DHCPREQUEST(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 tags: lab, ipxe, efi64, pxe-wat" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 DHCPACK(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 sent size: 27 option: 67 bootfile-name  http://10.67.0.1/boot.ipxe" },
        { "dnsmasq", 1796176456966248ULL, "dnsmasq-dhcp[267]: 4202229262 sent size:  4 option:175   b0:01:01:ff" },
        { "dnsmasq", 1796176456972215ULL, "dnsmasq-dhcp[267]: 12796263 vendor class: 343" },
        { "dnsmasq", 1796176456972215ULL, "dnsmasq-dhcp[267]: 12796263 client MAC address: 52:54:00:67:00:02" },
        { "dnsmasq", 1796176456972215ULL, "dnsmasq-dhcp[267]: 12796263 DHCPINFORMATION-REQUEST(pxe-wat) 00:04:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00" },
        { "dnsmasq", 1796176456972215ULL, "dnsmasq-dhcp[267]: 12796263 tags: ipxe, dhcpv6, pxe-wat" },
        { "pxelab_http", 1796176456999880ULL, "10.67.0.173 [2026-12-02T01:54:16+00:00] \"GET /boot.ipxe HTTP/1.1\" 200 419 len=419 t=0.000" },
        { "pxelab_http", 1796176457009512ULL, "10.67.0.173 [2026-12-02T01:54:17+00:00] \"GET /menu.ipxe HTTP/1.1\" 200 601 len=601 t=0.000" },
        { "pxelab_http", 1796176457015139ULL, "10.67.0.173 [2026-12-02T01:54:17+00:00] \"GET /boot/good.ipxe HTTP/1.1\" 200 681 len=681 t=0.000" },
        { "pxelab_http", 1796176457281336ULL, "10.67.0.173 [2026-12-02T01:54:17+00:00] \"GET /files/good/vmlinuz HTTP/1.1\" 200 8247232 len=8247232 t=0.262" },
        { "pxelab_http", 1796176457439577ULL, "10.67.0.173 [2026-12-02T01:54:17+00:00] \"GET /files/good/initrd.img HTTP/1.1\" 200 1031771 len=1031771 t=0.000" },
        { "pxelab_http", 1796176457513568ULL, "10.67.0.173 [2026-12-02T01:54:17+00:00] \"GET /_/booted?mac=52%3A54%3A00%3A67%3A00%3A02&entry=good HTTP/1.1\" 204 0 len=- t=0.000" },
        { "pxelab_http", 1796176524487751ULL, "10.67.0.172 [2026-12-02T01:55:24+00:00] \"GET /menu.ipxe HTTP/1.1\" 200 601 len=601 t=0.000" },
        { "pxelab_http", 1796176524515458ULL, "10.67.0.172 [2026-12-02T01:55:24+00:00] \"GET /boot/good.ipxe HTTP/1.1\" 200 681 len=681 t=0.000" },
        { "pxelab_http", 1796176525656724ULL, "10.67.0.172 [2026-12-02T01:55:25+00:00] \"GET /files/good/vmlinuz HTTP/1.1\" 200 8247232 len=8247232 t=1.115" },
        { "pxelab_http", 1796176525747740ULL, "10.67.0.172 [2026-12-02T01:55:25+00:00] \"GET /files/good/initrd.img HTTP/1.1\" 200 1031771 len=1031771 t=0.000" },
        { "pxelab_http", 1796176525932593ULL, "10.67.0.172 [2026-12-02T01:55:25+00:00] \"GET /_/booted?mac=52%3A54%3A00%3A67%3A00%3A01&entry=good HTTP/1.1\" 204 0 len=- t=0.000" },
};

#define MAX_EVENTS 64
struct got {
        size_t n;
        enum event_kind kind[MAX_EVENTS];
        char *mac[MAX_EVENTS], *line[MAX_EVENTS];
        json_t *json[MAX_EVENTS];
};

static void collect(const struct event *e, void *userdata) {
        struct got *g = userdata;
        assert_true(g->n < MAX_EVENTS);
        g->kind[g->n] = e->kind;
        g->mac[g->n] = xstrdup(e->mac);
        g->line[g->n] = event_format(e);
        g->json[g->n] = event_json(e);
        g->n++;
}

static void got_free(struct got *g) {
        for (size_t i = 0; i < g->n; i++) {
                free(g->mac[i]);
                free(g->line[i]);
                json_decref(g->json[i]);
        }
}

/* The TFTP root's loader has this size. */
static int fake_stat(const char *path, struct stat *st) {
        if (!streq(path, "/run/pxelab/wat/tftp/ipxe.efi"))
                return -1;
        *st = (struct stat) { .st_mode = S_IFREG | 0644, .st_size = 1039360 };
        return 0;
}

static const char *jstr(json_t *o, const char *k) {
        return json_string_value(json_object_get(o, k));
}

/* The events of MAC, in order, into IDX; returns how many. */
static size_t of_mac(const struct got *g, const char *mac, size_t idx[static MAX_EVENTS]) {
        size_t n = 0;
        for (size_t i = 0; i < g->n; i++)
                if (streq(g->mac[i], mac))
                        idx[n++] = i;
        return n;
}

static void test_real_boots(void **state) {
        struct got g = {};
        struct events *ev = events_new(collect, &g);
        size_t idx[MAX_EVENTS], n;
        json_t *o, *clients;

        events_set_stat(ev, fake_stat);
        events_ignore_ip(ev, "10.67.0.1");
        for (size_t i = 0; i < ELEMENTSOF(real_lines); i++)
                events_feed(ev, real_lines[i].ident, real_lines[i].msg, real_lines[i].usec);
        events_flush(ev, 0);
        for (size_t i = 0; i < g.n; i++)
                print_message("%s %s\n", g.mac[i], g.line[i]);

        /* Two clients, nothing from the lab's own address or DHCPv6. */
        for (size_t i = 0; i < g.n; i++)
                assert_true(streq(g.mac[i], "52:54:00:67:00:01") || streq(g.mac[i], "52:54:00:67:00:02"));

        /* BIOS: iPXE's DHCP, the scripts, the 404, the failed beacon, the menu's default. */
        n = of_mac(&g, "52:54:00:67:00:01", idx);
        assert_int_equal(n, 11);
        o = g.json[idx[0]];
        assert_string_equal(jstr(o, "event"), "dhcp");
        assert_string_equal(jstr(o, "arch"), "bios");
        assert_true(json_is_true(json_object_get(o, "ipxe")));
        assert_string_equal(jstr(o, "ip"), "10.67.0.172");
        assert_string_equal(jstr(o, "hostname"), "b1");
        assert_string_equal(jstr(o, "result"), "ack");
        assert_string_equal(jstr(o, "bootfile"), "http://10.67.0.1/boot.ipxe");
        assert_true(json_real_value(json_object_get(o, "t")) == 0.0);
        assert_true(json_is_null(json_object_get(o, "problem")));
        assert_string_equal(g.line[idx[0]], "+0.0s DHCP (iPXE) arch=bios → 10.67.0.172, http://10.67.0.1/boot.ipxe");
        assert_string_equal(jstr(g.json[idx[1]], "path"), "/boot.ipxe");
        assert_string_equal(jstr(g.json[idx[2]], "path"), "/hosts/52-54-00-67-00-01.ipxe");
        assert_string_equal(jstr(g.json[idx[3]], "path"), "/boot/broken.ipxe");
        o = g.json[idx[4]];
        assert_string_equal(jstr(o, "path"), "/files/broken/gone-vmlinuz");
        assert_int_equal(json_integer_value(json_object_get(o, "status")), 404);
        assert_string_equal(jstr(o, "problem"), "HTTP 404 /files/broken/gone-vmlinuz");
        assert_non_null(strstr(g.line[idx[4]], "!! HTTP 404 /files/broken/gone-vmlinuz"));
        o = g.json[idx[5]];
        assert_int_equal(g.kind[idx[5]], EVENT_FAILED);
        assert_string_equal(jstr(o, "entry"), "broken");
        assert_string_equal(jstr(o, "err"), "0x2d0c613b");
        assert_string_equal(jstr(o, "mac"), "52:54:00:67:00:01");
        assert_string_equal(jstr(o, "problem"),
                            "entry 'broken' failed (iPXE error 0x2d0c613b) after HTTP 404 /files/broken/gone-vmlinuz");
        assert_string_equal(jstr(g.json[idx[6]], "path"), "/menu.ipxe");
        assert_string_equal(jstr(g.json[idx[7]], "path"), "/boot/good.ipxe");
        o = g.json[idx[8]];
        assert_string_equal(jstr(o, "path"), "/files/good/vmlinuz");
        assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 8247232);
        assert_int_equal(json_integer_value(json_object_get(o, "length")), 8247232);
        assert_true(json_real_value(json_object_get(o, "seconds")) > 1.1);
        assert_true(json_is_null(json_object_get(o, "problem")));
        assert_string_equal(jstr(g.json[idx[9]], "path"), "/files/good/initrd.img");
        assert_int_equal(g.kind[idx[10]], EVENT_BOOTED);
        assert_string_equal(jstr(g.json[idx[10]], "entry"), "good");
        /* (These lines are from when the beacon answered 204: iPXE waited
         * ~75 s for a body, hence the 200 "ok" now.) */
        assert_string_equal(g.line[idx[10]], "+82.1s booted 'good'");

        /* UEFI-PXE: the firmware's DHCP (a loader), TFTP (OVMF's size probe
         * is no abort), iPXE's DHCP (the script), the scripts, the files. */
        n = of_mac(&g, "52:54:00:67:00:02", idx);
        assert_int_equal(n, 10);
        o = g.json[idx[0]];
        assert_string_equal(jstr(o, "arch"), "uefi-x64");
        assert_false(json_is_true(json_object_get(o, "ipxe")));
        assert_string_equal(jstr(o, "bootfile"), "ipxe.efi");
        assert_string_equal(jstr(o, "ip"), "10.67.0.173");
        assert_true(json_is_null(json_object_get(o, "hostname")));
        for (size_t k = 1; k <= 2; k++) {
                o = g.json[idx[k]];
                assert_string_equal(jstr(o, "event"), "tftp");
                assert_string_equal(jstr(o, "file"), "ipxe.efi");
                assert_string_equal(jstr(o, "result"), "sent");
                assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 1039360);
                assert_string_equal(jstr(o, "mac"), "52:54:00:67:00:02");
                assert_true(json_is_null(json_object_get(o, "problem")));
        }
        assert_string_equal(g.line[idx[1]], "+3.8s TFTP ipxe.efi 1.0 MB");
        o = g.json[idx[3]];
        assert_string_equal(jstr(o, "event"), "dhcp");
        assert_true(json_is_true(json_object_get(o, "ipxe")));
        assert_string_equal(jstr(o, "arch"), "uefi-x64");
        assert_string_equal(jstr(o, "bootfile"), "http://10.67.0.1/boot.ipxe");
        assert_true(json_is_null(json_object_get(o, "problem")));
        assert_true(json_real_value(json_object_get(o, "t")) > 10.2 && json_real_value(json_object_get(o, "t")) < 10.3);
        assert_string_equal(jstr(g.json[idx[4]], "path"), "/boot.ipxe");
        assert_string_equal(jstr(g.json[idx[5]], "path"), "/menu.ipxe");
        assert_string_equal(jstr(g.json[idx[6]], "path"), "/boot/good.ipxe");
        assert_string_equal(jstr(g.json[idx[7]], "path"), "/files/good/vmlinuz");
        assert_string_equal(jstr(g.json[idx[8]], "path"), "/files/good/initrd.img");
        assert_int_equal(g.kind[idx[9]], EVENT_BOOTED);
        for (size_t k = 4; k <= 9; k++)
                assert_string_equal(jstr(g.json[idx[k]], "ip"), "10.67.0.173");

        /* status's clients: the last step and the entry booted. */
        clients = events_clients_json(ev);
        assert_int_equal(json_array_size(clients), 2);
        o = json_array_get(clients, 0);
        assert_string_equal(jstr(o, "mac"), "52:54:00:67:00:01");
        assert_string_equal(jstr(o, "ip"), "10.67.0.172");
        assert_string_equal(jstr(o, "hostname"), "b1");
        assert_string_equal(jstr(o, "last_event"), "booted");
        assert_string_equal(jstr(o, "last_step"), "booted 'good'");
        assert_string_equal(jstr(o, "entry"), "good");
        assert_true(json_is_null(json_object_get(o, "problem")));
        assert_true(json_real_value(json_object_get(o, "time")) > 1796176525.0);
        o = json_array_get(clients, 1);
        assert_string_equal(jstr(o, "mac"), "52:54:00:67:00:02");
        assert_string_equal(jstr(o, "entry"), "good");
        json_decref(clients);
        events_free(ev);
        got_free(&g);
}

static struct events *feed(struct got *g, const struct line *l, size_t n, uint64_t flush_at) {
        struct events *ev = events_new(collect, g);
        events_set_stat(ev, fake_stat);
        events_ignore_ip(ev, "10.67.0.1");
        for (size_t i = 0; i < n; i++)
                events_feed(ev, l[i].ident, l[i].msg, l[i].usec);
        events_flush(ev, flush_at);
        return ev;
}

#define T0 1796176440000000ULL
#define S(x) (T0 + (uint64_t) ((x) * 1e6))

/* A UEFI client handed the BIOS loader (a dnsmasq.conf whose efi64 line
 * names undionly.kpxe), which it then fetches; later it stops asking. */
static void test_uefi_bios_loader_and_stall(void **state) {
        static const struct line l[] = {
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 77 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 77 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:05" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 77 tags: lab, efi64, pxe-wat" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 77 DHCPOFFER(pxe-wat) 10.67.0.180 52:54:00:67:00:05" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 77 sent size: 14 option: 67 bootfile-name  undionly.kpxe" },
                { "dnsmasq", S(3), "dnsmasq-dhcp[267]: 77 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", S(3), "dnsmasq-dhcp[267]: 77 DHCPREQUEST(pxe-wat) 10.67.0.180 52:54:00:67:00:05" },
                { "dnsmasq", S(3), "dnsmasq-dhcp[267]: 77 DHCPACK(pxe-wat) 10.67.0.180 52:54:00:67:00:05" },
                { "dnsmasq", S(3), "dnsmasq-dhcp[267]: 77 sent size: 14 option: 67 bootfile-name  undionly.kpxe" },
                { "dnsmasq", S(3.5), "dnsmasq-tftp[267]: sent /run/pxelab/wat/tftp/undionly.kpxe to 10.67.0.180" },
        };
        struct got g = {};
        struct events *ev = feed(&g, l, ELEMENTSOF(l), S(40));
        json_t *c;

        for (size_t i = 0; i < g.n; i++)
                print_message("%s\n", g.line[i]);
        assert_int_equal(g.n, 3);
        assert_string_equal(jstr(g.json[0], "problem"), "UEFI client (uefi-x64) was handed the BIOS loader undionly.kpxe");
        assert_string_equal(jstr(g.json[1], "problem"), "UEFI client (uefi-x64) fetched the BIOS loader undionly.kpxe");
        assert_true(json_is_null(json_object_get(g.json[1], "bytes")));   /* no such file here */
        assert_int_equal(g.kind[2], EVENT_STALLED);
        assert_string_equal(jstr(g.json[2], "problem"), "stopped after TFTP undionly.kpxe: nothing for 30 s");
        assert_true(json_real_value(json_object_get(g.json[2], "t")) == 33.5);
        c = events_clients_json(ev);
        assert_string_equal(jstr(json_array_get(c, 0), "last_event"), "stalled");
        assert_string_equal(jstr(json_array_get(c, 0), "problem"), "stopped after TFTP undionly.kpxe: nothing for 30 s");
        json_decref(c);
        events_free(ev);
        got_free(&g);
}

/* A Secure Boot client: shim by DHCP (the BOOTP file field, dnsmasq's
 * "bootfile name:"), then shim, GRUB, its menu and the entry's kernel and
 * initrd over TFTP, and no HTTP or beacon: the loader is named, and the
 * silence after the kernel is no stall. */
static void test_shim_client(void **state) {
        static const struct line l[] = {
                { "dnsmasq", S(0), "dnsmasq-dhcp[269]: 436904716 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[269]: 436904716 DHCPDISCOVER(pxe-sbt) 52:54:00:66:00:01" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[269]: 436904716 tags: shim, lab, efi64, pxe-sbt" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[269]: 436904716 DHCPOFFER(pxe-sbt) 10.66.0.164 52:54:00:66:00:01" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[269]: 436904716 bootfile name: efi/shimx64.efi" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[269]: 436904716 next server: 10.66.0.1" },
                { "dnsmasq", S(4), "dnsmasq-dhcp[269]: 436904716 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", S(4), "dnsmasq-dhcp[269]: 436904716 DHCPREQUEST(pxe-sbt) 10.66.0.164 52:54:00:66:00:01" },
                { "dnsmasq", S(4), "dnsmasq-dhcp[269]: 436904716 tags: shim, lab, efi64, pxe-sbt" },
                { "dnsmasq", S(4), "dnsmasq-dhcp[269]: 436904716 DHCPACK(pxe-sbt) 10.66.0.164 52:54:00:66:00:01" },
                { "dnsmasq", S(4), "dnsmasq-dhcp[269]: 436904716 bootfile name: efi/shimx64.efi" },
                { "dnsmasq", S(5), "dnsmasq-tftp[269]: sent /run/pxelab/sbt/tftp/efi/shimx64.efi to 10.66.0.164" },
                { "dnsmasq", S(6), "dnsmasq-tftp[269]: sent /run/pxelab/sbt/tftp/efi/grubx64.efi to 10.66.0.164" },
                { "dnsmasq", S(9), "dnsmasq-tftp[269]: sent /run/pxelab/sbt/tftp/grub/grub.cfg to 10.66.0.164" },
                { "dnsmasq", S(12), "dnsmasq-tftp[269]: sent /run/pxelab/sbt/tftp/files/sbdefault/vmlinuz to 10.66.0.164" },
                { "dnsmasq", S(14), "dnsmasq-tftp[269]: sent /run/pxelab/sbt/tftp/files/sbdefault/initrd.img to 10.66.0.164" },
        };
        struct got g = {};
        struct events *ev = feed(&g, l, ELEMENTSOF(l), S(100));

        for (size_t i = 0; i < g.n; i++)
                print_message("%s\n", g.line[i]);
        assert_true(g.n >= 6);
        for (size_t i = 0; i < g.n; i++) {
                if (g.kind[i] == EVENT_STALLED)
                        fail_msg("a shim client that fetched its kernel is no stall: %s", g.line[i]);
                assert_true(json_is_null(json_object_get(g.json[i], "problem")) ||
                            !json_object_get(g.json[i], "problem"));
        }
        /* The loader it was handed and fetched. */
        assert_non_null(strstr(g.line[0], "efi/shimx64.efi"));
        assert_non_null(strstr(g.line[g.n - 5], "efi/shimx64.efi"));
        events_free(ev);
        got_free(&g);
}

/* Loops: iPXE handed a loader again, the firmware asking again after a
 * loader; HTTP 403, a short transfer, TFTP not found and a real abort. */
static void test_loops_and_transfers(void **state) {
        static const struct line l[] = {
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 9 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", S(0), "dnsmasq-dhcp[267]: 9 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:06" },
                { "dnsmasq", S(1), "dnsmasq-dhcp[267]: 9 DHCPACK(pxe-wat) 10.67.0.181 52:54:00:67:00:06" },
                { "dnsmasq", S(1), "dnsmasq-dhcp[267]: 9 sent size:  9 option: 67 bootfile-name  ipxe.efi" },
                { "dnsmasq", S(2), "dnsmasq-tftp[267]: sent /run/pxelab/wat/tftp/ipxe.efi to 10.67.0.181" },
                /* iPXE, given the loader again (a config without the !ipxe tag) */
                { "dnsmasq", S(5), "dnsmasq-dhcp[267]: 10 vendor class: PXEClient:Arch:00007:UNDI:003010" },
                { "dnsmasq", S(5), "dnsmasq-dhcp[267]: 10 user class: iPXE" },
                { "dnsmasq", S(5), "dnsmasq-dhcp[267]: 10 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:06" },
                { "dnsmasq", S(5), "dnsmasq-dhcp[267]: 10 DHCPACK(pxe-wat) 10.67.0.181 52:54:00:67:00:06" },
                { "dnsmasq", S(5), "dnsmasq-dhcp[267]: 10 sent size:  9 option: 67 bootfile-name  ipxe.efi" },
                /* the firmware again, after the loader */
                { "dnsmasq", S(9), "dnsmasq-dhcp[267]: 11 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", S(9), "dnsmasq-dhcp[267]: 11 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:06" },
                { "dnsmasq", S(9), "dnsmasq-dhcp[267]: 11 DHCPACK(pxe-wat) 10.67.0.181 52:54:00:67:00:06" },
                { "dnsmasq", S(10), "dnsmasq-tftp[267]: file /run/pxelab/wat/tftp/snponly.efi not found for 10.67.0.181" },
                { "dnsmasq", S(11), "dnsmasq-tftp[267]: error 0 Early terminate received from 10.67.0.181" },
                { "pxelab_http", S(12), "10.67.0.181 [2026-12-02T01:54:12+00:00] \"GET /files/good/secret HTTP/1.1\" 403 153 len=153 t=0.000" },
                { "pxelab_http", S(13), "10.67.0.181 [2026-12-02T01:54:13+00:00] \"GET /files/good/vmlinuz HTTP/1.1\" 200 4096000 len=8247232 t=0.400" },
                /* nginx's error lines in the same unit are no steps */
                { "nginx", S(13), "2026/12/02 01:54:04 [error] 269#269: *6 openat() \"/x\" failed (2: No such file or directory)" },
                { "pxelab_http", S(14), "10.9.9.9 garbage" },
        };
        struct got g = {};
        struct events *ev = feed(&g, l, ELEMENTSOF(l), 0);

        for (size_t i = 0; i < g.n; i++)
                print_message("%s\n", g.line[i]);
        assert_int_equal(g.n, 8);
        assert_true(json_is_null(json_object_get(g.json[0], "problem")));
        assert_true(json_is_null(json_object_get(g.json[1], "problem")));
        assert_string_equal(jstr(g.json[2], "problem"), "loop: iPXE was handed the loader ipxe.efi again");
        assert_string_equal(jstr(g.json[3], "problem"), "loop: the firmware asks DHCP again after loading ipxe.efi");
        assert_string_equal(jstr(g.json[4], "result"), "not-found");
        assert_string_equal(jstr(g.json[4], "file"), "snponly.efi");
        assert_string_equal(jstr(g.json[4], "problem"), "TFTP snponly.efi: file not found");
        /* Kept back until no transfer to that client followed it. */
        assert_string_equal(jstr(g.json[5], "result"), "aborted");
        assert_string_equal(jstr(g.json[5], "problem"), "TFTP ?: transfer aborted: 0 Early terminate");
        assert_string_equal(jstr(g.json[6], "problem"), "HTTP 403 /files/good/secret");
        assert_string_equal(jstr(g.json[7], "problem"), "short transfer of /files/good/vmlinuz: 4096000 of 8247232 bytes");
        for (size_t i = 0; i < g.n; i++)
                assert_string_equal(g.mac[i], "52:54:00:67:00:06");
        events_free(ev);
        got_free(&g);
}

/* --wait's filter: only the VM's own events reach the callback. */
static void test_filter_mac(void **state) {
        struct got g = {};
        struct events *ev = events_new(collect, &g);
        events_filter_mac(ev, "52:54:00:67:00:02");
        events_ignore_ip(ev, "10.67.0.1");
        for (size_t i = 0; i < ELEMENTSOF(real_lines); i++)
                events_feed(ev, real_lines[i].ident, real_lines[i].msg, real_lines[i].usec);
        events_flush(ev, 0);
        assert_int_equal(g.n, 10);
        for (size_t i = 0; i < g.n; i++)
                assert_string_equal(g.mac[i], "52:54:00:67:00:02");
        events_free(ev);
        got_free(&g);
}

/* A DHCP exchange after the client booted starts its next boot: t from 0. */
static void test_new_boot(void **state) {
        static const struct line again[] = {
                { "dnsmasq", 1796176900000000ULL, "dnsmasq-dhcp[267]: 5 vendor class: PXEClient:Arch:00007:UNDI:003000" },
                { "dnsmasq", 1796176900000000ULL, "dnsmasq-dhcp[267]: 5 DHCPDISCOVER(pxe-wat) 52:54:00:67:00:02" },
                { "dnsmasq", 1796176901000000ULL, "dnsmasq-dhcp[267]: 5 DHCPACK(pxe-wat) 10.67.0.173 52:54:00:67:00:02" },
                { "pxelab_http", 1796176902500000ULL, "10.67.0.173 [2026-12-02T02:01:42+00:00] \"GET /boot.ipxe HTTP/1.1\" 200 419 len=419 t=0.000" },
        };
        struct got g = {};
        struct events *ev = events_new(collect, &g);
        events_filter_mac(ev, "52:54:00:67:00:02");
        for (size_t i = 0; i < ELEMENTSOF(real_lines); i++)
                events_feed(ev, real_lines[i].ident, real_lines[i].msg, real_lines[i].usec);
        for (size_t i = 0; i < ELEMENTSOF(again); i++)
                events_feed(ev, again[i].ident, again[i].msg, again[i].usec);
        events_flush(ev, 0);
        assert_int_equal(g.n, 12);
        assert_true(json_real_value(json_object_get(g.json[10], "t")) == 0.0);
        assert_true(json_real_value(json_object_get(g.json[11], "t")) == 2.5);
        /* The loader of the boot before is forgotten: no "loop". */
        assert_true(json_is_null(json_object_get(g.json[10], "problem")));
        events_free(ev);
        got_free(&g);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_boots),
                cmocka_unit_test(test_uefi_bios_loader_and_stall),
                cmocka_unit_test(test_shim_client),
                cmocka_unit_test(test_loops_and_transfers),
                cmocka_unit_test(test_filter_mac),
                cmocka_unit_test(test_new_boot),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
