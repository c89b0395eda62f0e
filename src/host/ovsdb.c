/* OVSDB JSON-RPC client for the Open_vSwitch database (RFC 7047).
 *
 * One request is in flight at a time: a call sends it and reads messages
 * until the reply with its id arrives, answering "echo" requests (the
 * server's inactivity probe) and dropping notifications and stale replies
 * (of requests that timed out earlier) on the way. */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "basic/log.h"
#include "host/ovsdb.h"
#include "basic/util.h"

struct ovsdb {
        int fd;                 /* -1 once the connection is unusable */
        char *path;
        json_int_t last_id;
        struct ovsdb_framer framer;
};

/* jansson.h provides json_decrefp() for json_auto_t. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* json_pack() only fails on allocation failure for our fixed formats and
 * valid strings; like xasprintf(), don't pretend to recover from that. */
static json_t *must(json_t *v) {
        if (!v)
                abort();
        return v;
}

/* ---- framing ---------------------------------------------------------- */

/* jansson cannot tell a message cut short by the end of a read from a
 * malformed one (a value cut inside "true" or a UTF-8 sequence is reported
 * as a syntax error), so find where each top-level object ends ourselves,
 * by tracking nesting outside strings, and hand jansson complete messages
 * only. Structural characters are ASCII, so multi-byte UTF-8 never
 * confuses the scan. */

void ovsdb_framer_feed(struct ovsdb_framer *f, const void *data, size_t len) {
        if (len == 0)
                return;
        if (f->cap - f->len < len) {
                size_t cap = f->cap ? f->cap : 4096;
                while (cap - f->len < len)
                        cap *= 2;
                f->buf = xrealloc(f->buf, cap);
                f->cap = cap;
        }
        memcpy(f->buf + f->len, data, len);
        f->len += len;
}

static void framer_consume(struct ovsdb_framer *f, size_t n) {
        memmove(f->buf, f->buf + n, f->len - n);
        f->len -= n;
        f->scanned = 0;
}

static bool is_json_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int framer_parse(struct ovsdb_framer *f, size_t end, json_t **ret) {
        json_error_t err;
        json_t *v = json_loadb(f->buf, end, 0, &err);

        framer_consume(f, end);
        if (!v) {
                snprintf(f->error, sizeof(f->error), "%s", err.text);
                return -EBADMSG;
        }
        if (!json_is_object(v)) {
                json_decref(v);
                snprintf(f->error, sizeof(f->error), "message is not a JSON object");
                return -EBADMSG;
        }
        *ret = v;
        return 1;
}

int ovsdb_framer_next(struct ovsdb_framer *f, json_t **ret) {
        for (; f->scanned < f->len; f->scanned++) {
                char c = f->buf[f->scanned];

                if (f->in_string) {
                        if (f->escape)
                                f->escape = false;
                        else if (c == '\\')
                                f->escape = true;
                        else if (c == '"')
                                f->in_string = false;
                        continue;
                }
                if (c == '{' || c == '[') {
                        f->depth++;
                        continue;
                }
                if (f->depth == 0) {
                        if (is_json_space(c))
                                continue;
                        snprintf(f->error, sizeof(f->error),
                                 "unexpected byte 0x%02x between messages", (unsigned char) c);
                        return -EBADMSG;
                }
                if (c == '"')
                        f->in_string = true;
                else if ((c == '}' || c == ']') && --f->depth == 0)
                        return framer_parse(f, f->scanned + 1, ret);
        }
        if (f->len > OVSDB_MAX_MESSAGE) {
                snprintf(f->error, sizeof(f->error), "message larger than %u bytes",
                         OVSDB_MAX_MESSAGE);
                return -EMSGSIZE;
        }
        return 0;
}

void ovsdb_framer_done(struct ovsdb_framer *f) {
        free(f->buf);
        *f = (struct ovsdb_framer) {};
}

/* ---- errors ----------------------------------------------------------- */

