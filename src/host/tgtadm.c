/* tgtd's targets through tgtadm. See tgtadm.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/util.h"
#include "host/tgtadm.h"

#define TGTADM_TIMEOUT "5"

/* The value after "KEY: " when LINE (leading blanks skipped) starts so. */
static const char *field(const char *line, const char *key) {
        size_t n = strlen(key);
        return strncmp(line, key, n) == 0 && line[n] == ':' ? line + n + 1 + strspn(line + n + 1, " ") : NULL;
}

enum section { SEC_NONE, SEC_NEXUS, SEC_LUN, SEC_ACCOUNT, SEC_ACL };

struct parser {
        json_t *targets, *target, *initiator, *lun;
        enum section sec;
};

/* A LUN that is a disk (not LUN 0, the controller) joins its target. */
static void lun_done(struct parser *ps) {
        if (ps->lun && ps->target && json_integer_value(json_object_get(ps->lun, "lun")) > 0)
                json_array_append(json_object_get(ps->target, "luns"), ps->lun);
        json_decref(ps->lun);
        ps->lun = NULL;
}

static void target_line(struct parser *ps, const char *line) {
        const char *colon = strchr(line, ':');
        lun_done(ps);
        ps->target = json_pack("{s:i, s:s, s:[], s:[], s:[], s:[]}", "tid", atoi(line + strlen("Target ")), "iqn",
                               colon ? colon + 1 + strspn(colon + 1, " ") : "", "initiators", "luns", "accounts",
                               "acl");
        json_array_append_new(ps->targets, ps->target);
        ps->initiator = NULL;
        ps->sec = SEC_NONE;
}

static bool section_line(struct parser *ps, const char *s) {
        static const struct {
                const char *name;
                enum section sec;
        } sections[] = {
                { "System information:", SEC_NONE },    { "I_T nexus information:", SEC_NEXUS },
                { "LUN information:", SEC_LUN },         { "Account information:", SEC_ACCOUNT },
                { "ACL information:", SEC_ACL },
        };
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (streq(s, sections[i].name)) {
                        lun_done(ps);
                        ps->sec = sections[i].sec;
                        return true;
                }
        return false;
}

/* "Initiator: IQN alias: NAME", then "IP Address: A" per connection. */
static void nexus_line(struct parser *ps, const char *s) {
        const char *v;
        if ((v = field(s, "Initiator"))) {
                _cleanup_free_ char *iqn = xasprintf("%.*s", (int) strcspn(v, " "), v);
                ps->initiator = json_pack("{s:s, s:[]}", "iqn", iqn, "addresses");
                json_array_append_new(json_object_get(ps->target, "initiators"), ps->initiator);
        } else if ((v = field(s, "IP Address")) && ps->initiator)
                json_array_append_new(json_object_get(ps->initiator, "addresses"), json_string(v));
}

static void lun_line(struct parser *ps, const char *s) {
        const char *v;
        if ((v = field(s, "LUN"))) {
                lun_done(ps);
                ps->lun = json_pack("{s:i}", "lun", atoi(v));
        } else if (!ps->lun)
                return;
        else if ((v = field(s, "Type")))
                json_object_set_new(ps->lun, "type", json_string(v));
        else if ((v = field(s, "Size"))) {
                _cleanup_free_ char *size = xasprintf("%.*s", (int) strcspn(v, ","), v);
                json_object_set_new(ps->lun, "size", json_string(size));
        } else if ((v = field(s, "Backing store path")))
                json_object_set_new(ps->lun, "path", json_string(v));
}

json_t *tgt_parse_targets(const char *text) {
        struct parser ps = { .targets = json_array() };
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *s = line + strspn(line, " \t");
                size_t n = strlen(s);
                while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
                        s[--n] = 0;
                if (strncmp(line, "Target ", 7) == 0) {
                        target_line(&ps, line);
                        continue;
                }
                if (!ps.target || !*s || section_line(&ps, s))
                        continue;
                switch (ps.sec) {
                case SEC_NEXUS:
                        nexus_line(&ps, s);
                        break;
                case SEC_LUN:
                        lun_line(&ps, s);
                        break;
                case SEC_ACCOUNT:
                        json_array_append_new(json_object_get(ps.target, "accounts"), json_string(s));
                        break;
                case SEC_ACL:
                        json_array_append_new(json_object_get(ps.target, "acl"), json_string(s));
                        break;
                case SEC_NONE:
                        break;
                }
        }
        lun_done(&ps);
        return ps.targets;
}

int tgt_show_targets(unsigned port, json_t **ret) {
        _cleanup_free_ char *p = xasprintf("%u", port), *out = NULL;
        /* A tgtd that is wedged accepts the connection and never answers:
         * tgtadm would wait for ever. */
        char *argv[] = { "timeout", TGTADM_TIMEOUT, "tgtadm", "-C", p, "--lld", "iscsi", "--mode", "target",
                         "--op", "show", NULL };
        int r;

        r = run_program(argv, &out);
        if (r < 0)
                return r;
        /* tgtadm says why on stderr (the caller's); no tgtd: "can't connect". */
        if (r == 124)
                return -ETIMEDOUT;
        if (r != 0)
                return r == 127 ? -ENOEXEC : -ENOENT;
        *ret = tgt_parse_targets(out);
        return 0;
}
