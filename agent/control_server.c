/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's control socket: keyturnctl unlock, for a session that
 * began without the login password. */
#include <poll.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "ratelimit.h"
#include "session.h"

#define CONTROL_TIMEOUT_MS 10000
/* keyturnctl unlock: at most this many requests of a user per window. */
#define CONTROL_RATE_MAX 5
#define CONTROL_RATE_WINDOW_S 60
#define CONTROL_RATE_FILE "unlock-attempts"

/*
 * keyturnctl unlock: the user hands their passphrase to their own agent,
 * for a session that began without one. "unlock LEN\n" and LEN bytes;
 * the answer is the report lines and "done".
 */
static void control_serve(struct agent *a, int fd)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	char line[KT_LINE_MAX];
	size_t len;
	uid_t peer;
	size_t got = 0;
	long long deadline = kt_now_ms() + CONTROL_TIMEOUT_MS;
	int r;

	if (kt_peer_uid(fd, &peer) < 0 ||
	    (peer != 0 && peer != a->user->uid)) {
		agent_log(LOG_WARNING, "%s: control connection from uid %u "
				       "refused",
			  a->user->name, (unsigned)peer);
		return;
	}
	r = kt_line_read(fd, line, sizeof(line), deadline);
	if (r <= 0 ||
	    kt_control_parse_unlock(line, KT_PASSPHRASE_MAX, &len) < 0) {
		agent_send_line(fd, "error bad request");
		return;
	}
	/* Every unlock makes root run the key derivations of the user's
	 * volumes: a user must not be able to do that in a loop. Counted
	 * per user, across sessions and hand-overs; root is not limited. */
	if (peer != 0) {
		r = kt_ratelimit_take(a->user->uid, CONTROL_RATE_FILE,
				      CONTROL_RATE_MAX, CONTROL_RATE_WINDOW_S);
		if (r == -EBUSY)
			agent_log(LOG_WARNING,
				  "%s: unlock request from uid %u refused: "
				  "rate limited (at most %d in %d s)",
				  a->user->name, (unsigned)peer,
				  CONTROL_RATE_MAX, CONTROL_RATE_WINDOW_S);
		else if (r < 0)
			agent_log(LOG_ERR,
				  "%s: unlock request from uid %u refused: "
				  "Failed to count it: %s",
				  a->user->name, (unsigned)peer, strerror(-r));
		if (r < 0) {
			agent_send_line(fd, "error rate limited");
			return;
		}
	}
	/* A resumed agent has no config: this unlock is a new opening,
	 * under the config of now. */
	if (!a->config && agent_load(a, a->state.user, a->config_path) < 0) {
		agent_send_line(fd, "error could not load the configuration");
		return;
	}
	pass = kt_secret_new(len);
	if (!pass)
		return;
	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		long long left = deadline - kt_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		n = read(fd, pass->data + got, len - got);
		if (n <= 0)
			return;
		got += (size_t)n;
	}
	/* In the agent's own keyring: no process of the session possesses
	 * it, and libcryptsetup's token finds it there. */
	if (agent_set_passphrase(a, pass) < 0) {
		agent_send_line(fd, "error could not add the key");
		return;
	}
	agent_log(LOG_INFO, "%s: unlock requested by keyturnctl (uid %u)",
		  a->user->name, (unsigned)peer);
	agent_open_all(a, fd);
	agent_send_line(fd, "done");
}

void agent_control_accept(struct agent *a)
{
	int fd = accept4(a->control, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* One request, bounded in time; the session is held meanwhile. */
	control_serve(a, fd);
	close(fd);
}
