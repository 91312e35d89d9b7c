/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mount options, pure: the one table of the options keyturn refuses
 * (keyturn.conf's parser and the mount share it) and the split of an
 * option list into flags and data. Fuzzed (tests/fuzz/fuzz_mount.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "mount.h"

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
};

/* Mount options that would give back what nosuid,nodev take away
 * ("defaults" is rw,suid,dev,exec,...), or that are mount(8) operations
 * rather than options: refused in keyturn.conf and here, by name (the
 * part before any '='). */
static const char *const refused_options[] = {
	"suid", "dev", "defaults", "bind", "rbind", "move", "remount",
};

bool kt_mount_option_refused(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(refused_options); i++)
		if (strlen(refused_options[i]) == len &&
		    memcmp(name, refused_options[i], len) == 0)
			return true;
	return false;
}

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

		if (kt_mount_option_refused(opt, strcspn(opt, "=")))
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
