/* The command table (like wireguard-tools' wg.c): name, function, usage,
 * help and arity; sub-commands are rows of their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/names.h"
#include "basic/paths.h"
#include "basic/util.h"
#include "cmd/commands.h"

#define VM_HELP_TAIL \
        "QEMU runs as unit pxelab-LAB-vm-NAME.service in the lab's slice, on a tap in the\n" \
        "lab's bridge, network boot first, serial console logged to\n" \
        "/run/pxelab/LAB/vm-NAME.log."

static const struct command commands[] = {
        { "render", cmd_render, "PROFILE -o DIR [--address A/PREFIX]", "Render the lab's runtime tree into DIR",
          "Renders dnsmasq.conf, nginx.conf, the iPXE scripts (http/) and the iPXE\n"
          "loaders (tftp/) for PROFILE into DIR. Touches nothing else on the host.", 1, 1 },
        { "check", cmd_check, "PROFILE", "Validate a profile and the files it references",
          "Validates PROFILE and checks that every boot file exists and is readable;\n"
          "prints each boot file with its size. Exit 0 when good, 2 when not.", 1, 1 },
        { "up", cmd_up, "[PROFILE|NAME]", "Bring a lab up (or reconcile a running one)",
          "Validates PROFILE, refuses if it collides with this host or another lab, renders\n"
          "/run/pxelab/LAB, creates the bridge, the nftables table (NAT to the uplink) and\n"
          "starts dnsmasq and nginx as systemd units; ready when boot.ipxe and every boot\n"
          "file answer over HTTP. Without PROFILE: the built-in default lab 'pxelab'.\n"
          "NAME (no '/', no .conf): the profile " PXELAB_CONF_DIR "/NAME.conf, lab NAME.\n"
          "Again on a running lab: re-renders and restarts only what changed.", 0, 1 },
        { "down", cmd_down, "[LAB|PROFILE] [--all]", "Take a lab down and remove what it made",
          "Stops the lab's VMs and units, deletes its nftables table and the bridge it\n"
          "created, restores IPv4 forwarding, removes /run/pxelab/LAB. Keeps the leases\n"
          "in /var/lib/pxelab/LAB. Works from the lab's record alone, also after a crash;\n"
          "acts only on what is provably the lab's (names derived from the lab name,\n"
          "links carrying its mark).", 0, 1 },
        { "status", cmd_status, "[LAB] [--json]", "Show labs, their services and who booted",
          "Units, bridge, nftables table, DHCP leases, VMs and boot URL of each lab.\n"
          "Exit 0 when every lab is healthy, 3 when any is degraded.", 0, 1 },
        { "watch", cmd_watch, "[LAB] [--json] [-f] [--since WHEN]", "Show every client's boot, step by step",
          "One line per step of each client (DHCP, TFTP, HTTP, booted or failed), grouped by\n"
          "MAC, with times from its first DHCPDISCOVER, from the journal of the lab's\n"
          "dnsmasq and nginx; problems (HTTP 404, a short transfer, a loop, a UEFI client\n"
          "given a BIOS loader, a client that stopped after TFTP) are named in their line.\n"
          "-f follows new steps; --json prints one JSON object per event; --since 10m, 2h,\n"
          "@UNIXTIME or 'YYYY-MM-DD HH:MM[:SS]'. Without LAB: the only lab that is up.", 0, 1 },
        { "vm", NULL, "start|stop|list|console ...", "Run test VMs that network-boot from a lab",
          VM_HELP_TAIL, 0, 0 },
        { "vm start", cmd_vm_start,
          "LAB [NAME] [--firmware bios|uefi|uefi-pxe|uefi-secure] [--mac MAC] [--memory MB] [--disk SIZE|PATH] [--vnc] [--wait[=SECONDS]]",
          "Start a VM on a lab",
          "Starts VM NAME (default: the next free vmN) of lab LAB; a VM the lab's profile\n"
          "declares starts with the declared settings, options win. KVM when it really runs\n"
          "a guest here (probed once per boot), else TCG; PXELAB_ACCEL=kvm|tcg forces one.\n"
          "bios: SeaBIOS with QEMU's iPXE ROM; uefi: OVMF with QEMU's iPXE ROM; uefi-pxe:\n"
          "OVMF's own PXE (TFTP snponly.efi); uefi-secure: OVMF with Secure Boot enforced\n"
          "(Microsoft's keys, SMM), its own PXE. --wait follows the boot (as `watch`) for\n"
          "SECONDS (default 120): exit 0 once it booted, 1 with the last step and the\n"
          "reason when an entry failed or time ran out.\n\n" VM_HELP_TAIL, 1, 2 },
        { "vm stop", cmd_vm_stop, "LAB [NAME|--all]", "Stop a VM of a lab (or all of them)",
          "Stops the VM's unit and removes its tap; without NAME the lab's only VM. The\n"
          "VM's directory (NVRAM, disk) is kept.", 1, 2 },
        { "vm list", cmd_vm_list, "[LAB] [--json]", "List the VMs of a lab (or of all labs)",
          "Lab, name, firmware, MAC, state, accelerator, tap and VNC display of each VM.", 0, 1 },
        { "vm console", cmd_vm_console, "LAB NAME [--no-follow]", "Follow a VM's serial console",
          "Prints the VM's serial log from its start and follows it while the VM runs.", 2, 2 },
        { "help", cmd_help, "[COMMAND]", "Show help for pxelab or one command", NULL, 0, 2 },
        { "version", cmd_version, "", "Show the version", NULL, 0, 0 },
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

const struct command *command_lookup(int argc, char *argv[], int *ret_words) {
        const struct command *c = argc > 0 ? command_find(argv[0]) : NULL;

        *ret_words = 1;
        if (c && !c->fn && argc > 1) {
                _cleanup_free_ char *sub = xasprintf("%s %s", argv[0], argv[1]);
                const struct command *s = command_find(sub);
                if (s) {
                        *ret_words = 2;
                        return s;
                }
        }
        return c;
}

/* The rows of group G ("vm"): those named "G ...". */
static bool in_group(const struct command *c, const char *g) {
        size_t n = strlen(g);
        return strncmp(c->name, g, n) == 0 && c->name[n] == ' ';
}

