/* QEMU command lines from pxelab's own builder (lab/vm.c), for tests that
 * must run a VM where `pxelab vm start` cannot put it: ports.bats boots a
 * machine on the far side of a lab's physical port, in a network namespace
 * of its own. Prepares the VM's files (OVMF variables) and prints the
 * command line, NUL-separated, for `xargs -0`.
 *
 *   itest_qemu FIRMWARE MAC TAP LOG VM_DIR */
#include <stdio.h>

#include "basic/util.h"
#include "lab/vm.h"

int main(int argc, char **argv) {
        _cleanup_strv_free_ char **qemu = NULL;

        if (argc != 6) {
                fprintf(stderr, "usage: itest_qemu FIRMWARE MAC TAP LOG VM_DIR\n");
                return 2;
        }
        struct vm_config c = {
                .lab = "far", .name = "far", .firmware = argv[1], .mac = argv[2], .memory = 256, .tap = argv[3],
                .log = argv[4], .vm_dir = argv[5], .vnc = -1,
        };
        if (vm_prepare(&c) < 0 || vm_build_argv(&c, &qemu) < 0)
                return 1;
        for (char **a = qemu; *a; a++)
                fwrite(*a, 1, strlen(*a) + 1, stdout);
        return 0;
}
