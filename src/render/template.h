/* Templates: looked up as README says ("Templates": the profile's
 * `templates` dir, $PXELAB_TEMPLATES, templates/ beside the binary, the
 * installed share dir), rendered with mustache.c, written only when the
 * output changed. Each logs its own error. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "profile/profile.h"

/* Renders template NAME ("dnsmasq.conf": NAME.mustache) against DATA. */
int template_render(const struct profile *p, const char *name, json_t *data, char **ret);
/* Writes DATA to DST with MODE unless DST holds it already; *CHANGED (may
 * be NULL) is set true when it wrote, else left alone (so it ORs). */
int template_write(const char *dst, const char *data, mode_t mode, bool *changed);
/* template_render() then template_write(). */
int template_render_to(const struct profile *p, const char *name, json_t *data, const char *dst, mode_t mode,
                       bool *changed);
