#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "basic/json.h"
#include "basic/log.h"
#include "basic/secret.h"
#include "basic/names.h"
#include "kinds/iscsi.h"
#include "kinds/kind.h"
#include "kinds/wimboot.h"
#include "profile/build.h"
#include "profile/files.h"
#include "render/render.h"
#include "render/template.h"
#include "basic/util.h"
#include "kinds/windows.h"

/* Where the rendered startup files of entry E live: RUN/windows/E/. */
#define WINDOWS_SUBDIR "windows"
/* The drive letter install.cmd maps the share to. */
#define WINDOWS_DRIVE "Z:"
/* net use attempts (about a second apart) before install.cmd gives up. */
#define WINDOWS_MAP_TRIES 120

/* ---- MD4 (RFC 1320), for the NT hash in smbd's passdb ------------------- */

static uint32_t rol32(uint32_t x, unsigned s) {
        return (x << s) | (x >> (32 - s));
}

static void md4_block(uint32_t h[4], const uint8_t blk[64]) {
        static const unsigned r2[16] = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 };
        static const unsigned r3[16] = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 };
        static const unsigned s1[4] = { 3, 7, 11, 19 }, s2[4] = { 3, 5, 9, 13 }, s3[4] = { 3, 9, 11, 15 };
        uint32_t x[16], v[4] = { h[0], h[1], h[2], h[3] };

        for (unsigned i = 0; i < 16; i++)
                x[i] = blk[4 * i] | blk[4 * i + 1] << 8 | blk[4 * i + 2] << 16 | (uint32_t) blk[4 * i + 3] << 24;
        /* Step i updates word (4 - i % 4) % 4: a, d, c, b, a, ... */
        for (unsigned i = 0; i < 16; i++) {
                uint32_t *a = &v[(4 - i % 4) % 4], b = v[(5 - i % 4) % 4], c = v[(6 - i % 4) % 4], d = v[(7 - i % 4) % 4];
                *a = rol32(*a + ((b & c) | (~b & d)) + x[i], s1[i % 4]);
        }
        for (unsigned i = 0; i < 16; i++) {
                uint32_t *a = &v[(4 - i % 4) % 4], b = v[(5 - i % 4) % 4], c = v[(6 - i % 4) % 4], d = v[(7 - i % 4) % 4];
                *a = rol32(*a + ((b & c) | (b & d) | (c & d)) + x[r2[i]] + 0x5a827999u, s2[i % 4]);
        }
        for (unsigned i = 0; i < 16; i++) {
                uint32_t *a = &v[(4 - i % 4) % 4], b = v[(5 - i % 4) % 4], c = v[(6 - i % 4) % 4], d = v[(7 - i % 4) % 4];
                *a = rol32(*a + (b ^ c ^ d) + x[r3[i]] + 0x6ed9eba1u, s3[i % 4]);
        }
        for (unsigned i = 0; i < 4; i++)
                h[i] += v[i];
}

void windows_md4(const void *data, size_t len, uint8_t out[static 16]) {
        uint32_t h[4] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u };
        const uint8_t *p = data;
        uint8_t tail[128] = {};
        uint64_t bits = (uint64_t) len * 8;
        size_t n, rest;

        for (n = 0; n + 64 <= len; n += 64)
                md4_block(h, p + n);
        /* Padding: 0x80, zeros up to 56 mod 64, the bit length little-endian. */
        rest = len - n;
        memcpy(tail, p + n, rest);
        tail[rest] = 0x80;
        n = rest + 1 + 8 <= 64 ? 64 : 128;
        for (unsigned i = 0; i < 8; i++)
                tail[n - 8 + i] = bits >> (8 * i);
        md4_block(h, tail);
        if (n == 128)
                md4_block(h, tail + 64);
        for (unsigned i = 0; i < 16; i++)
                out[i] = h[i / 4] >> (8 * (i % 4));
}

void windows_nt_hash(const char *password, uint8_t out[static 16]) {
        size_t len = strlen(password);
        _cleanup_free_ uint8_t *u16 = xcalloc(len ? len * 2 : 1, 1);
        for (size_t i = 0; i < len; i++)
                u16[2 * i] = (uint8_t) password[i];     /* ASCII: UTF-16LE is the byte and a zero */
        windows_md4(u16, len * 2, out);
}

