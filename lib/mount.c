/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <signal.h>
#include <unistd.h>

#include "mount.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

#ifndef DEVPTS_SUPER_MAGIC
#define DEVPTS_SUPER_MAGIC 0x1cd1
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef CONFIGFS_MAGIC
#define CONFIGFS_MAGIC 0x62656570
#endif

/* Filesystems of the kernel's own objects: never a mount point for a
 * user's volume (ecryptfs-utils' CVE-2016-1572 mounted over /proc/PID). */
static int on_kernel_fs(int fd)
{
	static const long kernel_fs[] = {
		PROC_SUPER_MAGIC,    SYSFS_MAGIC,	DEVPTS_SUPER_MAGIC,
		CGROUP_SUPER_MAGIC,  CGROUP2_SUPER_MAGIC, SECURITYFS_MAGIC,
		DEBUGFS_MAGIC,	     TRACEFS_MAGIC,	BPF_FS_MAGIC,
		CONFIGFS_MAGIC,	     EFIVARFS_MAGIC,	SELINUX_MAGIC,
	};
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return kt_negerrno();
	for (size_t i = 0; i < ELEMENTSOF(kernel_fs); i++)
		if ((long)sfs.f_type == kernel_fs[i])
			return 1;
	return 0;
}

int kt_dir_open_checked(const char *path, uid_t owner)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *comp;
	struct stat st;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();

	for (comp = strtok_r(copy, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(comp, ".") || !strcmp(comp, ".."))
			return -EINVAL;
		/* The directory we are in must not let anyone but root and
		 * the owner change what its entries are. */
		if (fstat(fd, &st) < 0)
			return kt_negerrno();
		if (st.st_uid != 0 && st.st_uid != owner)
			return -EPERM;
		if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
			return -EPERM;

		next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return kt_negerrno();
		fd = kt_close(fd);
		fd = next;
		if (fstat(fd, &st) < 0)
			return kt_negerrno();
		if (S_ISLNK(st.st_mode))
			return -ELOOP;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}

	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	if (st.st_uid != owner)
		return -EPERM;
	r = on_kernel_fs(fd);
	if (r < 0)
		return r;
	if (r > 0)
		return -EXDEV;
	return TAKE_FD(fd);
}

int kt_dir_empty(int dir_fd)
{
	struct dirent *de;
	DIR *d;
	int copy, r = 1;

	/* A descriptor of its own for readdir: dir_fd may be O_PATH, and
	 * stays the caller's. */
	copy = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (copy < 0)
		return kt_negerrno();
	d = fdopendir(copy);
	if (!d) {
		r = kt_negerrno();
		kt_close(copy);
		return r;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			r = 0;
			break;
		}
	closedir(d);
	return r;
}

int kt_mount_at(const char *source, int dir_fd, const char *fstype,
		unsigned long flags, const char *data)
{
	char target[64];

	/* The magic link resolves to the very directory we checked. */
	snprintf(target, sizeof(target), "/proc/self/fd/%d", dir_fd);
	if (mount(source, target, fstype, flags, data) < 0)
		return kt_negerrno();
	return 0;
}

void kt_mount_entry_clear(struct kt_mount_entry *e)
{
	free(e->target);
	free(e->fstype);
	free(e->source);
	free(e->options);
	*e = (struct kt_mount_entry){ .mnt_id = -1 };
}

/* mountinfo escapes blanks, tabs, newlines and backslashes as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = 0;
}

/* The last line of mountinfo whose target is target (target non-NULL)
 * or whose id is mnt_id. */
