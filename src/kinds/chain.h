/* Boot kind `chain`: iPXE chains to a URL (templates/entry-chain.ipxe.mustache). */
#pragma once

#include "profile/profile.h"

struct chain_entry {
        char *url;              /* http://, https:// or tftp:// and a host */
};

/* B's values; NULL when B is not a chain entry. */
const struct chain_entry *chain_of(const struct boot_entry *b);
