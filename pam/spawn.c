/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting the agent from inside an arbitrary PAM host (sshd, login, gdm,
 * su...): nothing of the host may leak into the agent, and nothing the
 * agent does may disturb the host. Between clone() and execve() only
 * async-signal-safe calls and raw system calls: the host may have threads.
 * The exec and the descriptor layout are lib/agent_spawn.c's, shared with
 * keyturnctl; the double clone below is the module's own.
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

#include "agent_spawn.h"
#include "pam_keyturn.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

int kt_pam_spawn_agent_mode(const char *agent, const char *mode,
			    const char *user, const char *service,
			    const char *config, int extra_fd, int *ret_fd)
{
	struct kt_agent_start start = {
		.agent = agent, .mode = mode, .user = user,
		.service = service, .config = config,
		.module_fd = -1, .extra_fd = extra_fd, .detach = true,
	};
	char *argv[KT_AGENT_ARGV_MAX];
	_cleanup_close_ int ours = -1, theirs = -1, pidfd = -1;
	siginfo_t info = { 0 };
	int sv[2];
	long pid;

	/* The argv before any clone: nothing is allocated after it. */
	if (!service || !ret_fd || kt_agent_argv(&start, argv) < 0)
		return -EINVAL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return kt_negerrno();
	ours = sv[0];
	theirs = sv[1];
	start.module_fd = theirs;

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
			kt_agent_exec(&start, argv);
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
