/* Shared value rules. See rules.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "basic/rules.h"
#include "basic/strtable.h"

bool rule_name_valid(const char *s) {
        size_t len = s ? strlen(s) : 0;

        if (len == 0 || len > RULE_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
                        return false;
        return true;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

enum mac_verdict rule_mac_parse(const char *s, char ret[static 18]) {
        unsigned char b[6];
        char sep;

        if (!s || strlen(s) != 17)
                return MAC_MALFORMED;
        /* One separator throughout: "52:54-00..." is a typo, not a MAC. */
        sep = s[2];
        if (sep != ':' && sep != '-')
                return MAC_MALFORMED;
        for (int i = 0; i < 6; i++) {
                int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
                if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != sep))
                        return MAC_MALFORMED;
                b[i] = hi << 4 | lo;
        }
        /* QEMU refuses a group address for a NIC, and so would a bridge. */
        if (b[0] & 1)
                return MAC_MULTICAST;
        if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
                return MAC_ZERO;
        snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
        return MAC_OK;
}

static const char *const firmware_table[_FIRMWARE_MAX] = {
        [FIRMWARE_BIOS] = "bios",
        [FIRMWARE_UEFI] = "uefi",
        [FIRMWARE_UEFI_PXE] = "uefi-pxe",
        [FIRMWARE_UEFI_SECURE] = "uefi-secure",
};
DEFINE_STRING_TABLE_LOOKUP(firmware, enum firmware);

enum disk_form rule_disk_form(const char *s) {
        size_t digits = s ? strspn(s, "0123456789") : 0;

        if (digits == 0 || digits > 6 || !s[digits] || !strchr("MGT", s[digits]) || s[digits + 1])
                return DISK_PATH;
        return strspn(s, "0") < digits ? DISK_SIZE : DISK_EMPTY;
}

enum address_verdict rule_lab_address_parse(const char *s, uint32_t *ret_addr, unsigned *ret_prefix) {
        const char *slash = strchr(s, '/');
        char ip[INET_ADDRSTRLEN];
        struct in_addr a;
        size_t plen;
        unsigned prefix;

        plen = slash ? strlen(slash + 1) : 0;
        if (!slash || (size_t) (slash - s) >= sizeof(ip) || plen < 1 || plen > 2 ||
            strspn(slash + 1, "0123456789") != plen)
                return ADDRESS_MALFORMED;
        memcpy(ip, s, slash - s);
        ip[slash - s] = 0;
        prefix = (unsigned) (slash[1] - '0');
        if (plen == 2)
                prefix = prefix * 10 + (unsigned) (slash[2] - '0');
        if (inet_pton(AF_INET, ip, &a) != 1 || prefix > 32)
                return ADDRESS_MALFORMED;
        *ret_prefix = prefix;
        if (prefix < RULE_PREFIX_MIN || prefix > RULE_PREFIX_MAX)
                return ADDRESS_PREFIX;
        *ret_addr = ntohl(a.s_addr);
        return ADDRESS_OK;
}

bool rule_ifname_valid(const char *s) {
        size_t len = s ? strlen(s) : 0;
        if (len == 0 || len > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '.' || *s == '-'))
                        return false;
        return true;
}
