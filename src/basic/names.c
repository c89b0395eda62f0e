/* Lab names and the short names derived from them. See names.h. */
#include <stdint.h>

#include "basic/names.h"
#include "basic/util.h"

static bool lab_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool lab_name_valid(const char *s) {
        size_t len = s ? strlen(s) : 0;

        if (len == 0 || len > LAB_NAME_MAX || !lab_char(s[0]) || !lab_char(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++) {
                if (lab_char(s[i]))
                        continue;
                /* a single '-' between letters and digits: systemd reads
                 * "--" and a trailing '-' in a slice name as invalid */
                if (s[i] != '-' || s[i + 1] == '-')
                        return false;
        }
        return true;
}

/* 32-bit FNV-1a folded to 16 bits: short enough for an interface name,
 * stable across runs and machines. */
static unsigned hash16(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 16777619u;
        return (h >> 16 ^ h) & 0xffff;
}

char *lab_short_name(const char *prefix, const char *lab, const char *suffix) {
        size_t fixed = strlen(prefix) + strlen(suffix), head;

        if (fixed + strlen(lab) <= SHORT_NAME_MAX)
                return xasprintf("%s%s%s", prefix, lab, suffix);
        /* Leave room for the suffix "-hhhh" (a dash, four hex digits of the hash). */
        head = fixed + 5 < SHORT_NAME_MAX ? SHORT_NAME_MAX - fixed - 5 : 0;
        while (head > 0 && lab[head - 1] == '-')
                head--;
        if (head == 0)
                return xasprintf("%s%04x%s", prefix, hash16(lab), suffix);
        return xasprintf("%s%.*s-%04x%s", prefix, (int) head, lab, hash16(lab), suffix);
}

char *lab_bridge_name(const char *lab) {
        return lab_short_name("pxe-", lab, "");
}

char *lab_tap_name(const char *lab, unsigned n) {
        _cleanup_free_ char *suffix = xasprintf("-%u", n);
        return lab_short_name("pxt-", lab, suffix);
}

bool vm_name_valid(const char *s) {
        size_t len = s ? strlen(s) : 0;

        if (len == 0 || len > VM_NAME_MAX || !lab_char(s[0]))
                return false;
        for (; *s; s++)
                if (!lab_char(*s) && *s != '_' && *s != '-')
                        return false;
        return true;
}