int windows_password_new(char ret[static WINDOWS_PASSWORD_LEN + 1]) {
        return secret_new(ret, WINDOWS_PASSWORD_LEN);
}

/* ---- the profile part ---------------------------------------------------- */

static const struct kind_key windows_keys[] = {
        { "source", KIND_KEY_STR }, { "unattend", KIND_KEY_STR }, { "drivers", KIND_KEY_STR },
        { "setup_args", KIND_KEY_STR }, { "wimboot", KIND_KEY_STR }, { "install_to", KIND_KEY_STR }, ISCSI_DISK_KEYS, {},
};

const struct windows_entry *windows_of(const struct boot_entry *b) {
        return b->kind == &kind_windows.profile ? b->kind_data : NULL;
}

/* install_to = "local" (the default: the machine's own disk) or "iscsi";
 * disk, size and chap only with "iscsi". */
static void windows_build_san(struct entry_builder *eb, struct windows_entry *d) {
        static const char *const san_keys[] = { "disk", "size", "chap" };
        const char *to = entry_value(eb, "install_to");

        if (to && streq(to, "iscsi")) {
                d->san = xcalloc(1, sizeof(*d->san));
                iscsi_disk_build(eb, d->san, false);
                return;
        }
        if (to && !streq(to, "local"))
                entry_problem_value(eb, "install_to", "must be one of: local, iscsi");
        for (size_t i = 0; i < ELEMENTSOF(san_keys); i++)
                if (entry_value(eb, san_keys[i]))
                        entry_problem(eb, san_keys[i], "is for install_to = \"iscsi\" (Setup installs onto an iSCSI disk)");
}

static const struct iscsi_entry *windows_san(const struct boot_entry *b) {
        return ((const struct windows_entry *) b->kind_data)->san;
}

static void windows_build(struct entry_builder *eb, struct boot_entry *e) {
        struct windows_entry *d = e->kind_data = xcalloc(1, sizeof(*d));

        d->source = entry_path(eb, "source", true);
        d->unattend = entry_path(eb, "unattend", false);
        d->drivers = entry_path(eb, "drivers", false);
        d->setup_args = entry_text(eb, "setup_args", CS_CMDLINE);
        d->wimboot = entry_wimboot(eb);
        windows_build_san(eb, d);
}

static void windows_done(struct boot_entry *e) {
        struct windows_entry *d = e->kind_data;
        if (!d)
                return;
        free(d->wimboot);
        free(d->source);
        free(d->unattend);
        free(d->drivers);
        free(d->setup_args);
        iscsi_disk_clear(d->san);
        free(d->san);
        free(d);
}

/* Windows install media: what wimboot needs, found case-insensitively. */
static void check_source(struct entry_checker *ec, const struct boot_entry *e) {
        static const char *const needed[] = { "bootmgr", "boot/bcd", "boot/boot.sdi", "sources/boot.wim" };
        const struct windows_entry *d = e->kind_data;
        struct stat st;

        if (!d->source || stat(d->source, &st) < 0 || !S_ISDIR(st.st_mode))
                return;         /* entry_check_dir() said so */
        for (size_t i = 0; i < ELEMENTSOF(needed); i++) {
                _cleanup_free_ char *found = NULL;
                if (path_lookup_ci(d->source, needed[i], &found) < 0)
                        entry_check_problem(ec, e, "source", "has no %s (looked up case-insensitively)", needed[i]);
                else if (stat(found, &st) < 0 || !S_ISREG(st.st_mode))
                        entry_check_problem(ec, e, "source", "has %s, but it is not a regular file", needed[i]);
        }
}

static void windows_check_files(struct entry_checker *ec, struct boot_entry *e) {
        struct windows_entry *d = e->kind_data;

        entry_check_wimboot(ec, e, &d->wimboot);
        entry_check_dir(ec, e, "source", &d->source);
        if (!entry_check_missing_ok(ec))
                check_source(ec, e);
        entry_check_file(ec, e, "unattend", &d->unattend);
        entry_check_dir(ec, e, "drivers", &d->drivers);
        if (d->san)
                iscsi_disk_check_files(ec, e, d->san);
}