/* Server text goes into one log line: flatten any line breaks. */
static char *one_line(char *s) {
        for (char *p = s; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        return s;
}

char *ovsdb_error_string(json_t *v) {
        const char *e, *d;

        if (json_is_string(v))
                return one_line(xstrdup(json_string_value(v)));
        if (!json_is_object(v))
                return NULL;
        e = json_string_value(json_object_get(v, "error"));
        if (!e)
                return NULL;
        d = json_string_value(json_object_get(v, "details"));
        return one_line(strempty(d) ? xstrdup(e) : xasprintf("%s: %s", e, d));
}

char *ovsdb_result_error(json_t *result) {
        size_t i;
        json_t *v;

        /* One element per operation, plus one more when the commit itself
         * fails (constraint or referential integrity violations). */
        json_array_foreach(result, i, v) {
                char *s = ovsdb_error_string(json_is_object(v) ? v : NULL);
                if (s)
                        return s;
        }
        return NULL;
}

/* ---- connection ------------------------------------------------------- */

int ovsdb_connect(const char *sock_path, struct ovsdb **ret) {
        _cleanup_free_ char *path = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ovsdb *db;
        int fd;

        if (sock_path)
                path = xstrdup(sock_path);
        else if (!strempty(getenv("OVS_RUNDIR")))
                path = path_join(getenv("OVS_RUNDIR"), "db.sock");
        else
                path = xstrdup(OVSDB_DEFAULT_SOCKET);

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "Failed to connect to ovsdb-server at '%s'", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create a socket for ovsdb-server");
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                if (r == -ENOENT || r == -ECONNREFUSED) {
                        log_error("Failed to connect to ovsdb-server at '%s': %s (is Open vSwitch running?)",
                                  path, strerror(-r));
                        return r;
                }
                return log_error_errno(r, "Failed to connect to ovsdb-server at '%s'", path);
        }

        db = xcalloc(1, sizeof(*db));
        db->fd = fd;
        db->path = TAKE_PTR(path);
        *ret = db;
        return 0;
}

void ovsdb_close(struct ovsdb *db) {
        if (!db)
                return;
        if (db->fd >= 0)
                close(db->fd);
        ovsdb_framer_done(&db->framer);
        free(db->path);
        free(db);
}

/* After an I/O or protocol error the stream position is unknown. */
static void ovsdb_disconnect(struct ovsdb *db) {
        if (db->fd >= 0)
                close(db->fd);
        db->fd = -1;
        ovsdb_framer_done(&db->framer);
}

static int ovsdb_send(struct ovsdb *db, json_t *msg) {
        _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
        size_t len, off = 0;

        if (!s)
                abort();
        if (db->fd < 0)
                return log_error_errno(-ENOTCONN, "Failed to send to ovsdb-server at '%s'", db->path);
        len = strlen(s);
        while (off < len) {
                ssize_t n = send(db->fd, s + off, len - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        ovsdb_disconnect(db);
                        return log_error_errno(r, "Failed to send to ovsdb-server at '%s'", db->path);
                }
                off += n;
        }
        return 0;
}

/* Next message from the server; -ETIMEDOUT (not logged) at DEADLINE. */
static int ovsdb_recv(struct ovsdb *db, unsigned long long deadline, json_t **ret) {
        for (;;) {
                char buf[16384];
                unsigned long long now;
                ssize_t n;
                int r;

                r = ovsdb_framer_next(&db->framer, ret);
                if (r > 0)
                        return 0;
                if (r < 0) {
                        log_error("Failed to parse a message from ovsdb-server at '%s': %s",
                                  db->path, db->framer.error);
                        ovsdb_disconnect(db);
                        return r;
                }

                now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&(struct pollfd) { .fd = db->fd, .events = POLLIN }, 1,
                         (int) ((deadline - now + 999) / 1000));
                if (r < 0 && errno != EINTR) {
                        r = -errno;
                        ovsdb_disconnect(db);
                        return log_error_errno(r, "Failed to wait for ovsdb-server at '%s'", db->path);
                }
                if (r <= 0)
                        continue;

                n = read(db->fd, buf, sizeof(buf));
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -ECONNRESET;
                        ovsdb_disconnect(db);
                        return log_error_errno(r, "Lost the connection to ovsdb-server at '%s'", db->path);
                }
                ovsdb_framer_feed(&db->framer, buf, n);
        }
}

/* Handles a message that is not the reply we wait for. */
static int ovsdb_handle_other(struct ovsdb *db, json_t *msg) {
        const char *method = json_string_value(json_object_get(msg, "method"));
        json_t *id = json_object_get(msg, "id");

        if (streq(method, "echo") && id && !json_is_null(id)) {
                _cleanup_json_ json_t *reply = must(json_pack("{s:O, s:O?, s:n}", "id", id, "result",
                                                              json_object_get(msg, "params"), "error"));
                return ovsdb_send(db, reply);
        }
        log_debug("Ignoring a message from ovsdb-server: %s", method ? method : "stale reply");
        return 0;
}

