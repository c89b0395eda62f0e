/* Random secrets: the SMB password and the iSCSI CHAP secret. */
#pragma once
#include <stddef.h>

/* LEN random characters [A-Za-z0-9] and a NUL into RET (LEN + 1 bytes):
 * safe on a cmd.exe command line and in tgt's config; every character
 * equally likely. Negative errno when the kernel gives no randomness. */
int secret_new(char *ret, size_t len);
