/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who keeps a volume busy, for the log and the busy policy: processes
 * with a file, working directory, root or mapping on a filesystem (a
 * mount that will not go), or on it at a directory or below (an fscrypt
 * directory whose key removal left files busy: it shares its filesystem
 * with everything else in /home, so the path, as /proc tells it, says
 * which holders are its own; open files keep their names readable after
 * the removal, which is what makes the paths usable here).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "holders.h"
#include "macro.h"

/* dir NULL: anywhere on the filesystem. */
static bool path_under(const char *path, const char *dir, size_t dir_len)
{
	if (!dir)
		return true;
	return strncmp(path, dir, dir_len) == 0 &&
	       (path[dir_len] == '\0' || path[dir_len] == '/');
}

/* The magic link NAME in dirfd (cwd, root, fd/N) points into dir. */
static bool link_under(int dirfd, const char *name, dev_t dev,
		       const char *dir, size_t dir_len)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (fstatat(dirfd, name, &st, 0) < 0 || st.st_dev != dev)
		return false;
	if (!dir)
		return true;
	n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return path_under(target, dir, dir_len);
}

static bool fds_under(int pidfd, dev_t dev, const char *dir, size_t dir_len)
{
	_cleanup_close_ int fdir = -1;
	struct dirent *de;
	bool hit = false;
	DIR *d;

	fdir = openat(pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdir < 0)
		return false;
	d = fdopendir(fdir);
	if (!d)
		return false;
	fdir = -1;
	while (!hit && (de = readdir(d)))
		if (de->d_name[0] != '.')
			hit = link_under(dirfd(d), de->d_name, dev, dir,
					 dir_len);
	closedir(d);
	return hit;
}

static bool maps_under(int pidfd, dev_t dev, const char *dir, size_t dir_len)
{
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	bool hit = false;
	int fd;
	FILE *f;

	fd = openat(pidfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return false;
	}
	/* "start-end perms offset maj:min inode   path" */
	while (!hit && getline(&line, &size, f) > 0) {
		unsigned maj, min;
		unsigned long ino;
		int at = 0;
		char *path;

		if (sscanf(line, "%*s %*s %*s %x:%x %lu %n", &maj, &min, &ino,
			   &at) < 3 ||
		    ino == 0 || makedev(maj, min) != dev || at <= 0)
			continue;
		path = line + at;
		path[strcspn(path, "\n")] = '\0';
		hit = path_under(path, dir, dir_len);
	}
	fclose(f);
	return hit;
}

/* The process behind the /proc/PID descriptor holds something there. */
static bool holds(int pidfd, dev_t dev, const char *dir, size_t len)
{
	return link_under(pidfd, "cwd", dev, dir, len) ||
	       link_under(pidfd, "root", dev, dir, len) ||
	       fds_under(pidfd, dev, dir, len) ||
	       maps_under(pidfd, dev, dir, len);
}

/* dir's length without trailing slashes (0 for NULL). */
static size_t dir_len(const char *dir)
{
	size_t len = dir ? strlen(dir) : 0;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	return len;
}

int kt_holders(dev_t dev, const char *dir, pid_t *pids, int max)
{
	size_t len = dir_len(dir);
	struct dirent *de;
	int n = 0;
	DIR *proc;

	if ((dir && dir[0] != '/') || !pids || max < 0)
		return -EINVAL;
	proc = opendir("/proc");
	if (!proc)
		return kt_negerrno();
	while (n < max && (de = readdir(proc))) {
		_cleanup_close_ int pidfd = -1;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid())
			continue;
		pidfd = openat(dirfd(proc), de->d_name,
			       O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pidfd < 0)
			continue;
		if (holds(pidfd, dev, dir, len))
			pids[n++] = (pid_t)pid;
	}
	closedir(proc);
	return n;
}

static int pidfd_open_(pid_t pid)
{
	long r = syscall(SYS_pidfd_open, pid, 0);

	return r < 0 ? kt_negerrno() : (int)r;
}

static int pidfd_send_signal_(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ?
		       kt_negerrno() :
		       0;
}

int kt_holder_signal(pid_t pid, uid_t owner, dev_t dev, const char *dir,
		     int sig)
{
	_cleanup_close_ int pidfd = -1, proc = -1;
	char path[32];
	struct stat st;
	int r;

	if (pid <= 0 || (dir && dir[0] != '/'))
		return -EINVAL;
	/* First the pidfd: from here on, what /proc/PID shows is this
	 * process as long as the pidfd's process lives, and a signal
	 * through the pidfd never reaches another one. */
	pidfd = pidfd_open_(pid);
	if (pidfd < 0)
		return pidfd == -ESRCH ? 0 : pidfd;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	proc = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return errno == ENOENT ? 0 : kt_negerrno();
	if (fstat(proc, &st) < 0)
		return kt_negerrno();
	if (st.st_uid != owner)
		return 0;
	if (!holds(proc, dev, dir, dir_len(dir)))
		return 0;
	r = pidfd_send_signal_(pidfd, sig);
	if (r == -ESRCH)
		return 0; /* it ended: whatever has its pid now is spared */
	return r < 0 ? r : 1;
}
