/* vm.c: names, MACs, the QEMU command line, VM files. The
 * command lines are checked by QEMU itself: each one is started (paused,
 * -S) on a real tap in a private network namespace and must come up. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "host/link.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "basic/util.h"
#include "lab/vm.h"

static char tmpdir[] = "/tmp/test-vm.XXXXXX";

static int setup_all(void **state) {
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "unshare(CLONE_NEWNET): %m (these tests must run as root)\n");
                return -1;
        }
        if (!mkdtemp(tmpdir))
                return -1;
        return link_set_up("lo") < 0 ? -1 : 0;
}

static int teardown_all(void **state) {
        rm_rf(tmpdir);
        return 0;
}

static void test_mac_derive(void **state) {
        char a[18], b[18], c[18], d[18];

        vm_mac_derive("vt", "vm1", a);
        /* Pinned: machines in profiles and leases rely on it not changing. */
        assert_string_equal(a, "52:54:00:9e:96:58");
        vm_mac_derive("vt", "vm1", b);
        assert_string_equal(a, b);
        vm_mac_derive("vt", "vm2", c);
        vm_mac_derive("vtv", "m1", d);   /* the separator matters */
        assert_string_not_equal(a, c);
        assert_string_not_equal(a, d);
        assert_int_equal(rule_mac_parse(c, b), MAC_OK);
        assert_memory_equal(c, "52:54:00:", 9);
}

static struct vm_config config(const char *firmware, const char *name) {
        static char vm_dir[256], log[256];
        snprintf(vm_dir, sizeof(vm_dir), "%s/vm/%s", tmpdir, name);
        snprintf(log, sizeof(log), "%s/vm-%s.log", tmpdir, name);
        return (struct vm_config) {
                .lab = "t", .name = name, .firmware = firmware, .mac = "52:54:00:12:34:56", .memory = 256,
                .tap = "pxt-t-0", .log = log, .vm_dir = vm_dir, .kvm = false, .vnc = -1,
        };
}

/* The value after option OPT (the Nth occurrence), or NULL. */
static const char *arg_of(char **argv, const char *opt, int nth) {
        for (char **a = argv; *a; a++)
                if (streq(*a, opt) && a[1] && nth-- == 0)
                        return a[1];
        return NULL;
}

static bool has_arg(char **argv, const char *s) {
        for (char **a = argv; *a; a++)
                if (streq(*a, s))
                        return true;
        return false;
}

static void test_argv_bios(void **state) {
        struct vm_config c = config("bios", "b");
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *chardev = xasprintf("file,id=serial0,path=%s/vm-b.log,append=on", tmpdir);

        assert_int_equal(vm_build_argv(&c, &argv), 0);
        assert_true(strstr(argv[0], "qemu-system-x86_64") && argv[0][0] == '/');
        assert_string_equal(arg_of(argv, "-machine", 0), "pc,graphics=off");
        assert_string_equal(arg_of(argv, "-accel", 0), "tcg");
        assert_null(arg_of(argv, "-cpu", 0));
        assert_string_equal(arg_of(argv, "-m", 0), "256");
        assert_string_equal(arg_of(argv, "-display", 0), "none");
        assert_string_equal(arg_of(argv, "-chardev", 0), chardev);
        assert_string_equal(arg_of(argv, "-serial", 0), "chardev:serial0");
        assert_true(has_arg(argv, "-no-reboot"));
        assert_true(has_arg(argv, "-nodefaults"));
        assert_string_equal(arg_of(argv, "-netdev", 0), "tap,id=net0,ifname=pxt-t-0,script=no,downscript=no");
        /* BIOS keeps the NIC's default (iPXE) option ROM. */
        assert_string_equal(arg_of(argv, "-device", 0), "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,bootindex=1");
        assert_null(arg_of(argv, "-drive", 0));
        assert_null(arg_of(argv, "-vnc", 0));
        assert_null(arg_of(argv, "-device", 1));
}

