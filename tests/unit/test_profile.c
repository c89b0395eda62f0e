/* Profile parser and validator: exact messages, defaults, path resolution,
 * line numbers, and the whole bad-profile corpus (tests/bad-profiles, each
 * NN-name.conf with the exact expected error lines in NN-name.err).
 * Run from the repository root (tests/run-all does). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kinds/chain.h"
#include "kinds/kind.h"
#include "kinds/linux.h"
#include "kinds/wimboot.h"
#include "kinds/windows.h"
#include "profile/build.h"
#include "profile/profile.h"
#include "basic/util.h"

#define GOOD_HEAD "lab = \"t\"\nbridge { address = \"10.33.0.1/24\" }\n"

static char *join_lines(char **v) {
        char *s = xstrdup("");
        for (char **i = v; i && *i; i++) {
                char *n = xasprintf("%s%s\n", s, *i);
                free(s);
                s = n;
        }
        return s;
}

/* Parses BUF as PATH, which must fail with exactly EXPECTED (lines joined). */
static void assert_errors(const char *path, const char *buf, const char *expected) {
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *got = NULL;
        struct profile *p = NULL;
        int r = profile_parse(path, buf, kinds_profile(), &errors, &p);
        assert_int_equal(r, -EINVAL);
        assert_null(p);
        assert_non_null(errors);
        got = join_lines(errors);
        assert_string_equal(got, expected);
}

static struct profile *parse_ok(const char *path, const char *buf) {
        char **errors = NULL;
        struct profile *p = NULL;
        int r = profile_parse(path, buf, kinds_profile(), &errors, &p);
        if (r < 0) {
                _cleanup_free_ char *got = join_lines(errors);
                print_error("unexpected errors:\n%s", got);
                strv_free(errors);
        }
        assert_int_equal(r, 0);
        assert_null(errors);
        assert_non_null(p);
        return p;
}

static char *ip(struct in_addr a) {
        char buf[INET_ADDRSTRLEN];
        return xstrdup(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
}

static void assert_range(const struct profile *p, const char *start, const char *end) {
        _cleanup_free_ char *s = ip(p->dhcp.range_start), *e = ip(p->dhcp.range_end);
        assert_string_equal(s, start);
        assert_string_equal(e, end);
}

static void test_exact_messages(void **state) {
        assert_errors("profiles/x.conf",
                      "lab = \"x\"\n"
                      "# a comment, and another\n"
                      "bridge {\n"
                      "    address = \"10.33.0.1/33\"\n"
                      "}\n"
                      "boot \"disk\" { kind = \"local\" }\n",
                      "profiles/x.conf:4: bridge.address: '10.33.0.1/33' is not an IPv4 address with a prefix length\n");
        /* every problem, in line order, the file named as given */
        assert_errors("./rel//x.conf",
                      "lab = \"x\"\n"
                      "menu { default = \"nope\" }\n"
                      "bridge { address = \"10.33.0.1/24\" uplink = \"pxe-x\" }\n"
                      "boot \"a\" { kind = \"linux\" kernel = \"k\" cmdline = \"a;b\" url = \"http://x\" }\n"
                      "host \"h\" { mac = \"52:54:00:00:00:01\" ip = \"10.33.0.100\" }\n"
                      "vm \"h\" { mac = \"52:54:00:00:00:01\" memory = 1 }\n",
                      "./rel//x.conf:2: menu.default: 'nope' is not a boot entry (known: a)\n"
                      "./rel//x.conf:3: bridge.uplink: 'pxe-x' is the lab's bridge itself; name the interface that leads out\n"
                      "./rel//x.conf:4: boot.a.url: not valid for kind 'linux'\n"
                      "./rel//x.conf:4: boot.a.cmdline: 'a;b' contains ';', which is not allowed in a command line\n"
                      "./rel//x.conf:5: host.h.ip: '10.33.0.100' is inside the DHCP range 10.33.0.100-10.33.0.200\n"
                      "./rel//x.conf:6: vm.h.memory: '1' is out of range (128..65536 MiB)\n"
                      "./rel//x.conf:6: vm.h.mac: '52:54:00:00:00:01' is already used by host.h on line 5\n");
        assert_errors("w.conf", GOOD_HEAD "boot \"pe\" { kind = \"wimboot\" bcd = \"b\" boot_sdi = \"s\" wim = \"w\" }\n",
                      "w.conf:3: boot.pe.wimboot: wimboot is not packaged by Debian; download wimboot from the "
                      "iPXE project's releases (https://github.com/ipxe/wimboot/releases) and set "
                      "wimboot = \"PATH\" or PXELAB_WIMBOOT\n");
        assert_errors("s.conf", GOOD_HEAD "boot \"a\" {\n  kind = \"local\"\n  colour = \"red\"\n}\n",
                      "s.conf:5: syntax: no such option 'colour'\n");
}

/* ${VAR} never expands, inside or outside quotes; values are refused, not escaped */
static void test_injection(void **state) {
        setenv("PXELAB_TEST_VAR", "console=ttyS0", 1);
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"linux\" kernel = \"/k\" cmdline = \"${PXELAB_TEST_VAR}\" }\n",
                      "i.conf:3: boot.a.cmdline: '${PXELAB_TEST_VAR}' contains '$', which is not allowed in a command line\n");
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"linux\" kernel = \"/k\" cmdline = \"a\\$b\" }\n",
                      "i.conf:3: boot.a.cmdline: 'a$b' contains '$', which is not allowed in a command line\n");
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"linux\" kernel = ${PXELAB_TEST_VAR} }\n",
                      "i.conf:3: syntax: '${PXELAB_TEST_VAR}' is not expanded: profiles take no variables\n");
        /* single quotes: no escapes but \\ and \' */
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" title = 'x$y' }\n",
                      "i.conf:3: boot.a.title: 'x$y' contains '$', which is not allowed in a title\n");
        /* the byte pxelab swaps '$' for cannot come from the file itself */
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" title = \"x\x1ay\" }\n",
                      "i.conf:3: syntax: the file contains a control byte (0x1a)\n");
        /* ... but an escape can make it: then it is a control character */
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" title = \"x\\x1ay\" }\n",
                      "i.conf:3: boot.a.title: 'x\\x1ay' contains a control character, which is not allowed in a title\n");
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"chain\" url = \"http://x/?a=1&b=2\" }\n",
                      "i.conf:3: boot.a.url: 'http://x/?a=1&b=2' contains '&', which is not allowed in a URL\n");
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" title = \"a\\nb\" }\n",
                      "i.conf:3: boot.a.title: 'a\\nb' contains a newline, which is not allowed in a title\n");
        assert_errors("i.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" title = \"it's\" }\n",
                      "i.conf:3: boot.a.title: 'it\\'s' contains a single quote, which is not allowed in a title\n");
        unsetenv("PXELAB_TEST_VAR");
}

