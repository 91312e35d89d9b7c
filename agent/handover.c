/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The agent's half of the hand-over to keyturn-hold (agent/hold.c): the
 * descriptors at fixed numbers (hold.h), the state the agent needs again
 * when the holder gives the process back, the execve() both ways.
 *
 * The state is text in a sealed memfd (format and strict parser in
 * lib/protocol.c): the user (uid, gid, name), the control socket's path
 * and the record of every volume this session opened or reused (the dm
 * name, UUID and device, the mount's identity, the eCryptfs auth tokens
 * it added, the busy policy), so that a resumed agent locks exactly
 * that without the config, NSS or any path. Key serials are not
 * secrets; no passphrase is ever in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "hold.h"


static bool fd_is(int fd, mode_t type)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static int set_cloexec(int fd, bool on)
{
	return fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0) < 0 ? kt_negerrno() : 0;
}

void agent_fds_reserve(bool resumed)
{
	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* Above the reserved numbers itself: opened at one of them, it
	 * would be closed below and free that number for the next open
	 * (syslog's socket), which a placed descriptor would then share. */
	if (null >= 0 && null < KT_AGENT_FD_END) {
		int high = fcntl(null, F_DUPFD_CLOEXEC, KT_AGENT_FD_END);

		(void)close(null);
		null = high;
	}
	for (int fd = KT_AGENT_FD_SESSIONS; fd < KT_AGENT_FD_END; fd++) {
		/* What the holder passed back stays, close-on-exec again. */
		if (resumed && set_cloexec(fd, true) == 0)
			continue;
		/* Anything else on these numbers is not ours: a
		 * placeholder keeps them from libraries' descriptors. */
		if (null >= 0)
			(void)dup3(null, fd, O_CLOEXEC);
	}
	if (resumed)
		return;
	/* The image to resume from the holder, even if the file is
	 * replaced meanwhile (an upgrade): it knows this state format. */
	{
		int exe = open("/proc/self/exe", O_PATH | O_CLOEXEC);

		if (exe >= 0 &&
		    agent_fd_place(exe, KT_AGENT_FD_AGENT) != KT_AGENT_FD_AGENT)
			(void)close(exe);
	}
}

int agent_fd_place(int fd, int target)
{
	/* Where it cannot move, it stays where it is: still valid, only
	 * not handed to the holder (agent_hold_exec() checks). */
	if (fd < 0 || fd == target || dup3(fd, target, O_CLOEXEC) < 0)
		return fd;
	(void)close(fd);
	return target;
}

static int state_write(struct agent *a)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	size_t off = 0;
	int n;

	snprintf(a->state.control, sizeof(a->state.control), "%s",
		 a->control >= 0 ? a->control_path : "");
	text = malloc(KT_STATE_MAX);
	if (!text)
		return -ENOMEM;
	n = kt_state_format(&a->state, text, KT_STATE_MAX);
	if (n < 0)
		return n;
	fd = memfd_create("keyturn-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return kt_negerrno();
	while (off < (size_t)n) {
		ssize_t w = write(fd, text + off, (size_t)n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? kt_negerrno() : -EIO;
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) <
	    0)
		return kt_negerrno();
	n = agent_fd_place(fd, KT_AGENT_FD_STATE);
	if (n < 0)
		return n;
	fd = -1;
	return 0;
}

/* keyturn-hold, beside the agent's own image (in LIBEXECDIR once
 * installed, in agent/ of a build tree for its tests). */
static int holder_path(char *buf, size_t size)
{
	static const char deleted[] = " (deleted)";
	char exe[4096];
	ssize_t n;
	size_t len;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return n < 0 ? kt_negerrno() : -ENOENT;
	exe[n] = '\0';
	len = (size_t)n;
	if (len > strlen(deleted) &&
	    !strcmp(exe + len - strlen(deleted), deleted))
		exe[len - strlen(deleted)] = '\0';
	if (exe[0] != '/')
		return -ENOENT;
	if ((size_t)snprintf(buf, size, "%s/%s", dirname(exe), HOLD_NAME) >=
	    size)
		return -ENAMETOOLONG;
	return 0;
}

int agent_hold_exec(struct agent *a)
{
	_cleanup_close_ int holder = -1;
	char path[4200];
	struct stat st;
	char *argv[] = { HOLD_COMM, "--user", a->user->name,
			 "--service", (char *)a->service,
			 "--config", (char *)a->config_path, NULL };
	char *envp[] = { NULL };
	int passed[] = { KT_AGENT_FD_MODULE, KT_AGENT_FD_SESSIONS,
			 KT_AGENT_FD_CONTROL, KT_AGENT_FD_STATE,
			 KT_AGENT_FD_AGENT };
	int r;

	/* The passphrase key was revoked after the open phase; nothing
	 * else secret outlives a request. */
	if (a->passphrase_key > 0)
		return -EBUSY;
	if (a->sock != KT_AGENT_FD_MODULE ||
	    (a->sessions_fd >= 0 && a->sessions_fd != KT_AGENT_FD_SESSIONS) ||
	    (a->control >= 0 && a->control != KT_AGENT_FD_CONTROL) ||
	    !fd_is(KT_AGENT_FD_AGENT, S_IFREG))
		return -EBADF;
	r = holder_path(path, sizeof(path));
	if (r < 0)
		return r;
	/* Root runs it: root's, writable by no one else, and executed as
	 * the very file checked. */
	holder = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (holder < 0)
		return kt_negerrno();
	if (fstat(holder, &st) < 0)
		return kt_negerrno();
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) ||
	    !(st.st_mode & S_IXUSR))
		return -EPERM;
	r = state_write(a);
	if (r < 0)
		return r;

	for (size_t i = 0; i < ELEMENTSOF(passed); i++) {
		int fd = passed[i];

		if ((fd == KT_AGENT_FD_SESSIONS && a->sessions_fd < 0) ||
		    (fd == KT_AGENT_FD_CONTROL && a->control < 0))
			continue; /* a placeholder: closed by execve() */
		(void)set_cloexec(fd, false);
	}
	closelog();
	fexecve(holder, argv, envp);
	r = kt_negerrno();

	openlog(HOLD_COMM, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	for (size_t i = 0; i < ELEMENTSOF(passed); i++)
		if (passed[i] != KT_AGENT_FD_MODULE)
			(void)set_cloexec(passed[i], true);
	return r;
}

