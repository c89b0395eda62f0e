#include <errno.h>
#include <systemd/sd-bus.h>

#include "basic/log.h"
#include "basic/util.h"
#include "host/nm.h"

#define NM_NAME "org.freedesktop.NetworkManager"
#define NM_PATH "/org/freedesktop/NetworkManager"
#define NM_DEVICE "org.freedesktop.NetworkManager.Device"

/* The system bus and IFNAME's device path when NetworkManager runs and
 * knows IFNAME: 1; 0 when it does not run or has no such device. */
static int nm_device(const char *ifname, sd_bus **ret_bus, char **ret_path) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r, owned = 0;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return 0;       /* no system bus: no NetworkManager either */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &err, &reply, "s", NM_NAME);
        if (r < 0) {
                /* A socket without a bus behind it (ECONNREFUSED, ENOENT)
                 * is no bus. */
                if (r == -ECONNREFUSED || r == -ENOENT || r == -ENOTCONN)
                        return 0;
                return log_error_errno(r, "Failed to ask the system bus whether NetworkManager runs: %s",
                                       err.message ? err.message : strerror(-r));
        }
        r = sd_bus_message_read(reply, "b", &owned);
        if (r < 0)
                return log_error_errno(r, "Failed to read the system bus's answer about NetworkManager");
        if (!owned)
                return 0;
        reply = sd_bus_message_unref(reply);
        r = sd_bus_call_method(bus, NM_NAME, NM_PATH, NM_NAME, "GetDeviceByIpIface", &err, &reply, "s", ifname);
        if (r < 0) {
                if (sd_bus_error_has_name(&err, "org.freedesktop.NetworkManager.UnknownDevice"))
                        return 0;
                return log_error_errno(r, "Failed to ask NetworkManager for device '%s': %s", ifname,
                                       err.message ? err.message : strerror(-r));
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to read NetworkManager's device path of '%s'", ifname);
        *ret_path = xstrdup(path);
        *ret_bus = TAKE_PTR(bus);
        return 1;
}

static int dbus_get_managed(void *data, const char *ifname, bool *ret_managed) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r, managed = 0;

        r = nm_device(ifname, &bus, &path);
        if (r <= 0)
                return r;
        r = sd_bus_get_property_trivial(bus, NM_NAME, path, NM_DEVICE, "Managed", &err, 'b', &managed);
        if (r < 0)
                return log_error_errno(r, "Failed to read NetworkManager's Managed property of '%s': %s", ifname,
                                       err.message ? err.message : strerror(-r));
        *ret_managed = managed;
        return 1;
}

static int dbus_set_managed(void *data, const char *ifname, bool managed) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = nm_device(ifname, &bus, &path);
        if (r < 0)
                return r;
        if (r == 0)
                return log_error_errno(-ENODEV, "Failed to set NetworkManager's Managed property of '%s' to %s",
                                       ifname, managed ? "yes" : "no");
        r = sd_bus_set_property(bus, NM_NAME, path, NM_DEVICE, "Managed", &err, "b", (int) managed);
        if (r < 0)
                return log_error_errno(r, "Failed to set NetworkManager's Managed property of '%s' to %s: %s", ifname,
                                       managed ? "yes" : "no", err.message ? err.message : strerror(-r));
        return 0;
}

const struct nm_seam nm_dbus = {
        .get_managed = dbus_get_managed,
        .set_managed = dbus_set_managed,
};
