/* The data model the templates see: built from a validated profile, as
 * jansson. Its shape is documented in README.md ("Template data model"). */
#pragma once
#include <jansson.h>

#include "profile/profile.h"

/* RUN_DIR holds the rendered tree (configs, http/, tftp/, log/), STATE_DIR
 * the persistent data (dnsmasq leases). */
int model_build(const struct profile *p, const char *run_dir, const char *state_dir, json_t **ret);

/* The lab's IPv6 ULA prefix, derived from the lab name: "fdXX:XXXX:XXXX::". */
char *model_ula_prefix(const char *lab);
