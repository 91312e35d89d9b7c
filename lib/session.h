/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_SESSION_H
#define KT_SESSION_H

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

#ifndef KT_RUNDIR
#define KT_RUNDIR "/run/keyturn"
#endif

/*
 * Per-user session accounting held by the kernel, so it cannot drift:
 * every agent holds a shared flock on RUNDIR/UID/sessions for its life
 * and an exclusive one on RUNDIR/UID/lock around unlock and teardown.
 * A dead agent's locks vanish with it.
 */

/* Creates RUNDIR/UID (root, 0700) and takes the shared lock; waits while
 * a teardown holds it exclusively. Returns the descriptor. */
int kt_session_join(uid_t uid) _wur_;

/* Exclusive lock around unlock and teardown. Returns the descriptor;
 * closing it releases the lock. */
int kt_session_lock(uid_t uid) _wur_;

/*
 * Leaves: converts the shared lock into a non-blocking exclusive one.
 * 1: this was the last session, the exclusive lock is held (close the
 * descriptor when the teardown is done); 0: other sessions remain, the
 * descriptor is closed.
 */
int kt_session_leave(int *sessions_fd) _wur_;

/* Number of sessions holding the shared lock, from /proc/locks. */
int kt_session_count(uid_t uid) _wur_;

#endif
