/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl enroll ecryptfs: the paths of a private directory in the
 * user's home, which the user controls. Root opens the parent of each
 * once with kt_dir_open_checked() and acts relative to that descriptor,
 * never following a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "ecryptfs_place.h"
#include "mount.h"

void ctl_place_clear(struct place *p)
{
	p->parent = kt_close(p->parent);
}

/* The parent must belong to the user (a home) or to root (/home). */
static int open_parent(const char *dir, uid_t uid)
{
	int fd = kt_dir_open_checked(dir, uid);

	if (fd == -EPERM && uid != 0)
		fd = kt_dir_open_checked(dir, 0);
	return fd;
}

/*
 * Opens the parent of p->path and looks at what is there: nothing, or a
 * directory of the user. Prints the refusal.
 */
int ctl_place_open(struct place *p, uid_t uid)
{
	_cleanup_free_ char *dir_copy = NULL, *name_copy = NULL;
	const char *name;
	struct stat st;

	dir_copy = strdup(p->path);
	name_copy = strdup(p->path);
	if (!dir_copy || !name_copy) {
		ctl_fail(-ENOMEM, "check %s", p->path);
		return -ENOMEM;
	}
	name = basename(name_copy);
	if (p->path[0] != '/' || !strcmp(name, "/") || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strlen(name) > NAME_MAX) {
		ctl_error("The %s %s is refused: %s", p->what, p->path,
			  ctl_dir_refusal(-EINVAL));
		return -EINVAL;
	}
	strcpy(p->name, name);
	p->parent = open_parent(dirname(dir_copy), uid);
	if (p->parent < 0) {
		ctl_error("The %s %s is refused: %s: %s", p->what, p->path,
			  dir_copy, ctl_dir_refusal(p->parent));
		return p->parent;
	}
	if (fstatat(p->parent, p->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int r = kt_negerrno();

		if (r == -ENOENT)
			return 0;
		ctl_fail(r, "look at %s", p->path);
		return r;
	}
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode) || st.st_uid != uid) {
		int r = S_ISLNK(st.st_mode)  ? -ELOOP
			: !S_ISDIR(st.st_mode) ? -ENOTDIR
					       : -EPERM;

		ctl_error("The %s %s is refused: %s", p->what, p->path,
			  ctl_dir_refusal(r));
		return r;
	}
	p->existed = true;
	return 0;
}

/* A directory of the place, opened for reading, never through a symlink. */
int ctl_place_dir(const struct place *p, uid_t uid)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = openat(p->parent, p->name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();
	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	if (st.st_uid != uid)
		return -EPERM;
	return TAKE_FD(fd);
}

/* 1 when the existing directory has no entry, 0 when it has some. */
int ctl_place_empty(const struct place *p, uid_t uid)
{
	_cleanup_close_ int fd = ctl_place_dir(p, uid);

	return fd < 0 ? fd : kt_dir_empty(fd);
}

/* Creates the directory if it is not there: the user's, mode 0700. */
int ctl_place_make(struct place *p, uid_t uid, gid_t gid)
{
	_cleanup_close_ int fd = -1;

	if (p->existed)
		return 0;
	if (mkdirat(p->parent, p->name, 0700) < 0)
		return kt_negerrno();
	p->created = true;
	/* Root made it: a directory of root until the chown. */
	fd = ctl_place_dir(p, 0);
	if (fd < 0)
		return fd;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0)
		return kt_negerrno();
	return 0;
}

void ctl_place_undo(struct place *p)
{
	/* Only if still empty: rmdir refuses anything else. */
	if (p->created)
		(void)unlinkat(p->parent, p->name, AT_REMOVEDIR);
	p->created = false;
}
