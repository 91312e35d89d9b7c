/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl's side of the backends: what status and check print for a
 * volume of each type, in one table indexed by volume type (the agent's
 * operations are in agent/backend.c, lib's names in lib/volume_type.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "keyring.h"
#include "luks.h"
#include "mount.h"
#include "user.h"

static void luks_status(const struct kt_config *c, const struct kt_user *u,
			const struct kt_volume *v,
			const struct kt_mount_entry *mounted)
{
	const char *prefix = c->key_prefix ? c->key_prefix
					   : KT_KEY_PREFIX_DEFAULT;
	struct kt_luks_token tok;
	char desc[KT_KEY_DESC_MAX];
	struct stat st;
	int r;

	printf("  device:   %s\n", v->device);
	printf("  dm name:  %s\n", v->dm_name ? v->dm_name : "-");
	if (stat(v->device, &st) < 0) {
		printf("  state:    missing (%s)\n", strerror(errno));
		return;
	}
	r = v->dm_name ? kt_luks_active(v->dm_name, v->device) : 0;
	if (r == 1)
		printf("  state:    open (/dev/mapper/%s)\n", v->dm_name);
	else if (r == 0)
		printf("  state:    locked\n");
	else if (r == -EEXIST)
		printf("  state:    locked (/dev/mapper/%s is something "
		       "else)\n", v->dm_name);
	else
		printf("  state:    unknown (%s)\n", strerror(-r));

	r = kt_key_description(prefix, u->name, desc, sizeof(desc));
	if (r == 0)
		r = kt_luks_find_token(v->device, desc, &tok);
	if (r == 0 && tok.keyslot >= 0)
		printf("  enrolled: yes (%s: token %d, keyslot %d)\n", desc,
		       tok.token, tok.keyslot);
	else if (r == 0)
		printf("  enrolled: no (%s: token %d has no keyslot)\n", desc,
		       tok.token);
	else if (r == -ENOENT)
		printf("  enrolled: no\n");
	else if (r == -EINVAL)
		printf("  enrolled: no (not a LUKS2 volume)\n");
	else
		printf("  enrolled: unknown (%s)\n", strerror(-r));
}

static void ecryptfs_status(const struct kt_config *c,
			    const struct kt_user *u, const struct kt_volume *v,
			    const struct kt_mount_entry *mounted)
{
	struct stat st;

	printf("  source:   %s\n", v->source);
	if (mounted && mounted->fstype &&
	    strcmp(mounted->fstype, "ecryptfs") == 0)
		printf("  state:    open\n");
	else if (lstat(v->source, &st) < 0)
		printf("  state:    missing (%s)\n", strerror(errno));
	else
		printf("  state:    locked\n");
}

static void print_unpinned(const struct kt_volume *v)
{
	char uuid[64];

	if (kt_luks_uuid(v->device, uuid, sizeof(uuid)) == 0)
		printf("  # not pinned: any LUKS2 device at %s is taken; "
		       "add\n  #   uuid = %s\n", v->device, uuid);
	else
		printf("  # not pinned: any LUKS2 device at %s is taken; add "
		       "'uuid = ' and the output of 'cryptsetup luksUUID "
		       "%s'\n", v->device, v->device);
}

static void luks_check(const struct kt_volume *v)
{
	ctl_print_field("device", v->device);
	ctl_print_field("name", v->dm_name);
	ctl_print_field("fstype", v->fstype);
	ctl_print_field("uuid", v->uuid);
	if (!v->uuid)
		print_unpinned(v);
}

/* A section that pins no device. */
static void luks_check_section(const struct kt_volume *v)
{
	if (v->uuid)
		return;
	printf("warning: [volume %s] (%s:%u) is not pinned: no 'uuid', "
	       "so any LUKS2 device at %s is taken (keyturnctl enroll "
	       "luks writes it; check --user USER shows it)\n",
	       v->name, v->file, v->line, v->device);
}

static void ecryptfs_check(const struct kt_volume *v)
{
	ctl_print_field("source", v->source);
	ctl_print_field("wrapped", v->wrapped);
	ctl_print_field("fnek", ctl_yes_no(v->fnek));
}

static const struct ctl_backend backends[] = {
	[KT_VOLUME_LUKS2] = {
		.status = luks_status,
		.check = luks_check,
		.check_section = luks_check_section,
	},
	[KT_VOLUME_ECRYPTFS] = {
		.status = ecryptfs_status,
		.check = ecryptfs_check,
	},
	[KT_VOLUME_FSCRYPT] = {
		.status = ctl_fscrypt_print_status,
		.check = ctl_fscrypt_print_check,
	},
};

const struct ctl_backend *ctl_backend_of(enum kt_volume_type type)
{
	if ((size_t)type >= ELEMENTSOF(backends) || !backends[type].status)
		return NULL;
	return &backends[type];
}
