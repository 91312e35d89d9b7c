/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn.conf from the file system: the checks root makes before it
 * believes a file (owner, mode, no symlink, size), then the pure parser
 * (lib/config.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"

static const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFLNK:
		return "a symbolic link";
	}
	return "not a regular file";
}

/* Owner root and no write bit for group or other (sticky dirs aside). */
static int check_owner_mode(const char *what, const struct stat *st,
			    bool directory, struct kt_diag *diag)
{
	const char *label = directory ? "directory " : "";
	mode_t mode = st->st_mode & 07777;

	if (st->st_uid != 0) {
		kt_config_diag_set(diag,
			"%s: %sowned by uid %u, not root, refusing it",
			what, label, (unsigned)st->st_uid);
		return -EPERM;
	}
	if (directory && (mode & S_ISVTX))
		return 0;
	if (mode & (S_IWGRP | S_IWOTH)) {
		kt_config_diag_set(diag,
			"%s: %swritable by %s (mode %04o), refusing it", what,
			label,
			(mode & S_IWGRP) && (mode & S_IWOTH) ? "group and other"
			: (mode & S_IWGRP)		    ? "group"
			: "other",
			(unsigned)mode);
		return -EPERM;
	}
	return 0;
}

int kt_config_load(const char *path, struct kt_config **ret,
		   struct kt_diag *diag)
{
	_cleanup_close_ int dir_fd = -1, fd = -1;
	_cleanup_free_ char *dir = NULL, *text = NULL;
	const char *base, *slash;
	struct stat st;
	size_t len = 0;
	int r;

	if (!path)
		path = KT_CONFIG_PATH;
	slash = strrchr(path, '/');
	if (slash) {
		dir = slash == path ? strdup("/")
				    : strndup(path, (size_t)(slash - path));
		base = slash + 1;
	} else {
		dir = strdup(".");
		base = path;
	}
	if (!dir)
		return -ENOMEM;
	if (!*base) {
		kt_config_diag_set(diag, "%s: not a file name", path);
		return -EINVAL;
	}

	/* Check the directory, then open the file relative to the very
	 * directory that was checked. */
	dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		r = kt_negerrno();
		kt_config_diag_set(diag, "%s: cannot open directory %s: %s",
				   path, dir,
				   strerror(-r));
		return r;
	}
	if (fstat(dir_fd, &st) < 0) {
		r = kt_negerrno();
		kt_config_diag_set(diag, "%s: cannot stat directory %s: %s",
				   path, dir,
				   strerror(-r));
		return r;
	}
	r = check_owner_mode(dir, &st, true, diag);
	if (r < 0)
		return r;

	fd = openat(dir_fd, base,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = kt_negerrno();
		if (r == -ELOOP)
			kt_config_diag_set(diag,
				"%s: is a symbolic link, refusing to follow it",
				path);
		else if (r == -ENOENT)
			kt_config_diag_set(diag, "%s: does not exist", path);
		else
			kt_config_diag_set(diag, "%s: cannot open: %s", path,
					   strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = kt_negerrno();
		kt_config_diag_set(diag, "%s: cannot stat: %s", path,
				   strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		kt_config_diag_set(diag,
				   "%s: is %s, not a regular file, refusing it",
				   path, file_type_name(st.st_mode));
		return -EPERM;
	}
	r = check_owner_mode(path, &st, false, diag);
	if (r < 0)
		return r;

	/* Read one byte past the limit so that the parser can refuse it;
	 * st_size is only a hint for a file that may still grow. */
	text = malloc(KT_CONFIG_MAX + 1);
	if (!text)
		return -ENOMEM;
	while (len < KT_CONFIG_MAX + 1) {
		ssize_t n = read(fd, text + len, KT_CONFIG_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = kt_negerrno();
			kt_config_diag_set(diag, "%s: cannot read: %s", path,
					   strerror(-r));
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return kt_config_parse(text, len, path, ret, diag);
}

