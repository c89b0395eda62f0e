#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"

int log_level = 1;

static void vlog(FILE *f, const char *prefix, const char *fmt, va_list ap, int err) {
        fputs(prefix, f);
        vfprintf(f, fmt, ap);
        if (err)
                fprintf(f, ": %s", strerror(err < 0 ? -err : err));
        fputc('\n', f);
        fflush(f);
}

void log_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(stderr, "", fmt, ap, 0);
        va_end(ap);
}

void log_warn(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(stderr, "Warning: ", fmt, ap, 0);
        va_end(ap);
}

void log_notice(const char *fmt, ...) {
        va_list ap;
        if (log_level < 1)
                return;
        va_start(ap, fmt);
        vlog(stderr, "", fmt, ap, 0);
        va_end(ap);
}

void log_info(const char *fmt, ...) {
        va_list ap;
        if (log_level < 1)
                return;
        va_start(ap, fmt);
        vlog(stdout, "", fmt, ap, 0);
        va_end(ap);
}

void log_debug(const char *fmt, ...) {
        va_list ap;
        if (log_level < 2)
                return;
        va_start(ap, fmt);
        vlog(stderr, "", fmt, ap, 0);
        va_end(ap);
}

int log_error_errno(int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(stderr, "", fmt, ap, err);
        va_end(ap);
        /* An error is never 0: a caller that returns this must fail. */
        if (err == 0)
                return -EIO;
        return err < 0 ? err : -err;
}