/* ---- the model ---------------------------------------------------------- */

static bool is_windows(const struct boot_entry *b) {
        return b->kind == &kind_windows.profile;
}

static unsigned entry_line(const struct profile *p, const struct boot_entry *b, const char *key) {
        _cleanup_free_ char *k = xasprintf("boot.%s.%s", b->name, key);
        unsigned line = profile_line(p, k);
        return line ? line : b->line;
}

/* A file of the install tree, looked up case-insensitively; the canonical
 * name when the tree isn't there (render does not check files). */
static char *source_file(const char *source, const char *rel) {
        char *found = NULL;
        if (path_lookup_ci(source, rel, &found) >= 0)
                return found;
        return path_join(source, rel);
}

/* File names that go into nginx.conf, the iPXE script and cmd.exe lines
 * unquoted: nothing but [A-Za-z0-9._+-], not hidden. */
static bool safe_file_name(const char *s) {
        if (!*s || *s == '.')
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("._+-", *s))
                        return false;
        return true;
}

static bool has_suffix_ci(const char *s, const char *suffix) {
        size_t l = strlen(s), m = strlen(suffix);
        return l >= m && strcasecmp(s + l - m, suffix) == 0;
}

/* The regular files of the drivers directory, sorted; none when it doesn't
 * exist (yet). */
static void driver_files(struct wimboot_loads *l, const char *dir, json_t *infs) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        const struct boot_entry *b = l->m->b;
        unsigned line = entry_line(l->m->p, b, "drivers");

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                path = path_join(dir, de->d_name);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                names = xrealloc(names, (n + 1) * sizeof(char *));
                names[n++] = xstrdup(de->d_name);
        }
        if (n > 1)
                qsort(names, n, sizeof(char *), strcmp_ptr);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = path_join(dir, names[i]);
                _cleanup_free_ char *field = xasprintf("boot.%s.drivers", b->name);
                if (!safe_file_name(names[i])) {
                        log_error("%s:%u: %s: '%s' has the file '%s'; driver file names may only have letters, digits and ._+-",
                                  l->m->p->path, line, field, dir, names[i]);
                        l->error = -EINVAL;
                        continue;
                }
                wimboot_load(l, path, names[i], field, line);
                if (has_suffix_ci(names[i], ".inf"))
                        json_array_append_new(infs, json_pack("{s:s}", "name", names[i]));
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* smb.conf section names that are not shares. */
static bool reserved_share(const char *name) {
        return streq(name, "global") || streq(name, "homes") || streq(name, "printers");
}

static json_t *windows_object(const struct boot_entry *b, const char *address, json_t *infs) {
        const struct windows_entry *d = b->kind_data;
        json_t *w = json_object();
        _cleanup_free_ char *unc = xasprintf("\\\\%s\\%s", address, b->name);

        json_object_set_new(w, "share", json_string(b->name));
        json_object_set_new(w, "server", json_string(address));
        json_object_set_new(w, "unc", json_string(unc));
        json_object_set_new(w, "drive", json_string(WINDOWS_DRIVE));
        json_object_set_new(w, "setup", json_string(WINDOWS_DRIVE "\\setup.exe"));
        json_object_set_new(w, "source", json_string(d->source));
        json_object_set_new(w, "has_unattend", json_boolean(d->unattend != NULL));
        if (d->unattend)
                json_object_set_new(w, "unattend", json_string("autounattend.xml"));
        json_object_set_new(w, "has_setup_args", json_boolean(!strempty(d->setup_args)));
        json_object_set_new(w, "setup_args", json_string(d->setup_args ? d->setup_args : ""));
        json_object_set_new(w, "has_drivers", json_boolean(json_array_size(infs) > 0));
        json_object_set_new(w, "drivers", json_incref(infs));
        json_object_set_new(w, "tries", json_integer(WINDOWS_MAP_TRIES));
        return w;
}

/* The same boot set as a wimboot entry, straight from the install tree,
 * plus winpeshl.ini and install.cmd (rendered, see windows_render()), the
 * unattend file and the drivers. */
