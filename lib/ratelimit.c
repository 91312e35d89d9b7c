/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rate limits that survive the agent's hand-over to keyturn-hold and hold
 * across all the sessions of a user: the times of recent attempts in a
 * small root-owned file under RUNDIR/UID, read and written under an
 * exclusive flock. /run is empty at boot, so boot-time seconds do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit.h"
#include "session.h"

#define KT_RATELIMIT_MAX_ATTEMPTS 64

int kt_ratelimit_step(uint64_t *times, size_t n, size_t max, uint64_t now,
		      uint64_t window, size_t *ret_n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		/* A time ahead of now (a clock that went back) counts as
		 * recent: it never opens the gate early. */
		if (times[i] > now || now - times[i] < window)
			times[kept++] = times[i];
	if (kept >= max) {
		*ret_n = kept;
		return -EBUSY;
	}
	times[kept++] = now;
	*ret_n = kept;
	return 0;
}

int kt_ratelimit_take(uid_t uid, const char *name, unsigned max,
		      unsigned window_s)
{
	_cleanup_close_ int dir = -1, fd = -1;
	uint64_t times[KT_RATELIMIT_MAX_ATTEMPTS];
	struct timespec ts;
	struct stat st;
	size_t n = 0, kept = 0;
	ssize_t got;
	int r;

	if (!name || max == 0 || max > KT_RATELIMIT_MAX_ATTEMPTS)
		return -EINVAL;
	dir = kt_session_dir(uid, true);
	if (dir < 0)
		return dir;
	fd = openat(dir, name,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		    0600);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kt_negerrno();
	if (!S_ISREG(st.st_mode) || st.st_uid != 0)
		return -EPERM;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return kt_negerrno();
	got = pread(fd, times, sizeof(times), 0);
	if (got < 0)
		return kt_negerrno();
	n = (size_t)got / sizeof(times[0]);
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return kt_negerrno();
	r = kt_ratelimit_step(times, n, max, (uint64_t)ts.tv_sec, window_s,
			      &kept);
	if (pwrite(fd, times, kept * sizeof(times[0]), 0) < 0 ||
	    ftruncate(fd, (off_t)(kept * sizeof(times[0]))) < 0)
		return kt_negerrno();
	return r;
}
