/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over between keyturn-agent and keyturn-hold, the small image
 * the agent becomes while it only waits. Both are the same process (one
 * PID, one session keyring) and pass these descriptors at fixed numbers
 * across execve(); argv carries only the user, service and config path,
 * the environment is empty, and no secret crosses.
 */
#ifndef KT_HOLD_H
#define KT_HOLD_H

#include <stdbool.h>
#include <sys/socket.h>

#include "agent_fds.h"

/* The descriptors passed: KT_AGENT_FD_MODULE to KT_AGENT_FD_AGENT
 * (lib/agent_fds.h). */

/* Beside keyturn-agent, in the same directory. */
#define HOLD_NAME "keyturn-hold"
/* What ps, pgrep and syslog see, in either image. */
#define HOLD_COMM "keyturn-agent"
/* The state memfd's format: KT_STATE_MAGIC, lib/protocol.h. */

/* fd is a stream socket, listening or not as asked (both images check
 * what they were handed). */
static inline bool hold_is_stream_socket(int fd, bool listening)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
	    v != SOCK_STREAM)
		return false;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0)
		return false;
	return !!v == listening;
}

#endif
