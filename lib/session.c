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

/* RUNDIR and RUNDIR/UID: root-owned, not writable by others. Created
 * through descriptors so that nothing on the way is a symlink. */
int kt_session_dir(uid_t uid, bool create)
{
	_cleanup_close_ int run = -1;
	char name[32];
	struct stat st;
	int fd;

	if (create && mkdir(KT_RUNDIR, 0755) < 0 && errno != EEXIST)
		return kt_negerrno();
	run = open(KT_RUNDIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (run < 0)
		return kt_negerrno();
	if (fstat(run, &st) < 0)
		return kt_negerrno();
	if (st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;

	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	/* 0755: the user may find and reach their agents' control
	 * sockets inside (each 0600, the user's); the lock files are 0600
	 * root's. Only root may write here. */
	if (create && mkdirat(run, name, 0755) < 0 && errno != EEXIST)
		return kt_negerrno();
	fd = openat(run, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();
	if (fstat(fd, &st) < 0) {
		int r = kt_negerrno();

		close(fd);
		return r;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
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
