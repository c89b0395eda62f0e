/* The command table (like wireguard-tools' wg.c): name, function, usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "basic/log.h"
#include "basic/names.h"
#include "basic/util.h"


const struct command commands[] = {
        { "render", cmd_render, "PROFILE -o DIR", "Render the lab's runtime tree into DIR",
          "Renders dnsmasq.conf, nginx.conf, the iPXE scripts (http/) and the iPXE\n"
          "loaders (tftp/) for PROFILE into DIR. Touches nothing else on the host." },
        { "check", cmd_check, "PROFILE", "Validate a profile and the files it references",
          "Validates PROFILE and checks that every boot file exists and is readable;\n"
          "prints each boot file with its size. Exit 0 when good, 2 when not." },
        { "up", cmd_up, "[PROFILE]", "Bring a lab up (or reconcile a running one)",
          "Validates PROFILE, refuses if it collides with this host or another lab, renders\n"
          "/run/pxelab/LAB, creates the bridge, the nftables table (NAT to the uplink) and\n"
          "starts dnsmasq and nginx as systemd units; ready when boot.ipxe and every boot\n"
          "file answer over HTTP. Without PROFILE: the built-in default lab 'pxelab'.\n"
          "Again on a running lab: re-renders and restarts only what changed." },
        { "down", cmd_down, "[LAB|PROFILE] [--all]", "Take a lab down and remove what it made",
          "Stops the lab's VMs and units, deletes its nftables table and the bridge it\n"
          "created, restores IPv4 forwarding, removes /run/pxelab/LAB. Keeps the leases\n"
          "in /var/lib/pxelab/LAB. Works from the lab's record alone, also after a crash." },
        { "status", cmd_status, "[LAB] [--json]", "Show labs, their services and who booted",
          "Units, bridge, nftables table, DHCP leases, VMs and boot URL of each lab.\n"
          "Exit 0 when every lab is healthy, 3 when any is degraded." },
        { "vm", cmd_vm, "start|stop|list|console LAB [NAME] [OPTIONS]", "Run test VMs that network-boot from a lab",
          "pxelab vm start LAB [NAME] [--firmware bios|uefi|uefi-pxe] [--mac MAC] [--memory MB]\n"
          "                [--disk SIZE|PATH] [--vnc]\n"
          "pxelab vm stop LAB [NAME|--all]\n"
          "pxelab vm list [LAB] [--json]\n"
          "pxelab vm console LAB NAME [--no-follow]\n\n"
          "QEMU runs as unit pxelab-LAB-vm-NAME.service in the lab's slice, on a tap in the\n"
          "lab's bridge, network boot first, serial console logged to\n"
          "/run/pxelab/LAB/vm-NAME.log. KVM when it really runs a guest here (probed once\n"
          "per boot), else TCG; PXELAB_ACCEL=kvm|tcg forces one. uefi: OVMF with QEMU's\n"
          "iPXE ROM; uefi-pxe: OVMF's own PXE (TFTP snponly.efi)." },
        { "help", cmd_help, "[COMMAND]", "Show help for pxelab or one command", NULL },
        { "version", cmd_version, "", "Show the version", NULL },
};

bool command_lab_arg_ok(const char *arg) {
        if (lab_name_valid(arg))
                return true;
        log_error("'%s' is not a lab name (%s)", arg, LAB_NAME_RULE);
        return false;
}

const struct command *command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

int command_usage(const char *name) {
        const struct command *c = command_find(name);
        fprintf(stderr, "Usage: pxelab %s %s\n", name, c ? c->usage : "");
        return EXIT_USAGE;
}

void commands_show_usage(FILE *f) {
        fprintf(f, "Usage: pxelab COMMAND [ARGS]\n\n"
                   "A network-boot lab on this machine: bridge, DHCP/TFTP, HTTP and iPXE.\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
        fprintf(f, "\nOptions: --help, --version. `pxelab help COMMAND` for details.\n"
                   "Exit codes: 0 ok, 1 runtime failure, 2 usage or profile error, 3 degraded (status).\n");
}

int cmd_help(int argc, char *argv[]) {
        const struct command *c;
        if (argc < 2) {
                commands_show_usage(stdout);
                return EXIT_OK;
        }
        if (argc > 2)
                return command_usage("help");
        c = command_find(argv[1]);
        if (!c) {
                log_error("Unknown command '%s'. See 'pxelab --help'.", argv[1]);
                return EXIT_USAGE;
        }
        printf("Usage: pxelab %s %s\n\n%s\n", c->name, c->usage, c->summary);
        if (c->help)
                printf("\n%s\n", c->help);
        return EXIT_OK;
}

int cmd_version(int argc, char *argv[]) {
        if (argc > 1)
                return command_usage("version");
        printf("pxelab %s\n", PXELAB_VERSION);
        return EXIT_OK;
}

