/* Where pxelab keeps what it makes: run-time records (gone at reboot, like
 * the links they describe) and persistent state (generated secrets). */
#pragma once

#define PXELAB_RUN_ROOT   "/run/pxelab"
#define PXELAB_STATE_ROOT "/var/lib/pxelab"

/* The home of the profiles `pxelab up NAME` and pxelab@NAME.service bring
 * up: SYSCONFDIR/pxelab/NAME.conf (`make SYSCONFDIR=DIR`, default /etc). */
#ifndef PXELAB_SYSCONFDIR
#define PXELAB_SYSCONFDIR "/etc"
#endif
#define PXELAB_CONF_DIR PXELAB_SYSCONFDIR "/pxelab"