static void test_argv_uefi(void **state) {
        struct vm_config c = config("uefi", "u");
        _cleanup_strv_free_ char **argv = NULL, **argv2 = NULL;
        _cleanup_free_ char *vars = xasprintf("if=pflash,format=raw,unit=1,file=%s/OVMF_VARS.fd", c.vm_dir);

        c.kvm = true;
        assert_int_equal(vm_build_argv(&c, &argv), 0);
        assert_string_equal(arg_of(argv, "-machine", 0), "q35,graphics=off");
        assert_string_equal(arg_of(argv, "-accel", 0), "kvm");
        assert_string_equal(arg_of(argv, "-cpu", 0), ACCEL_KVM_CPU);
        assert_string_equal(arg_of(argv, "-drive", 0), "if=pflash,format=raw,unit=0,readonly=on,file=" VM_OVMF_CODE);
        assert_string_equal(arg_of(argv, "-drive", 1), vars);
        /* uefi: the NIC's iPXE EFI ROM stays. */
        assert_string_equal(arg_of(argv, "-device", 0), "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,bootindex=1");

        c.firmware = "uefi-pxe";
        assert_int_equal(vm_build_argv(&c, &argv2), 0);
        assert_string_equal(arg_of(argv2, "-machine", 0), "q35,graphics=off");
        /* uefi-pxe: no option ROM, so OVMF's own PXE runs. */
        assert_string_equal(arg_of(argv2, "-device", 0),
                            "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,bootindex=1,romfile=");
}

/* uefi-secure: OVMF's Secure Boot build with SMM, the secure flash, a
 * store of its own with Microsoft's keys, and no option ROM. */
static void test_argv_uefi_secure(void **state) {
        struct vm_config c = config("uefi-secure", "s");
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *vars = xasprintf("if=pflash,format=raw,unit=1,file=%s/OVMF_VARS.secure.fd", c.vm_dir);
        _cleanup_free_ char *path = vm_vars_path(&c);

        assert_int_equal(vm_build_argv(&c, &argv), 0);
        assert_string_equal(arg_of(argv, "-machine", 0), "q35,smm=on,graphics=off");
        assert_string_equal(arg_of(argv, "-global", 0), "driver=cfi.pflash01,property=secure,value=on");
        assert_string_equal(arg_of(argv, "-drive", 0),
                            "if=pflash,format=raw,unit=0,readonly=on,file=" VM_OVMF_CODE_SECURE);
        assert_string_equal(arg_of(argv, "-drive", 1), vars);
        assert_string_equal(arg_of(argv, "-device", 0),
                            "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,bootindex=1,romfile=");
        assert_non_null(strstr(path, "/OVMF_VARS.secure.fd"));
        assert_int_equal(firmware_from_string("uefi-secure"), FIRMWARE_UEFI_SECURE);

        /* vm_prepare copies the store with Microsoft's keys. */
        assert_int_equal(vm_prepare(&c), 0);
        assert_true(files_equal(path, VM_OVMF_VARS_SECURE));
}

/* On OVS labs the guest computes its own checksums (csum=off). */
static void test_argv_nic_csum_off(void **state) {
        struct vm_config c = config("uefi-pxe", "c");
        _cleanup_strv_free_ char **argv = NULL;

        c.nic_csum_off = true;
        assert_int_equal(vm_build_argv(&c, &argv), 0);
        assert_string_equal(arg_of(argv, "-device", 0),
                            "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,bootindex=1,romfile=,csum=off");
}

static void test_argv_disk_vnc(void **state) {
        struct vm_config c = config("bios", "d");
        _cleanup_strv_free_ char **argv = NULL, **argv2 = NULL;
        _cleanup_free_ char *qcow = xasprintf("file=%s/disk.qcow2,if=none,id=disk0,format=qcow2,discard=unmap", c.vm_dir);

        c.disk = "20G";
        c.vnc = 3;
        assert_int_equal(vm_build_argv(&c, &argv), 0);
        assert_string_equal(arg_of(argv, "-drive", 0), qcow);
        assert_string_equal(arg_of(argv, "-device", 1), "virtio-blk-pci,drive=disk0,bootindex=2");
        /* A display: VGA, VNC on loopback only, and no serial mirroring. */
        assert_string_equal(arg_of(argv, "-device", 2), "VGA");
        assert_string_equal(arg_of(argv, "-vnc", 0), "127.0.0.1:3");
        assert_string_equal(arg_of(argv, "-machine", 0), "pc");

        /* An image path: raw unless it is named .qcow2. */
        c.disk = "/srv/images/win.img";
        c.vnc = -1;
        assert_int_equal(vm_build_argv(&c, &argv2), 0);
        assert_string_equal(arg_of(argv2, "-drive", 0),
                            "file=/srv/images/win.img,if=none,id=disk0,format=raw,discard=unmap");
}

/* A comma in a path is doubled: QEMU reads it as part of the name, and a
 * file called "img,file.locking=off" adds no option. */