static void test_defaults(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("/srv/labs/class-1.conf",
                "bridge { address = \"10.40.0.1/16\" }\n"
                "boot \"first\" { kind = \"local\" }\n"
                "boot \"second\" { kind = \"shell\" }\n"
                "vm \"v\" { }\n");
        assert_string_equal(p->lab, "class-1");
        assert_string_equal(p->path, "/srv/labs/class-1.conf");
        assert_string_equal(p->dir, "/srv/labs");
        assert_null(p->templates);
        assert_null(p->wimboot);
        assert_string_equal(p->bridge.name, "pxe-class-1");
        assert_string_equal(p->bridge.type, "linux");
        assert_string_equal(p->bridge.address, "10.40.0.1/16");
        assert_int_equal(ntohl(p->bridge.addr.s_addr), 0x0a280001);
        assert_int_equal(p->bridge.prefix, 16);
        assert_string_equal(p->bridge.uplink, "auto");
        assert_true(p->bridge.ipv6);
        assert_string_equal(p->bridge.ovsdb, "/run/openvswitch/db.sock");
        assert_string_equal(p->bridge.existing, "refuse");
        assert_string_equal(p->bridge.datapath_type, "system");
        assert_string_equal(p->dhcp.mode, "server");
        assert_range(p, "10.40.0.100", "10.40.0.200");
        assert_string_equal(p->dhcp.lease, "12h");
        assert_string_equal(p->menu.title, "pxelab class-1");
        assert_string_equal(p->menu.default_entry, "first");
        assert_int_equal(p->menu.timeout, 5);
        assert_int_equal(p->n_boots, 2);
        assert_string_equal(p->boots[0].title, "first");
        assert_string_equal(p->boots[1].kind->name, "shell");
        assert_int_equal(p->n_vms, 1);
        assert_int_equal(p->vms[0].firmware, FIRMWARE_BIOS);
        assert_int_equal(p->vms[0].memory, 512);
        assert_null(p->vms[0].mac);
        assert_null(p->vms[0].disk);
        assert_false(p->vms[0].autostart);
}

static void test_everything_set_ok(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("/l/x.conf",
                "lab = \"demo\"\n"
                "templates = \"tpl\"\n"
                "bridge {\n"
                "  name = \"br.demo_1\"\n"
                "  type = \"ovs\"\n"
                "  address = \"192.168.7.9/28\"\n"
                "  uplink = \"none\"\n"
                "  ipv6 = off\n"
                "  ovsdb = \"/run/ovs.sock\"\n"
                "  existing = \"use\"\n"
                "  datapath_type = \"netdev\"\n"
                "}\n"
                "dhcp { mode = \"server\" range = {\"192.168.7.2\", \"192.168.7.5\"} lease = \"infinite\" }\n"
                "menu { title = \"Lab (A) [1]: go!\" default = \"net\" timeout = 0 }\n"
                "boot \"disk\" { kind = \"local\" }\n"
                "boot \"net\" { kind = \"chain\" url = \"https://boot.example/a/b.ipxe?x=1%20\" }\n"
                "vm \"v\" { firmware = \"uefi-pxe\" memory = 65536 disk = \"img/v.qcow2\" autostart = yes }\n");
        assert_string_equal(p->lab, "demo");
        assert_string_equal(p->templates, "/l/tpl");
        assert_string_equal(p->bridge.name, "br.demo_1");
        assert_string_equal(p->bridge.type, "ovs");
        assert_int_equal(p->bridge.prefix, 28);
        assert_string_equal(p->bridge.uplink, "none");
        assert_false(p->bridge.ipv6);
        assert_string_equal(p->bridge.ovsdb, "/run/ovs.sock");
        assert_string_equal(p->bridge.existing, "use");
        assert_string_equal(p->bridge.datapath_type, "netdev");
        assert_string_equal(p->dhcp.mode, "server");
        assert_range(p, "192.168.7.2", "192.168.7.5");
        assert_string_equal(p->dhcp.lease, "infinite");
        assert_string_equal(p->menu.title, "Lab (A) [1]: go!");
        assert_string_equal(p->menu.default_entry, "net");
        assert_int_equal(p->menu.timeout, 0);
        assert_string_equal(chain_of(&p->boots[1])->url, "https://boot.example/a/b.ipxe?x=1%20");
        assert_int_equal(p->vms[0].firmware, FIRMWARE_UEFI_PXE);
        assert_int_equal(p->vms[0].memory, 65536);
        assert_string_equal(p->vms[0].disk, "/l/img/v.qcow2");
        assert_true(p->vms[0].autostart);
}

