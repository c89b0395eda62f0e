/* Boot kind `local`: boot from the local disk (templates/entry-local.ipxe.mustache).
 * No keys, no files. */
#include "kinds/kind.h"

static const struct kind_key local_keys[] = { {} };

const struct kind kind_local = {
        .profile = { .name = "local", .keys = local_keys },
        .render = { .name = "local" },
};
