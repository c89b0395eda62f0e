/* Boot kind `iscsi`: a diskless machine boots a disk image the lab serves
 * over iSCSI (Debian's tgt: tgtd in the lab's unit pxelab-LAB-tgtd.service,
 * its targets loaded by tgt-admin from the rendered tgt/targets.conf). iPXE
 * `sanboot`s the target, BIOS and UEFI (templates/entry-iscsi.ipxe.mustache).
 *
 * One target per disk: the entry's `disk` (iqn.2026-12.lab.pxelab:LAB:ENTRY)
 * and each host's own `disk` (…:LAB:HOST), so two machines never share a
 * writable disk; a missing image is made sparse at the entry's `size`, an
 * existing one is never truncated. Initiators are limited to the lab's
 * subnet; `chap = "on"` adds one-way CHAP with credentials made once per
 * lab (STATE/iscsi-chap). */
#pragma once
#include <jansson.h>

#include "profile/profile.h"

#define ISCSI_IQN_PREFIX "iqn.2026-12.lab.pxelab"
#define ISCSI_PORT 3260
#define ISCSI_CHAP_USER "pxelab"

/* An entry's values (its kind_data). */
struct iscsi_entry {
        char *disk;
        char *size;             /* "40G" or NULL: the image must exist */
        bool chap;
};

const struct iscsi_entry *iscsi_of(const struct boot_entry *b);

/* tgtd's control port for LAB (its socket /run/tgtd/socket.N): one per lab. */
unsigned iscsi_control_port(const char *lab);

/* Makes every missing disk image of the model's targets, sparse at its
 * size (O_EXCL: an existing one is never touched). For `up`, before tgtd. */
int iscsi_make_disks(json_t *model);

/* tgtd's unit (lab/services.c's table). */
struct unit_spec;
int iscsi_tgtd_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw);
