/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib's one table of volume types, indexed by enum kt_volume_type: the
 * name in keyturn.conf and in the session records, whether a record of it
 * names a device-mapper mapping, and whether a "user = *" volume exists
 * for the user it was expanded for (the one piece of config logic that
 * looks at the file system). The agent's operations per type are in
 * agent/backend.c, keyturnctl's in ctl/backend_output.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "macro.h"

static bool luks2_present(const struct kt_volume *v)
{
	struct stat st;

	/* /dev/disk/by-partlabel/... are links: follow them. */
	return v->device && stat(v->device, &st) == 0 &&
	       (S_ISBLK(st.st_mode) || S_ISREG(st.st_mode));
}

static bool ecryptfs_present(const struct kt_volume *v)
{
	struct stat st;

	/* Under a home the user controls: never follow a link. */
	return v->source && lstat(v->source, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool fscrypt_present(const struct kt_volume *v)
{
	struct stat st;

	/* Under a home the user controls: never follow a link. */
	return v->directory && lstat(v->directory, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

static const struct kt_volume_type_info types[] = {
	[KT_VOLUME_LUKS2] = {
		.name = "luks2",
		.dm = true,
		.present = luks2_present,
	},
	[KT_VOLUME_ECRYPTFS] = {
		.name = "ecryptfs",
		.present = ecryptfs_present,
	},
	[KT_VOLUME_FSCRYPT] = {
		.name = "fscrypt",
		.present = fscrypt_present,
	},
};

const struct kt_volume_type_info *kt_volume_type_info(enum kt_volume_type t)
{
	if ((unsigned)t >= ELEMENTSOF(types) || !types[t].name)
		return NULL;
	return &types[t];
}

int kt_volume_type_parse(const char *s, size_t len,
			 enum kt_volume_type *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(types); i++)
		if (types[i].name && strlen(types[i].name) == len &&
		    memcmp(types[i].name, s, len) == 0) {
			*ret = (enum kt_volume_type)i;
			return 0;
		}
	return -EINVAL;
}

const char *kt_volume_type_name(enum kt_volume_type t)
{
	const struct kt_volume_type_info *info = kt_volume_type_info(t);

	return info ? info->name : "unknown";
}

bool kt_volume_present(const struct kt_volume *v)
{
	const struct kt_volume_type_info *info;

	if (!v)
		return false;
	info = kt_volume_type_info(v->type);
	return info && info->present(v);
}
