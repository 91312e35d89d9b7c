/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device-mapper identity from sysfs: what was opened is what is closed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dm.h"

/* One line of a sysfs attribute, without its newline. */
static int read_attr(dev_t dev, const char *attr, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	char path[96];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/dm/%s", major(dev),
		 minor(dev), attr);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : kt_negerrno();
	n = read(fd, buf, size - 1);
	if (n < 0)
		return kt_negerrno();
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int kt_dm_identify(const char *name, dev_t *ret_dev, char *ret_uuid,
		   size_t size)
{
	char path[160], sysname[160], uuid[256];
	struct stat st;
	int r;

	if (!name || !*name || strchr(name, '/') ||
	    (size_t)snprintf(path, sizeof(path), "/dev/mapper/%s", name) >=
		    sizeof(path))
		return -EINVAL;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? -ENODEV : kt_negerrno();
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	r = read_attr(st.st_rdev, "name", sysname, sizeof(sysname));
	if (r < 0)
		return r;
	/* The node may be stale: the kernel's name is the truth. */
	if (strcmp(sysname, name))
		return -ENODEV;
	r = read_attr(st.st_rdev, "uuid", uuid, sizeof(uuid));
	if (r < 0)
		return r;
	if (strlen(uuid) >= size)
		return -ENAMETOOLONG;
	strcpy(ret_uuid, uuid);
	*ret_dev = st.st_rdev;
	return 0;
}
