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
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mount.h"

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

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },		{ "rw", 0, MS_RDONLY },
	{ "noexec", MS_NOEXEC, 0 },	{ "exec", 0, MS_NOEXEC },
	{ "noatime", MS_NOATIME, 0 },	{ "relatime", MS_RELATIME, 0 },
	{ "nodiratime", MS_NODIRATIME, 0 },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "sync", MS_SYNCHRONOUS, 0 },	{ "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },	{ "lazytime", MS_LAZYTIME, 0 },
	{ "nosuid", MS_NOSUID, 0 },	{ "nodev", MS_NODEV, 0 },
	{ "defaults", 0, 0 },
};

int kt_mount_options(const char *options, unsigned long *ret_flags,
		     char **ret_data)
{
	_cleanup_free_ char *copy = NULL, *data = NULL;
	unsigned long flags = 0;
	size_t used = 0;
	char *save = NULL, *opt;

	copy = strdup(options ? options : "");
	data = calloc(1, strlen(copy) + 1);
	if (!copy || !data)
		return -ENOMEM;

	for (opt = strtok_r(copy, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		bool known = false;

		if (!strcmp(opt, "suid") || !strcmp(opt, "dev"))
			return -EINVAL;
		for (const char *p = opt; *p; p++)
			if (*p <= ' ' || *p == 0x7f || *p == '\\')
				return -EINVAL;
		for (size_t i = 0; i < ELEMENTSOF(mount_flags); i++) {
			if (strcmp(opt, mount_flags[i].name))
				continue;
			flags = (flags | mount_flags[i].set) &
				~mount_flags[i].clear;
			known = true;
		}
		if (known)
			continue;
		if (used)
			data[used++] = ',';
		strcpy(data + used, opt);
		used += strlen(opt);
	}
	*ret_flags = flags | MS_NOSUID | MS_NODEV;
	*ret_data = TAKE_PTR(data);
	return 0;
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

int kt_mount_find(const char *target, struct kt_mount_entry *ret)
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
		if (strcmp(fields[4], target))
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

int kt_umount(const char *target, bool lazy)
{
	if (umount2(target, UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) < 0)
		return kt_negerrno();
	return 0;
}

static bool link_on_dev(int dirfd, const char *name, dev_t dev)
{
	struct stat st;

	return fstatat(dirfd, name, &st, 0) == 0 && st.st_dev == dev;
}

static bool fds_on_dev(int pidfd, dev_t dev)
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
			hit = link_on_dev(dirfd(d), de->d_name, dev);
	closedir(d);
	return hit;
}

static bool maps_on_dev(int pidfd, dev_t dev)
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
	/* "start-end perms offset maj:min inode path" */
	while (!hit && getline(&line, &size, f) > 0) {
		unsigned maj, min;
		unsigned long ino;

		if (sscanf(line, "%*s %*s %*s %x:%x %lu", &maj, &min, &ino) ==
			    3 &&
		    ino != 0 && makedev(maj, min) == dev)
			hit = true;
	}
	fclose(f);
	return hit;
}

int kt_mount_holders(dev_t dev, pid_t *pids, int max)
{
	struct dirent *de;
	int n = 0;
	DIR *proc;

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
		if (link_on_dev(pidfd, "cwd", dev) ||
		    link_on_dev(pidfd, "root", dev) || fds_on_dev(pidfd, dev) ||
		    maps_on_dev(pidfd, dev))
			pids[n++] = (pid_t)pid;
	}
	closedir(proc);
	return n;
}