static int windows_model(const struct model_entry *m, json_t *o) {
        const struct profile *p = m->p;
        const struct boot_entry *b = m->b;
        const struct windows_entry *d = b->kind_data;
        struct wimboot_loads l;
        char addr[INET_ADDRSTRLEN];
        _cleanup_free_ char *bootmgr = source_file(d->source, "bootmgr"),
                            *bcd = source_file(d->source, "boot/bcd"),
                            *sdi = source_file(d->source, "boot/boot.sdi"),
                            *wim = source_file(d->source, "sources/boot.wim"),
                            *dir = xasprintf("%s/" WINDOWS_SUBDIR "/%s", m->run_dir, b->name),
                            *ini = path_join(dir, "winpeshl.ini"), *cmd = path_join(dir, "install.cmd"),
                            *field = xasprintf("boot.%s", b->name);
        json_t *infs = json_array();

        inet_ntop(AF_INET, &p->bridge.addr, addr, sizeof(addr));
        wimboot_loads_start(&l, m, o, d->wimboot, NULL);
        if (reserved_share(b->name)) {
                log_error("%s:%u: %s: '%s' names a special section of smb.conf; give this windows entry another name",
                          p->path, b->line, field, b->name);
                l.error = -EINVAL;
        }
        wimboot_load_opt(&l, bootmgr, "bootmgr", "source");
        wimboot_load_opt(&l, bcd, "BCD", "source");
        wimboot_load_opt(&l, sdi, "boot.sdi", "source");
        wimboot_load_opt(&l, wim, "boot.wim", "source");
        wimboot_load(&l, ini, "winpeshl.ini", field, b->line);
        wimboot_load(&l, cmd, "install.cmd", field, b->line);
        if (d->unattend)
                wimboot_load_opt(&l, d->unattend, "autounattend.xml", "unattend");
        if (d->drivers)
                driver_files(&l, d->drivers, infs);
        json_object_set_new(o, "windows", windows_object(b, addr, infs));
        json_decref(infs);
        if (d->san && iscsi_disk_model(m, d->san, o) < 0)
                l.error = -EINVAL;
        return wimboot_loads_finish(&l, o);
}

static json_t *windows_smb_json(const struct profile *p, const char *run_dir, const char *state_dir) {
        char addr[INET_ADDRSTRLEN];
        _cleanup_free_ char *dir = path_join(run_dir, "smb"), *netbios = lab_short_name("", p->lab, "");
        json_t *smb, *shares = json_array();

        inet_ntop(AF_INET, &p->bridge.addr, addr, sizeof(addr));
        for (char *c = netbios; *c; c++)
                *c = toupper((unsigned char) *c);
        for (size_t i = 0; i < p->n_boots; i++) {
                const struct boot_entry *b = &p->boots[i];
                const struct windows_entry *d = windows_of(b);
                if (d)
                        json_array_append_new(shares, json_pack("{s:s, s:s}", "name", b->name, "path",
                                                                d->source ? d->source : ""));
        }
        smb = json_pack("{s:b, s:s, s:s, s:s, s:i, s:s, s:s, s:o}", "enabled", kinds_need(p, "smbd"), "user",
                        WINDOWS_SMB_USER, "unix_user", WINDOWS_SMB_UNIX_USER, "address", addr, "port",
                        WINDOWS_SMB_PORT, "netbios_name", netbios, "dir", dir, "shares", shares);
        json_object_set_new(smb, "conf", json_sprintf("%s/smb.conf", run_dir));
        json_object_set_new(smb, "passdb", json_sprintf("%s/private/smbpasswd", dir));
        json_object_set_new(smb, "username_map", json_sprintf("%s/users.map", dir));
        json_object_set_new(smb, "credentials", json_sprintf("%s/smb.credentials", state_dir));
        static const char *const sub[] = { "private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "log" };
        for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
                _cleanup_free_ char *key = xasprintf("%s_dir", sub[i]);
                json_object_set_new(smb, key, json_sprintf("%s/%s", dir, sub[i]));
        }
        return smb;
}

