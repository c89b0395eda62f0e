/* Read-only probes of the lab's services from the host: HTTP requests to the
 * lab's nginx and the sockets listening on this host (/proc/net). */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct http_reply {
        int status;                 /* 200, 404, ... */
        long long content_length;   /* -1 when absent */
};

/* One HTTP/1.0 request (METHOD "GET" or "HEAD") to ADDR:PORT PATH, with a
 * timeout. Returns 0 and the reply, or a negative errno. */
int http_request(struct in_addr addr, uint16_t port, const char *method, const char *path,
                 unsigned timeout_ms, struct http_reply *ret);

/* Asks the TFTP server at ADDR:69 for PATH with the tsize option (RFC 2349)
 * and aborts the transfer after the server's OACK: *ret_size is the size the
 * server would send. Nothing but the option exchange crosses the wire.
 * -ENOENT when the server says the file is not found (its message in
 * *ret_error, caller frees), -EPROTO for another TFTP error (idem),
 * -ENOTSUP when it ignores the option, -ETIMEDOUT. */
int tftp_size(struct in_addr addr, const char *path, unsigned timeout_ms, long long *ret_size, char **ret_error);

/* Is a socket listening on PORT (tcp: LISTEN state; udp: bound) at ADDR or
 * at the wildcard address, IPv6 sockets included ([::], which may be
 * dual-stack, ::ffff:ADDR)? Reads /proc/net/{tcp,udp}{,6}. 1 yes, 0 no,
 * <0 error. */
int port_in_use(bool tcp, struct in_addr addr, uint16_t port);
