/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting keyturn-agent: its argv and its descriptors (agent_spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent_spawn.h"
#include "rlimit.h"

int kt_agent_argv(const struct kt_agent_start *s,
		  char *argv[KT_AGENT_ARGV_MAX])
{
	size_t n = 0;

	if (!s->agent || s->agent[0] != '/' || !s->user || !s->config)
		return -EINVAL;
	argv[n++] = (char *)"keyturn-agent";
	if (s->mode)
		argv[n++] = (char *)s->mode;
	argv[n++] = (char *)"--user";
	argv[n++] = (char *)s->user;
	if (s->service) {
		argv[n++] = (char *)"--service";
		argv[n++] = (char *)s->service;
	}
	argv[n++] = (char *)"--config";
	argv[n++] = (char *)s->config;
	argv[n] = NULL;
	return 0;
}

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

/*
 * Root in full: a host like su or passwd runs with the caller's real
 * uid, and a process whose real or saved uid is the caller's can be
 * signalled by them. Limits the caller set (no memory to lock, a file
 * size, a CPU time) must not subvert the agent either. Raw system calls:
 * this is the only thread of a child that glibc may think has others.
 */
static int become_root(void)
{
	if (syscall(SYS_setgroups, 0, NULL) < 0 ||
	    syscall(SYS_setresgid, 0, 0, 0) < 0 ||
	    syscall(SYS_setresuid, 0, 0, 0) < 0)
		return -1;
	(void)kt_limits_reset();
	return 0;
}

_Noreturn void kt_agent_exec(const struct kt_agent_start *s,
			     char *const argv[])
{
	static char *const envp[] = { NULL };
	const int above = KT_AGENT_FD_PASSPHRASE + 1;
	int fd = -1, xfd = -1, last = STDERR_FILENO;

	if (s->detach && (setsid() < 0 || become_root() < 0))
		_exit(127);

	/* The caller's descriptors may sit anywhere, 0..4 included: move
	 * them out of the way first, then lay out 0-4. */
	if (s->module_fd >= 0 &&
	    (fd = fcntl(s->module_fd, F_DUPFD, above)) < 0)
		_exit(127);
	if (s->extra_fd >= 0 &&
	    (xfd = fcntl(s->extra_fd, F_DUPFD, above)) < 0)
		_exit(127);
	if (s->detach) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0)
			_exit(127);
		for (int i = 0; i <= 2; i++)
			if (dup2(null, i) < 0)
				_exit(127);
	}
	/* dup2() leaves the new descriptor without close-on-exec. */
	if (fd >= 0) {
		if (dup2(fd, KT_AGENT_FD_MODULE) < 0)
			_exit(127);
		last = KT_AGENT_FD_MODULE;
	}
	if (xfd >= 0) {
		if (dup2(xfd, KT_AGENT_FD_PASSPHRASE) < 0)
			_exit(127);
		last = KT_AGENT_FD_PASSPHRASE;
	}
	close_from(last + 1);

	if (s->detach) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigset_t none;

		sigemptyset(&dfl.sa_mask);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				(void)sigaction(sig, &dfl, NULL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
	}
	execve(s->agent, argv, envp);
	_exit(127);
}

int kt_agent_spawn(const struct kt_agent_start *s, pid_t *ret_pid)
{
	char *argv[KT_AGENT_ARGV_MAX];
	pid_t pid;
	int r;

	r = kt_agent_argv(s, argv);
	if (r < 0)
		return r;
	pid = fork();
	if (pid < 0)
		return kt_negerrno();
	if (pid == 0)
		kt_agent_exec(s, argv);
	*ret_pid = pid;
	return 0;
}