/* ---- rendering ---------------------------------------------------------- */

/* cmd.exe mis-parses labels in files with bare LF line ends. */
static char *crlf(const char *s) {
        size_t n = 0;
        char *r, *o;
        for (const char *c = s; *c; c++)
                n += *c == '\n' ? 2 : 1;
        r = o = xcalloc(n + 1, 1);
        for (const char *c = s; *c; c++) {
                if (*c == '\n' && (c == s || c[-1] != '\r'))
                        *o++ = '\r';
                *o++ = *c;
        }
        *o = 0;
        return r;
}

/* "password = X" of the credentials file (smbclient's --authentication-file
 * format), made once per lab and kept, so a re-render changes nothing. */
static int credentials(const char *path, char ret[static WINDOWS_PASSWORD_LEN + 1], time_t *ret_mtime) {
        _cleanup_free_ char *content = NULL;
        struct stat st;
        int r;

        if (read_file(path, &content, NULL) >= 0) {
                const char *pw = strstr(content, "\npassword = ");
                if (pw) {
                        pw += strlen("\npassword = ");
                        size_t len = strcspn(pw, "\n");
                        bool ok = len == WINDOWS_PASSWORD_LEN;
                        for (size_t i = 0; ok && i < len; i++)
                                ok = isalnum((unsigned char) pw[i]);
                        if (ok) {
                                memcpy(ret, pw, len);
                                ret[len] = 0;
                                if (chmod(path, 0600) < 0 || stat(path, &st) < 0)
                                        return log_error_errno(errno, "Failed to access '%s'", path);
                                *ret_mtime = st.st_mtime;
                                return 0;
                        }
                }
                log_warn("'%s' holds no valid password; making a new one", path);
        }
        r = windows_password_new(ret);
        if (r < 0)
                return log_error_errno(r, "Failed to make a password");
        free(content);
        content = xasprintf("username = %s\npassword = %s\n", WINDOWS_SMB_USER, ret);
        r = write_file_atomic(path, content, strlen(content), 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write '%s'", path);
        if (stat(path, &st) < 0)
                return log_error_errno(errno, "Failed to access '%s'", path);
        *ret_mtime = st.st_mtime;
        return 0;
}

/* smbd's passdb in the "smbpasswd" format, written here so no samba tool
 * runs outside the sandbox: NAME:UID:LM:NT:[FLAGS]:LCT-TIME: with no LM
 * hash. The change time is the credentials' (a time of 0 would mean "must
 * change the password"). */
static int write_passdb(json_t *smb, const char *password, time_t changed_at, bool *changed) {
        struct passwd *pw = getpwnam(WINDOWS_SMB_UNIX_USER);
        _cleanup_free_ char *line = NULL;
        char hex[33];
        uint8_t h[16];

        if (!pw) {
                log_error("This host has no '%s' account; the SMB share of a windows entry is read as that user",
                          WINDOWS_SMB_UNIX_USER);
                return -ENOENT;
        }
        windows_nt_hash(password, h);
        for (unsigned i = 0; i < 16; i++)
                sprintf(hex + 2 * i, "%02X", h[i]);
        /* smbpasswd(5): NAME:UID:LM-hash:NT-hash:[flags]:LCT-time. 32 'X'
         * is that format's "no LM hash" (LM hashes are weak; never stored). */
        line = xasprintf("%s:%u:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:%s:[U          ]:LCT-%08llX:\n", WINDOWS_SMB_UNIX_USER,
                         (unsigned) pw->pw_uid, hex, (unsigned long long) changed_at);
        return template_write(json_str(smb, "passdb"), line, 0600, changed);
}

static int make_smb_dirs(json_t *smb) {
        static const char *const keys[] = { "dir", "private_dir", "lock_dir", "state_dir", "cache_dir", "pid_dir",
                                            "ncalrpc_dir", "binddns_dir", "log_dir" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *d = json_str(smb, keys[i]);
                /* testparm would like lock, state and cache dirs 0755 "for
                 * browsing"; NetBIOS browsing is off, and they stay private. */
                int r = mkdir_p(d, 0700);
                if (r < 0)
                        return log_error_errno(r, "Failed to create '%s'", d);
        }
        return 0;
}

static int render_file(const struct profile *p, const char *tmpl, json_t *model, const char *dst, bool windows_crlf,
                       mode_t mode, bool *changed) {
        _cleanup_free_ char *out = NULL, *conv = NULL;
        int r = template_render(p, tmpl, model, &out);
        if (r < 0)
                return r;
        if (windows_crlf)
                conv = crlf(out);
        return template_write(dst, conv ? conv : out, mode, changed);
}

/* Every directory from / down to PATH searchable by others, and PATH
 * readable: what the share's unprivileged user needs (ACLs aside). */
static bool others_can_read(const char *path) {
        _cleanup_free_ char *cur = xstrdup(path);
        struct stat st;
        for (char *s = cur + 1;; s++) {
                if (*s == '/' || !*s) {
                        char c = *s;
                        *s = 0;
                        if (stat(cur, &st) < 0)
                                return true;    /* missing: `check` says so */
                        if (c && !(st.st_mode & S_IXOTH))
                                return false;
                        *s = c;
                        if (!c)
                                return (st.st_mode & S_IROTH) && (!S_ISDIR(st.st_mode) || (st.st_mode & S_IXOTH));
                }
        }
}

static void warn_unreadable(const struct boot_entry *b) {
        const struct windows_entry *d = b->kind_data;
        _cleanup_free_ char *setup = NULL;
        if (!d->source || path_lookup_ci(d->source, "setup.exe", &setup) < 0)
                return;
        if (!others_can_read(d->source) || !others_can_read(setup))
                log_warn("The install tree '%s' of boot entry '%s' is not readable by '%s', the account its SMB share "
                         "is read with; make it world-readable (chmod -R o+rX) or use a mounted ISO",
                         d->source, b->name, WINDOWS_SMB_UNIX_USER);
}

/* install.cmd carries the share's password, and nginx's workers (nobody,
 * group nogroup) must read it: PATH becomes root:nogroup with MODE, so it
 * is not readable by every local user. */
static int share_with_http(const char *path, mode_t mode) {
        struct group *g = getgrnam(WINDOWS_HTTP_GROUP);

        if (!g) {
                log_error("Failed to find group '%s', which nginx's workers run as", WINDOWS_HTTP_GROUP);
                return -ENOENT;
        }
        if (chown(path, 0, g->gr_gid) < 0 || chmod(path, mode) < 0)
                return log_error_errno(errno, "Failed to hand '%s' to group '%s'", path, WINDOWS_HTTP_GROUP);
        return 0;
}

static int render_entries(const struct profile *p, json_t *model, const char *dir) {
        json_t *e;
        size_t i;
        int r;

        json_array_foreach(json_object_get(model, "boots"), i, e) {
                _cleanup_free_ char *edir = NULL, *ini = NULL, *cmd = NULL;
                if (!streq(json_str(e, "kind"), "windows"))
                        continue;
                edir = path_join(dir, json_str(e, "name"));
                r = mkdir_p(edir, 0700);
                if (r < 0)
                        return log_error_errno(r, "Failed to create '%s'", edir);
                ini = path_join(edir, "winpeshl.ini");
                cmd = path_join(edir, "install.cmd");
                json_object_set(model, "entry", e);
                r = render_file(p, "winpeshl.ini", model, ini, true, 0640, NULL);
                if (r >= 0)
                        r = render_file(p, "install.cmd", model, cmd, true, 0640, NULL);
                json_object_del(model, "entry");
                if (r >= 0)
                        r = share_with_http(edir, 0750);
                if (r >= 0)
                        r = share_with_http(ini, 0640);
                if (r >= 0)
                        r = share_with_http(cmd, 0640);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < p->n_boots; k++)
                if (is_windows(&p->boots[k]))
                        warn_unreadable(&p->boots[k]);
        return 0;
}

static int windows_render(const struct profile *p, json_t *model, struct render_changes *changes) {
        json_t *smb = json_object_get(model, "smb");
        const char *run = json_str(json_object_get(model, "dirs"), "run");
        _cleanup_free_ char *dir = path_join(run, WINDOWS_SUBDIR), *map = NULL;
        char password[WINDOWS_PASSWORD_LEN + 1];
        bool changed = false;
        time_t mtime = 0;
        int r;

        /* Entries that are gone take their files with them. */
        r = rm_rf(dir);
        if (r < 0)
                return log_error_errno(r, "Failed to remove '%s'", dir);
        if (!json_is_true(json_object_get(smb, "enabled")))
                return 0;

        r = make_smb_dirs(smb);
        if (r < 0)
                return r;
        r = credentials(json_str(smb, "credentials"), password, &mtime);
        if (r < 0)
                return r;
        r = write_passdb(smb, password, mtime, &changed);
        if (r < 0)
                return r;
        map = xasprintf("%s = %s\n", WINDOWS_SMB_UNIX_USER, WINDOWS_SMB_USER);
        r = template_write(json_str(smb, "username_map"), map, 0600, &changed);
        if (r < 0)
                return r;
        r = render_file(p, "smb.conf", model, json_str(smb, "conf"), false, 0600, &changed);
        if (r < 0)
                return r;

        /* The password only while install.cmd is rendered. */
        json_object_set_new(smb, "password", json_string(password));
        r = mkdir_p(dir, 0750);
        if (r < 0)
                log_error_errno(r, "Failed to create '%s'", dir);
        else {
                r = share_with_http(dir, 0750);
                if (r >= 0)
                        r = render_entries(p, model, dir);
        }
        json_object_del(smb, "password");
        explicit_bzero(password, sizeof(password));
        if (r < 0)
                return r;
        changes->smbd = changed;
        return 0;
}

void windows_summary(json_t *model) {
        json_t *smb = json_object_get(model, "smb"), *share;
        size_t i;

        if (!json_is_true(json_object_get(smb, "enabled")))
                return;
        json_array_foreach(json_object_get(smb, "shares"), i, share)
                printf("  smb:      \\\\%s\\%s (user %s, password in %s)\n", json_str(smb, "address"),
                       json_str(share, "name"), json_str(smb, "user"), json_str(smb, "credentials"));
}

/* ---- the service -------------------------------------------------------- */

static const char *const windows_services[] = { "smbd", NULL };

int windows_smbd_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw) {
        static const int smbd_caps[] = { CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID };
        json_t *smb = json_object_get(model, "smb");

        *argv = xcalloc(6, sizeof(char *));
        (*argv)[0] = xstrdup("/usr/sbin/smbd");
        (*argv)[1] = xstrdup("--foreground");
        (*argv)[2] = xstrdup("--no-process-group");
        (*argv)[3] = xstrdup("--debug-stdout");
        (*argv)[4] = xasprintf("--configfile=%s", json_str(smb, "conf"));
        /* smbd writes nothing but its own dirs (every one in smb.conf points there). */
        *rw = xcalloc(2, sizeof(char *));
        (*rw)[0] = xstrdup(json_str(smb, "dir"));
        s->argv = *argv;
        s->read_write_paths = *rw;
        s->description = "pxelab SMB (Windows Setup shares)";
        {
                /* Samba asks the kernel for its interfaces over netlink. */
                static char *smbd_af[] = { "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", NULL };
                /* The free space a client asks for (dskattr) is read with
                 * quotactl(2), outside @system-service: SIGSYS without it. */
                static char *smbd_syscalls[] = { "@system-service", "quotactl", NULL };
                s->address_families = smbd_af;
                s->syscall_filter = smbd_syscalls;
        }
        /* smbd tells systemd when its sockets are open. */
        s->type = "notify";
        s->capabilities = 0;
        for (size_t i = 0; i < ELEMENTSOF(smbd_caps); i++)
                s->capabilities |= 1ULL << smbd_caps[i];
        return 0;
}

const struct kind kind_windows = {
        .profile = { .name = "windows", .keys = windows_keys, .build = windows_build,
                     .check_files = windows_check_files, .done = windows_done },
        .render = { .name = "windows", .entry_model = windows_model, .lab_key = "smb", .lab_model = windows_smb_json,
                    .render = windows_render },
        .services = windows_services,
        .iscsi = windows_san,
};
