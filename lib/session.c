/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "session.h"

/* Opens AT/NAME, a directory that must be root's and writable by no one
 * else; with CREATE, makes it and gives it mode 0755 whatever the umask
 * (the agent runs with 077, and a user must still reach the control
 * sockets inside). Through descriptors, so that nothing on the way is a
 * symlink. */
static int open_root_dir(int at, const char *name, bool create)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (create && mkdirat(at, name, 0755) < 0 && errno != EEXIST)
		return kt_negerrno();
	/* O_RDONLY, not O_PATH, where fchmod() must work on it. */
	fd = openat(at, name,
		    (create ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();
	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	if (st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	if (create && (st.st_mode & 07777) != 0755 && fchmod(fd, 0755) < 0)
		return kt_negerrno();
	return TAKE_FD(fd);
}

/* RUNDIR and RUNDIR/UID: root's, mode 0755. The user may find and reach
 * their agents' control sockets inside (each 0600, the user's); the lock
 * files are root's, 0600. Only root may write here. */
int kt_session_dir(uid_t uid, bool create)
{
	_cleanup_close_ int run = -1;
	char name[32];

	run = open_root_dir(AT_FDCWD, KT_RUNDIR, create);
	if (run < 0)
		return run;
	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	return open_root_dir(run, name, create);
}

static int open_lock_file(uid_t uid, const char *name, bool create)
{
	_cleanup_close_ int dir = kt_session_dir(uid, create);
	int fd;

	if (dir < 0)
		return dir;
	fd = openat(dir, name,
		    O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
			    (create ? O_CREAT : 0),
		    0600);
	if (fd < 0)
		return kt_negerrno();
	return fd;
}

static int lock_retry(int fd, int op)
{
	while (flock(fd, op) < 0) {
		if (errno != EINTR)
			return kt_negerrno();
	}
	return 0;
}

int kt_session_join(uid_t uid)
{
	_cleanup_close_ int fd = open_lock_file(uid, "sessions", true);
	int r;

	if (fd < 0)
		return fd;
	r = lock_retry(fd, LOCK_SH);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int kt_session_lock(uid_t uid)
{
	_cleanup_close_ int fd = open_lock_file(uid, "lock", true);
	int r;

	if (fd < 0)
		return fd;
	r = lock_retry(fd, LOCK_EX);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int kt_session_leave(int *sessions_fd)
{
	int r;

	/* flock() may drop the shared lock before it tries the exclusive
	 * one; if two last agents race, one of them gets it, which is all
	 * that matters. */
	r = lock_retry(*sessions_fd, LOCK_EX | LOCK_NB);
	if (r == -EWOULDBLOCK) {
		*sessions_fd = kt_close(*sessions_fd);
		return 0;
	}
	if (r < 0)
		return r;
	return 1;
}

int kt_session_count(uid_t uid)
{
	/* Only looks: a user who never logged in has no directory. */
	_cleanup_close_ int fd = open_lock_file(uid, "sessions", false);
	char line[256];
	struct stat st;
	FILE *f;
	int n = 0;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	f = fopen("/proc/locks", "re");
	if (!f)
		return kt_negerrno();
	/* "1: FLOCK  ADVISORY  READ 1234 fe:01:5678 0 EOF" */
	while (fgets(line, sizeof(line), f)) {
		char kind[16], mode[16];
		unsigned maj, min;
		unsigned long ino;
		int pid;

		if (strstr(line, "->"))
			continue; /* a waiter, not a holder */
		if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%lu", kind, mode,
			   &pid, &maj, &min, &ino) != 6)
			continue;
		if (strcmp(kind, "FLOCK") || ino != st.st_ino)
			continue;
		if (makedev(maj, min) != st.st_dev)
			continue;
		n++;
	}
	fclose(f);
	return n;
}
