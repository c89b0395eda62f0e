/* Lab names, the short names derived from them, and VM names.
 *
 * A lab name is 1-LAB_NAME_MAX characters from a-z 0-9 and '-', starting
 * and ending with a letter or digit, without "--" (systemd refuses such
 * slice names). Interface names (the bridge, the VMs' taps) and the NetBIOS
 * name of the lab's smbd must fit SHORT_NAME_MAX characters, which a long
 * lab name does not: lab_short_name() is the one place that shortens it, the
 * same way every time. Touches nothing. */
#pragma once
#include <stdbool.h>

#define LAB_NAME_MAX 32
#define NAMES_STR_(x) #x
#define NAMES_STR(x) NAMES_STR_(x)
/* The rule in words, for messages. */
#define LAB_NAME_RULE "1-" NAMES_STR(LAB_NAME_MAX) " characters from a-z 0-9 -, a letter or digit first and last, no '--'"
/* IFNAMSIZ - 1, which is NetBIOS's limit too */
#define SHORT_NAME_MAX 15

bool lab_name_valid(const char *s);

/* PREFIX LAB SUFFIX when that fits SHORT_NAME_MAX characters; otherwise
 * PREFIX, as much of LAB as fits (without a trailing '-'), '-', four hex
 * digits of an FNV-1a hash of the whole of LAB, SUFFIX: "pxe-debian-3f1c".
 * Two long lab names that share a prefix get different hashes (unless they
 * collide in 16 bits: `up` refuses a bridge that exists). PREFIX and SUFFIX
 * together must leave room for the hash (at most SHORT_NAME_MAX - 5). */
char *lab_short_name(const char *prefix, const char *lab, const char *suffix);

/* The default bridge of a lab: "pxe-LAB", shortened as above. */
char *lab_bridge_name(const char *lab);

/* The tap of the lab's N-th VM interface: "pxt-LAB-N", shortened as above. */
char *lab_tap_name(const char *lab, unsigned n);

