/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyturnctl check [--user USER] [--config PATH] */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "user.h"

/* What the backends say about the sections as they are (LUKS2: not
 * pinned to a device). */
static void print_unpinned_sections(const struct kt_config *c)
{
	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct kt_volume *v = &c->volumes[i];

		const struct ctl_backend *b = ctl_backend_of(v->type);

		if (b && b->check_section)
			b->check_section(v);
	}
}

static void print_volume(const struct kt_volume *v)
{
	const struct ctl_backend *b;

	printf("[volume %s]", v->name);
	if (v->file)
		printf("  # %s:%u", v->file, v->line);
	putchar('\n');
	ctl_print_field("user", v->any_user ? "*" : v->users);
	ctl_print_field("type", kt_volume_type_name(v->type));
	b = ctl_backend_of(v->type);
	if (b)
		b->check(v);
	ctl_print_field("mountpoint", v->mountpoint);
	ctl_print_field("options", v->options);
	ctl_print_field("required", ctl_yes_no(v->required));
	ctl_print_field("busy", kt_busy_policy_name(v->busy));
	printf("  %-12s = %u\n", "busy_timeout", v->busy_timeout);
}

static int check_user(const struct kt_config *c, const char *name)
{
	_cleanup_user_ struct kt_user *u = NULL;
	struct kt_diag diag = { .message = "" };
	struct kt_volume *v = NULL;
	size_t n = 0;
	int r;

	r = ctl_user_lookup(name, &u);
	if (r != 0)
		return r;
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