int command_usage(const char *name) {
        const struct command *c = command_find(name);

        if (c && !c->fn) {
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        if (in_group(&commands[i], name))
                                fprintf(stderr, "%s pxelab %s %s\n", i && in_group(&commands[i - 1], name) ? "      " : "Usage:",
                                        commands[i].name, commands[i].usage);
                return EXIT_USAGE;
        }
        fprintf(stderr, "Usage: pxelab %s %s\n", name, c ? c->usage : "");
        return EXIT_USAGE;
}

bool command_args_ok(const char *name, int n) {
        const struct command *c = command_find(name);

        if (c && n >= c->min_args && n <= c->max_args)
                return true;
        command_usage(name);
        return false;
}

void commands_show_usage(FILE *f) {
        fprintf(f, "Usage: pxelab COMMAND [ARGS]\n\n"
                   "A network-boot lab on this machine: bridge, DHCP/TFTP, HTTP and iPXE.\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (commands[i].fn)
                        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
        fprintf(f, "\nOptions: --help, --version. `pxelab help COMMAND` for details.\n"
                   "Exit codes: 0 ok, 1 runtime failure, 2 usage or profile error, 3 degraded (status).\n");
}

int cmd_help(int argc, char *argv[]) {
        const struct command *c;
        int words;

        if (argc < 2) {
                commands_show_usage(stdout);
                return EXIT_OK;
        }
        c = command_lookup(argc - 1, argv + 1, &words);
        if (!c) {
                log_error("Unknown command '%s'. See 'pxelab --help'.", argv[1]);
                return EXIT_USAGE;
        }
        if (argc - 1 > words)
                return command_usage("help");
        if (!c->fn) {
                printf("%s\n\n", c->summary);
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        if (in_group(&commands[i], c->name))
                                printf("  pxelab %s %s\n      %s\n", commands[i].name, commands[i].usage,
                                       commands[i].summary);
                printf("\n%s\n`pxelab help %s COMMAND` for details.\n", c->help, c->name);
                return EXIT_OK;
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
