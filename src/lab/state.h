/* The labs' directories under /run/pxelab and /var/lib/pxelab, the list of
 * labs that have a record, and the global lock. The record itself (what is
 * in /run/pxelab/LAB/state.json): record.h. */
#pragma once
#include <stdbool.h>

#include "basic/paths.h"


char *lab_run_dir(const char *lab);      /* /run/pxelab/LAB */
char *lab_state_dir(const char *lab);    /* /var/lib/pxelab/LAB */

/* Removes /run/pxelab/LAB when it has no record: what an `up` killed
 * between creating the dir and writing its first record leaves. Returns 1
 * when removed, 0 when there is no such dir; a dir holding anything else
 * is left alone (-ENOTEMPTY, logged). */
int state_remove_leftover(const char *lab);
/* Names of all labs with a state record, sorted. */
int state_list_labs(char ***ret);

/* How long a command waits for another to finish by default: an `up` may
 * wait up to a minute for each unit's start job, so five minutes. */
#define STATE_LOCK_WAIT_MS (300 * 1000)

/* A global lock (/run/pxelab/.lock) so two pxelab processes never
 * interleave changes. Waits for it up to STATE_LOCK_WAIT_MS, or
 * $PXELAB_LOCK_TIMEOUT seconds when set, saying once on stderr after a
 * second "Waiting for another pxelab (PID N) to finish…"; then -EBUSY,
 * logged. The holder's PID is in the file. Returns an fd to pass to
 * state_unlock(). */
int state_lock(void);
void state_unlock(int fd);
