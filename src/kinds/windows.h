/* Windows boot kinds.
 *
 *   wimboot  WinPE from files: the iPXE project's wimboot loads bootmgr, the
 *            BCD, boot.sdi, the WIM and any injected file over HTTP.
 *   windows  Windows Setup from an install tree (`source`): the same boot
 *            set straight from the tree, plus a rendered winpeshl.ini and
 *            install.cmd (injected by wimboot into X:\Windows\System32) that
 *            map the tree's SMB share with the lab's credentials and start
 *            setup.exe from it.
 *
 * For `windows` entries the lab runs a third service, smbd, with a rendered
 * smb.conf whose every directory lies in the lab's run dir: one read-only
 * share per entry, the lab's IPv4 address only, SMB2 or newer, no guest.
 * Clients log in as WINDOWS_SMB_USER with a random password kept in
 * STATE/smb.credentials (0600); smbd maps that name to the existing
 * unprivileged account WINDOWS_SMB_UNIX_USER, so no host account is made. */
#pragma once

/* The group nginx's workers run as (nginx.conf: user nobody nogroup). */
#define WINDOWS_HTTP_GROUP "nogroup"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "profile/profile.h"
#include "host/units.h"

#define WINDOWS_SMB_USER "pxelab"
#define WINDOWS_SMB_UNIX_USER "nobody"
#define WINDOWS_SMB_PORT 445
#define WINDOWS_PASSWORD_LEN 24

/* True when the profile has a `windows` entry: the lab needs smbd. */
bool windows_wanted(const struct profile *p);

/* Model of a wimboot or windows entry: sets "wimboot" (the loader's file),
 * "args", "has_args", "initrds" (every file wimboot gets, in load order, each
 * named as wimboot wants it) and, for `windows`, "windows" (share, UNC path,
 * drive, unattend, drivers, setup_args) on the entry object O, and appends
 * each served file to FILES. Two files of an entry with the same name (any
 * case), a driver whose name can't be passed to WinPE safely, or a windows
 * entry named like a special smb.conf section (global, homes, printers) is logged
 * as "FILE:LINE: FIELD: message" and gives -EINVAL. A `source` or `drivers`
 * that does not exist yet renders with the canonical names (render does not
 * check files). */
int windows_entry_json(const struct profile *p, const struct boot_entry *b, const char *run_dir,
                       const char *base, json_t *files, json_t *o);

/* The model's "smb" object (see README, data model). No password in it:
 * windows_render() adds "password" once it has the credentials. */
json_t *windows_smb_json(const struct profile *p, const char *run_dir, const char *state_dir);

/* Renders what the windows entries need, when there are any: the credentials
 * (generated once, then kept), smb.conf, the user map and passdb of smbd, and
 * per entry winpeshl.ini and install.cmd (CRLF line ends). *SMB_CHANGED tells
 * whether anything smbd reads changed. Removes the rendered files of entries
 * that are gone. */
int windows_render(const struct profile *p, json_t *model, bool *smb_changed);

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
