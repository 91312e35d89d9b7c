/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Holding the session: the wait for its end, handed to keyturn-hold
 * whenever nothing is to be done (agent/handover.c). */
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "hold.h"

/* Hands the waiting to keyturn-hold, unless that failed before. Returns
 * only when this image must hold. */
static void hold_elsewhere(struct agent *a)
{
	int r;

	if (a->holder_failed)
		return;
	r = agent_hold_exec(a);
	agent_log(LOG_WARNING, "%s: Failed to hand the session to "
			       HOLD_NAME ": %s, holding it here",
		  a->user->name, strerror(-r));
	a->holder_failed = true;
}

/*
 * Waits for "close" from the module, EOF (the PAM host is gone) or a
 * termination signal, serving keyturnctl unlock meanwhile. The waiting
 * itself happens in keyturn-hold: it gives the process back with the
 * event still pending, this loop handles it, and what does not end the
 * session goes back to the holder.
 */
void agent_hold(struct agent *a)
{
	sigset_t mask;
	bool watch_control = a->control >= 0;
	/* Resumed: the event is pending now; nothing at all means the
	 * holder's wait and this one disagree, and the holder waits. */
	int timeout = a->resumed ? 0 : -1;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	if (!a->resumed)
		hold_elsewhere(a);
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = a->sock, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = watch_control ? a->control : -1,
			  .events = POLLIN },
		};
		char line[KT_LINE_MAX];
		int r;

		r = poll(p, 3, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		timeout = -1;
		if (r == 0) {
			hold_elsewhere(a);
			continue;
		}
		if (p[2].revents & POLLIN) {
			agent_control_accept(a);
			hold_elsewhere(a);
			continue;
		}
		if (p[2].revents) {
			agent_log(LOG_WARNING, "%s: the control socket "
					       "broke, ignoring it",
				  a->user->name);
			watch_control = false;
		}
		if (p[1].revents) {
			agent_log(LOG_INFO, "%s: terminated, ending the "
					    "session", a->user->name);
			break;
		}
		if (!p[0].revents)
			continue;
		r = kt_line_read(a->sock, line, sizeof(line), 0);
		if (r == 0 || r == -ECONNRESET) {
			agent_log(LOG_INFO, "%s: the login process is gone, "
					    "ending the session",
				  a->user->name);
			break;
		}
		if (r < 0) {
			agent_log(LOG_ERR, "Failed to read from the module: "
					   "%s, ending the session",
				  strerror(-r));
			break;
		}
		if (!strcmp(line, "close"))
			break;
		agent_log(LOG_WARNING, "Unknown message from the module, "
				       "ignoring");
		hold_elsewhere(a);
	}
	kt_close(sfd);
}
