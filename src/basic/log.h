/* Logging: every error is logged once, where it is handled. */
#pragma once
#include <errno.h>
#include <stdbool.h>

/* Verbosity: 0 quiet, 1 normal (default), 2 debug (PXELAB_DEBUG=1). */
extern int log_level;

/* Diagnostics go to stderr, results to stdout:
 *   log_error   stderr, the message as it is;
 *   log_warn    stderr, "Warning: MESSAGE";
 *   log_notice  stderr, what is going on ("Waiting for another pxelab…");
 *   log_info    stdout, a command's result ("Lab 'demo' is down");
 *   log_debug   stderr, only with PXELAB_DEBUG=1. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs "MESSAGE: strerror(err)" and returns -abs(err), so callers can
 * `return log_error_errno(r, "Failed to create bridge '%s'", name);`. ERR 0
 * (a caller that lost its errno) logs the message alone and returns -EIO. */
int log_error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

