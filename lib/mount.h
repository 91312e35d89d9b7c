/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_MOUNT_H
#define KT_MOUNT_H

#include <stdbool.h>
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
 * Splits a mount option list into MS_* flags and the filesystem's data
 * string, always adding MS_NOSUID|MS_NODEV. -EINVAL for an option that
 * would undo them (suid, dev) or a malformed list.
 */
int kt_mount_options(const char *options, unsigned long *ret_flags,
		     char **ret_data) _wur_;

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
 * Pids of processes that hold something on the filesystem dev (open fd,
 * cwd, root, mapped file), at most max. Returns the count found.
 */
int kt_mount_holders(dev_t dev, pid_t *pids, int max) _wur_;

#endif
