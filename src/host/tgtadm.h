/* What a running tgtd serves, read through Debian's tgtadm: the one seam
 * between pxelab and tgt's control socket (its binary protocol changes
 * between releases; tgtadm's text is what tgt documents). */
#pragma once
#include <jansson.h>

/* The targets of the tgtd on control port PORT (its socket
 * /run/tgtd/socket.PORT): 0 and *RET as tgt_parse_targets() makes it, or
 * negative errno (-ENOENT: no tgtd there; -ETIMEDOUT: it did not answer
 * within 5 s), logged by the caller. */
int tgt_show_targets(unsigned port, json_t **ret);

/* Parses TEXT, the output of `tgtadm --lld iscsi --mode target --op show`:
 * an array of {tid, iqn, initiators[] {iqn, addresses[]}, luns[] {lun,
 * type, size ("67 MB", tgt's), path}, accounts[], acl[]}, LUN 0 (tgt's
 * controller) left out. Lines it does not know are skipped. Exposed for
 * the unit tests. */
json_t *tgt_parse_targets(const char *text);