/* The user of the session as the state names it: no NSS. */
static int state_user(struct agent *a)
{
	struct kt_user *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->name = strdup(a->state.user);
	if (!u->name) {
		kt_user_free(u);
		return -ENOMEM;
	}
	u->uid = a->state.uid;
	u->gid = a->state.gid;
	a->user = u;
	return 0;
}

int agent_resume(struct agent *a, const char *user, const char *config)
{
	_cleanup_free_ char *text = NULL;
	ssize_t n = 0;
	int r = 0;

	a->resumed = true;
	a->sessions_fd = fd_is(KT_AGENT_FD_SESSIONS, S_IFREG) ?
				 KT_AGENT_FD_SESSIONS : -1;
	a->control = hold_is_stream_socket(KT_AGENT_FD_CONTROL, true) ?
			     KT_AGENT_FD_CONTROL :
			     -1;
	/* Without its own image the holder cannot give the process back:
	 * hold here from now on. */
	a->holder_failed = !fd_is(KT_AGENT_FD_AGENT, S_IFREG);

	text = malloc(KT_STATE_MAX + 1);
	if (!text)
		return -ENOMEM;
	if (!fd_is(KT_AGENT_FD_STATE, S_IFREG))
		r = -EBADF;
	else if ((n = pread(KT_AGENT_FD_STATE, text, KT_STATE_MAX + 1, 0)) < 0)
		r = kt_negerrno();
	if (r < 0) {
		agent_log(LOG_ERR, "%s: Failed to read the state of the "
				   "session: %s",
			  user, strerror(-r));
		return r;
	}
	r = kt_state_parse(text, (size_t)n, &a->state);
	if (r < 0) {
		agent_log(LOG_ERR, "%s: Failed to parse the state of the "
				   "session: %s",
			  user, strerror(-r));
		return r;
	}
	snprintf(a->control_path, sizeof(a->control_path), "%s",
		 a->state.control);
	/* Everything teardown needs is in the state: the config and NSS
	 * may have changed since (a config edit applies to the next
	 * login). */
	return state_user(a);
}
