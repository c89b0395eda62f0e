/* The PE certificate table (pe-sign.h) of images built here byte by byte
 * (PE32+ and PE32, signed and not, malformed), and of the real files the
 * Secure Boot chain uses when they are installed: Debian's signed kernel,
 * shim and GRUB have a table, Debian's iPXE has none. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glob.h>

#include "basic/util.h"
#include "host/pe-sign.h"

#define LFANEW 0x80

static void put16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff;
        p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (v >> (8 * i)) & 0xff;
}

/* A header-only image: MZ, PE\0\0, COFF header, optional header of MAGIC
 * with N_DIRS data directories and the Security entry (OFFSET, SIZE). */
static size_t make_image(uint8_t *buf, size_t cap, uint16_t magic, uint32_t n_dirs, uint32_t offset, uint32_t size) {
        size_t opt = LFANEW + 4 + 20, dirs = opt + (magic == 0x20b ? 112 : 96);
        uint16_t opt_size = (uint16_t) (dirs - opt + 8 * n_dirs);
        memset(buf, 0, cap);
        buf[0] = 'M';
        buf[1] = 'Z';
        put32(buf + 0x3c, LFANEW);
        memcpy(buf + LFANEW, "PE\0\0", 4);
        put16(buf + LFANEW + 4, 0x8664);                /* Machine: x86-64 */
        put16(buf + LFANEW + 4 + 16, opt_size);
        put16(buf + opt, magic);
        put32(buf + opt + (magic == 0x20b ? 108 : 92), n_dirs);
        if (n_dirs > 4) {
                put32(buf + dirs + 4 * 8, offset);
                put32(buf + dirs + 4 * 8 + 4, size);
        }
        return opt + opt_size;
}

static void test_synthetic(void **state) {
        uint8_t buf[1024];
        uint32_t size = 99;
        size_t len;

        /* PE32+ (EFI x86-64) signed: the table's size. */
        len = make_image(buf, sizeof(buf), 0x20b, 16, 0x200, 0x5a8);
        assert_int_equal(pe_signature_size_buf(buf, len, 0x200 + 0x5a8, &size), 0);
        assert_int_equal(size, 0x5a8);
        /* Unsigned: size 0. */
        len = make_image(buf, sizeof(buf), 0x20b, 16, 0, 0);
        assert_int_equal(pe_signature_size_buf(buf, len, 4096, &size), 0);
        assert_int_equal(size, 0);
        /* PE32 signed. */
        len = make_image(buf, sizeof(buf), 0x10b, 16, 0x300, 0x100);
        assert_int_equal(pe_signature_size_buf(buf, len, 0x400, &size), 0);
        assert_int_equal(size, 0x100);
        /* Only four directories: no Security entry, so unsigned. */
        size = 99;
        len = make_image(buf, sizeof(buf), 0x20b, 4, 0, 0);
        assert_int_equal(pe_signature_size_buf(buf, len, 4096, &size), 0);
        assert_int_equal(size, 0);
        /* A table beyond the end of the file. */
        len = make_image(buf, sizeof(buf), 0x20b, 16, 0x200, 0x5a8);
        assert_int_equal(pe_signature_size_buf(buf, len, 0x300, &size), -EBADMSG);
        /* Truncated headers: not enough to tell. */
        assert_int_equal(pe_signature_size_buf(buf, LFANEW + 10, 4096, &size), -ENODATA);
        /* Not PE: no MZ, no PE\0\0, an unknown magic, a text file. */
        make_image(buf, sizeof(buf), 0x20b, 16, 0, 0);
        buf[0] = 'X';
        assert_int_equal(pe_signature_size_buf(buf, len, 4096, &size), -ENOEXEC);
        make_image(buf, sizeof(buf), 0x20b, 16, 0, 0);
        buf[LFANEW] = 'N';
        assert_int_equal(pe_signature_size_buf(buf, len, 4096, &size), -ENOEXEC);
        make_image(buf, sizeof(buf), 0x107, 16, 0, 0);
        assert_int_equal(pe_signature_size_buf(buf, len, 4096, &size), -ENOEXEC);
        assert_int_equal(pe_signature_size_buf((const uint8_t *) "#!/bin/sh\n", 10, 10, &size), -ENOEXEC);
}

/* The same through a file; a short file is no image. */
static void test_file(void **state) {
        char path[] = "/tmp/pxelab-test-pe-XXXXXX";
        uint8_t buf[1024];
        uint32_t size = 0;
        size_t len;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        len = make_image(buf, sizeof(buf), 0x20b, 16, 512, 200);
        memset(buf + len, 0xab, sizeof(buf) - len);
        assert_int_equal(write(fd, buf, 712), 712);
        close(fd);
        assert_int_equal(pe_signature_size(path, &size), 0);
        assert_int_equal(size, 200);
        assert_int_equal(truncate(path, 20), 0);
        assert_int_equal(pe_signature_size(path, &size), -ENOEXEC);
        unlink(path);
        assert_int_equal(pe_signature_size(path, &size), -ENOENT);
        assert_int_equal(pe_signature_size("/", &size), -EINVAL);
}

/* Real files: each one present must be what Debian ships. */
static void test_debian_files(void **state) {
        static const char *const signed_files[] = {
                "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
                "/usr/local/lib/pxelab/shim/shimx64.efi.signed",
                "/usr/lib/shim/shimx64.efi.signed",
        };
        static const char *const unsigned_files[] = { "/usr/lib/ipxe/ipxe.efi", "/usr/lib/ipxe/snponly.efi" };
        unsigned seen = 0;
        glob_t g = {};
        uint32_t size;

        for (size_t i = 0; i < ELEMENTSOF(signed_files); i++) {
                if (access(signed_files[i], R_OK) < 0)
                        continue;
                size = 0;
                assert_int_equal(pe_signature_size(signed_files[i], &size), 0);
                if (size == 0)
                        fail_msg("'%s' should be signed", signed_files[i]);
                seen++;
        }
        for (size_t i = 0; i < ELEMENTSOF(unsigned_files); i++) {
                if (access(unsigned_files[i], R_OK) < 0)
                        continue;
                size = 1;
                assert_int_equal(pe_signature_size(unsigned_files[i], &size), 0);
                if (size != 0)
                        fail_msg("'%s' should be unsigned", unsigned_files[i]);
                seen++;
        }
        /* Debian's kernels are signed (linux-image-*-amd64 is the signed build). */
        if (glob("/boot/vmlinuz-*-amd64", 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++) {
                        size = 0;
                        assert_int_equal(pe_signature_size(g.gl_pathv[i], &size), 0);
                        if (size == 0)
                                fail_msg("'%s' should be signed", g.gl_pathv[i]);
                        seen++;
                }
        globfree(&g);
        /* make check installs them (scripts/install-deps): at least those. */
        assert_true(seen >= 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_synthetic),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_debian_files),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
