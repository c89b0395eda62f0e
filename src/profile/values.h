/* The value rules of a profile, each reporting what is wrong as one
 * problem of the parse (CTX) and touching no file. */
#pragma once
#include <confuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/problems.h"
#include "profile/syntax.h"

#define MAX_STRING 255
#define MAX_PATH 4095
#define MAX_IFNAME 15
#define MIN_LEASE 120

/* What a free-form value may contain. */
enum charset { CS_PATH, CS_URL, CS_TITLE, CS_CMDLINE };
bool char_allowed(enum charset cs, unsigned char c);
/* "a space", "'$'", "a non-ASCII byte": C as a message names it. */
char *describe_char(const struct problems *ps, unsigned char c);

/* One option of one section, with everything its messages need. */
struct opt {
        const char *value;      /* NULL: not set */
        unsigned line;          /* where set; else the section's line */
        char *field;            /* "boot.rescue.kernel", printable */
};

void opt_done(struct opt *o);
#define _cleanup_opt_ _cleanup_(opt_done)

struct sec {
        cfg_t *cfg;             /* NULL: the section is absent */
        unsigned line;
        char *field;            /* "boot.rescue", "bridge" */
};

#define _cleanup_sec_ _cleanup_(sec_done)

/* Section S of CFG (NULL: absent; KIND names it then). */
void sec_init(struct sec *s, cfg_t *cfg, const char *kind);
void sec_done(struct sec *s);
/* Where KEY was set, else FALLBACK. */
unsigned field_line(const struct parse_ctx *ctx, const char *key, unsigned fallback);
/* Option NAME of section S: its value (NULL: unset), line and field. */
struct opt opt_get(struct parse_ctx *ctx, const struct sec *s, const char *name);
/* The line of item I of list NAME in S, else FALLBACK. */
unsigned item_line(struct parse_ctx *ctx, const struct sec *s, const char *name, unsigned i, unsigned fallback);

/* Length (1..MAX) and character checks every free-form value passes. */
bool check_text(struct parse_ctx *ctx, const struct opt *o, const char *value, enum charset cs, size_t max);
/* Collapses "//" and "/./"; ".." stays (only the filesystem resolves it). */
char *path_clean(const char *p);
bool has_dotdot(const char *p);
/* A path value checked, then made absolute against DIR; NULL after reporting. */
char *check_path(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *dir);
/* The name a boot file is served under: PATH's base name as written. NULL
 * after reporting a path that ends in "..". */
char *served_name(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *path);
bool ifname_valid(const char *s);
/* VALUE must be one of the NULL-terminated CHOICES; returns its index, or
 * -1 after reporting. */
int check_choice(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *const *choices);
bool parse_ipv4(const char *s, uint32_t *ret);
char *ipv4_str(uint32_t a);
/* The rule of basic/rules.h, reported; the normalised MAC or NULL. */
char *check_mac(struct parse_ctx *ctx, const struct opt *o);
/* "N", "Nm", "Nh", "Nd" or "infinite", at least MIN_LEASE seconds. */
bool check_lease(struct parse_ctx *ctx, const struct opt *o);
