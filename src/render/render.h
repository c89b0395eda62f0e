/* Renders a lab's runtime tree from the templates:
 *   RUN/dnsmasq.conf  RUN/nginx.conf  RUN/http/{boot,menu}.ipxe
 *   RUN/http/boot/ENTRY.ipxe  RUN/http/hosts/MAC.ipxe  RUN/tftp/<loaders>  RUN/log/
 * and creates STATE/ for the leases. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "profile/profile.h"

struct render_changes {
        bool dnsmasq;               /* dnsmasq.conf content changed (or is new) */
        bool nginx;                 /* nginx.conf content changed (or is new) */
        bool smbd;                  /* smb.conf, its passdb or user map changed (windows entries) */
};

int render_lab(const struct profile *p, const char *run_dir, const char *state_dir,
               json_t **ret_model, struct render_changes *changes);

/* Renders one template NAME (e.g. "dnsmasq.conf") against DATA, looking the
 * template and its partials up as described in README ("Templates"). */
int render_template(const struct profile *p, const char *name, json_t *data, char **ret);

/* Directory holding Debian's iPXE loaders ($PXELAB_IPXE_DIR or /usr/lib/ipxe). */
const char *ipxe_dir(void);