static void test_paths(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("/srv/pxe/labs/a.conf", GOOD_HEAD
                "wimboot = \"bin/wimboot\"\n"
                "boot \"l\" { kind = \"linux\" kernel = \"./k//vmlinuz\" initrd = {\"/abs/i.img\", \"rel/j.img\"} }\n"
                "boot \"w\" { kind = \"wimboot\" bcd = \"pe/BCD\" boot_sdi = \"pe/boot.sdi\" wim = \"/pe/boot.wim\"\n"
                "            bootmgr = \"pe/bootmgr\" inject = {\"a.cmd\", \"sub/b.cmd\"} args = \"gui pause\" }\n"
                "boot \"w2\" { kind = \"wimboot\" wimboot = \"/opt/wimboot\" bcd = \"b\" boot_sdi = \"s\" wim = \"w\" }\n"
                "boot \"win\" { kind = \"windows\" source = \"/srv/win11/\" unattend = \"u.xml\" drivers = \"virtio\"\n"
                "              setup_args = \"/noreboot\" }\n");
        const struct linux_entry *l = linux_of(&p->boots[0]);
        const struct wimboot_entry *w = wimboot_of(&p->boots[1]), *w2 = wimboot_of(&p->boots[2]);
        const struct windows_entry *win = windows_of(&p->boots[3]);
        assert_non_null(l);
        assert_non_null(w);
        assert_non_null(w2);
        assert_non_null(win);
        assert_string_equal(l->kernel, "/srv/pxe/labs/k/vmlinuz");
        assert_int_equal(l->n_initrd, 2);
        assert_string_equal(l->initrd[0], "/abs/i.img");
        assert_string_equal(l->initrd[1], "/srv/pxe/labs/rel/j.img");
        assert_null(l->initrd[2]);
        assert_string_equal(p->wimboot, "/srv/pxe/labs/bin/wimboot");
        assert_string_equal(w->wimboot, "/srv/pxe/labs/bin/wimboot");
        assert_string_equal(w->bcd, "/srv/pxe/labs/pe/BCD");
        assert_string_equal(w->wim, "/pe/boot.wim");
        assert_string_equal(w->bootmgr, "/srv/pxe/labs/pe/bootmgr");
        assert_int_equal(w->n_inject, 2);
        assert_string_equal(w->inject[1], "/srv/pxe/labs/sub/b.cmd");
        assert_string_equal(w->args, "gui pause");
        assert_string_equal(w2->wimboot, "/opt/wimboot");
        assert_ptr_equal(p->boots[3].kind, &kind_windows.profile);
        assert_string_equal(win->source, "/srv/win11");
        assert_string_equal(win->unattend, "/srv/pxe/labs/u.xml");
        assert_string_equal(win->drivers, "/srv/pxe/labs/virtio");
        assert_string_equal(win->setup_args, "/noreboot");
        assert_string_equal(win->wimboot, "/srv/pxe/labs/bin/wimboot");
}

static void test_relative_profile_path(void **state) {
        _cleanup_free_ char *cwd = get_current_dir_name(), *want_dir = NULL, *want_kernel = NULL;
        _cleanup_(profile_freep) struct profile *p = parse_ok("tests/fixtures/../p.conf", GOOD_HEAD
                "boot \"l\" { kind = \"linux\" kernel = \"fixtures/vmlinuz\" }\n");
        want_dir = xasprintf("%s/tests", cwd);
        want_kernel = xasprintf("%s/tests/fixtures/vmlinuz", cwd);
        assert_string_equal(p->dir, want_dir);
        assert_string_equal(linux_of(&p->boots[0])->kernel, want_kernel);
}

/* ".." is fine in a path; parsing keeps it (the filesystem resolves it in
 * profile_check_files()), and files keep the base name they were given. */
static void test_dotdot_parses(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("/srv/labs/profiles/lab.conf", GOOD_HEAD
                "boot \"l\" { kind = \"linux\" kernel = \"../images/vmlinuz\" initrd = {\"../images/./initrd.img\"} }\n"
                "boot \"w\" { kind = \"wimboot\" wimboot = \"/opt/x/../wimboot\" bcd = \"../pe/BCD\" boot_sdi = \"s\"\n"
                "            wim = \"w\" inject = {\"../../tools/startnet.cmd\"} }\n");
        assert_string_equal(linux_of(&p->boots[0])->kernel, "/srv/labs/profiles/../images/vmlinuz");
        assert_string_equal(linux_of(&p->boots[0])->kernel_name, "vmlinuz");
        assert_string_equal(linux_of(&p->boots[0])->initrd[0], "/srv/labs/profiles/../images/initrd.img");
        assert_string_equal(linux_of(&p->boots[0])->initrd_name[0], "initrd.img");
        assert_string_equal(wimboot_of(&p->boots[1])->wimboot, "/opt/x/../wimboot");
        assert_string_equal(wimboot_of(&p->boots[1])->bcd, "/srv/labs/profiles/../pe/BCD");
        assert_string_equal(wimboot_of(&p->boots[1])->inject[0], "/srv/labs/profiles/../../tools/startnet.cmd");
        assert_string_equal(wimboot_of(&p->boots[1])->inject_name[0], "startnet.cmd");
        /* a file path must not end in "..": that is a directory */
        assert_errors("/srv/labs/profiles/lab.conf", GOOD_HEAD
                      "boot \"l\" { kind = \"linux\" kernel = \"../images/..\" initrd = {\"a/..\"} }\n",
                      "/srv/labs/profiles/lab.conf:3: boot.l.kernel: '../images/..' ends in '..', which names a "
                      "directory, not a file\n"
                      "/srv/labs/profiles/lab.conf:3: boot.l.initrd: 'a/..' ends in '..', which names a directory, "
                      "not a file\n");
        /* what stays refused: what the configs cannot carry */
        assert_errors("/srv/labs/profiles/lab.conf", GOOD_HEAD
                      "boot \"l\" { kind = \"linux\" kernel = \"../images/vm\\x01linuz\" }\n",
                      "/srv/labs/profiles/lab.conf:3: boot.l.kernel: '../images/vm\\x01linuz' contains a control "
                      "character, which is not allowed in a path\n");
}

