/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>
#include <sys/resource.h>

#include "rlimit.h"

/* Enough descriptors for libcryptsetup, the config, the locks and the
 * sockets of one session; the kernel's default soft limit. */
#define KT_NOFILE 1024
/* glibc's and the kernel's default stack. */
#define KT_STACK (8UL * 1024 * 1024)

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
	{ RLIMIT_STACK, "RLIMIT_STACK", KT_STACK },
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", KT_NOFILE },
};

const char *kt_limits_name(unsigned i)
{
	return i < ELEMENTSOF(limits) ? limits[i].name : NULL;
}

unsigned kt_limits_reset(void)
{
	unsigned short_of = 0;

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
		want = (struct rlimit){ have.rlim_max, have.rlim_max };
		if (setrlimit(limits[i].resource, &want) < 0 ||
		    have.rlim_max != limits[i].value)
			short_of |= 1U << i;
	}
	return short_of;
}