static void test_argv_commas(void **state) {
        struct vm_config c = config("uefi", "c");
        _cleanup_strv_free_ char **argv = NULL;

        c.disk = "/srv/images/img,file.locking=off";
        c.log = "/run/a,b/c.log";
        c.vm_dir = "/var/lib/x,y";
        assert_int_equal(vm_build_argv(&c, &argv), 0);
        assert_string_equal(arg_of(argv, "-drive", 2),
                            "file=/srv/images/img,,file.locking=off,if=none,id=disk0,format=raw,discard=unmap");
        assert_string_equal(arg_of(argv, "-chardev", 0), "file,id=serial0,path=/run/a,,b/c.log,append=on");
        assert_string_equal(arg_of(argv, "-drive", 1), "if=pflash,format=raw,unit=1,file=/var/lib/x,,y/OVMF_VARS.fd");
}

static void test_argv_invalid(void **state) {
        struct vm_config c = config("bios", "x");
        char **argv = NULL;

        c.firmware = "coreboot";
        assert_int_equal(vm_build_argv(&c, &argv), -EINVAL);
        c = config("bios", "x");
        c.tap = NULL;
        assert_int_equal(vm_build_argv(&c, &argv), -EINVAL);
        c = config("bios", "x");
        c.memory = 0;
        assert_int_equal(vm_build_argv(&c, &argv), -EINVAL);
        assert_null(argv);
}

static void test_prepare(void **state) {
        struct vm_config c = config("uefi", "p");
        _cleanup_free_ char *vars = NULL, *disk = NULL, *log = NULL, *out = NULL;
        struct stat st;

        c.disk = "1G";
        vars = vm_vars_path(&c);
        disk = vm_disk_path(&c);
        log = vm_log_path(&c);
        assert_int_equal(vm_prepare(&c), 0);
        assert_true(files_equal(vars, VM_OVMF_VARS));
        assert_int_equal(stat(c.vm_dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        {
                char *argv[] = { "qemu-img", "info", "--output=json", disk, NULL };
                assert_int_equal(run_program(argv, &out), 0);
                assert_non_null(strstr(out, "\"format\": \"qcow2\""));
                assert_non_null(strstr(out, "\"virtual-size\": 1073741824"));
        }
        assert_int_equal(stat(log, &st), 0);
        assert_int_equal(st.st_size, 0);

        /* Again: the NVRAM and the disk are kept, the log starts over. */
        assert_int_equal(write_file_atomic(vars, "nvram", 5, 0600), 0);
        assert_int_equal(write_file_atomic(log, "old boot", 8, 0640), 0);
        assert_int_equal(vm_prepare(&c), 0);
        assert_int_equal(stat(vars, &st), 0);
        assert_int_equal(st.st_size, 5);
        assert_int_equal(stat(log, &st), 0);
        assert_int_equal(st.st_size, 0);

        /* An image path must exist. */
        c.disk = "/nonexistent/disk.img";
        assert_int_equal(vm_prepare(&c), -ENOENT);
}

/* QEMU must accept each command line: started paused on a real tap, it is
 * still running a moment later (a bad option makes it exit at once). */
static void qemu_accepts(struct vm_config *c) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *errpath = xasprintf("%s/qemu-%s.err", tmpdir, c->name), *err = NULL;
        int status, fd;
        pid_t pid;
        size_t n = 0;

        assert_int_equal(vm_prepare(c), 0);
        assert_int_equal(vm_build_argv(c, &argv), 0);
        while (argv[n])
                n++;
        argv = xrealloc(argv, (n + 2) * sizeof(char *));
        argv[n] = xstrdup("-S");
        argv[n + 1] = NULL;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(fd, STDERR_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        for (int i = 0; i < 30; i++) {
                usleep(100 * 1000);
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        read_file(errpath, &err, NULL);
                        fail_msg("QEMU (%s) exited: %s", c->firmware, err ? err : "?");
                }
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
}

static void test_qemu_accepts(void **state) {
        static const char *const fws[] = { "bios", "uefi", "uefi-pxe", "uefi-secure" };

        assert_int_equal(tap_create("pxt-t-0", NULL, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(fws); i++) {
                _cleanup_free_ char *name = xasprintf("q%zu", i);
                struct vm_config c = config(fws[i], name);
                c.disk = i == 1 ? "2G" : NULL;
                c.vnc = i == 2 ? 77 : -1;
                c.nic_csum_off = i == 0;
                qemu_accepts(&c);
        }
        assert_int_equal(link_delete("pxt-t-0"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mac_derive),
                cmocka_unit_test(test_argv_bios),
                cmocka_unit_test(test_argv_uefi),
                cmocka_unit_test(test_argv_uefi_secure),
                cmocka_unit_test(test_argv_nic_csum_off),
                cmocka_unit_test(test_argv_disk_vnc),
                cmocka_unit_test(test_argv_commas),
                cmocka_unit_test(test_argv_invalid),
                cmocka_unit_test(test_prepare),
                cmocka_unit_test(test_qemu_accepts),
        };
        return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
