/* windows.c: MD4 and the NT hash against published vectors, the password
 * generator, and the model of wimboot/windows entries (load order, names,
 * clashes, drivers). Run from the repository root (tests/run-all does). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render/model.h"
#include "kinds/kind.h"
#include "profile/profile.h"
#include "basic/util.h"
#include "kinds/windows.h"

static char *hex(const uint8_t *b, size_t n) {
        char *s = xcalloc(2 * n + 1, 1);
        for (size_t i = 0; i < n; i++)
                sprintf(s + 2 * i, "%02x", b[i]);
        return s;
}

static void assert_md4(const char *in, const char *expected) {
        uint8_t h[16];
        _cleanup_free_ char *got = NULL;
        windows_md4(in, strlen(in), h);
        got = hex(h, 16);
        assert_string_equal(got, expected);
}

/* RFC 1320, appendix A.5: every vector, including the multi-block ones. */
static void test_md4_rfc1320(void **state) {
        assert_md4("", "31d6cfe0d16ae931b73c59d7e0c089c0");
        assert_md4("a", "bde52cb31de33e46245e05fbdbd6fb24");
        assert_md4("abc", "a448017aaf21d8525fc10ae87aa6729d");
        assert_md4("message digest", "d9130a8164549fe818874806e1c7014b");
        assert_md4("abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9");
        assert_md4("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                   "043f8582f241db351ce627e153e7f0e4");
        assert_md4("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                   "e33b4ddc9c38f2199c3e7b164fcc0536");
}

/* Lengths around the padding boundary: 55 bytes pad in one block, 56 need a
 * second, 64 and 120 end on or near a block (values from OpenSSL's MD4). */
static void test_md4_padding_boundaries(void **state) {
        static const struct { size_t n; const char *md4; } v[] = {
                { 55, "c889c81dd86c4d2e025778944ea02881" }, { 56, "d5f9a9e9257077a5f08b0b92f348b0ad" },
                { 63, "7ea3da77432d44c323671097d1348fc8" }, { 64, "52f5076fabd22680234a3fa9f9dc5732" },
                { 119, "e65dd227ccef97fa1d34d70189120f76" }, { 120, "b03ddbd470b47c013e0c7ab2ddd763db" },
        };
        char buf[121];
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                memset(buf, 'a', v[i].n);
                buf[v[i].n] = 0;
                assert_md4(buf, v[i].md4);
        }
}

static void test_nt_hash(void **state) {
        uint8_t h[16];
        _cleanup_free_ char *a = NULL, *b = NULL;
        windows_nt_hash("password", h);
        a = hex(h, 16);
        assert_string_equal(a, "8846f7eaee8fb117ad06bdd830b7586c");
        /* What Samba's own pdbedit stored for this password. */
        windows_nt_hash("Secr3t-pw", h);
        b = hex(h, 16);
        assert_string_equal(b, "496024fb9d9aa23ad0d9021f695dbdd0");
}

static void test_password(void **state) {
        char a[WINDOWS_PASSWORD_LEN + 1], b[WINDOWS_PASSWORD_LEN + 1];
        assert_int_equal(windows_password_new(a), 0);
        assert_int_equal(windows_password_new(b), 0);
        assert_int_equal(strlen(a), WINDOWS_PASSWORD_LEN);
        assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                         WINDOWS_PASSWORD_LEN);
        assert_string_not_equal(a, b);
}

/* ---- the model ----------------------------------------------------------- */

static char *tmpdir;

/* stderr of a call, for exact messages. */
static FILE *captured;
static int saved_stderr = -1;

static void capture_start(void) {
        fflush(stderr);
        captured = tmpfile();
        assert_non_null(captured);
        saved_stderr = dup(STDERR_FILENO);
        assert_true(dup2(fileno(captured), STDERR_FILENO) >= 0);
}

static char *capture_end(void) {
        long n;
        char *buf;
        fflush(stderr);
        assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
        close(saved_stderr);
        n = ftell(captured);
        buf = xcalloc(1, n + 1);
        rewind(captured);
        assert_int_equal(fread(buf, 1, n, captured), (size_t) n);
        fclose(captured);
        return buf;
}

