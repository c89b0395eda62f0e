/* The lab's services, as one table: dnsmasq (DHCP, TFTP), nginx (HTTP) and,
 * for windows entries, smbd; each a hardened transient unit
 * pxelab-LAB-NAME.service in the lab's slice, writing only its own
 * directories (never the lab's record), keeping only the capabilities it
 * needs and running its network-facing processes as nobody. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "lab/record.h"
#include "profile/profile.h"
#include "render/render.h"

/* Names of every service a lab may have, NULL-terminated: `down` stops the
 * units of these names (derived from the lab name) whatever a record says. */
extern const char *const lab_service_names[];

/* Brings the lab's services to what profile P needs, in the table's order:
 * each wanted one recorded in ST (saved) before it is started, started when
 * not running, restarted when its configuration changed (CH); one no longer
 * wanted stopped and dropped from the record. Fault points SERVICE-recorded
 * and SERVICE (started). Logs its own errors. PRINT_STEP (may be NULL) is
 * told what was done. */
int lab_services_apply(sd_bus *bus, const struct profile *p, json_t *model, struct lab_record *st,
                       const struct render_changes *ch, void (*print_step)(const char *fmt, ...));
