/* Boot kind `chain`. See chain.h. */
#include <string.h>

#include "kinds/chain.h"
#include "kinds/kind.h"
#include "profile/build.h"
#include "basic/util.h"

static const struct kind_key chain_keys[] = { { "url", KIND_KEY_STR }, {} };

const struct chain_entry *chain_of(const struct boot_entry *b) {
        return b->kind == &kind_chain.profile ? b->kind_data : NULL;
}

/* http://, https:// or tftp://, and a host name. */
static void chain_build(struct entry_builder *eb, struct boot_entry *e) {
        static const char *const schemes[] = { "http://", "https://", "tftp://" };
        const char *url = entry_value(eb, "url"), *rest = NULL;
        struct chain_entry *d = e->kind_data = xcalloc(1, sizeof(*d));

        if (!url) {
                entry_problem(eb, "url", "not set (required for kind 'chain')");
                return;
        }
        if (!entry_text_valid(eb, "url", CS_URL))
                return;
        for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
                        rest = url + strlen(schemes[i]);
        if (!rest)
                entry_problem_value(eb, "url", "must start with http://, https:// or tftp://");
        else if (!*rest || *rest == '/')
                entry_problem_value(eb, "url", "has no host name");
        else
                d->url = xstrdup(url);
}

static void chain_done(struct boot_entry *e) {
        struct chain_entry *d = e->kind_data;
        if (d)
                free(d->url);
        free(d);
}

static int chain_model(const struct model_entry *m, json_t *o) {
        const struct chain_entry *d = m->b->kind_data;
        json_object_set_new(o, "url", json_string(d->url));
        return 0;
}

const struct kind kind_chain = {
        .profile = { .name = "chain", .keys = chain_keys, .build = chain_build, .done = chain_done },
        .render = { .name = "chain", .entry_model = chain_model },
};
