#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "host/link.h"
#include "lab/defaultlab.h"
#include "basic/log.h"
#include "basic/names.h"
#include "lab/state.h"
#include "basic/util.h"

#define PAYLOAD_DIR PXELAB_STATE_ROOT "/payload"
#define BUSYBOX "/bin/busybox"

/* The rescue initramfs' /init: says it booted (the marker the demo and the
 * tests wait for), then a shell, or power-off with pxelab.poweroff. */
static const char init_script[] =
        "#!/bin/busybox sh\n"
        "/bin/busybox --install -s /bin\n"
        "mkdir -p /proc /sys /dev /tmp\n"
        "mount -t proc proc /proc\n"
        "mount -t sysfs sys /sys\n"
        "mount -t devtmpfs dev /dev 2>/dev/null\n"
        "exec </dev/console >/dev/console 2>&1\n"
        "echo PXELAB-BOOT-OK\n"
        "echo \"cmdline: $(cat /proc/cmdline)\"\n"
        "for w in $(cat /proc/cmdline); do\n"
        "  case $w in pxelab.marker=*) echo \"PXELAB-MARKER=${w#pxelab.marker=}\";; esac\n"
        "done\n"
        "case \" $(cat /proc/cmdline) \" in *\" pxelab.poweroff \"*) poweroff -f;; esac\n"
        "echo 'pxelab rescue shell: busybox tools; poweroff -f to stop'\n"
        "exec setsid cttyhack sh\n";

/* ---- a minimal newc cpio writer (the kernel's initramfs format) -------- */

/* One newc record; RDEV is the device number of a device node ("5:1"). */
static void cpio_entry_dev(FILE *f, const char *name, unsigned mode, const char *data, size_t len, unsigned rmajor,
                           unsigned rminor) {
        static unsigned ino = 1;
        size_t nlen = strlen(name) + 1;
        fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino++, mode, 0, 0, 1, 0, len,
                0, 0, rmajor, rminor, nlen, 0);
        fwrite(name, 1, nlen, f);
        for (size_t pad = (4 - (110 + nlen) % 4) % 4; pad > 0; pad--)
                fputc(0, f);
        fwrite(data, 1, len, f);
        for (size_t pad = (4 - len % 4) % 4; pad > 0; pad--)
                fputc(0, f);
}

static void cpio_entry(FILE *f, const char *name, unsigned mode, const char *data, size_t len) {
        cpio_entry_dev(f, name, mode, data, len, 0, 0);
}

static int build_initramfs(const char *dst) {
        _cleanup_free_ char *bb = NULL, *tmp = xasprintf("%s.tmp", dst);
        size_t bblen;
        FILE *f;
        int r;

        r = read_file(BUSYBOX, &bb, &bblen);
        if (r < 0)
                return log_error_errno(r, "Failed to read '%s' for the rescue initramfs (install busybox-static)",
                                       BUSYBOX);
        f = fopen(tmp, "we");
        if (!f)
                return log_error_errno(errno, "Failed to create '%s'", tmp);
        cpio_entry(f, "bin", 040755, "", 0);
        /* The kernel opens /dev/console for /init before anything mounts. */
        cpio_entry(f, "dev", 040755, "", 0);
        cpio_entry_dev(f, "dev/console", 020600, "", 0, 5, 1);
        cpio_entry(f, "bin/busybox", 0100755, bb, bblen);
        cpio_entry(f, "bin/sh", 0120777, "busybox", 7);
        cpio_entry(f, "init", 0100755, init_script, sizeof(init_script) - 1);
        cpio_entry(f, "TRAILER!!!", 0, "", 0);
        if (fclose(f) != 0 || rename(tmp, dst) < 0) {
                r = -errno;
                unlink(tmp);
                return log_error_errno(r, "Failed to write '%s'", dst);
        }
        return 0;
}

/* This host's kernel, else the newest Debian kernel in /boot. */
static int find_kernel(char **ret) {
        struct utsname u;
        struct dirent **list = NULL;
        int n;

        if (uname(&u) == 0) {
                char *p = xasprintf("/boot/vmlinuz-%s", u.release);
                if (access(p, R_OK) == 0) {
                        *ret = p;
                        return 0;
                }
                free(p);
        }
        n = scandir("/boot", &list, NULL, versionsort);
        *ret = NULL;
        for (int i = n - 1; i >= 0; i--) {
                if (!*ret && strncmp(list[i]->d_name, "vmlinuz-", 8) == 0)
                        *ret = path_join("/boot", list[i]->d_name);
                free(list[i]);
        }
        free(list);
        if (!*ret) {
                log_error("No kernel found in /boot for the default lab's rescue shell (install linux-image-amd64, "
                          "or pass a profile)");
                return -ENOENT;
        }
        return 0;
}

