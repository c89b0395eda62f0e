/* Secure Boot clients. See secboot.h. */
#include "basic/util.h"
#include "profile/kind.h"
#include "profile/secboot.h"

bool profile_uses_shim(const struct profile *p) {
        if (streq(p->uefi_loader, "shim"))
                return true;
        for (size_t i = 0; i < p->n_hosts; i++)
                if (streq(p->hosts[i].uefi_loader, "shim"))
                        return true;
        return false;
}

bool secboot_entry_boots(const struct boot_entry *e) {
        return e->kind && streq(e->kind->name, "linux");
}

const char *secboot_entry_why(const struct boot_entry *e) {
        static const struct {
                const char *kind, *why;
        } why[] = {
                { "chain", "it chains to a script for iPXE, and Debian's iPXE is unsigned (the firmware refuses it)" },
                { "iscsi", "iPXE's sanboot is unsigned, and this GRUB does not boot an iSCSI disk" },
                { "iso", "memdisk and iPXE's sanboot are unsigned, and this GRUB does not boot an ISO over the network" },
                { "local", "leaving GRUB for the next boot device is the firmware's job: pick the disk in its boot menu" },
                { "shell", "the iPXE shell is unsigned iPXE" },
                { "wimboot", "wimboot is unsigned, and this GRUB does not chainload Windows' boot manager over TFTP" },
                { "windows", "wimboot is unsigned, and this GRUB does not chainload Windows' boot manager over TFTP" },
        };
        if (secboot_entry_boots(e))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(why); i++)
                if (e->kind && streq(e->kind->name, why[i].kind))
                        return why[i].why;
        return "GRUB cannot boot it under Secure Boot";
}
