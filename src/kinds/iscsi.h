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

#include <stdbool.h>

#include "profile/kind.h"
#include "profile/profile.h"

#define ISCSI_IQN_PREFIX "iqn.2026-12.lab.pxelab"
#define ISCSI_PORT 3260
#define ISCSI_CHAP_USER "pxelab"

/* The iSCSI disk an entry attaches: an iscsi entry's kind_data (it
 * sanboots it), a windows entry's with install_to = "iscsi" (iPXE
 * sanhooks it before Setup, which installs onto it). */
struct iscsi_entry {
        char *disk;             /* NULL: none of the entry's own (windows: each host brings one) */
        char *size;             /* "40G" or NULL: the image must exist */
        bool chap;
};

/* The disk B attaches, or NULL (asked of B's kind: struct kind's iscsi). */
const struct iscsi_entry *iscsi_disk_of(const struct boot_entry *b);
/* Whether some entry of P attaches a disk: the lab runs tgtd. */
bool iscsi_lab_uses(const struct profile *p);

/* For the kinds that attach a disk: reads the entry's keys disk (required
 * when DISK_REQUIRED), size and chap into D; checks D's image (a missing
 * one is fine when it has a size); frees what D holds (D may be NULL);
 * sets the entry model's member "iscsi" {iqn, url, has_disk, hosts[]
 * {mac, iqn, url}, chap}, refusing two hosts that would share one disk. */
struct entry_builder;
struct entry_checker;
struct model_entry;
void iscsi_disk_build(struct entry_builder *eb, struct iscsi_entry *d, bool disk_required);
void iscsi_disk_check_files(struct entry_checker *ec, const struct boot_entry *e, struct iscsi_entry *d);
void iscsi_disk_clear(struct iscsi_entry *d);
int iscsi_disk_model(const struct model_entry *m, const struct iscsi_entry *d, json_t *o);

/* The iSCSI keys of an entry kind that attaches a disk (disk, size, chap). */
#define ISCSI_DISK_KEYS { "disk", KIND_KEY_STR }, { "size", KIND_KEY_STR }, { "chap", KIND_KEY_STR }

/* tgtd's control port for LAB (its socket /run/tgtd/socket.N): one per lab. */
unsigned iscsi_control_port(const char *lab);

/* Makes every missing disk image of the model's targets, sparse at its
 * size (O_EXCL: an existing one is never touched). For `up`, before tgtd. */
int iscsi_make_disks(json_t *model);

/* tgtd's unit (lab/services.c's table). */
struct unit_spec;
int iscsi_tgtd_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw);