int default_lab_payload(const char *dir) {
        _cleanup_free_ char *kernel = NULL, *kdst = path_join(dir, "vmlinuz"), *idst = path_join(dir, "rescue.cpio");
        struct stat a, b;
        int r;

        r = mkdir_p(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", dir);
        r = find_kernel(&kernel);
        if (r < 0)
                return r;
        if (!files_equal(kernel, kdst)) {
                r = copy_file(kernel, kdst, 0644);
                if (r < 0)
                        return log_error_errno(r, "Failed to copy '%s' to '%s'", kernel, kdst);
        }
        /* Rebuilt when busybox is newer than the cached initramfs. */
        if (stat(idst, &a) < 0 || stat(BUSYBOX, &b) < 0 || b.st_mtime > a.st_mtime)
                return build_initramfs(idst);
        return 0;
}

/* The first 10.X.0.0/24 with nothing on this host in it. */
static int free_subnet(struct in_addr *ret) {
        for (unsigned x = 77; x < 77 + 150; x++) {
                struct in_addr net = { .s_addr = htonl(10u << 24 | (x % 256) << 16) };
                int r = host_subnet_conflict(net, 24, NULL, NULL);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret = net;
                        return 0;
                }
        }
        log_error("No free 10.X.0.0/24 subnet on this host for the default lab; write a profile instead");
        return -EADDRNOTAVAIL;
}

int default_lab_profile(char **ret_path) {
        _cleanup_free_ char *dir = lab_state_dir(DEFAULT_LAB), *path = NULL, *text = NULL,
                            *bridge = lab_bridge_name(DEFAULT_LAB);
        _cleanup_free_ char *record = xasprintf("%s/%s/state.json", PXELAB_RUN_ROOT, DEFAULT_LAB);
        struct in_addr net = {};
        unsigned a, b;
        int r;

        path = path_join(dir, "pxelab.conf");
        r = default_lab_payload(PAYLOAD_DIR);
        if (r < 0)
                return r;
        /* While the default lab is up, its profile stays as it is. */
        if (access(record, F_OK) == 0 && access(path, R_OK) == 0) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        r = free_subnet(&net);
        if (r < 0)
                return r;
        a = (ntohl(net.s_addr) >> 24) & 0xff;
        b = (ntohl(net.s_addr) >> 16) & 0xff;
        text = xasprintf(
                "# The built-in default lab of `pxelab up` (written by pxelab; edit a copy, not this file).\n"
                "lab = \"%s\"\n"
                "bridge {\n"
                "    name    = \"%s\"\n"
                "    address = \"%u.%u.0.1/24\"\n"
                "    uplink  = \"auto\"\n"
                "    ipv6    = true\n"
                "}\n"
                "dhcp {\n"
                "    range = {\"%u.%u.0.100\", \"%u.%u.0.200\"}\n"
                "    lease = \"1h\"\n"
                "}\n"
                "menu {\n"
                "    title   = \"pxelab default lab\"\n"
                "    default = \"rescue\"\n"
                "    timeout = 3\n"
                "}\n"
                "boot \"rescue\" {\n"
                "    title   = \"Linux rescue shell - this host kernel and busybox\"\n"
                "    kind    = \"linux\"\n"
                "    kernel  = \"%s/vmlinuz\"\n"
                "    initrd  = {\"%s/rescue.cpio\"}\n"
                "    cmdline = \"console=tty0 console=ttyS0\"\n"
                "}\n"
                "boot \"rescue-poweroff\" {\n"
                "    title   = \"Linux: print the boot marker and power off\"\n"
                "    kind    = \"linux\"\n"
                "    kernel  = \"%s/vmlinuz\"\n"
                "    initrd  = {\"%s/rescue.cpio\"}\n"
                "    cmdline = \"console=ttyS0 pxelab.poweroff\"\n"
                "}\n"
                "boot \"disk\" {\n"
                "    title   = \"Boot from the local disk\"\n"
                "    kind    = \"local\"\n"
                "}\n"
                "boot \"shell\" {\n"
                "    title   = \"iPXE shell\"\n"
                "    kind    = \"shell\"\n"
                "}\n",
                DEFAULT_LAB, bridge, a, b, a, b, a, b, PAYLOAD_DIR, PAYLOAD_DIR, PAYLOAD_DIR, PAYLOAD_DIR);
        r = mkdir_p(dir, 0700);
        if (r >= 0)
                r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write the default profile '%s'", path);
        *ret_path = TAKE_PTR(path);
        return 0;
}
