/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting the agent from inside an arbitrary PAM host (sshd, login, gdm,
 * su...): nothing of the host may leak into the agent, and nothing the
 * agent does may disturb the host. Between clone() and execve() only
 * async-signal-safe calls and raw system calls: the host may have threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rlimit.h"
#include "pam_keyturn.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

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

/* The grandchild: becomes the agent or exits 127. extra, when >= 0,
 * becomes fd 4. */
static _Noreturn void agent_exec(int sock, int extra, const char *agent,
				 char *const argv[])
{
	static char *const envp[] = { NULL };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int fd, xfd = -1, null;

	if (setsid() < 0 || become_root() < 0)
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
	_cleanup_close_ int ours = -1, theirs = -1, pidfd = -1;
	siginfo_t info = { 0 };
	int sv[2];
	long pid;

	if (!agent || agent[0] != '/' || !user || !service || !config ||
	    !ret_fd)
		return -EINVAL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return kt_negerrno();
	ours = sv[0];
	theirs = sv[1];

	/*
	 * The intermediate child exits without a signal (exit_signal 0) and
	 * is waited for through its pidfd: the host's SIGCHLD handler never
	 * runs for it and a host thread's waitpid(-1) cannot take it (that
	 * needs __WALL), so nothing host-wide is touched. Its only job is
	 * to make the agent an orphan that init reaps, not the host.
	 * clone(), not clone3(): service managers' seccomp filters refuse
	 * the latter with ENOSYS.
	 */
	pid = syscall(SYS_clone, (unsigned long)CLONE_PIDFD, 0UL, &pidfd, 0UL,
		      0UL);
	if (pid < 0)
		return kt_negerrno();
	if (pid == 0) {
		long agent_pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);

		if (agent_pid == 0)
			agent_exec(theirs, extra_fd, agent,
				   mode ? argv_mode : argv);
		syscall(SYS_exit_group, agent_pid < 0 ? 1 : 0);
		_exit(1);
	}

	theirs = kt_close(theirs);
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info,
		      WEXITED | __WALL) < 0)
		if (errno != EINTR)
			return kt_negerrno();
	if (info.si_code != CLD_EXITED || info.si_status != 0)
		return -EAGAIN; /* the second fork failed */
	*ret_fd = TAKE_FD(ours);
	return 0;
}