/* Sends request METHOD with PARAMS (stolen) and waits for its result. */
static int ovsdb_call(struct ovsdb *db, const char *method, json_t *params, json_t **ret_result) {
        _cleanup_json_ json_t *req = NULL;
        unsigned long long deadline;
        json_int_t id = ++db->last_id;
        int r;

        req = must(json_pack("{s:s, s:o, s:I}", "method", method, "params", params, "id", id));
        r = ovsdb_send(db, req);
        if (r < 0)
                return r;

        deadline = now_usec() + OVSDB_REPLY_TIMEOUT_MS * 1000ULL;
        for (;;) {
                _cleanup_json_ json_t *msg = NULL;
                _cleanup_free_ char *err = NULL;
                json_t *rid;

                r = ovsdb_recv(db, deadline, &msg);
                if (r == -ETIMEDOUT) {
                        log_error("Timed out waiting %u ms for ovsdb-server at '%s' to answer '%s'",
                                  OVSDB_REPLY_TIMEOUT_MS, db->path, method);
                        return r;
                }
                if (r < 0)
                        return r;

                rid = json_object_get(msg, "id");
                if (json_object_get(msg, "method") || !json_is_integer(rid) ||
                    json_integer_value(rid) != id) {
                        r = ovsdb_handle_other(db, msg);
                        if (r < 0)
                                return r;
                        continue;
                }

                err = ovsdb_error_string(json_object_get(msg, "error"));
                if (err) {
                        log_error("OVSDB request '%s' failed: %s", method, err);
                        return -EIO;
                }
                *ret_result = json_incref(json_object_get(msg, "result"));
                return 0;
        }
}

int ovsdb_transact(struct ovsdb *db, json_t *ops, json_t **ret_result) {
        _cleanup_json_ json_t *result = NULL;
        _cleanup_free_ char *err = NULL;
        json_t *params = must(json_pack("[s]", "Open_vSwitch"));
        int r;

        json_array_extend(params, ops);
        r = ovsdb_call(db, "transact", params, &result);
        if (r < 0)
                return r;
        if (!json_is_array(result)) {
                log_error("Malformed transact reply from ovsdb-server at '%s'", db->path);
                return -EBADMSG;
        }
        err = ovsdb_result_error(result);
        if (err) {
                log_error("OVSDB transaction failed: %s", err);
                return -EIO;
        }
        if (ret_result)
                *ret_result = TAKE_PTR(result);
        return 0;
}

/* ---- OVSDB values ----------------------------------------------------- */

/* ["TAG", X]: how OVSDB writes uuids, sets and maps. */
static bool is_tagged(json_t *v, const char *tag) {
        return json_is_array(v) && json_array_size(v) == 2 &&
               streq(json_string_value(json_array_get(v, 0)), tag);
}

/* A set is ["set", [atoms...]] or, with exactly one element, the bare atom. */
static size_t set_size(json_t *v) {
        if (is_tagged(v, "set"))
                return json_array_size(json_array_get(v, 1));
        return v ? 1 : 0;
}

static json_t *set_get(json_t *v, size_t i) {
        if (is_tagged(v, "set"))
                return json_array_get(json_array_get(v, 1), i);
        return i == 0 ? v : NULL;
}

static const char *uuid_of(json_t *atom) {
        return is_tagged(atom, "uuid") ? json_string_value(json_array_get(atom, 1)) : NULL;
}

static bool set_has_uuid(json_t *set, const char *uuid) {
        for (size_t i = 0; i < set_size(set); i++)
                if (streq(uuid_of(set_get(set, i)), uuid))
                        return true;
        return false;
}

/* Value of string KEY in a ["map", [[k, v]...]]. */
static const char *map_get(json_t *map, const char *key) {
        size_t i;
        json_t *pair;

        if (!is_tagged(map, "map"))
                return NULL;
        json_array_foreach(json_array_get(map, 1), i, pair)
                if (streq(json_string_value(json_array_get(pair, 0)), key))
                        return json_string_value(json_array_get(pair, 1));
        return NULL;
}

