/* Renders a lab's runtime tree from the templates:
 *   RUN/dnsmasq.conf  RUN/nginx.conf  RUN/http/{boot,menu}.ipxe
 *   RUN/http/boot/ENTRY.ipxe  RUN/http/hosts/MAC.ipxe  RUN/tftp/<loaders>  RUN/log/
 * and creates STATE/ for the leases; each boot kind adds its own files
 * (render_kind of model.h). Templates: template.h. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "profile/profile.h"
#include "render/model.h"

struct render_changes {
        bool dnsmasq;               /* dnsmasq.conf content changed (or is new) */
        bool nginx;                 /* nginx.conf content changed (or is new) */
        bool smbd;                  /* smb.conf, its passdb or user map changed (windows entries) */
        bool tgtd;                  /* tgt/targets.conf changed (iscsi entries) */
};

/* KINDS (NULL-terminated) are the boot kinds' parts of the model and the
 * tree (kinds_render() of kinds/kind.h). */
int render_lab(const struct profile *p, const struct render_kind *const *kinds, const char *run_dir,
               const char *state_dir, json_t **ret_model, struct render_changes *changes);

/* Directory holding Debian's iPXE loaders ($PXELAB_IPXE_DIR or /usr/lib/ipxe). */
const char *ipxe_dir(void);
