/* Secure Boot clients (uefi_loader = "shim"): the model's part for them and
 * the files of their TFTP tree. Such a client gets shim by PXE; shim fetches
 * grubx64.efi from its own TFTP directory; Debian's network GRUB reads
 * /grub/grub.cfg from the TFTP root and loads kernels and initrds over TFTP
 * (it has no http module). So, in RUN/tftp/:
 *   efi/shimx64.efi      the profile's shim (DHCP boot file "efi/shimx64.efi")
 *   efi/grubx64.efi      Debian's grubnetx64.efi.signed (the name shim asks for)
 *   grub/grub.cfg        the menu (template grub.cfg)
 *   grub/hosts/MAC.cfg   a host's own entry (template grub-host.cfg; MAC as
 *                        GRUB's $net_default_mac spells it, 52:54:00:..)
 *   files/ENTRY/NAME     copies of each linux entry's kernel and initrds
 * The copies are regular files written by pxelab (made again when the
 * source's content differs), so the TFTP root stays free of symlinks and
 * of mounts. Without any shim client none of these exist. */
#pragma once
#include <jansson.h>

#include "profile/profile.h"

/* Adds to MODEL (model_build()'s, with "boots" and "hosts" built from P in
 * P's order): "secboot" {enabled, lab_shim, loader, shim, grub, shim_match,
 * default, default_note}; per boot "grub" {ok, why} and for linux entries
 * kernel.tftp_path, initrds[].tftp_path, grub_initrds, has_initrds; per host
 * "uefi_loader", "has_loader_tag", "loader_tag", "grub_script", "grub_ok",
 * "grub_why". */
void grub_model(const struct profile *p, json_t *model);

/* Makes (or, without shim clients, removes) RUN/tftp's efi/, grub/ and
 * files/ as above. A missing shim or GRUB fails in one line; a linux file
 * that does not exist (render of a profile whose files are elsewhere) is
 * skipped. */
int grub_render(const struct profile *p, json_t *model, const char *run_dir);