/* Rows of the select at index I of a transact result. */
static json_t *rows_of(json_t *result, size_t i) {
        return json_object_get(json_array_get(result, i), "rows");
}

static json_t *first_row(json_t *result, size_t i) {
        return json_array_get(rows_of(result, i), 0);
}

static const char *row_uuid(json_t *row) {
        return uuid_of(json_object_get(row, "_uuid"));
}

/* ---- operations ------------------------------------------------------- */

static json_t *where_name(const char *name) {
        return must(json_pack("[[s, s, s]]", "name", "==", name));
}

static json_t *where_uuid(const char *uuid) {
        return must(json_pack("[[s, s, [s, s]]]", "_uuid", "==", "uuid", uuid));
}

static json_t *uuid_set(const char *kind, const char *uuid) {
        return must(json_pack("[s, [[s, s]]]", "set", kind, uuid));
}

/* COLUMNS: a JSON array of column names (stolen); WHERE stolen. */
static json_t *op_select(const char *table, json_t *where, json_t *columns) {
        return must(json_pack("{s:s, s:s, s:o, s:o}", "op", "select", "table", table,
                              "where", where, "columns", columns));
}

/* Aborts the transaction unless the row UUID of TABLE still exists: the
 * mutations below match rows by uuid, and matching none would silently
 * commit nothing. */
static json_t *op_wait_row(const char *table, const char *uuid) {
        return must(json_pack("{s:s, s:s, s:i, s:o, s:[s], s:s, s:[{s:[s, s]}]}",
                              "op", "wait", "table", table, "timeout", 0,
                              "where", where_uuid(uuid), "columns", "_uuid", "until", "==",
                              "rows", "_uuid", "uuid", uuid));
}

/* Shows in ovsdb-server's log of transactions ("ovsdb-tool show-log -m"). */
static json_t *op_comment(char *text) {
        _cleanup_free_ char *s = text;
        return must(json_pack("{s:s, s:s}", "op", "comment", "comment", s));
}

/* Appends "next_cfg += 1" on the root row and a select that returns the
 * incremented value; *ret_index = that select's index in OPS. ovs-vswitchd
 * copies next_cfg to cur_cfg once it has applied the configuration. */
static void ops_bump_cfg(json_t *ops, const char *root, size_t *ret_index) {
        json_array_append_new(ops, must(json_pack("{s:s, s:s, s:o, s:[[s, s, i]]}",
                                                  "op", "mutate", "table", "Open_vSwitch",
                                                  "where", where_uuid(root),
                                                  "mutations", "next_cfg", "+=", 1)));
        *ret_index = json_array_size(ops);
        json_array_append_new(ops, op_select("Open_vSwitch", where_uuid(root),
                                             must(json_pack("[s]", "next_cfg"))));
}

/* Bridges and ports here are all kernel interfaces: accept what the
 * kernel's dev_valid_name() does, limited to printable ASCII (which also
 * keeps every name valid JSON text). */
static int check_ifname(const char *name) {
        bool ok = !strempty(name) && strlen(name) < IFNAMSIZ && !streq(name, ".") && !streq(name, "..");

        for (const char *p = name; ok && *p; p++)
                ok = *p > ' ' && *p < 0x7f && *p != '/' && *p != ':';
        if (!ok) {
                log_error("Invalid interface name '%s'", name ? name : "");
                return -EINVAL;
        }
        return 0;
}

/* Free-form values (datapath type, lab) must be UTF-8 to go into JSON. */
static int check_utf8(const char *what, const char *s) {
        json_t *j;

        if (!s)
                return 0;
        j = json_string(s);
        if (!j) {
                log_error("Invalid %s '%s': not UTF-8", what, s);
                return -EINVAL;
        }
        json_decref(j);
        return 0;
}

/* The uuid of the single Open_vSwitch row, from a select at index I. */
static int root_uuid(struct ovsdb *db, json_t *result, size_t i, const char **ret) {
        const char *u = row_uuid(first_row(result, i));
        if (!u) {
                log_error("The database at '%s' has no Open_vSwitch row (was it initialized with 'ovs-vsctl init'?)",
                          db->path);
                return -ENXIO;
        }
        *ret = u;
        return 0;
}

static json_t *select_root(void) {
        return op_select("Open_vSwitch", must(json_array()), must(json_pack("[s]", "_uuid")));
}