/* model_build() must fail and log exactly EXPECTED (TMP stands for tmpdir). */
static void assert_model_fails(struct profile *p, const char *expected) {
        json_t *m = NULL;
        _cleanup_free_ char *log = NULL, *want = NULL;
        const char *t = strstr(expected, "TMP");
        capture_start();
        assert_int_equal(model_build(p, kinds_render(), "/run/pxelab/w", "/var/lib/pxelab/w", &m), -EINVAL);
        log = capture_end();
        assert_null(m);
        /* every TMP in EXPECTED is the temporary directory */
        want = xstrdup("");
        while (t) {
                char *n = xasprintf("%s%.*s%s", want, (int) (t - expected), expected, tmpdir);
                free(want);
                want = n;
                expected = t + 3;
                t = strstr(expected, "TMP");
        }
        {
                char *n = xasprintf("%s%s", want, expected);
                free(want);
                want = n;
        }
        assert_string_equal(log, want);
}

static int setup_dir(void **state) {
        char t[] = "/tmp/test_windows.XXXXXX";
        assert_non_null(mkdtemp(t));
        tmpdir = xstrdup(t);
        return 0;
}

static int teardown_dir(void **state) {
        rm_rf(tmpdir);
        free(tmpdir);
        return 0;
}

static void touch(const char *rel) {
        _cleanup_free_ char *path = path_join(tmpdir, rel), *dir = xstrdup(path);
        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(write_file_atomic(path, "x", 1, 0644), 0);
}

static struct profile *parse(const char *body) {
        _cleanup_free_ char *path = path_join(tmpdir, "lab.conf");
        _cleanup_free_ char *buf = xasprintf("lab = \"w\"\nwimboot = \"wimboot\"\nbridge { address = \"10.70.0.1/24\" }\n%s",
                                             body);
        char **errors = NULL;
        struct profile *p = NULL;
        int r = profile_parse(path, buf, kinds_profile(), &errors, &p);
        for (char **e = errors; e && *e; e++)
                print_error("%s\n", *e);
        strv_free(errors);
        assert_int_equal(r, 0);
        return p;
}

static const char *names(json_t *entry) {
        static char buf[512];
        json_t *f;
        size_t i;
        buf[0] = 0;
        json_array_foreach(json_object_get(entry, "initrds"), i, f) {
                if (i)
                        strcat(buf, " ");
                strcat(buf, json_string_value(json_object_get(f, "name")));
        }
        return buf;
}

static void test_model_windows(void **state) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        json_t *m = NULL, *e, *w, *smb;
        _cleanup_free_ char *bcd = NULL;

        touch("iso/BOOTMGR");
        touch("iso/Boot/BCD");
        touch("iso/Boot/boot.sdi");
        touch("iso/SOURCES/Boot.Wim");
        touch("drv/viostor.inf");
        touch("drv/viostor.sys");
        touch("drv/NetKVM.INF");
        touch("drv/netkvm.sys");
        touch("drv/.hidden");
        touch("unattend.xml");
        p = parse("boot \"win11\" { kind = \"windows\" source = \"iso\" drivers = \"drv\" unattend = \"unattend.xml\"\n"
                  "    setup_args = \"/noreboot\" }\n");
        assert_int_equal(model_build(p, kinds_render(), "/run/pxelab/w", "/var/lib/pxelab/w", &m), 0);
        e = json_array_get(json_object_get(m, "boots"), 0);
        /* The boot set first (names wimboot knows), then what lands in System32. */
        assert_string_equal(names(e), "bootmgr BCD boot.sdi boot.wim winpeshl.ini install.cmd autounattend.xml "
                                      "NetKVM.INF netkvm.sys viostor.inf viostor.sys");
        /* Found case-insensitively where they are. */
        bcd = path_join(tmpdir, "iso/Boot/BCD");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e, "initrds"), 1), "path")),
                            bcd);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e, "initrds"), 4), "path")),
                            "/run/pxelab/w/windows/win11/winpeshl.ini");
        assert_string_equal(json_string_value(json_object_get(json_object_get(e, "wimboot"), "url")),
                            "http://10.70.0.1/files/win11/wimboot");
        w = json_object_get(e, "windows");
        assert_string_equal(json_string_value(json_object_get(w, "unc")), "\\\\10.70.0.1\\win11");
        assert_string_equal(json_string_value(json_object_get(w, "setup_args")), "/noreboot");
        assert_true(json_is_true(json_object_get(w, "has_unattend")));
        /* drvload gets the .inf files only. */
        assert_int_equal(json_array_size(json_object_get(w, "drivers")), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(w, "drivers"), 0), "name")),
                            "NetKVM.INF");
        /* Every file is served: wimboot and the eleven. */
        assert_int_equal(json_array_size(json_object_get(m, "files")), 12);
        smb = json_object_get(m, "smb");
        assert_true(json_is_true(json_object_get(smb, "enabled")));
        assert_string_equal(json_string_value(json_object_get(smb, "passdb")), "/run/pxelab/w/smb/private/smbpasswd");
        assert_string_equal(json_string_value(json_object_get(smb, "credentials")), "/var/lib/pxelab/w/smb.credentials");
        assert_int_equal(json_array_size(json_object_get(smb, "shares")), 1);
        assert_null(json_object_get(smb, "password"));
        json_decref(m);
}

