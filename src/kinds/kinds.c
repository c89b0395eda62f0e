/* The table of boot kinds. See kind.h. */
#include <stddef.h>

#include "kinds/kind.h"
#include "basic/util.h"

#define KIND_REF(n) &kind_##n,
#define KIND_PROFILE(n) &kind_##n.profile,
#define KIND_RENDER(n) &kind_##n.render,

static const struct kind *const table[] = { KIND_LIST(KIND_REF) NULL };
static const struct profile_kind *const profile_table[] = { KIND_LIST(KIND_PROFILE) NULL };
static const struct render_kind *const render_table[] = { KIND_LIST(KIND_RENDER) NULL };

const struct kind *const *kinds_all(void) {
        return table;
}

const struct profile_kind *const *kinds_profile(void) {
        return profile_table;
}

const struct render_kind *const *kinds_render(void) {
        return render_table;
}

const struct kind *kind_of(const struct boot_entry *b) {
        for (size_t i = 0; table[i]; i++)
                if (b->kind == &table[i]->profile)
                        return table[i];
        return NULL;
}

bool kinds_need(const struct profile *p, const char *service) {
        for (size_t i = 0; i < p->n_boots; i++) {
                const struct kind *k = kind_of(&p->boots[i]);
                for (const char *const *s = k ? k->services : NULL; s && *s; s++)
                        if (streq(*s, service))
                                return true;
        }
        return false;
}
