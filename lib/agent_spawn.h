/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_AGENT_SPAWN_H
#define KT_AGENT_SPAWN_H

/*
 * Starting keyturn-agent, for pam_keyturn.so and keyturnctl: one argv,
 * one descriptor layout (lib/agent_fds.h), one exec. How the child is
 * made is the caller's: the module clones twice so that the agent is
 * init's orphan and the PAM host never sees it (pam/spawn.c); keyturnctl
 * forks once and waits (kt_agent_spawn).
 */

#include <stdbool.h>
#include <sys/types.h>

#include "agent_fds.h"
#include "macro.h"

struct kt_agent_start {
	const char *agent;   /* absolute path */
	const char *mode;    /* KT_AGENT_MODE_..., NULL: a session agent */
	const char *user;
	const char *service; /* NULL: no --service */
	const char *config;
	int module_fd;	     /* becomes KT_AGENT_FD_MODULE, or -1 */
	int extra_fd;	     /* becomes KT_AGENT_FD_PASSPHRASE, or -1 */
	/* The module's: a session of its own, root in full (real and saved
	 * uid too, limits reset), 0-2 on /dev/null, signals reset.
	 * Otherwise 0-2 stay the caller's. */
	bool detach;
};

#define KT_AGENT_ARGV_MAX 10

/* The agent's argv, into argv (pointers into s): built before the fork,
 * where allocating is still allowed. -EINVAL for a missing field or a
 * relative agent path. */
int kt_agent_argv(const struct kt_agent_start *s,
		  char *argv[KT_AGENT_ARGV_MAX]) _wur_;

/*
 * In the new child: lays out the descriptors (every other one closed),
 * then execve()s with an empty environment; _exit(127) when it cannot.
 * Only async-signal-safe calls and raw system calls: the parent may have
 * had threads.
 */
_Noreturn void kt_agent_exec(const struct kt_agent_start *s,
			     char *const argv[]);

/* keyturnctl's: fork() and kt_agent_exec(); *ret_pid is the agent, the
 * caller's child to wait for (exit 127: it could not be started). */
int kt_agent_spawn(const struct kt_agent_start *s, pid_t *ret_pid) _wur_;

#endif
