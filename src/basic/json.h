/* Reading the JSON records (state.json, the model) jansson gives. */
#pragma once
#include <jansson.h>

/* The string member KEY of object O; NULL when O is no object, KEY is
 * missing or not a string. */
static inline const char *json_str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}