static json_t *select_named(const char *table, const char *name) {
        return op_select(table, where_name(name), must(json_pack("[s]", "_uuid")));
}

/* Polls until ovs-vswitchd has applied configuration CFG. */
static int wait_applied(struct ovsdb *db, const char *root, json_int_t cfg, unsigned timeout_ms) {
        unsigned long long deadline = now_usec() + timeout_ms * 1000ULL;
        unsigned delay_ms = 2;

        if (timeout_ms == 0)
                return 0;
        for (;;) {
                _cleanup_json_ json_t *ops = json_array(), *result = NULL;
                unsigned long long now;
                json_t *cur;
                int r;

                json_array_append_new(ops, op_select("Open_vSwitch", where_uuid(root),
                                                     must(json_pack("[s]", "cur_cfg"))));
                r = ovsdb_transact(db, ops, &result);
                if (r < 0)
                        return r;
                cur = json_object_get(first_row(result, 0), "cur_cfg");
                if (json_is_integer(cur) && json_integer_value(cur) >= cfg)
                        return 0;

                now = now_usec();
                if (now >= deadline) {
                        log_error("Timed out after %u ms waiting for ovs-vswitchd to apply the change (is ovs-vswitchd running?)",
                                  timeout_ms);
                        return -ETIMEDOUT;
                }
                if (delay_ms * 1000ULL > deadline - now)
                        delay_ms = (unsigned) ((deadline - now + 999) / 1000);
                nanosleep(&(struct timespec) { .tv_sec = delay_ms / 1000,
                                               .tv_nsec = (delay_ms % 1000) * 1000000L }, NULL);
                delay_ms = delay_ms * 2 > 100 ? 100 : delay_ms * 2;
        }
}

/* Commits OPS, whose select at index CFG_INDEX returns the new next_cfg,
 * and waits for ovs-vswitchd to apply it. */
static int commit_and_wait(struct ovsdb *db, json_t *ops, size_t cfg_index, const char *root,
                           unsigned timeout_ms) {
        _cleanup_json_ json_t *result = NULL;
        json_t *cfg;
        int r;

        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        cfg = json_object_get(first_row(result, cfg_index), "next_cfg");
        if (!json_is_integer(cfg)) {
                log_error("Malformed transact reply from ovsdb-server at '%s': no next_cfg", db->path);
                return -EBADMSG;
        }
        return wait_applied(db, root, json_integer_value(cfg), timeout_ms);
}

/* Once ovs-vswitchd has applied a change, an interface it failed to set up
 * has no OpenFlow port number (or -1), the check ovs-vsctl makes, and
 * usually the reason in Interface.error: 1 and *ret = that reason (NULL
 * when none was given), 0 when the interface is up. */
static int iface_error(struct ovsdb *db, const char *ifname, char **ret) {
        _cleanup_json_ json_t *ops = json_array(), *result = NULL;
        json_t *row, *ofport, *err;
        int r;

        json_array_append_new(ops, op_select("Interface", where_name(ifname),
                                             must(json_pack("[s, s]", "error", "ofport"))));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        row = first_row(result, 0);
        ofport = json_object_get(row, "ofport");
        err = json_object_get(row, "error");
        if (set_size(ofport) == 1 && json_integer_value(set_get(ofport, 0)) >= 0 && set_size(err) == 0)
                return 0;
        *ret = NULL;
        if (set_size(err) == 1 && json_is_string(set_get(err, 0)))
                *ret = one_line(xstrdup(json_string_value(set_get(err, 0))));
        return 1;
}

static int iface_errno(const char *error) {
        return error && strstr(error, "No such device") ? -ENODEV : -EIO;
}