static int mount_scan(const char *target, uint64_t mnt_id,
		      struct kt_mount_entry *ret)
{
	struct kt_mount_entry found = { .mnt_id = -1 };
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return kt_negerrno();
	/* Later lines are mounted later: the last match is the top one. */
	while (getline(&line, &size, f) > 0) {
		char *fields[10] = { 0 }, *save = NULL, *tok, *sep;
		unsigned maj, min;
		int n = 0, id;

		line[strcspn(line, "\n")] = 0;
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = 0;
		for (tok = strtok_r(line, " ", &save); tok && n < 6;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		for (tok = strtok_r(sep + 3, " ", &save); tok && n < 9;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		if (n < 9 || sscanf(fields[2], "%u:%u", &maj, &min) != 2)
			continue;
		id = atoi(fields[0]);
		unescape(fields[4]);
		unescape(fields[7]);
		if (target ? strcmp(fields[4], target) != 0
			   : id < 0 || (uint64_t)id != mnt_id)
			continue;
		kt_mount_entry_clear(&found);
		found.mnt_id = id;
		found.dev = makedev(maj, min);
		found.target = strdup(fields[4]);
		found.options = strdup(fields[5]);
		found.fstype = strdup(fields[6]);
		found.source = strdup(fields[7]);
		if (!found.target || !found.options || !found.fstype ||
		    !found.source) {
			kt_mount_entry_clear(&found);
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	if (found.mnt_id < 0)
		return 0;
	*ret = found;
	return 1;
}

int kt_mount_find(const char *target, struct kt_mount_entry *ret)
{
	return mount_scan(target, 0, ret);
}

int kt_mount_find_id(uint64_t mnt_id, struct kt_mount_entry *ret)
{
	return mount_scan(NULL, mnt_id, ret);
}

int kt_umount(const char *target, bool lazy)
{
	if (umount2(target, UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) < 0)
		return kt_negerrno();
	return 0;
}

/* Whether entries of the directory behind fd can be changed only by root
 * and owner (or the sticky bit keeps others to their own). */
static int dir_safe(int fd, uid_t owner)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != 0 && st.st_uid != owner)
		return -EPERM;
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
		return -EPERM;
	return 0;
}

/* Opens the parent of the absolute path as kt_dir_open_checked() walks
 * (the parent itself must be safe too); *ret_base points into path. */
static int parent_open_checked(const char *path, uid_t owner,
			       const char **ret_base)
{
	_cleanup_close_ int fd = -1;
	const char *p = path, *slash;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();
	for (;;) {
		char comp[256];
		size_t len;
		int next;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		if (!slash)
			break;
		len = (size_t)(slash - p);
		if (len >= sizeof(comp))
			return -ENAMETOOLONG;
		memcpy(comp, p, len);
		comp[len] = 0;
		if (!strcmp(comp, ".") || !strcmp(comp, ".."))
			return -EINVAL;
		r = dir_safe(fd, owner);
		if (r < 0)
			return r;
		next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return kt_negerrno();
		closep(&fd);
		fd = next;
		p = slash;
		if (!slash[strspn(slash, "/")])
			return -EINVAL; /* a trailing slash */
	}
	if (!*p || !strcmp(p, ".") || !strcmp(p, ".."))
		return -EINVAL;
	r = dir_safe(fd, owner);
	if (r < 0)
		return r;
	*ret_base = p;
	return TAKE_FD(fd);
}

/* The identity of what parent_fd/base leads to, crossing onto what is
 * mounted there. */
static int identify_at(int parent_fd, const char *base,
		       struct kt_mount_id *ret)
{
	_cleanup_close_ int fd = -1;
	struct statx stx;

	fd = openat(parent_fd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_INO | STATX_MNT_ID, &stx) < 0)
		return kt_negerrno();
	if (!(stx.stx_mask & STATX_MNT_ID) ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -EOPNOTSUPP;
	if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return -ENOTCONN;
	ret->mnt_id = stx.stx_mnt_id;
	ret->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	ret->ino = stx.stx_ino;
	ret->unique = 0;
	/* Mount ids are reused once a mount is gone; the unique one is
	 * not. Asked for alone: one answer holds one kind of id. */
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_MNT_ID_UNIQUE, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID_UNIQUE))
		ret->unique = stx.stx_mnt_id;
	return 0;
}

int kt_mount_identify(const char *path, uid_t owner, struct kt_mount_id *ret)
{
	_cleanup_close_ int parent = -1;
	const char *base = NULL;

	parent = parent_open_checked(path, owner, &base);
	if (parent < 0)
		return parent;
	return identify_at(parent, base, ret);
}

static bool same_mount(const struct kt_mount_id *a,
		       const struct kt_mount_id *b)
{
	/* A unique id recorded is compared; 0 (an older kernel) is not. */
	return a->mnt_id == b->mnt_id && a->dev == b->dev &&
	       a->ino == b->ino && (!b->unique || a->unique == b->unique);
}

/* 0 unmounted, -ESTALE when path does not lead to id, -errno. */
static int umount_at_path(const char *path, uid_t owner,
			  const struct kt_mount_id *id, bool lazy)
{
	_cleanup_close_ int parent = -1;
	struct kt_mount_id now;
	const char *base = NULL;
	char target[64 + 256];
	int r;

	parent = parent_open_checked(path, owner, &base);
	if (parent < 0)
		return parent == -ENOENT || parent == -ELOOP ||
				       parent == -ENOTDIR ?
			       -ESTALE :
			       parent;
	r = identify_at(parent, base, &now);
	if (r == -ENOENT || r == -ENOTCONN)
		return -ESTALE;
	if (r < 0)
		return r;
	if (!same_mount(&now, id))
		return -ESTALE;
	/* The parent is held: only the last component is looked up, and a
	 * mount point cannot be renamed away while it is mounted. */
	if ((size_t)snprintf(target, sizeof(target), "/proc/self/fd/%d/%s",
			     parent, base) >= sizeof(target))
		return -ENAMETOOLONG;
	if (umount2(target, UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) < 0)
		return kt_negerrno();
	return 0;
}

int kt_umount_recorded(const char *path, uid_t owner,
		       const struct kt_mount_id *id, bool lazy)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	int r;

	if (!id || id->mnt_id == 0)
		return -EINVAL;
	r = umount_at_path(path, owner, id, lazy);
	if (r != -ESTALE)
		return r;
	/* Moved (a directory above renamed): where is it now? */
	r = kt_mount_find_id(id->mnt_id, &m);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	r = m.dev == id->dev ? umount_at_path(m.target, owner, id, lazy)
			     : -ENOENT;
	kt_mount_entry_clear(&m);
	/* Not reachable as a mount with that identity any more. */
	return r == -ESTALE ? -ENOENT : r;
}

