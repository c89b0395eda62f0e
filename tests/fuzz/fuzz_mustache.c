/* libFuzzer target for the Mustache engine (src/mustache.c).
 *
 * Input: the template, then optionally a NUL byte and JSON data. When the data
 * part is missing or not valid JSON, a fixed sample with every JSON type is
 * used, so mutated templates still meet real values. Every partial name serves
 * the template itself (so "{{>x}}" recurses until the engine's depth limit),
 * except "eio", which fails, to cover the error path. Small render limits keep
 * runaway inputs (sections nested over long lists, branching partials) fast. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "render/mustache.h"
#include "basic/util.h"

static const char sample[] =
        "{\"s\": \"a&b<c>\\\"d'\", \"e\": \"\", \"i\": 42, \"r\": 1.21, \"t\": true,"
        " \"f\": false, \"n\": null, \"l\": [1, \"x\", [2, 3], {\"s\": \"in\"}, null],"
        " \"o\": {\"s\": \"o.s\", \"o\": {\"i\": -1}, \"l\": []}}";

static int serve_self(const char *name, char **ret, void *userdata) {
        if (streq(name, "eio"))
                return -EIO;
        *ret = xstrdup(userdata);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size) {
        const struct mustache_limits limits = { .max_output = 1 << 20, .max_steps = 200000 };
        const char *nul = memchr(buf, 0, size);
        size_t tlen = nul ? (size_t) (nul - (const char *) buf) : size;
        _cleanup_free_ char *template = NULL, *out = NULL, *error = NULL;
        json_t *data = NULL;
        int r;

        template = xcalloc(1, tlen + 1);
        memcpy(template, buf, tlen);
        if (nul)
                data = json_loadb(nul + 1, size - tlen - 1, JSON_DECODE_ANY, NULL);
        if (!data)
                data = json_loads(sample, 0, NULL);

        r = mustache_render_full(template, data, serve_self, template, &limits, &out, &error);
        if (r == 0) {
                /* The contract: a NUL-terminated string and no message. */
                if (!out || error)
                        abort();
                (void) strlen(out);
        } else if (!error || r >= 0 || (r != -EINVAL && r != -EIO && r != -E2BIG) ||
                   strncmp(error, "line ", 5) != 0 || out) {
                abort();
        }
        json_decref(data);
        return 0;
}
