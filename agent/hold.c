/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn-hold: the image keyturn-agent execs into when the open phase is
 * over, so that an idle session costs what libc costs and not what
 * libcryptsetup and its libraries cost once mapped. Same process: same
 * PID (session accounting, control socket name, keyturnctl status), same
 * session keyring (the eCryptfs auth tokens), same descriptors (hold.h).
 *
 * It holds no secret and decides nothing: it waits for what the agent's
 * own wait loop waits for (a message or EOF from the module, SIGTERM,
 * SIGINT or SIGHUP, a keyturnctl connection) without consuming it, and
 * gives the process back to the very agent image it came from, which
 * then finds the event still pending: the line unread, the connection in
 * the backlog, the signal blocked and pending (both survive execve).
 *
 * Links libc alone. Started by the agent only, as root, with an empty
 * environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "hold.h"

#define RESUME_TRIES 3

static const char *user = "?";

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static bool is_mode(int fd, mode_t type)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

/* Every descriptor is what the agent passes, or absent where it may be;
 * nothing else stays open. */
static bool check_fds(void)
{
	static const char *const what[] = { "module socket", "session lock",
					    "control socket", "state",
					    "agent image" };

	if (close_range(KT_AGENT_FD_END, ~0U, 0) < 0) {
		for (int fd = KT_AGENT_FD_END; fd < 1024; fd++)
			(void)close(fd);
	}
	for (int fd = KT_AGENT_FD_MODULE; fd < KT_AGENT_FD_END; fd++) {
		bool ok;

		if (!fd_open(fd)) {
			ok = fd == KT_AGENT_FD_SESSIONS ||
			     fd == KT_AGENT_FD_CONTROL;
		} else {
			switch (fd) {
			case KT_AGENT_FD_MODULE:
				ok = hold_is_stream_socket(fd, false);
				break;
			case KT_AGENT_FD_CONTROL:
				ok = hold_is_stream_socket(fd, true);
				break;
			default: /* a file, a memfd, the agent's image */
				ok = is_mode(fd, S_IFREG);
				break;
			}
		}
		if (!ok) {
			syslog(LOG_ERR, "%s: %s (fd %d) missing or not what "
					"it should be",
			       user, what[fd - KT_AGENT_FD_MODULE], fd);
			return false;
		}
	}
	return true;
}

/* Returns when there is something for the agent to do. */
static void wait_for_event(void)
{
	sigset_t mask;
	int sfd, control = fd_open(KT_AGENT_FD_CONTROL) ? KT_AGENT_FD_CONTROL
							  : -1;

	/* Blocked here and across execve(): a signal that ends the wait
	 * stays pending for the agent's signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		syslog(LOG_WARNING, "%s: Failed to watch signals: %m, "
				    "ignoring",
		       user);

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = KT_AGENT_FD_MODULE, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = control, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			syslog(LOG_ERR, "%s: Failed to wait: %m, giving the "
					"session back to the agent",
			       user);
			break;
		}
		if (p[0].revents || p[1].revents || (p[2].revents & POLLIN))
			break;
		/* A broken listening socket: the agent copes with it when
		 * it next runs; not a reason to wake it now. */
		if (p[2].revents)
			control = -1;
	}
	if (sfd >= 0)
		(void)close(sfd);
}

int main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };
	char *resume_argv[9];
	char *envp[] = { NULL };

	/* execve() made the process dumpable again. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
	(void)prctl(PR_SET_NAME, HOLD_COMM);
	umask(077);
	openlog(HOLD_COMM, LOG_PID, LOG_AUTHPRIV);

	if (argc != 7 || strcmp(argv[1], "--user") ||
	    strcmp(argv[3], "--service") || strcmp(argv[5], "--config") ||
	    geteuid() != 0) {
		syslog(LOG_ERR, HOLD_NAME " is started by keyturn-agent only");
		return 2;
	}
	user = argv[2];
	if (chdir("/") < 0)
		syslog(LOG_WARNING, "%s: Failed to change to /, ignoring",
		       user);
	if (!check_fds())
		goto fail;

	wait_for_event();

	resume_argv[0] = HOLD_COMM;
	resume_argv[1] = KT_AGENT_MODE_RESUME;
	for (int i = 1; i < 7; i++)
		resume_argv[i + 1] = argv[i];
	resume_argv[8] = NULL;
	for (int i = 0; i < RESUME_TRIES; i++) {
		/* The image the agent ran from, even if the file was
		 * replaced or removed meanwhile: it knows this state. */
		fexecve(KT_AGENT_FD_AGENT, resume_argv, envp);
		syslog(LOG_ERR, "%s: Failed to resume keyturn-agent: %m", user);
		if (errno != EAGAIN && errno != ENOMEM && errno != ETXTBSY)
			break;
		sleep(1);
	}
fail:
	/* Nothing here can lock a volume. Exiting drops this session's
	 * count (the flock goes with the process) and closes the module's
	 * socket (the module sees EOF): another session's end, or
	 * keyturnctl lock, locks the user's volumes. */
	syslog(LOG_CRIT, "%s: session ends without its agent; volumes "
			 "stay open until the user's last session ends or "
			 "keyturnctl lock %s",
	       user, user);
	return 1;
}