int ovsdb_bridge_add(struct ovsdb *db, const char *name, const char *datapath_type,
                     const char *lab, unsigned timeout_ms) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL, *row = NULL;
        _cleanup_free_ char *error = NULL;
        const char *root;
        size_t cfg_index;
        int r;

        r = check_ifname(name);
        if (r >= 0)
                r = check_utf8("datapath type", datapath_type);
        if (r >= 0)
                r = check_utf8("lab name", lab);
        if (r < 0)
                return r;

        ops = must(json_pack("[o, o, o, o]", select_root(), select_named("Bridge", name),
                             select_named("Port", name), select_named("Interface", name)));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        r = root_uuid(db, result, 0, &root);
        if (r < 0)
                return r;
        if (json_array_size(rows_of(result, 1)) > 0)
                return log_error_errno(-EEXIST, "Failed to create bridge '%s'", name);
        if (json_array_size(rows_of(result, 2)) > 0 || json_array_size(rows_of(result, 3)) > 0) {
                log_error("Failed to create bridge '%s': an Open vSwitch port of that name exists", name);
                return -EEXIST;
        }

        row = must(json_pack("{s:s, s:[s, [[s, s]]]}", "name", name, "ports", "set", "named-uuid", "port"));
        if (!strempty(datapath_type))
                json_object_set_new(row, "datapath_type", must(json_string(datapath_type)));
        if (lab)
                json_object_set_new(row, "external_ids",
                                    must(json_pack("[s, [[s, s]]]", "map", OVSDB_LAB_KEY, lab)));

        json_decref(ops);
        /* What ovs-vsctl add-br builds: the bridge's own internal interface
         * and port, the bridge, and its reference from the root row. */
        ops = must(json_pack("[o, {s:s, s:s, s:{s:s, s:s}, s:s}, {s:s, s:s, s:{s:s, s:[s, [[s, s]]]}, s:s},"
                             " {s:s, s:s, s:O, s:s}, {s:s, s:s, s:o, s:[[s, s, o]]}]",
                             op_wait_row("Open_vSwitch", root),
                             "op", "insert", "table", "Interface", "row", "name", name, "type", "internal",
                             "uuid-name", "iface",
                             "op", "insert", "table", "Port", "row", "name", name,
                             "interfaces", "set", "named-uuid", "iface", "uuid-name", "port",
                             "op", "insert", "table", "Bridge", "row", row, "uuid-name", "bridge",
                             "op", "mutate", "table", "Open_vSwitch", "where", where_uuid(root),
                             "mutations", "bridges", "insert", uuid_set("named-uuid", "bridge")));
        ops_bump_cfg(ops, root, &cfg_index);
        json_array_append_new(ops, op_comment(xasprintf("pxelab: add bridge %s", name)));

        r = commit_and_wait(db, ops, cfg_index, root, timeout_ms);
        if (r < 0 || timeout_ms == 0)
                return r;

        r = iface_error(db, name, &error);
        if (r <= 0)
                return r;
        /* Without the openvswitch kernel module the kernel datapath fails
         * and leaves no Interface.error at all. */
        if (error)
                log_error("Failed to create bridge '%s': %s", name, error);
        else if (!streq(datapath_type, "netdev"))
                log_error("Failed to create bridge '%s': ovs-vswitchd could not open its datapath "
                          "(datapath type 'system' needs the openvswitch kernel module, 'netdev' does not)", name);
        else
                log_error("Failed to create bridge '%s': ovs-vswitchd could not set it up (see its log)", name);
        (void) ovsdb_bridge_del(db, name, timeout_ms);
        return iface_errno(error);
}

int ovsdb_bridge_del(struct ovsdb *db, const char *name, unsigned timeout_ms) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL;
        const char *root, *bridge;
        size_t cfg_index;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        ops = must(json_pack("[o, o]", select_root(), select_named("Bridge", name)));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        r = root_uuid(db, result, 0, &root);
        if (r < 0)
                return r;
        bridge = row_uuid(first_row(result, 1));
        if (!bridge)
                return 0;

        /* Deleting the Bridge row itself would violate referential
         * integrity; dropping the reference lets OVSDB garbage-collect the
         * bridge with its ports and interfaces. */
        json_decref(ops);
        ops = must(json_pack("[{s:s, s:s, s:o, s:[[s, s, o]]}]",
                             "op", "mutate", "table", "Open_vSwitch", "where", where_uuid(root),
                             "mutations", "bridges", "delete", uuid_set("uuid", bridge)));
        ops_bump_cfg(ops, root, &cfg_index);
        json_array_append_new(ops, op_comment(xasprintf("pxelab: delete bridge %s", name)));
        return commit_and_wait(db, ops, cfg_index, root, timeout_ms);
}

int ovsdb_bridge_exists(struct ovsdb *db, const char *name) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL;
        int r;

        r = check_ifname(name);
        if (r < 0)
                return r;
        ops = must(json_pack("[o]", select_named("Bridge", name)));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        return json_array_size(rows_of(result, 0)) > 0;
}

