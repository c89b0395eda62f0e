/* NetworkManager, as much as pxelab asks of it: does it manage a device, and
 * stop (or resume) managing it. A laptop's NetworkManager would otherwise
 * take a lab's port back (set it down, run DHCP on it, pull it out of the
 * bridge). Behind this narrow seam so that the logic using it (lab/ports.c)
 * is unit-tested with a fake; nm_dbus is the real one. */
#pragma once
#include <stdbool.h>

struct nm_seam {
        /* 1 and *RET_MANAGED when NetworkManager runs and has a device
         * IFNAME; 0 when it is not running (no system bus, or the name
         * org.freedesktop.NetworkManager has no owner) or has no such
         * device; <0 (logged) on failure. */
        int (*get_managed)(void *data, const char *ifname, bool *ret_managed);
        /* Sets the device's Managed property. 0, or <0 (logged). */
        int (*set_managed)(void *data, const char *ifname, bool managed);
        void *data;
};

/* Over sd-bus on the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else the
 * standard socket): org.freedesktop.NetworkManager's GetDeviceByIpIface
 * and the Device's "Managed" property. */
extern const struct nm_seam nm_dbus;
