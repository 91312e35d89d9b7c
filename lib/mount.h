/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_MOUNT_H
#define KT_MOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/*
 * Paths under home directories are the user's: root opens them once,
 * component by component with O_PATH|O_NOFOLLOW from "/", checks what it
 * got through the descriptor, and then mounts or reads through that same
 * descriptor, so that a swap after the check changes nothing.
 */

/*
 * Opens the absolute directory path. Refused: a symlink anywhere on the
 * way (-ELOOP), a "." or ".." component (-EINVAL), something not a
 * directory (-ENOTDIR), a directory on the way not owned by root or
 * owner, or writable by group/other without the sticky bit (-EPERM), a
 * final directory not owned by owner (-EPERM), on proc, sysfs and other
 * kernel filesystems (-EXDEV). Returns the O_PATH descriptor.
 */
int kt_dir_open_checked(const char *path, uid_t owner) _wur_;

/*
 * 1 when the directory behind dir_fd (O_PATH will do; not consumed) has no
 * entry but "." and "..", 0 when it has some, -errno.
 */
int kt_dir_empty(int dir_fd) _wur_;

/*
 * Splits a mount option list into MS_* flags and the filesystem's data
 * string, always adding MS_NOSUID|MS_NODEV. -EINVAL for a refused option
 * (kt_mount_option_refused()) or a malformed list (lib/mount_options.c).
 */
int kt_mount_options(const char *options, unsigned long *ret_flags,
		     char **ret_data) _wur_;
/* Whether the option named name[0..len) is one keyturn refuses: suid,
 * dev, defaults (which means suid,dev), bind, rbind, move, remount. */
bool kt_mount_option_refused(const char *name, size_t len);

/* Mounts source (fstype, flags, data) on the directory behind dir_fd. */
int kt_mount_at(const char *source, int dir_fd, const char *fstype,
		unsigned long flags, const char *data) _wur_;

struct kt_mount_entry {
	int mnt_id;
	dev_t dev;
	char *target;
	char *fstype;
	char *source;
	char *options;   /* per-mount options: "rw,nosuid,nodev,..." */
};
void kt_mount_entry_clear(struct kt_mount_entry *e);

/*
 * The mount whose mount point is exactly target (the topmost one) from
 * /proc/self/mountinfo. 1 found, 0 not mounted.
 */
int kt_mount_find(const char *target, struct kt_mount_entry *ret) _wur_;

/* Unmounts target (never following a symlink); lazy: MNT_DETACH. */
int kt_umount(const char *target, bool lazy) _wur_;

/*
 * A mount as it was made: its id (statx STATX_MNT_ID) and the st_dev and
 * st_ino of its root, so that a later unmount finds that very mount and
 * nothing else, wherever it has been moved (a directory above renamed).
 */
struct kt_mount_id {
	uint64_t mnt_id;	/* as /proc/self/mountinfo names it */
	uint64_t unique;	/* STATX_MNT_ID_UNIQUE (Linux 6.8), never
				 * reused; 0 where the kernel has none */
	dev_t dev;
	uint64_t ino;
};

/*
 * The identity of the mount whose root is at path now. The parent is
 * opened as kt_dir_open_checked() opens a path (every directory on the
 * way root's or owner's, no symlink), the last component with
 * O_PATH|O_NOFOLLOW, which lands on what is mounted there. -ENOTCONN when
 * what is there is not the root of a mount.
 */
int kt_mount_identify(const char *path, uid_t owner,
		      struct kt_mount_id *ret) _wur_;

/*
 * Unmounts the mount id: at path, where it was mounted, when it is still
 * there, else where /proc/self/mountinfo says the mount with that id is
 * now. The last step never resolves a path again: umount2() runs on the
 * last component under a held descriptor of its parent, with
 * UMOUNT_NOFOLLOW, after that component was checked to be id (a mount
 * point cannot be renamed or removed while mounted). 0 unmounted (or
 * detached, lazy), -ENOENT when no mount with that identity exists any
 * more, -errno (-EBUSY) otherwise.
 */
int kt_umount_recorded(const char *path, uid_t owner,
		       const struct kt_mount_id *id, bool lazy) _wur_;

/* The mount with that id in /proc/self/mountinfo. 1 found, 0 not. */
int kt_mount_find_id(uint64_t mnt_id, struct kt_mount_entry *ret) _wur_;


#endif