/* The example profiles render where nothing exists: canonical names. */
static void test_model_windows_missing_tree(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse("boot \"w\" { kind = \"windows\" source = \"/nonexistent/iso\" }\n");
        json_t *m = NULL, *e;
        assert_int_equal(model_build(p, kinds_render(), "/run/pxelab/w", "/var/lib/pxelab/w", &m), 0);
        e = json_array_get(json_object_get(m, "boots"), 0);
        assert_string_equal(names(e), "bootmgr BCD boot.sdi boot.wim winpeshl.ini install.cmd");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e, "initrds"), 3), "path")),
                            "/nonexistent/iso/sources/boot.wim");
        json_decref(m);
}

static void test_model_wimboot(void **state) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        json_t *m = NULL, *e;
        p = parse("boot \"pe\" { kind = \"wimboot\" bcd = \"pe/bcd\" boot_sdi = \"pe/boot.sdi\" wim = \"pe/winpe.wim\"\n"
                  "    inject = {\"pe/startnet.cmd\", \"pe/tool.exe\"} args = \"gui index=2\" }\n"
                  "boot \"w2\" { kind = \"wimboot\" bootmgr = \"pe/bootmgr\" bcd = \"pe/bcd\" boot_sdi = \"pe/boot.sdi\" wim = \"pe/winpe.wim\" }\n");
        assert_int_equal(model_build(p, kinds_render(), "/run/pxelab/w", "/var/lib/pxelab/w", &m), 0);
        e = json_array_get(json_object_get(m, "boots"), 0);
        /* No bootmgr given: wimboot extracts it; the WIM is always boot.wim. */
        assert_string_equal(names(e), "BCD boot.sdi boot.wim startnet.cmd tool.exe");
        assert_true(json_is_true(json_object_get(e, "has_args")));
        assert_string_equal(json_string_value(json_object_get(e, "args")), "gui index=2");
        assert_null(json_object_get(e, "windows"));
        e = json_array_get(json_object_get(m, "boots"), 1);
        assert_string_equal(names(e), "bootmgr BCD boot.sdi boot.wim");
        assert_false(json_is_true(json_object_get(e, "has_args")));
        /* No windows entry: no smbd. */
        assert_false(json_is_true(json_object_get(json_object_get(m, "smb"), "enabled")));
        json_decref(m);
}

/* A file wimboot would see twice (any case) is refused with its line. */
static void test_model_clash(void **state) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        p = parse("boot \"pe\" { kind = \"wimboot\" bcd = \"pe/bcd\" boot_sdi = \"pe/boot.sdi\" wim = \"pe/boot.wim\"\n"
                  "    inject = {\"x/Boot.SDI\"} }\n");
        assert_model_fails(p, "TMP/lab.conf:5: boot.pe.inject: 'TMP/x/Boot.SDI' would be loaded as 'Boot.SDI', "
                              "but boot entry 'pe' already loads a file of that name\n");
}

