/* Boot kind `shell`: the iPXE shell (templates/entry-shell.ipxe.mustache).
 * No keys, no files. */
#include "kinds/kind.h"

static const struct kind_key shell_keys[] = { {} };

const struct kind kind_shell = {
        .profile = { .name = "shell", .keys = shell_keys },
        .render = { .name = "shell" },
};
