/* UEFI loaders. See uefiloader.h. */
#include <unistd.h>

#include "basic/uefiloader.h"
#include "basic/util.h"

const char *const uefi_loader_names[] = { "ipxe", "shim", NULL };

char *secboot_default_shim(void) {
        static const char *const search[] = { SECBOOT_SHIM_DEBIAN, SECBOOT_SHIM_OWN };
        for (size_t i = 0; i < ELEMENTSOF(search); i++)
                if (access(search[i], F_OK) == 0)
                        return xstrdup(search[i]);
        return xstrdup(SECBOOT_SHIM_OWN);
}
