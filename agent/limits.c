/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource limits: an agent started from a set-uid program (passwd) or a
 * user's session inherits limits the user chose. Low ones would make it
 * fail half-way or, worse, stop where the user wants: RLIMIT_FSIZE sends
 * SIGXFSZ in the middle of a LUKS2 header write, RLIMIT_CPU SIGXCPU in
 * the middle of a re-key, RLIMIT_AS makes Argon2 fail. As root the agent
 * may raise them; it sets what it needs, whatever came in.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>

#include "agent.h"

/* Enough descriptors for libcryptsetup, the config, the locks and the
 * sockets of one session; the kernel's default soft limit. */
#define AGENT_NOFILE 1024
/* glibc's and the kernel's default stack. */
#define AGENT_STACK (8UL * 1024 * 1024)

static const struct {
	int resource;
	const char *name;
	rlim_t value; /* RLIM_INFINITY or a floor */
} limits[] = {
	{ RLIMIT_CPU, "RLIMIT_CPU", RLIM_INFINITY },
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", RLIM_INFINITY },
	{ RLIMIT_DATA, "RLIMIT_DATA", RLIM_INFINITY },
	{ RLIMIT_AS, "RLIMIT_AS", RLIM_INFINITY },
	{ RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", RLIM_INFINITY },
	{ RLIMIT_STACK, "RLIMIT_STACK", AGENT_STACK },
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", AGENT_NOFILE },
};

void agent_reset_limits(void)
{
	for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
		struct rlimit want = { limits[i].value, limits[i].value };
		struct rlimit have;

		if (getrlimit(limits[i].resource, &have) < 0)
			continue;
		/* A floor: never lower what is above it already. */
		if (limits[i].value != RLIM_INFINITY) {
			if (have.rlim_cur != RLIM_INFINITY &&
			    have.rlim_cur > want.rlim_cur)
				want.rlim_cur = have.rlim_cur;
			if (have.rlim_max == RLIM_INFINITY ||
			    have.rlim_max > want.rlim_max)
				want.rlim_max = have.rlim_max;
		}
		if (have.rlim_cur == want.rlim_cur &&
		    have.rlim_max == want.rlim_max)
			continue;
		if (setrlimit(limits[i].resource, &want) == 0)
			continue;
		/* Without CAP_SYS_RESOURCE (a container) the hard limit
		 * cannot go up: the soft one can, as far as the hard. */
		want = (struct rlimit){ have.rlim_max, have.rlim_max };
		if (setrlimit(limits[i].resource, &want) < 0 ||
		    have.rlim_max != limits[i].value)
			agent_log(LOG_WARNING,
				  "Failed to reset %s, now %llu: %s, ignoring",
				  limits[i].name,
				  (unsigned long long)want.rlim_cur,
				  strerror(errno));
	}
}
