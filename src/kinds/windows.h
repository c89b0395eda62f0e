/* Boot kind `windows` (kind_windows of kind.h; `wimboot`: wimboot.h).
 *
 *   windows  Windows Setup from an install tree (`source`): the same boot
 *            set straight from the tree, plus a rendered winpeshl.ini and
 *            install.cmd (injected by wimboot into X:\Windows\System32) that
 *            map the tree's SMB share with the lab's credentials and start
 *            setup.exe from it.
 *
 * For `windows` entries the lab runs a third service, smbd (the kind's
 * `services`; kinds_need(p, "smbd")), with a rendered
 * smb.conf whose every directory lies in the lab's run dir: one read-only
 * share per entry, the lab's IPv4 address only, SMB2 or newer, no guest.
 * Clients log in as WINDOWS_SMB_USER with a random password kept in
 * STATE/smb.credentials (0600); smbd maps that name to the existing
 * unprivileged account WINDOWS_SMB_UNIX_USER, so no host account is made.
 *
 * The model: an entry gets "wimboot", "args", "has_args", "initrds" (every
 * file wimboot gets, in load order) and "windows" (share, UNC path, drive,
 * unattend, drivers, setup_args); the lab "smb" (see README, data model; the
 * password only while install.cmd renders). Two files of an entry with the
 * same name (any case), a driver whose name can't be passed to WinPE safely,
 * or an entry named like a special smb.conf section (global, homes,
 * printers) is logged as "FILE:LINE: FIELD: message" and fails the model. A
 * `source` or `drivers` that does not exist yet renders with the canonical
 * names (render does not check files). Rendering writes the credentials
 * (generated once, then kept), smb.conf, smbd's user map and passdb, and per
 * entry winpeshl.ini and install.cmd (CRLF line ends). */
#pragma once

/* The group nginx's workers run as (nginx.conf: user nobody nogroup). */
#define WINDOWS_HTTP_GROUP "nogroup"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "profile/profile.h"
#include "host/units.h"

struct iscsi_entry;

/* An entry's values (its kind_data). */
struct windows_entry {
        char *wimboot;          /* entry > global > $PXELAB_WIMBOOT */
        char *source;           /* the install tree (a directory) */
        char *unattend;         /* NULL: none */
        char *drivers;          /* a directory, NULL: none */
        char *setup_args;
        /* install_to = "iscsi": the disk iPXE sanhooks for Setup (its keys
         * disk, size and chap as an iscsi entry's); NULL: Setup installs
         * onto the machine's own disk. */
        struct iscsi_entry *san;
};

/* B's values; NULL when B is not a windows entry. */
const struct windows_entry *windows_of(const struct boot_entry *b);

#define WINDOWS_SMB_USER "pxelab"
#define WINDOWS_SMB_UNIX_USER "nobody"
#define WINDOWS_SMB_PORT 445
#define WINDOWS_PASSWORD_LEN 24

/* `up`'s summary lines of the SMB shares (nothing without windows entries):
 *   "  smb:      \\ADDR\ENTRY (user pxelab, password in STATE/smb.credentials)" */
void windows_summary(json_t *model);

/* The smbd service of the lab (argv, writable dirs, capabilities, type);
 * *ARGV and *RW are allocated for the caller to free. */
int windows_smbd_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw);

/* The NT hash of PASSWORD (MD4 of its UTF-16LE form; PASSWORD is ASCII),
 * and MD4 itself (RFC 1320). Exposed for the unit tests. */
void windows_md4(const void *data, size_t len, uint8_t out[static 16]);
void windows_nt_hash(const char *password, uint8_t out[static 16]);

/* A random password of WINDOWS_PASSWORD_LEN characters [A-Za-z0-9] (safe
 * on a cmd.exe command line). */
int windows_password_new(char ret[static WINDOWS_PASSWORD_LEN + 1]);