int ovsdb_bridge_owner(struct ovsdb *db, const char *name, char **ret_lab) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL;
        const char *lab;
        json_t *row;
        int r;

        *ret_lab = NULL;
        r = check_ifname(name);
        if (r < 0)
                return r;
        ops = must(json_pack("[o]", op_select("Bridge", where_name(name),
                                              must(json_pack("[s]", "external_ids")))));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        row = first_row(result, 0);
        if (!row)
                return -ENOENT;
        lab = map_get(json_object_get(row, "external_ids"), OVSDB_LAB_KEY);
        *ret_lab = xstrdup(lab);
        return !!lab;
}

int ovsdb_port_add(struct ovsdb *db, const char *bridge, const char *ifname, const char *lab,
                   unsigned timeout_ms) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL, *port = NULL;
        _cleanup_free_ char *error = NULL;
        const char *root, *br;
        size_t cfg_index;
        int r;

        r = check_ifname(bridge);
        if (r >= 0)
                r = check_ifname(ifname);
        if (r >= 0)
                r = check_utf8("lab name", lab);
        if (r < 0)
                return r;

        ops = must(json_pack("[o, o, o, o]", select_root(), select_named("Bridge", bridge),
                             select_named("Port", ifname), select_named("Interface", ifname)));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        r = root_uuid(db, result, 0, &root);
        if (r < 0)
                return r;
        br = row_uuid(first_row(result, 1));
        if (!br) {
                log_error("Failed to add port '%s' to bridge '%s': no such Open vSwitch bridge", ifname, bridge);
                return -ENOENT;
        }
        if (json_array_size(rows_of(result, 2)) > 0 || json_array_size(rows_of(result, 3)) > 0) {
                log_error("Failed to add port '%s' to bridge '%s': an Open vSwitch port of that name exists",
                          ifname, bridge);
                return -EEXIST;
        }

        json_decref(ops);
        port = must(json_pack("{s:s, s:[s, [[s, s]]]}", "name", ifname, "interfaces", "set", "named-uuid", "iface"));
        if (lab)
                json_object_set_new(port, "external_ids",
                                    must(json_pack("[s, [[s, s]]]", "map", OVSDB_LAB_KEY, lab)));
        /* An Interface without a type is a "system" one: an existing kernel
         * network device that ovs-vswitchd opens by name. Interface, Port
         * (with the lab's mark) and the bridge's reference: one transaction. */
        ops = must(json_pack("[o, {s:s, s:s, s:{s:s}, s:s}, {s:s, s:s, s:O, s:s},"
                             " {s:s, s:s, s:o, s:[[s, s, o]]}]",
                             op_wait_row("Bridge", br),
                             "op", "insert", "table", "Interface", "row", "name", ifname, "uuid-name", "iface",
                             "op", "insert", "table", "Port", "row", port, "uuid-name", "port",
                             "op", "mutate", "table", "Bridge", "where", where_uuid(br),
                             "mutations", "ports", "insert", uuid_set("named-uuid", "port")));
        ops_bump_cfg(ops, root, &cfg_index);
        json_array_append_new(ops, op_comment(xasprintf("pxelab: add port %s to bridge %s", ifname, bridge)));

        r = commit_and_wait(db, ops, cfg_index, root, timeout_ms);
        if (r < 0 || timeout_ms == 0)
                return r;

        r = iface_error(db, ifname, &error);
        if (r <= 0)
                return r;
        log_error("Failed to add port '%s' to bridge '%s': %s", ifname, bridge,
                  error ?: "ovs-vswitchd could not set it up (see its log)");
        (void) ovsdb_port_del(db, bridge, ifname, timeout_ms);
        return iface_errno(error);
}

