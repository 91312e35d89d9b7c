/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting the agent from inside an arbitrary PAM host (sshd, login, gdm,
 * su...): nothing of the host may leak into the agent, and nothing the
 * agent does may disturb the host. Between fork() and execve() only
 * async-signal-safe calls: the host may have threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pam_keyturn.h"

#define AGENT_FD 3
#define EXTRA_FD 4

static void close_from(int first)
{
	struct rlimit rl;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
		return;
#endif
	/* Older kernels: every possible descriptor. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 1 << 20)
		rl.rlim_cur = 1 << 16;
	for (int fd = first; fd < (int)rl.rlim_cur; fd++)
		(void)close(fd);
}

/* The grandchild: becomes the agent or exits 127. extra, when >= 0,
 * becomes fd 4. */
static _Noreturn void agent_exec(int sock, int extra, const char *agent,
				 char *const argv[])
{
	static char *const envp[] = { NULL };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int fd, xfd = -1, null;

	if (setsid() < 0)
		_exit(127);

	/* Our ends may sit anywhere, 0..4 included: move them out of the
	 * way first, then lay out 0-4. */
	fd = fcntl(sock, F_DUPFD, EXTRA_FD + 1);
	if (fd < 0)
		_exit(127);
	if (extra >= 0) {
		xfd = fcntl(extra, F_DUPFD, EXTRA_FD + 1);
		if (xfd < 0)
			_exit(127);
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		_exit(127);
	for (int i = 0; i <= 2; i++)
		if (dup2(null, i) < 0)
			_exit(127);
	/* dup2() leaves the new descriptor without close-on-exec. */
	if (dup2(fd, AGENT_FD) < 0)
		_exit(127);
	if (xfd >= 0 && dup2(xfd, EXTRA_FD) < 0)
		_exit(127);
	close_from(xfd >= 0 ? EXTRA_FD + 1 : AGENT_FD + 1);

	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	execve(agent, argv, envp);
	_exit(127);
}

int kt_pam_spawn_agent(const char *agent, const char *user,
		       const char *service, const char *config, int *ret_fd)
{
	return kt_pam_spawn_agent_mode(agent, NULL, user, service, config, -1,
				       ret_fd);
}

int kt_pam_spawn_agent_mode(const char *agent, const char *mode,
			    const char *user, const char *service,
			    const char *config, int extra_fd, int *ret_fd)
{
	char *const argv[] = {
		(char *)"keyturn-agent", (char *)"--user", (char *)user,
		(char *)"--service", (char *)service, (char *)"--config",
		(char *)config, NULL,
	};
	char *const argv_mode[] = {
		(char *)"keyturn-agent", (char *)mode, (char *)"--user",
		(char *)user, (char *)"--service", (char *)service,
		(char *)"--config", (char *)config, NULL,
	};
	struct sigaction dfl = { .sa_handler = SIG_DFL }, saved;
	_cleanup_close_ int ours = -1, theirs = -1;
	int sv[2], status = 0, r = 0;
	pid_t pid;

	if (!agent || agent[0] != '/' || !user || !service || !config ||
	    !ret_fd)
		return -EINVAL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return kt_negerrno();
	ours = sv[0];
	theirs = sv[1];

	/* The host's SIGCHLD handler (or SIG_IGN, which would reap for us)
	 * must not see the intermediate child. */
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &saved) < 0)
		return kt_negerrno();

	pid = fork();
	if (pid < 0) {
		r = kt_negerrno();
		goto out;
	}
	if (pid == 0) {
		/* The intermediate: its only job is to make the agent an
		 * orphan that init reaps, not the host. */
		pid_t agent_pid = fork();

		if (agent_pid == 0)
			agent_exec(theirs, extra_fd, agent,
				   mode ? argv_mode : argv);
		_exit(agent_pid < 0 ? 1 : 0);
	}

	theirs = kt_close(theirs);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = kt_negerrno();
			goto out;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		r = -EAGAIN; /* the second fork failed */

out:
	(void)sigaction(SIGCHLD, &saved, NULL);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(ours);
	return 0;
}
