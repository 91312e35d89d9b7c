/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_SESSION_H
#define KT_SESSION_H

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

#ifndef KT_RUNDIR
#define KT_RUNDIR "/run/keyturn"
/*
 * Control sockets, one per agent: RUNDIR/UID/agent.PID, owned by the
 * user, mode 0600, so that only the user (and root) can connect; both
 * ends check the other with SO_PEERCRED as well.
 */
#define KT_CONTROL_PREFIX "agent."

/* Binds and listens; ret_path gets the path (for unlinking at exit). */
int kt_control_listen(uid_t uid, gid_t gid, char *ret_path,
		      size_t size) _wur_;

/* Connects to one live agent of uid whose peer is root. -ENOENT: no
 * agent. */
int kt_control_connect(uid_t uid) _wur_;

/* The uid of the process at the other end of a Unix socket. */
int kt_peer_uid(int fd, uid_t *ret) _wur_;

#endif

/*
 * Per-user session accounting held by the kernel, so it cannot drift:
 * every agent holds a shared flock on RUNDIR/UID/sessions for its life
 * and an exclusive one on RUNDIR/UID/lock around unlock and teardown.
 * A dead agent's locks vanish with it.
 */

/* RUNDIR/UID as an O_PATH descriptor (root, 0755), made when create. */
int kt_session_dir(uid_t uid, bool create) _wur_;

/* Creates RUNDIR/UID (root, 0755) and takes the shared lock; waits while
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

/*
 * Control sockets, one per agent: RUNDIR/UID/agent.PID, owned by the
 * user, mode 0600, so that only the user (and root) can connect; both
 * ends check the other with SO_PEERCRED as well.
 */
#define KT_CONTROL_PREFIX "agent."

/* Binds and listens; ret_path gets the path (for unlinking at exit). */
int kt_control_listen(uid_t uid, gid_t gid, char *ret_path,
		      size_t size) _wur_;

/* Connects to one live agent of uid whose peer is root. -ENOENT: no
 * agent. */
int kt_control_connect(uid_t uid) _wur_;

/* The uid of the process at the other end of a Unix socket. */
int kt_peer_uid(int fd, uid_t *ret) _wur_;

#endif
