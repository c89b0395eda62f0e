/* What the lab's clients reach: the lab's nftables table (nft.h) built from
 * the profile, and IPv4 forwarding, switched on for labs with an uplink and
 * restored when the last lab that needed it goes. */
#pragma once
#include <jansson.h>

#include "lab/record.h"
#include "profile/profile.h"

/* The table inet pxelab-LAB (recorded in ST first), then, with an UPLINK,
 * ip_forward on (recorded first; the host's previous value saved once in
 * /run/pxelab/ip_forward.saved). Fault points nft-recorded, nft,
 * forwarding-recorded, forwarding. */
int lab_forward_setup(const struct profile *p, json_t *model, const char *uplink, struct lab_record *st);

/* `down`: deletes the lab's table (by its derived name, when ST has one),
 * and when ST switched forwarding on and no other lab needs it, restores
 * the saved ip_forward. */
int lab_forward_teardown(const struct lab_record *st);