static void test_model_unsafe_driver_name(void **state) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        touch("iso2/bootmgr");
        touch("drv2/a%b.inf");
        p = parse("boot \"w\" { kind = \"windows\" source = \"iso2\" drivers = \"drv2\" }\n");
        assert_model_fails(p, "TMP/lab.conf:4: boot.w.drivers: 'TMP/drv2' has the file 'a%b.inf'; "
                              "driver file names may only have letters, digits and ._+-\n");
}

static void test_model_reserved_share(void **state) {
        _cleanup_(profile_freep) struct profile *p = parse("boot \"global\" { kind = \"windows\" source = \"iso\" }\n");
        assert_model_fails(p, "TMP/lab.conf:4: boot.global: 'global' names a special section of smb.conf; "
                              "give this windows entry another name\n");
}

/* An injected file keeps the name it was given when it is a symlink: it
 * lands in System32 as startnet.cmd, served from the file it points to. */
static void test_model_inject_symlink(void **state) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_free_ char *link = path_join(tmpdir, "pe/startnet.cmd"), *real = NULL, *want = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        json_t *m = NULL, *e, *f;
        touch("pe/bcd");
        touch("pe/boot.sdi");
        touch("pe/winpe.wim");
        touch("wimboot");
        touch("tools/startnet-v2.cmd");
        unlink(link);
        assert_int_equal(symlink("../tools/startnet-v2.cmd", link), 0);
        p = parse("boot \"pe\" { kind = \"wimboot\" bcd = \"pe/bcd\" boot_sdi = \"pe/boot.sdi\" wim = \"pe/winpe.wim\"\n"
                  "    inject = {\"pe/startnet.cmd\"} }\n");
        assert_int_equal(profile_check_files(p, &errors), 0);
        assert_int_equal(model_build(p, kinds_render(), "/run/pxelab/w", "/var/lib/pxelab/w", &m), 0);
        e = json_array_get(json_object_get(m, "boots"), 0);
        assert_string_equal(names(e), "BCD boot.sdi boot.wim startnet.cmd");
        f = json_array_get(json_object_get(e, "initrds"), 3);
        real = realpath(tmpdir, NULL);
        want = xasprintf("%s/tools/startnet-v2.cmd", real);
        assert_string_equal(json_string_value(json_object_get(f, "path")), want);
        assert_string_equal(json_string_value(json_object_get(f, "url_path")), "/files/pe/startnet.cmd");
        json_decref(m);
}

/* NetBIOS names have 15 characters, like interface names: a long lab name
 * is shortened the same way (names.h). */
static void test_netbios_name(void **state) {
        struct { const char *lab, *netbios; } cases[] = {
                { "w", "W" },
                { "windows-setup", "WINDOWS-SETUP" },
                { "windows-setup-lab", "WINDOWS-SE-FC4D" },
                { "debian-installer", "DEBIAN-INS-515E" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = xasprintf("lab = \"%s\"\nbridge { address = \"10.70.0.1/24\" }\n"
                                                     "boot \"d\" { kind = \"local\" }\n", cases[i].lab);
                _cleanup_(profile_freep) struct profile *p = NULL;
                json_t *smb;
                assert_int_equal(profile_parse("n.conf", buf, kinds_profile(), NULL, &p), 0);
                smb = kind_windows.render.lab_model(p, "/run/pxelab/x", "/var/lib/pxelab/x");
                assert_string_equal(json_string_value(json_object_get(smb, "netbios_name")), cases[i].netbios);
                json_decref(smb);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_md4_rfc1320),
                cmocka_unit_test(test_md4_padding_boundaries),
                cmocka_unit_test(test_nt_hash),
                cmocka_unit_test(test_password),
                cmocka_unit_test(test_model_windows),
                cmocka_unit_test(test_model_windows_missing_tree),
                cmocka_unit_test(test_model_wimboot),
                cmocka_unit_test(test_model_clash),
                cmocka_unit_test(test_model_unsafe_driver_name),
                cmocka_unit_test(test_model_reserved_share),
                cmocka_unit_test(test_model_inject_symlink),
                cmocka_unit_test(test_netbios_name),
        };
        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
