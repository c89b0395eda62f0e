/* `pxelab status`: what a lab's record says, checked against the host
 * (units, bridge, nftables table, leases, VMs). Only reads. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

/* Status of LAB as JSON (schema in README), *ret_healthy false when
 * degraded. -ENOENT (quiet) when LAB has no record. */
int lab_status(const char *lab, json_t **ret, bool *ret_healthy);
