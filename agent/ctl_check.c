/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyturnctl check [--user USER] [--config PATH] */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "luks.h"
#include "user.h"

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static void print_field(const char *key, const char *value)
{
	if (value)
		printf("  %-12s = %s\n", key, value);
}

/* A volume without a pin: whatever LUKS2 device its path names is
 * taken. The line that pins it, read from the device when we can. */
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

/* The LUKS2 sections of the config that pin no device. */
static void print_unpinned_sections(const struct kt_config *c)
{
	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct kt_volume *v = &c->volumes[i];

		if (v->type != KT_VOLUME_LUKS2 || v->uuid)
			continue;
		printf("warning: [volume %s] (%s:%u) is not pinned: no 'uuid', "
		       "so any LUKS2 device at %s is taken (keyturnctl enroll "
		       "luks writes it; check --user USER shows it)\n",
		       v->name, v->file, v->line, v->device);
	}
}

static void print_volume(const struct kt_volume *v)
{
	printf("[volume %s]", v->name);
	if (v->file)
		printf("  # %s:%u", v->file, v->line);
	putchar('\n');
	print_field("user", v->any_user ? "*" : v->users);
	print_field("type", kt_volume_type_name(v->type));
	if (v->type == KT_VOLUME_LUKS2) {
		print_field("device", v->device);
		print_field("name", v->dm_name);
		print_field("fstype", v->fstype);
		print_field("uuid", v->uuid);
		if (!v->uuid)
			print_unpinned(v);
	} else if (v->type == KT_VOLUME_FSCRYPT) {
		ctl_fscrypt_print_check(v);
	} else {
		print_field("source", v->source);
		print_field("wrapped", v->wrapped);
		print_field("fnek", yes_no(v->fnek));
	}
	print_field("mountpoint", v->mountpoint);
	print_field("options", v->options);
	print_field("required", yes_no(v->required));
	print_field("busy", kt_busy_policy_name(v->busy));
	printf("  %-12s = %u\n", "busy_timeout", v->busy_timeout);
}

static int check_user(const struct kt_config *c, const char *name)
{
	_cleanup_user_ struct kt_user *u = NULL;
	struct kt_diag diag = { .message = "" };
	struct kt_volume *v = NULL;
	size_t n = 0;
	int r;

	r = kt_user_lookup(name, &u);
	if (r == -ENOENT) {
		ctl_error("No such user: %s", name);
		return CTL_EXIT_FAILURE;
	}
	if (r < 0)
		return ctl_fail(r, "look up user %s", name);
	r = kt_config_volumes_for(c, u, &v, &n, &diag);
	if (r < 0) {
		if (diag.message[0])
			ctl_error("%s", diag.message);
		else
			ctl_fail(r, "expand the volumes of %s", u->name);
		return CTL_EXIT_FAILURE;
	}
	if (n == 0)
		printf("No volume applies to %s.\n", u->name);
	else
		printf("Volumes of %s (uid %u, home %s):\n", u->name,
		       (unsigned)u->uid, u->home);
	for (size_t i = 0; i < n; i++) {
		putchar('\n');
		print_volume(&v[i]);
	}
	kt_volumes_free(v, n);
	return CTL_EXIT_OK;
}

int ctl_check(int argc, char **argv)
{
	_cleanup_config_ struct kt_config *c = NULL;
	const char *path = KT_CONFIG_PATH, *user = NULL;
	int r;

	r = ctl_parse_user_config("check", argc, argv, &user, &path);
	if (r != 0)
		return r;

	r = ctl_config_load(path, false, &c);
	if (r < 0)
		return CTL_EXIT_FAILURE;
	printf("%s: OK, %zu volume%s\n", path, c->n_volumes,
	       c->n_volumes == 1 ? "" : "s");
	print_unpinned_sections(c);
	if (!user)
		return CTL_EXIT_OK;
	return check_user(c, user);
}