/* Lab names up to 32 characters, from the file name too; the default bridge
 * is shortened to fit 15 characters (names.h). */
static void test_long_lab_names(void **state) {
        struct profile *p;
        p = parse_ok("/srv/labs/windows-setup.conf", "bridge { address = \"10.40.0.1/24\" }\nboot \"a\" { kind = \"local\" }\n");
        assert_string_equal(p->lab, "windows-setup");
        assert_string_equal(p->bridge.name, "pxe-window-b05b");
        assert_string_equal(p->menu.title, "pxelab windows-setup");
        profile_free(p);
        p = parse_ok("debian-installer.conf", "bridge { address = \"10.40.0.1/24\" }\nboot \"a\" { kind = \"local\" }\n");
        assert_string_equal(p->lab, "debian-installer");
        assert_string_equal(p->bridge.name, "pxe-debian-515e");
        profile_free(p);
        /* 32 characters; a bridge name of one's own still wins */
        p = parse_ok("x.conf", "lab = \"abcdefghijklmnopqrstuvwxyz012345\"\n"
                     "bridge { name = \"br-long\" address = \"10.40.0.1/24\" }\nboot \"a\" { kind = \"local\" }\n");
        assert_string_equal(p->lab, "abcdefghijklmnopqrstuvwxyz012345");
        assert_string_equal(p->bridge.name, "br-long");
        profile_free(p);
        /* a short name keeps its plain bridge name */
        p = parse_ok("abcdefghijk.conf", "bridge { address = \"10.40.0.1/24\" }\nboot \"a\" { kind = \"local\" }\n");
        assert_string_equal(p->bridge.name, "pxe-abcdefghijk");
        profile_free(p);
        assert_errors("x.conf", "lab = \"abcdefghijklmnopqrstuvwxyz0123456\"\nbridge { address = \"10.40.0.1/24\" }\n"
                      "boot \"a\" { kind = \"local\" }\n",
                      "x.conf:1: lab: 'abcdefghijklmnopqrstuvwxyz0123456' is not a valid lab name (1-32 characters "
                      "from a-z 0-9 -, a letter or digit first and last, no '--')\n");
        assert_errors("x.conf", "lab = \"lab-\"\nbridge { address = \"10.40.0.1/24\" }\nboot \"a\" { kind = \"local\" }\n",
                      "x.conf:1: lab: 'lab-' is not a valid lab name (1-32 characters "
                      "from a-z 0-9 -, a letter or digit first and last, no '--')\n");
        assert_errors("/l/my--lab.conf", "bridge { address = \"10.40.0.1/24\" }\nboot \"a\" { kind = \"local\" }\n",
                      "/l/my--lab.conf:1: lab: the file name gives 'my--lab', which is not a valid lab name (1-32 "
                      "characters from a-z 0-9 -, a letter or digit first and last, no '--'); set lab = \"NAME\" in "
                      "the profile\n");
}

static void test_wimboot_from_env(void **state) {
        struct profile *p;
        setenv("PXELAB_WIMBOOT", "/opt/ipxe/wimboot", 1);
        p = parse_ok("e.conf", GOOD_HEAD "boot \"w\" { kind = \"wimboot\" bcd = \"b\" boot_sdi = \"s\" wim = \"w\" }\n");
        assert_string_equal(wimboot_of(&p->boots[0])->wimboot, "/opt/ipxe/wimboot");
        profile_free(p);
        /* the profile's own setting wins */
        p = parse_ok("e.conf", GOOD_HEAD "wimboot = \"/x/wimboot\"\n"
                     "boot \"w\" { kind = \"windows\" source = \"/s\" }\n");
        assert_string_equal(windows_of(&p->boots[0])->wimboot, "/x/wimboot");
        profile_free(p);
        setenv("PXELAB_WIMBOOT", "/opt/ipxe/wim boot", 1);
        assert_errors("e.conf", GOOD_HEAD "boot \"w\" { kind = \"windows\" source = \"/s\" }\n",
                      "e.conf:3: PXELAB_WIMBOOT: '/opt/ipxe/wim boot' contains a space, which is not allowed in a path\n");
        unsetenv("PXELAB_WIMBOOT");
}

static void test_mac_normalisation(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("m.conf", GOOD_HEAD
                "boot \"a\" { kind = \"local\" }\n"
                "host \"h1\" { mac = \"52-54-00-AB-cd-EF\" }\n"
                "host \"h2\" { mac = \"02:00:00:00:00:0A\" ip = \"10.33.0.20\" boot = \"a\" }\n"
                "vm \"v\" { mac = \"52:54:00:AB:CD:EE\" }\n");
        assert_string_equal(p->hosts[0].mac, "52:54:00:ab:cd:ef");
        assert_null(p->hosts[0].ip);
        assert_null(p->hosts[0].boot);
        assert_string_equal(p->hosts[1].mac, "02:00:00:00:00:0a");
        assert_string_equal(p->hosts[1].ip, "10.33.0.20");
        assert_string_equal(p->hosts[1].boot, "a");
        assert_string_equal(p->vms[0].mac, "52:54:00:ab:cd:ee");
        assert_errors("m.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" }\n"
                      "host \"h1\" { mac = \"52-54-00-AB-cd-EF\" }\n"
                      "host \"h2\" { mac = \"52:54:00:ab:CD:ef\" }\n",
                      "m.conf:5: host.h2.mac: '52:54:00:ab:CD:ef' is already used by host.h1 on line 4\n");
}

