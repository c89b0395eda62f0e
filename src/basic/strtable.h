/* String tables for enums, after systemd's string-table.h: an enum with a
 * _NAME_MAX member and a table of its names, indexed by the enum.
 *
 *   static const char *const firmware_table[_FIRMWARE_MAX] = { ... };
 *   DEFINE_STRING_TABLE_LOOKUP(firmware, enum firmware);
 *
 * defines firmware_to_string() (NULL for a value out of range) and
 * firmware_from_string() (-EINVAL for an unknown or NULL name). */
#pragma once
#include <errno.h>
#include <string.h>

static inline int string_table_lookup(const char *const *table, int n, const char *key) {
        if (!key)
                return -EINVAL;
        for (int i = 0; i < n; i++)
                if (table[i] && strcmp(table[i], key) == 0)
                        return i;
        return -EINVAL;
}

#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                                  \
        const char *name##_to_string(type i) {                                                  \
                return (int) i >= 0 && (size_t) i < sizeof(name##_table) / sizeof(name##_table[0]) \
                        ? name##_table[i] : NULL;                                               \
        }                                                                                       \
        int name##_from_string(const char *s) {                                                 \
                return string_table_lookup(name##_table,                                        \
                                           (int) (sizeof(name##_table) / sizeof(name##_table[0])), s); \
        }
