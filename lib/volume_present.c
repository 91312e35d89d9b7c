/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether a "user = *" volume exists for the user it was expanded for:
 * the one piece of config logic that looks at the file system.
 */
#include <sys/stat.h>

#include "config.h"

bool kt_volume_present(const struct kt_volume *v)
{
	struct stat st;

	if (!v)
		return false;
	switch (v->type) {
	case KT_VOLUME_LUKS2:
		/* /dev/disk/by-partlabel/... are links: follow them. */
		return v->device && stat(v->device, &st) == 0 &&
		       (S_ISBLK(st.st_mode) || S_ISREG(st.st_mode));
	case KT_VOLUME_ECRYPTFS:
		/* Under a home the user controls: never follow a link. */
		return v->source && lstat(v->source, &st) == 0 &&
		       S_ISDIR(st.st_mode);
	case KT_VOLUME_FSCRYPT:
		return v->directory && lstat(v->directory, &st) == 0 &&
		       S_ISDIR(st.st_mode);
	}
	return false;
}
