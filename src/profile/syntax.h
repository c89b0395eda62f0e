/* The syntax of a profile: libconfuse does the parsing, with our callbacks
 * recording where each field was set (field -> line, for messages and
 * profile_line()) and reporting every syntax problem; a pre-lexer first
 * refuses what libconfuse would get wrong. Touches no file. */
#pragma once
#include <confuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/kind.h"
#include "profile/problems.h"
#include "profile/types.h"

/* Marks the option libconfuse sets from its default when a section opens:
 * its value is the section's line (see sec_init() of values.h). */
#define LINE_OPT "__line__"

/* A hash table (open addressing, linear probing) over a growing array of
 * fields, so that recording and finding a field costs O(1) and a profile of
 * 10,000 hosts (40,000 fields) parses in linear time. Fields are never taken
 * out of the table: a field of a replaced section is only marked dropped,
 * and setting it again revives it. */

#define FIELD_NONE SIZE_MAX

struct field {
        char *key;              /* "bridge.address", "boot.x.initrd[1]", "boot.x" */
        unsigned line;
        char *value;            /* strings as written (after unescaping) */
        bool dropped;           /* its titled section was defined again */
        size_t next_member;     /* the next field of the same section */
        size_t first_member;    /* a section's own field: its fields' list */
        size_t slot;            /* a titled section's own field: its place
                                 * among the detached sections (see there) */
};

struct fieldmap {
        struct field *v;
        size_t n, cap;
        size_t *slots;          /* index into v, FIELD_NONE: empty */
        size_t n_slots;         /* a power of two, at least twice n */
};

/* KEY's field; NULL when never set or dropped (its section was redefined). */
struct field *fieldmap_find(const struct fieldmap *m, const char *key);
/* Records KEY's LINE and VALUE (a copy). */
void fieldmap_set(struct fieldmap *m, const char *key, unsigned line, const char *value);

/* What struct profile's `lines` points to. */
struct profile_private {
        struct fieldmap fields;
        char *given_path;       /* the profile as the caller named it */
};

void profile_private_free(struct profile_private *priv);
/* The field map of a parsed profile (its `lines`); NULL when it has none. */
const struct fieldmap *profile_fields(const struct profile *p);

/* The closed sections of one titled option (boot, host, vm), see
 * on_section_close(). */
struct detached {
        cfg_opt_t *opt;
        cfg_value_t **v;
        size_t n;
};

struct parse_ctx {
        struct problems problems;
        struct profile_private *priv;
        struct fieldmap *fields;        /* &priv->fields */
        struct detached *titled;        /* one per titled option seen */
        size_t n_titled;
        cfg_opt_t *boot_opts;           /* the kinds' keys: syntax_parse() */
};

/* "boot.NAME.OPT", "bridge.OPT" or "OPT" for the root (OPT NULL: the
 * section's own key); the raw title. */
char *cfg_key(cfg_t *cfg, const char *opt);
/* The same for messages: a title made printable. */
char *cfg_field(cfg_t *cfg, const char *opt);

/* The text of BUF (LEN bytes) made ready for libconfuse, or NULL after
 * reporting why it cannot be parsed. */
char *syntax_prepare(struct parse_ctx *ctx, const char *buf, size_t len);
/* Parses PREPARED with a boot section taking the keys of KINDS. NULL after
 * reporting; else the caller cfg_free()s it. */
cfg_t *syntax_parse(struct parse_ctx *ctx, const char *prepared, const struct profile_kind *const *kinds);
/* Between these, cfg_field() shows titles as CTX's messages do. */
void syntax_enter(struct parse_ctx *ctx);
void syntax_leave(void);
/* Frees what syntax_parse() kept in CTX (after cfg_free()). */
void syntax_done(struct parse_ctx *ctx);
