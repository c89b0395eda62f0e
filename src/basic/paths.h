/* Where pxelab keeps what it makes: run-time records (gone at reboot, like
 * the links they describe) and persistent state (generated secrets). */
#pragma once

#define PXELAB_RUN_ROOT   "/run/pxelab"
#define PXELAB_STATE_ROOT "/var/lib/pxelab"
