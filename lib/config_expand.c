/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A parsed config applied: whether a PAM service is skipped, and the
 * volumes of one user with every template (%u %h %U) expanded and the
 * result checked again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"

/* ---- services ---------------------------------------------------------- */

static bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

bool kt_config_skips_service(const struct kt_config *c, const char *service)
{
	if (!service)
		return c->services != NULL;
	if (c->services && !strv_contains(c->services, service))
		return true;
	return strv_contains(c->skip_services, service);
}

/* ---- volumes of a user ------------------------------------------------- */

static bool volume_names_user(const struct kt_volume *v, const char *name)
{
	size_t n = strlen(name);

	if (v->any_user)
		return true;
	for (const char *s = v->users; s && *s;) {
		size_t len;

		while (is_blank(*s))
			s++;
		len = strcspn(s, " \t");
		if (len == n && memcmp(s, name, n) == 0)
			return true;
		s += len;
	}
	return false;
}

/* Copies a user-supplied string for a message, control bytes as '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?'
								   : s[i];
	buf[i] = '\0';
	return buf;
}

static int expand_field(const struct kt_volume *tmpl, const struct kt_user *u,
			const char *key, const char *template, bool dm_name,
			char **ret, struct kt_diag *diag)
{
	_cleanup_free_ char *s = NULL;
	const char *problem;
	char shown[Q + 1];
	int r;

	if (!template)
		return 0;
	r = kt_user_expand(template, u, &s);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		problem = "has an unknown % escape";
	else if (dm_name)
		problem = kt_config_dm_name_problem(s);
	else {
		problem = kt_config_path_problem(s);
		if (!problem &&
		    (!strcmp(key, "mountpoint") || !strcmp(key, "directory")) &&
		    strcmp(s, "/") == 0)
			problem = "is the root directory";
	}
	if (problem) {
		kt_config_diag_set(diag,
			"%s:%u: [volume %s] for user %s: '%s' expands to "
			"'%s', which %s",
			tmpl->file, tmpl->line, tmpl->name, u->name, key,
			printable(s ? s : template, shown, sizeof(shown)),
			problem);
		return -EINVAL;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

static int volume_expand(const struct kt_volume *t, const struct kt_user *u,
			 struct kt_volume *v, struct kt_diag *diag)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->line = t->line;
	v->type = t->type;
	v->fnek = t->fnek;
	v->required = t->required;
	v->any_user = t->any_user;
	v->busy = t->busy;
	v->busy_timeout = t->busy_timeout;
	v->name = strdup(t->name);
	v->file = strdup(t->file);
	v->users = strdup(t->users ? t->users : "");
	if (!v->name || !v->file || !v->users)
		return -ENOMEM;
	if (t->fstype && !(v->fstype = strdup(t->fstype)))
		return -ENOMEM;
	if (t->options && !(v->options = strdup(t->options)))
		return -ENOMEM;
	if (t->uuid && !(v->uuid = strdup(t->uuid)))
		return -ENOMEM;

	r = expand_field(t, u, "device", t->device, false, &v->device, diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "name", t->dm_name, true, &v->dm_name, diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "source", t->source, false, &v->source, diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "wrapped", t->wrapped, false, &v->wrapped,
			 diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "directory", t->directory, false,
			 &v->directory, diag);
	if (r < 0)
		return r;
	return expand_field(t, u, "mountpoint", t->mountpoint, false,
			    &v->mountpoint, diag);
}

int kt_config_volumes_for(const struct kt_config *c, const struct kt_user *u,
			  struct kt_volume **ret, size_t *ret_n,
			  struct kt_diag *diag)
{
	struct kt_volume *out = NULL;
	struct kt_diag local = { "" };
	const char *problem;
	char shown[Q + 1];
	size_t n = 0;
	int r = 0;

	if (!c || !u)
		return -EINVAL;
	problem = kt_user_name_problem(u->name);
	if (problem) {
		kt_config_diag_set(diag, "%s: user name '%s' %s, refusing it",
			c->path,
			printable(u->name, shown, sizeof(shown)), problem);
		return -EINVAL;
	}
	if (!u->home || u->home[0] != '/') {
		kt_config_diag_set(diag,
			"%s: home of user %s is not an absolute path, "
			"refusing it",
			c->path, u->name);
		return -EINVAL;
	}

	for (size_t i = 0; i < c->n_volumes; i++) {
		struct kt_volume *grown;

		if (!volume_names_user(&c->volumes[i], u->name))
			continue;
		grown = realloc(out, (n + 1) * sizeof(*out));
		if (!grown) {
			r = -ENOMEM;
			break;
		}
		out = grown;
		/* Counted before it is filled, so that a failure half-way
		 * frees what was set. */
		r = volume_expand(&c->volumes[i], u, &out[n++], &local);
		if (r == -EINVAL && c->volumes[i].any_user) {
			/* "*" means every user that has the volume; one
			 * whose home or name does not expand safely (a
			 * system account with home "/") has none. */
			kt_config_volume_done(&out[--n]);
			r = 0;
			continue;
		}
		if (r < 0) {
			if (diag)
				*diag = local;
			break;
		}
	}
	if (r < 0) {
		if (r == -ENOMEM)
			kt_config_diag_set(diag, "%s: out of memory", c->path);
		kt_volumes_free(out, n);
		return r;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}
