#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include "host/probe.h"
#include "basic/util.h"

static int wait_fd(int fd, short events, unsigned long long deadline) {
        for (;;) {
                unsigned long long now = now_usec();
                struct pollfd p = { .fd = fd, .events = events };
                int r;
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now) / 1000) + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

static void parse_reply(const char *buf, struct http_reply *ret) {
        const char *h;
        ret->status = 0;
        ret->content_length = -1;
        sscanf(buf, "HTTP/%*d.%*d %d", &ret->status);
        for (h = strstr(buf, "\r\n"); h && h[2] != '\r'; h = strstr(h + 2, "\r\n"))
                if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
                        ret->content_length = strtoll(h + 17, NULL, 10);
}

int http_request(struct in_addr addr, uint16_t port, const char *method, const char *path,
                 unsigned timeout_ms, struct http_reply *ret) {
        unsigned long long deadline = now_usec() + (unsigned long long) timeout_ms * 1000;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        _cleanup_free_ char *req = NULL;
        char buf[4096];
        size_t len = 0;
        int r, err = 0;
        socklen_t el = sizeof(err);

        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
                return -errno;
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
                return -(err ? err : errno);
        req = xasprintf("%s %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: pxelab\r\n\r\n", method, path, inet_ntoa(addr));
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t) strlen(req))
                return -EIO;
        /* Read until the end of the headers; the body is not needed. */
        while (len < sizeof(buf) - 1) {
                ssize_t n;
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += n;
                buf[len] = 0;
                if (strstr(buf, "\r\n\r\n"))
                        break;
        }
        buf[len] = 0;
        if (strncmp(buf, "HTTP/", 5) != 0)
                return -EBADMSG;
        parse_reply(buf, ret);
        return 0;
}

enum { TFTP_RRQ = 1, TFTP_DATA = 3, TFTP_ERROR = 5, TFTP_OACK = 6 };

/* The value of option NAME in an OACK's NUL-separated pairs, or NULL. */
static const char *oack_option(const char *opts, size_t len, const char *name) {
        const char *p = opts, *end = opts + len;

        while (p < end) {
                const char *k = p, *v = memchr(k, 0, end - k);
                if (!v++ || v >= end || !memchr(v, 0, end - v))
                        return NULL;
                if (strcasecmp(k, name) == 0)
                        return v;
                p = v + strlen(v) + 1;
        }
        return NULL;
}

int tftp_size(struct in_addr addr, const char *path, unsigned timeout_ms, long long *ret_size, char **ret_error) {
        unsigned long long deadline = now_usec() + (unsigned long long) timeout_ms * 1000;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(69), .sin_addr = addr }, from;
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        static const char abort_pkt[] = { 0, TFTP_ERROR, 0, 8, 'p', 'r', 'o', 'b', 'e', 0 };
        char req[600], buf[1024];
        size_t plen = strlen(path);
        socklen_t fl = sizeof(from);
        ssize_t n;
        int r;

        if (fd < 0)
                return -errno;
        if (plen == 0 || plen > 500)
                return -EINVAL;
        /* opcode, path, "octet", "tsize", "0" */
        req[0] = 0, req[1] = TFTP_RRQ;
        memcpy(req + 2, path, plen + 1);
        memcpy(req + 3 + plen, "octet\0tsize\0" "0", 14);
        if (sendto(fd, req, 3 + plen + 14, MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *) &from, &fl);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return -errno;
                if (n >= 4 && from.sin_addr.s_addr == addr.s_addr)
                        break;  /* anything else is not the server's answer */
        }
        buf[n] = 0;
        switch (buf[1]) {
        case TFTP_OACK: {
                const char *v = oack_option(buf + 2, n - 2, "tsize");
                /* Stop the transfer on the server's own port (its TID). */
                (void) sendto(fd, abort_pkt, sizeof(abort_pkt), MSG_NOSIGNAL, (struct sockaddr *) &from, fl);
                if (!v)
                        return -ENOTSUP;
                *ret_size = strtoll(v, NULL, 10);
                return 0;
        }
        case TFTP_ERROR:
                if (ret_error)
                        *ret_error = xstrdup(buf + 4);
                return buf[3] == 1 ? -ENOENT : -EPROTO;
        case TFTP_DATA:
                (void) sendto(fd, abort_pkt, sizeof(abort_pkt), MSG_NOSIGNAL, (struct sockaddr *) &from, fl);
                return -ENOTSUP;
        default:
                return -EBADMSG;
        }
}

/* Does an IPv6 socket bound at the address of the /proc words W block an
 * IPv4 bind at ADDR? [::] does: /proc cannot tell whether it is IPV6_V6ONLY,
 * and a dual-stack one (the default) holds the port on every IPv4 address
 * too. So do ::ffff:ADDR and ::ffff:0.0.0.0 (IPv4 through an IPv6 socket). */
static bool v6_blocks(const unsigned w[4], struct in_addr addr) {
        static const unsigned char mapped[4] = { 0, 0, 0xff, 0xff };
        unsigned m;
        memcpy(&m, mapped, sizeof(m));  /* the word of ::ffff:0:0 as /proc shows it */
        if (w[0] != 0 || w[1] != 0)
                return false;
        if (w[2] == 0)
                return w[3] == 0;
        return w[2] == m && (w[3] == 0 || w[3] == addr.s_addr);
}

/* One table of /proc/net: 1 when PORT is bound (tcp: listening) where it
 * blocks ADDR, 0 when not, -errno when it cannot be read. */
static int proc_net_has(const char *table, bool tcp, bool v6, struct in_addr addr, uint16_t port) {
        _cleanup_fclose_ FILE *f = fopen(table, "re");
        char line[512];

        if (!f)
                return -errno;
        if (!fgets(line, sizeof(line), f))     /* header */
                return 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned w[4], p, st;
                bool blocks;
                if (v6) {
                        if (sscanf(line, " %*d: %8x%8x%8x%8x:%x %*x:%*x %x", &w[0], &w[1], &w[2], &w[3], &p, &st) != 6)
                                continue;
                } else if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &w[3], &p, &st) != 3)
                        continue;
                if (p != port || (tcp && st != 0x0A))   /* 0A = TCP_LISTEN */
                        continue;
                /* /proc prints each address word as the host-order view of
                 * the network-order u32, which is what s_addr holds. */
                blocks = v6 ? v6_blocks(w, addr) : w[3] == 0 || w[3] == addr.s_addr;
                if (blocks)
                        return 1;
        }
        return 0;
}

int port_in_use(bool tcp, struct in_addr addr, uint16_t port) {
        int r = proc_net_has(tcp ? "/proc/net/tcp" : "/proc/net/udp", tcp, false, addr, port);
        if (r != 0)
                return r;
        r = proc_net_has(tcp ? "/proc/net/tcp6" : "/proc/net/udp6", tcp, true, addr, port);
        return r == -ENOENT ? 0 : r;   /* no IPv6 on this host */
}
