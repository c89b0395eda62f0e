/* Open vSwitch bridges over OVSDB JSON-RPC (RFC 7047), spoken directly on
 * ovsdb-server's unix socket: no ovs-vsctl in the product.
 *
 * Every function returns a negative errno on failure and logs that failure
 * once, except where a comment says a result is "not logged" (state queries
 * whose caller decides whether absence is an error).
 *
 * Changes to bridges and ports increment Open_vSwitch.next_cfg in the same
 * transaction and then wait (up to timeout_ms; 0 = don't wait) until
 * ovs-vswitchd has applied them (cur_cfg >= next_cfg), as ovs-vsctl does.
 * A timeout returns -ETIMEDOUT and leaves the committed rows in place:
 * ovs-vswitchd applies them whenever it runs.
 *
 * Bridge and port names must be valid kernel interface names (at most 15
 * bytes, printable ASCII, no '/', ':' or blanks): -EINVAL otherwise. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Where Debian's openvswitch-switch listens. */
#define OVSDB_DEFAULT_SOCKET "/run/openvswitch/db.sock"
/* How long to wait for the reply to one request. */
#define OVSDB_REPLY_TIMEOUT_MS 5000
/* external_ids key that marks the bridges pxelab created; value: lab name. */
#define OVSDB_LAB_KEY "pxelab-lab"

struct ovsdb;   /* one connection to ovsdb-server */

/* Connects to SOCK_PATH (NULL: $OVS_RUNDIR/db.sock, else OVSDB_DEFAULT_SOCKET).
 * A missing socket or a refused connection is logged as
 *   Failed to connect to ovsdb-server at 'PATH': No such file or directory (is Open vSwitch running?)
 * and returns -ENOENT / -ECONNREFUSED. */
int ovsdb_connect(const char *sock_path, struct ovsdb **ret);
void ovsdb_close(struct ovsdb *db);   /* NULL ok */

/* Sends {"method":"transact","params":["Open_vSwitch", OPS...]} (OPS: a JSON
 * array of operations; the reference is borrowed) and waits up to
 * OVSDB_REPLY_TIMEOUT_MS for the reply with that id, answering the server's
 * "echo" requests meanwhile. On success *ret_result (if non-NULL) gets a new
 * reference to the result array. Any result element carrying "error" is
 * logged as one line "OVSDB transaction failed: ERROR: DETAILS" and gives
 * -EIO, as does a JSON-RPC level error ("OVSDB request 'transact' failed:
 * ..."); a lost connection gives e.g. -ECONNRESET, no reply -ETIMEDOUT. */
int ovsdb_transact(struct ovsdb *db, json_t *ops, json_t **ret_result);

/* Creates bridge NAME (its internal Interface and Port of the same name)
 * with DATAPATH_TYPE ("system" = kernel datapath, "netdev" = userspace;
 * NULL/"" = OVS default) and external_ids {OVSDB_LAB_KEY: LAB} (LAB may be
 * NULL: no mark). A bridge (or port/interface) of that name already present
 * gives -EEXIST. When ovs-vswitchd cannot set the bridge up the bridge is
 * removed again and the reason logged: -EIO (e.g. datapath type "system"
 * without the openvswitch kernel module), -ENODEV for a missing device. */
int ovsdb_bridge_add(struct ovsdb *db, const char *name, const char *datapath_type,
                     const char *lab, unsigned timeout_ms);
/* Removes bridge NAME with all its ports. A missing bridge returns 0. */
int ovsdb_bridge_del(struct ovsdb *db, const char *name, unsigned timeout_ms);
/* 1 when bridge NAME exists, 0 when not, <0 on error. */
int ovsdb_bridge_exists(struct ovsdb *db, const char *name);
/* The lab a bridge belongs to: 1 and *ret_lab = its OVSDB_LAB_KEY mark
 * (caller frees), 0 and *ret_lab = NULL for a bridge pxelab did not create,
 * -ENOENT (not logged) when the bridge does not exist. */
int ovsdb_bridge_owner(struct ovsdb *db, const char *name, char **ret_lab);

/* Adds the existing kernel interface IFNAME (veth, tap...) to BRIDGE as a
 * system port, Interface and Port in one transaction, the Port marked with
 * external_ids {OVSDB_LAB_KEY: LAB} (LAB may be NULL: no mark). -ENOENT when
 * BRIDGE is missing, -EEXIST when a port of that name exists (on any
 * bridge); when ovs-vswitchd cannot open the device the port is removed
 * again and -ENODEV returned. */
int ovsdb_port_add(struct ovsdb *db, const char *bridge, const char *ifname, const char *lab,
                   unsigned timeout_ms);
/* Removes port IFNAME from BRIDGE. A missing port returns 0; a port that
 * belongs to another bridge -EINVAL. */
int ovsdb_port_del(struct ovsdb *db, const char *bridge, const char *ifname, unsigned timeout_ms);
/* Removes every port of BRIDGE marked {OVSDB_LAB_KEY: LAB} by
 * ovsdb_port_add(), in one transaction: the number removed (0 also when
 * BRIDGE does not exist). The bridge's own port carries no such mark. */
int ovsdb_port_del_marked(struct ovsdb *db, const char *bridge, const char *lab, unsigned timeout_ms);
/* All port names of BRIDGE, sorted, NULL-terminated (free with strv_free),
 * including the bridge's own internal port that carries the bridge's name
 * (ovs-vsctl list-ports hides that one). -ENOENT (not logged) when the
 * bridge does not exist. */
int ovsdb_bridge_ports(struct ovsdb *db, const char *bridge, char ***ret);

/* Stream framing, exposed for unit tests. OVSDB messages are JSON objects
 * sent back to back with no delimiter and may arrive split across reads.
 * Feed bytes as they arrive; next() returns 1 and a message, 0 when more
 * bytes are needed, -EBADMSG on malformed input (text in ->error) and
 * -EMSGSIZE when one message exceeds OVSDB_MAX_MESSAGE; after an error the
 * stream position is lost and the framer only good for done(). */
#define OVSDB_MAX_MESSAGE (64u << 20)
struct ovsdb_framer {
        char *buf;
        size_t len, cap;
        size_t scanned;         /* bytes of buf already scanned */
        unsigned depth;         /* nesting of {/[ at buf[scanned] */
        bool in_string, escape;
        char error[200];
};
void ovsdb_framer_feed(struct ovsdb_framer *f, const void *data, size_t len);
int ovsdb_framer_next(struct ovsdb_framer *f, json_t **ret);
void ovsdb_framer_done(struct ovsdb_framer *f);   /* frees the buffer */

/* "ERROR: DETAILS" (or "ERROR") of an OVSDB error object or string, as the
 * transaction failures are logged; NULL when V carries no error. */
char *ovsdb_error_string(json_t *v);
/* First "error" element of a transact result array, formatted as above;
 * NULL when every operation succeeded. */
char *ovsdb_result_error(json_t *result);