static void test_derived_range(void **state) {
        struct { const char *address, *start, *end; } cases[] = {
                { "10.33.0.1/24", "10.33.0.100", "10.33.0.200" },
                { "10.33.0.254/24", "10.33.0.100", "10.33.0.200" },
                { "10.33.0.150/24", "10.33.0.151", "10.33.0.254" },       /* upper half beyond own */
                { "10.33.0.120/25", "10.33.0.64", "10.33.0.119" },        /* upper half below own */
                { "10.33.0.1/28", "10.33.0.8", "10.33.0.14" },
                { "10.33.0.1/30", "10.33.0.2", "10.33.0.2" },
                { "10.0.5.5/8", "10.0.0.100", "10.0.0.200" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = xasprintf("lab = \"r\"\nbridge { address = \"%s\" }\nboot \"a\" { kind = \"local\" }\n",
                                                     cases[i].address);
                _cleanup_(profile_freep) struct profile *p = parse_ok("r.conf", buf);
                assert_range(p, cases[i].start, cases[i].end);
        }
        assert_errors("r.conf", "lab = \"r\"\nbridge { address = \"10.33.0.2/30\" }\ndhcp { lease = \"1h\" }\n"
                      "boot \"a\" { kind = \"local\" }\n",
                      "r.conf:3: dhcp.range: no room for a DHCP range in 10.33.0.0/30 beside the lab's own address; "
                      "set range = {\"START\", \"END\"}\n");
        /* without a dhcp section the address's line stands for the range */
        assert_errors("r.conf", "lab = \"r\"\nbridge {\n address = \"10.33.0.2/30\"\n}\nboot \"a\" { kind = \"local\" }\n",
                      "r.conf:3: dhcp.range: no room for a DHCP range in 10.33.0.0/30 beside the lab's own address; "
                      "set range = {\"START\", \"END\"}\n");
        /* a host outside the derived range is fine, inside is not */
        {
                _cleanup_(profile_freep) struct profile *p = parse_ok("r.conf", GOOD_HEAD "boot \"a\" { kind = \"local\" }\n"
                                                                      "host \"h\" { mac = \"52:54:00:00:00:01\" ip = \"10.33.0.201\" }\n");
                assert_string_equal(p->hosts[0].ip, "10.33.0.201");
        }
}

static void test_lines(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("n.conf",
                "# line 1\n"
                "/* line 2\n"
                "   line 3 */ lab = \"n\"   // line 3\n"
                "bridge {            # line 4\n"
                "    address = \"10.33.0.1/24\"\n"
                "}\n"
                "boot \"rescue\"\n"
                "{\n"
                "    title = \"two \\\n"
                "lines\"\n"
                "    kind = linux\n"
                "    kernel = /srv/k\n"
                "    initrd = {\n"
                "        \"/srv/i1\", # first\n"
                "        \"/srv/i2\"  # second\n"
                "    }\n"
                "}\n"
                "host \"h\" { mac = \"52:54:00:00:00:01\" }\n"
                "\n"
                "vm \"v\" {\n"
                "  memory = 1024\n"
                "}\n");
        assert_int_equal(profile_line(p, "lab"), 3);
        assert_int_equal(profile_line(p, "bridge"), 4);
        assert_int_equal(profile_line(p, "bridge.address"), 5);
        assert_int_equal(profile_line(p, "boot.rescue"), 8);
        assert_int_equal(p->boots[0].line, 8);
        assert_string_equal(p->boots[0].title, "two lines");
        assert_int_equal(profile_line(p, "boot.rescue.title"), 10);
        assert_int_equal(profile_line(p, "boot.rescue.kind"), 11);
        assert_int_equal(profile_line(p, "boot.rescue.kernel"), 12);
        assert_int_equal(profile_line(p, "boot.rescue.initrd"), 14);
        assert_int_equal(profile_line(p, "boot.rescue.initrd[1]"), 15);
        assert_int_equal(linux_of(&p->boots[0])->n_initrd, 2);
        assert_int_equal(p->hosts[0].line, 18);
        assert_int_equal(profile_line(p, "host.h.mac"), 18);
        assert_int_equal(p->vms[0].line, 20);
        assert_int_equal(profile_line(p, "vm.v.memory"), 21);
        assert_int_equal(profile_line(p, "menu.title"), 0);
        assert_int_equal(profile_line(p, "nonsense"), 0);
}

static void test_cannot_read(void **state) {
        assert_errors("/nonexistent/pxelab.conf", NULL, "/nonexistent/pxelab.conf: cannot read: No such file or directory\n");
        /* refused unread: a directory, a device, a FIFO (see cli.bats) */
        assert_errors("tests", NULL, "tests: not a regular file\n");
        assert_errors("/dev/zero", NULL, "/dev/zero: not a regular file\n");
}

static void test_check_files_ok(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("tests/ok.conf", GOOD_HEAD
                "wimboot = \"fixtures/wimboot\"\n"
                "templates = \"fixtures\"\n"
                "boot \"l\" { kind = \"linux\" kernel = \"fixtures/vmlinuz\" initrd = {\"fixtures/initrd.img\"} }\n"
                "boot \"pe\" { kind = \"wimboot\" bcd = \"fixtures/win/Boot/BCD\" boot_sdi = \"fixtures/win/Boot/boot.sdi\"\n"
                "             wim = \"fixtures/win/sources/Boot.WIM\" bootmgr = \"fixtures/win/BOOTMGR\" }\n"
                /* the real names differ in case: BOOTMGR, Boot/BCD, sources/Boot.WIM */
                "boot \"win\" { kind = \"windows\" source = \"fixtures/win\" drivers = \"fixtures\" }\n");
        char **errors = (char **) 1;
        assert_int_equal(profile_check_files(p, &errors), 0);
        assert_null(errors);
}

static void test_check_files_errors(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse_ok("tests/c.conf", GOOD_HEAD
                "templates = \"fixtures/vmlinuz\"\n"
                "boot \"l\" {\n"
                "  kind = \"linux\"\n"
                "  kernel = \"fixtures/win\"\n"
                "  initrd = {\"fixtures/initrd.img\", \"/nonexistent/i\"}\n"
                "}\n"
                "boot \"win\" {\n"
                "  kind = \"windows\"\n"
                "  wimboot = \"fixtures/vmlinuz\"\n"
                "  source = \"fixtures/vmlinuz\"\n"
                "  unattend = \"fixtures/win/Boot\"\n"
                "}\n");
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *got = NULL;
        assert_int_equal(profile_check_files(p, &errors), -ENOENT);
        got = join_lines(errors);
        assert_string_equal(got,
                "tests/c.conf:3: templates: 'fixtures/vmlinuz' is not a directory\n"
                "tests/c.conf:6: boot.l.kernel: 'fixtures/win' is not a regular file\n"
                "tests/c.conf:7: boot.l.initrd: '/nonexistent/i' does not exist\n"
                "tests/c.conf:12: boot.win.source: 'fixtures/vmlinuz' is not a directory\n"
                "tests/c.conf:13: boot.win.unattend: 'fixtures/win/Boot' is not a regular file\n");
}

static void mkfile(const char *dir, const char *rel, const char *content) {
        _cleanup_free_ char *path = path_join(dir, rel), *parent = xstrdup(path);
        *strrchr(parent, '/') = 0;
        assert_int_equal(mkdir_p(parent, 0755), 0);
        assert_int_equal(write_file_atomic(path, content, strlen(content), 0644), 0);
}

static void mksymlink(const char *dir, const char *rel, const char *target) {
        _cleanup_free_ char *path = path_join(dir, rel);
        assert_int_equal(symlink(target, path), 0);
}

/* A tree as users keep it: DIR/profiles/lab.conf beside DIR/images/. The
 * check resolves every path to its canonical form (symlinks, ".."), which
 * is what the model and so nginx see; names stay as written. */
static void test_check_files_resolves(void **state) {
        char tmp[] = "/tmp/pxelab-test-resolve-XXXXXX";
        _cleanup_free_ char *dir = NULL, *conf = NULL, *want = NULL, *got = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        struct profile *p;
        assert_non_null(mkdtemp(tmp));
        dir = realpath(tmp, NULL);
        mkfile(dir, "images/vmlinuz", "k");
        mkfile(dir, "images/initrd-6.1.img", "i");
        mksymlink(dir, "images/initrd.img", "initrd-6.1.img");
        mkfile(dir, "my images/vmlinuz", "k");
        mkfile(dir, "profiles/x", "");
        mksymlink(dir, "profiles/spaced", "../my images");
        mksymlink(dir, "profiles/debian", "../images/debian");
        mkfile(dir, "images/debian/x", "");
        conf = path_join(dir, "profiles/lab.conf");

        p = parse_ok(conf, GOOD_HEAD
                     "boot \"l\" { kind = \"linux\" kernel = \"../images/vmlinuz\" initrd = {\"../images/initrd.img\"} }\n"
                     /* ".." after a symlink: from where it points (images/), as
                      * the kernel walks it; profiles/vmlinuz does not exist */
                     "boot \"m\" { kind = \"linux\" kernel = \"debian/../vmlinuz\" }\n"
                     "templates = \"../images/..\"\n");
        assert_int_equal(profile_check_files(p, &errors), 0);
        assert_null(errors);
        want = xasprintf("%s/images/vmlinuz", dir);
        assert_string_equal(linux_of(&p->boots[0])->kernel, want);
        free(want);
        want = xasprintf("%s/images/initrd-6.1.img", dir);
        assert_string_equal(linux_of(&p->boots[0])->initrd[0], want);
        assert_string_equal(linux_of(&p->boots[0])->initrd_name[0], "initrd.img");
        free(want);
        want = xasprintf("%s/images/vmlinuz", dir);
        assert_string_equal(linux_of(&p->boots[1])->kernel, want);
        assert_string_equal(p->templates, dir);
        profile_free(p);

        /* one that leads nowhere says where it led; one whose real path the
         * configs cannot carry says what it resolves to */
        p = parse_ok(conf, GOOD_HEAD
                     "boot \"l\" {\n"
                     "  kind = \"linux\"\n"
                     "  kernel = \"../images/vmlinuz-missing\"\n"
                     "  initrd = {\"../no-dir/x/../initrd.img\", \"spaced/vmlinuz\"}\n"
                     "}\n"
                     "boot \"m\" { kind = \"linux\" kernel = \"x/../vmlinuz\" }\n"
                     "boot \"n\" { kind = \"linux\" kernel = \"/nonexistent/../vmlinuz\" }\n");
        assert_int_equal(profile_check_files(p, &errors), -ENOENT);
        got = join_lines(errors);
        free(want);
        want = xasprintf("%1$s:5: boot.l.kernel: '../images/vmlinuz-missing' (%2$s/images/vmlinuz-missing) does not exist\n"
                         "%1$s:6: boot.l.initrd: '../no-dir/x/../initrd.img' (%2$s/no-dir/x/../initrd.img) does not exist\n"
                         "%1$s:6: boot.l.initrd: 'spaced/vmlinuz' resolves to '%2$s/my images/vmlinuz', which contains "
                         "a space (not allowed in a path)\n"
                         "%1$s:8: boot.m.kernel: 'x/../vmlinuz' (%2$s/profiles/x/../vmlinuz) does not exist\n"
                         /* "x" is a file, "nonexistent" missing: the lookup stops there */
                         "%1$s:9: boot.n.kernel: '/nonexistent/../vmlinuz' does not exist\n",
                         conf, dir);
        assert_string_equal(got, want);
        profile_free(p);
        strv_free(errors);
        errors = NULL;

        /* render's resolution: what exists is resolved, the rest left alone */
        p = parse_ok(conf, GOOD_HEAD
                     "boot \"l\" { kind = \"linux\" kernel = \"../images/vmlinuz\" initrd = {\"../images/none.img\"} }\n");
        assert_int_equal(profile_resolve_paths(p, &errors), 0);
        free(want);
        want = xasprintf("%s/images/vmlinuz", dir);
        assert_string_equal(linux_of(&p->boots[0])->kernel, want);
        free(want);
        want = xasprintf("%s/profiles/../images/none.img", dir);
        assert_string_equal(linux_of(&p->boots[0])->initrd[0], want);
        profile_free(p);
        p = parse_ok(conf, GOOD_HEAD "boot \"l\" { kind = \"linux\" kernel = \"spaced/vmlinuz\" }\n");
        assert_int_equal(profile_resolve_paths(p, &errors), -EINVAL);
        assert_non_null(errors);
        assert_non_null(strstr(errors[0], ":3: boot.l.kernel: 'spaced/vmlinuz' resolves to '"));
        assert_null(errors[1]);
        profile_free(p);
        rm_rf(dir);
}

/* As an unprivileged user (root reads everything) a mode-000 file is not readable. */
static void test_check_files_unreadable(void **state) {
        char dir[] = "/tmp/pxelab-test-profile-XXXXXX";
        _cleanup_free_ char *kernel = NULL, *conf = NULL, *buf = NULL;
        int status;
        pid_t pid;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
        kernel = xasprintf("%s/vmlinuz", dir);
        assert_int_equal(write_file_atomic(kernel, "k", 1, 0000), 0);
        conf = xasprintf("%s/u.conf", dir);
        buf = xasprintf(GOOD_HEAD "boot \"l\" { kind = \"linux\" kernel = \"vmlinuz\" }\n");
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct profile *p = NULL;
                char **errors = NULL;
                int ok;
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                if (profile_parse(conf, buf, kinds_profile(), NULL, &p) < 0)
                        _exit(4);
                ok = profile_check_files(p, &errors) == -ENOENT && errors && errors[0] && !errors[1] &&
                     strstr(errors[0], ":3: boot.l.kernel: 'vmlinuz' is not readable");
                strv_free(errors);
                profile_free(p);
                _exit(ok ? 0 : 5);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        rm_rf(dir);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_profile_load_prints(void **state) {
        char path[] = "/tmp/pxelab-test-stderr-XXXXXX";
        _cleanup_free_ char *got = NULL;
        struct profile *p = NULL;
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        assert_true(fd >= 0 && saved >= 0);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        assert_int_equal(profile_load("tests/bad-profiles/27-duplicate-mac-hosts.conf", kinds_profile(), &p), -EINVAL);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(fd);
        assert_null(p);
        assert_int_equal(read_file(path, &got, NULL), 0);
        unlink(path);
        assert_string_equal(got, "tests/bad-profiles/27-duplicate-mac-hosts.conf:9: host.b.mac: "
                                 "'52:54:00:00:00:01' is already used by host.a on line 6\n");
        assert_int_equal(profile_load("profiles/minimal.conf", kinds_profile(), &p), 0);
        assert_string_equal(p->lab, "minimal");
        profile_free(p);
}

/* The shipped example profiles parse (their boot files need not exist here). */
static void test_example_profiles(void **state) {
        struct profile *p = NULL;
        char **errors = NULL;
        assert_int_equal(profile_parse("profiles/demo.conf", NULL, kinds_profile(), &errors, &p), 0);
        assert_string_equal(p->lab, "demo");
        assert_int_equal(p->n_boots, 4);
        assert_string_equal(p->menu.default_entry, "rescue");
        assert_int_equal(p->n_hosts, 1);
        assert_int_equal(p->n_vms, 1);
        profile_free(p);
        assert_int_equal(profile_parse("profiles/minimal.conf", NULL, kinds_profile(), &errors, &p), 0);
        assert_string_equal(p->bridge.name, "pxe-minimal");
        profile_free(p);
}

static int cmpstr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* What `pxelab check FILE` prints to stderr: parse errors, or else the
 * errors of the file check. */
static char *check_output(const char *path) {
        _cleanup_strv_free_ char **errors = NULL;
        struct profile *p = NULL;
        if (profile_parse(path, NULL, kinds_profile(), &errors, &p) < 0)
                return join_lines(errors);
        profile_check_files(p, &errors);
        profile_free(p);
        return join_lines(errors);
}

static void test_bad_profile_corpus(void **state) {
        const char *dirname = "tests/bad-profiles";
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, failed = 0;
        struct dirent *de;
        DIR *d = opendir(dirname);
        if (!d)
                fail_msg("cannot open %s (run from the repository root): %s", dirname, strerror(errno));
        names = xcalloc(1, sizeof(char *));
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
                        continue;
                names = xrealloc(names, (n + 2) * sizeof(char *));
                names[n++] = xasprintf("%s/%s", dirname, de->d_name);
                names[n] = NULL;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), cmpstr);
        unsetenv("PXELAB_WIMBOOT");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *errpath = xasprintf("%.*s.err", (int) (strlen(names[i]) - 5), names[i]);
                _cleanup_free_ char *want = NULL, *got = check_output(names[i]);
                if (read_file(errpath, &want, NULL) < 0) {
                        print_error("%s: no %s\n", names[i], errpath);
                        failed++;
                        continue;
                }
                if (!*want || strcmp(want, got) != 0) {
                        print_error("%s:\n--- expected\n%s--- got\n%s", names[i], want, got);
                        failed++;
                }
        }
        print_message("%zu bad profiles checked\n", n);
        assert_int_equal(failed, 0);
        assert_true(n >= 55);
}

