/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who keeps an fscrypt directory's key busy after a removal
 * (KT_FSCRYPT_REMOVED_FILES_BUSY), for the log. Unlike a mount, the
 * directory shares its filesystem with everything else in /home, so a
 * holder is a process with a file, working directory, root or mapping
 * on that filesystem whose path, as /proc tells it, is the directory or
 * below it. Open files keep their names readable after the removal, which
 * is what makes the paths usable here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fscrypt_meta.h"

static bool path_under(const char *path, const char *dir, size_t dir_len)
{
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

int kt_fscrypt_holders(dev_t dev, const char *dir, pid_t *pids, int max)
{
	struct dirent *de;
	size_t dir_len;
	int n = 0;
	DIR *proc;

	if (!dir || dir[0] != '/' || !pids || max < 0)
		return -EINVAL;
	dir_len = strlen(dir);
	while (dir_len > 1 && dir[dir_len - 1] == '/')
		dir_len--;
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
		if (link_under(pidfd, "cwd", dev, dir, dir_len) ||
		    link_under(pidfd, "root", dev, dir, dir_len) ||
		    fds_under(pidfd, dev, dir, dir_len) ||
		    maps_under(pidfd, dev, dir, dir_len))
			pids[n++] = (pid_t)pid;
	}
	closedir(proc);
	return n;
}