int ovsdb_port_del(struct ovsdb *db, const char *bridge, const char *ifname, unsigned timeout_ms) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL;
        const char *root, *br, *port;
        json_t *brow;
        size_t cfg_index;
        int r;

        r = check_ifname(bridge);
        if (r >= 0)
                r = check_ifname(ifname);
        if (r < 0)
                return r;
        ops = must(json_pack("[o, o, o]", select_root(),
                             op_select("Bridge", where_name(bridge), must(json_pack("[s, s]", "_uuid", "ports"))),
                             select_named("Port", ifname)));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        r = root_uuid(db, result, 0, &root);
        if (r < 0)
                return r;
        port = row_uuid(first_row(result, 2));
        if (!port)
                return 0;
        brow = first_row(result, 1);
        br = row_uuid(brow);
        if (!br || !set_has_uuid(json_object_get(brow, "ports"), port)) {
                log_error("Failed to remove port '%s' from bridge '%s': it is not a port of that bridge",
                          ifname, bridge);
                return -EINVAL;
        }

        json_decref(ops);
        ops = must(json_pack("[{s:s, s:s, s:o, s:[[s, s, o]]}]",
                             "op", "mutate", "table", "Bridge", "where", where_uuid(br),
                             "mutations", "ports", "delete", uuid_set("uuid", port)));
        ops_bump_cfg(ops, root, &cfg_index);
        json_array_append_new(ops, op_comment(xasprintf("pxelab: delete port %s from bridge %s", ifname, bridge)));
        return commit_and_wait(db, ops, cfg_index, root, timeout_ms);
}

int ovsdb_port_del_marked(struct ovsdb *db, const char *bridge, const char *lab, unsigned timeout_ms) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL, *uuids = NULL;
        const char *root, *br;
        json_t *brow, *row;
        size_t cfg_index, i;
        int r;

        r = check_ifname(bridge);
        if (r >= 0)
                r = check_utf8("lab name", lab);
        if (r < 0)
                return r;
        ops = must(json_pack("[o, o, o]", select_root(),
                             op_select("Bridge", where_name(bridge), must(json_pack("[s, s]", "_uuid", "ports"))),
                             op_select("Port", must(json_array()), must(json_pack("[s, s]", "_uuid", "external_ids")))));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        r = root_uuid(db, result, 0, &root);
        if (r < 0)
                return r;
        brow = first_row(result, 1);
        br = row_uuid(brow);
        if (!br)
                return 0;
        uuids = must(json_array());
        json_array_foreach(rows_of(result, 2), i, row)
                if (set_has_uuid(json_object_get(brow, "ports"), row_uuid(row)) &&
                    streq(map_get(json_object_get(row, "external_ids"), OVSDB_LAB_KEY), lab))
                        json_array_append_new(uuids, must(json_pack("[s, s]", "uuid", row_uuid(row))));
        if (json_array_size(uuids) == 0)
                return 0;

        json_decref(ops);
        ops = must(json_pack("[o, {s:s, s:s, s:o, s:[[s, s, [s, O]]]}]",
                             op_wait_row("Bridge", br),
                             "op", "mutate", "table", "Bridge", "where", where_uuid(br),
                             "mutations", "ports", "delete", "set", uuids));
        ops_bump_cfg(ops, root, &cfg_index);
        json_array_append_new(ops, op_comment(xasprintf("pxelab: delete the ports of lab %s from bridge %s",
                                                        lab, bridge)));
        r = commit_and_wait(db, ops, cfg_index, root, timeout_ms);
        return r < 0 ? r : (int) json_array_size(uuids);
}

int ovsdb_bridge_ports(struct ovsdb *db, const char *bridge, char ***ret) {
        _cleanup_json_ json_t *ops = NULL, *result = NULL;
        json_t *brow, *ports, *row;
        char **names;
        size_t i, n = 0;
        int r;

        r = check_ifname(bridge);
        if (r < 0)
                return r;
        ops = must(json_pack("[o, o]",
                             op_select("Bridge", where_name(bridge), must(json_pack("[s]", "ports"))),
                             op_select("Port", must(json_array()), must(json_pack("[s, s]", "_uuid", "name")))));
        r = ovsdb_transact(db, ops, &result);
        if (r < 0)
                return r;
        brow = first_row(result, 0);
        if (!brow)
                return -ENOENT;
        ports = json_object_get(brow, "ports");

        names = xcalloc(set_size(ports) + 1, sizeof(char *));
        json_array_foreach(rows_of(result, 1), i, row) {
                const char *name = json_string_value(json_object_get(row, "name"));
                if (name && n < set_size(ports) && set_has_uuid(ports, row_uuid(row)))
                        names[n++] = xstrdup(name);
        }
        qsort(names, n, sizeof(char *), strcmp_ptr);
        *ret = names;
        return 0;
}