/* bridge.allow_host_ports: none by default; in order, tcp and udp apart,
 * a single string as a list of one; the same over an OVS bridge. */
static void test_allow_host_ports(void **state) {
        _cleanup_(profile_freep) struct profile *none = parse_ok("/l/t.conf", GOOD_HEAD "boot \"d\" { kind = \"local\" }\n");
        _cleanup_(profile_freep) struct profile *p = parse_ok("/l/t.conf",
                "bridge {\n"
                "  address = \"10.33.0.1/24\"\n"
                "  allow_host_ports = {\"22/tcp\", \"5353/udp\", \"5353/tcp\", \"65535/tcp\", \"1/udp\"}\n"
                "}\n"
                "boot \"d\" { kind = \"local\" }\n");
        _cleanup_(profile_freep) struct profile *one = parse_ok("/l/t.conf",
                "bridge { type = \"ovs\" address = \"10.33.0.1/24\" allow_host_ports = \"8080/tcp\" }\n"
                "boot \"d\" { kind = \"local\" }\n");
        static const struct host_port want[] = {
                { 22, false }, { 5353, true }, { 5353, false }, { 65535, false }, { 1, true },
        };

        assert_int_equal(none->bridge.n_allow_host_ports, 0);
        assert_int_equal(p->bridge.n_allow_host_ports, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_int_equal(p->bridge.allow_host_ports[i].port, want[i].port);
                assert_int_equal(p->bridge.allow_host_ports[i].udp, want[i].udp);
        }
        assert_int_equal(profile_line(p, "bridge.allow_host_ports[3]"), 3);
        assert_int_equal(one->bridge.n_allow_host_ports, 1);
        assert_int_equal(one->bridge.allow_host_ports[0].port, 8080);
        assert_false(one->bridge.allow_host_ports[0].udp);
        assert_errors("/l/t.conf",
                      "bridge { address = \"10.33.0.1/24\" allow_host_ports = {\"80/tcp\", \"8o/tcp\", \"80/tcp\"} }\n"
                      "boot \"d\" { kind = \"local\" }\n",
                      "/l/t.conf:1: bridge.allow_host_ports: '8o/tcp' is not PORT/tcp or PORT/udp (PORT 1-65535)\n"
                      "/l/t.conf:1: bridge.allow_host_ports: '80/tcp' is listed twice (first on line 1)\n");
}

/* The parser knows no kind: it takes any table. A kind of the test's own,
 * keeping its values in kind_data, parses; a kind not in the table is
 * refused naming the table's kinds; another table's keys are unknown. */
struct iso_data {
        char *image;
        char *label;
};

static const struct kind_key iso_keys[] = { { "image", KIND_KEY_STR }, { "label", KIND_KEY_STR }, {} };

static void iso_build(struct entry_builder *eb, struct boot_entry *e) {
        struct iso_data *d = xcalloc(1, sizeof(*d));
        d->image = entry_path(eb, "image", true);
        d->label = entry_text(eb, "label", CS_TITLE);
        e->kind_data = d;
}

static void iso_done(struct boot_entry *e) {
        struct iso_data *d = e->kind_data;
        free(d->image);
        free(d->label);
        free(d);
}

static const struct profile_kind iso_kind = { .name = "iso", .keys = iso_keys, .build = iso_build, .done = iso_done };
static const struct profile_kind bare_kind = { .name = "bare", .keys = (const struct kind_key[]) { {} } };
static const struct profile_kind *const test_kinds[] = { &bare_kind, &iso_kind, NULL };

static void test_kinds_injected(void **state) {
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *got = NULL;
        struct profile *p = NULL;
        struct iso_data *d;

        assert_int_equal(profile_parse("/srv/t.conf", GOOD_HEAD
                                       "boot \"i\" { kind = \"iso\" image = \"x.iso\" label = \"Live\" }\n"
                                       "boot \"b\" { kind = \"bare\" }\n", test_kinds, &errors, &p), 0);
        assert_ptr_equal(p->boots[0].kind, &iso_kind);
        d = p->boots[0].kind_data;
        assert_string_equal(d->image, "/srv/x.iso");
        assert_string_equal(d->label, "Live");
        assert_ptr_equal(p->boots[1].kind, &bare_kind);
        assert_null(p->boots[1].kind_data);
        profile_free(p);
        p = NULL;

        assert_int_equal(profile_parse("t.conf", GOOD_HEAD
                                       "boot \"l\" { kind = \"linux\" }\n"
                                       "boot \"b\" {\n kind = \"bare\"\n image = \"x.iso\"\n}\n"
                                       "boot \"i\" { kind = \"iso\" }\n"
                                       "boot \"n\" { }\n", test_kinds, &errors, &p), -EINVAL);
        got = join_lines(errors);
        assert_string_equal(got,
                "t.conf:3: boot.l.kind: 'linux' is not one of: bare, iso\n"
                "t.conf:6: boot.b.image: not valid for kind 'bare'\n"
                "t.conf:8: boot.i.image: not set (required for kind 'iso')\n"
                "t.conf:9: boot.n.kind: not set (one of: bare, iso)\n");
        strv_free(errors);
        errors = NULL;
        free(TAKE_PTR(got));

        /* linux's keys are no option at all without the linux kind */
        assert_int_equal(profile_parse("t.conf", GOOD_HEAD "boot \"i\" { kind = \"iso\" kernel = \"k\" }\n",
                                       test_kinds, &errors, &p), -EINVAL);
        assert_non_null(errors);
        assert_non_null(strstr(errors[0], "kernel"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exact_messages),
                cmocka_unit_test(test_injection),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_everything_set_ok),
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_relative_profile_path),
                cmocka_unit_test(test_dotdot_parses),
                cmocka_unit_test(test_long_lab_names),
                cmocka_unit_test(test_wimboot_from_env),
                cmocka_unit_test(test_mac_normalisation),
                cmocka_unit_test(test_derived_range),
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_cannot_read),
                cmocka_unit_test(test_check_files_ok),
                cmocka_unit_test(test_check_files_errors),
                cmocka_unit_test(test_check_files_resolves),
                cmocka_unit_test(test_check_files_unreadable),
                cmocka_unit_test(test_profile_load_prints),
                cmocka_unit_test(test_example_profiles),
                cmocka_unit_test(test_bad_profile_corpus),
                cmocka_unit_test(test_allow_host_ports),
                cmocka_unit_test(test_kinds_injected),
        };
        unsetenv("PXELAB_WIMBOOT");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
