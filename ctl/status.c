/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyturnctl status [--user USER] [--config PATH] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "luks.h"
#include "mount.h"
#include "protocol.h"
#include "session.h"
#include "user.h"

static void print_volume(const struct kt_config *c, const struct kt_user *u,
			 const struct kt_volume *v, int sessions)
{
	const struct ctl_backend *b;
	struct kt_mount_entry m = {};
	int mounted;

	printf("%s/%s (%s)\n", u->name, v->name, kt_volume_type_name(v->type));
	mounted = v->mountpoint ? kt_mount_find(v->mountpoint, &m) : 0;
	b = ctl_backend_of(v->type);
	if (b)
		b->status(c, u, v, mounted == 1 ? &m : NULL);
	if (!v->mountpoint)
		; /* a backend that mounts nothing (fscrypt) */
	else if (mounted == 1)
		printf("  mounted:  yes (%s on %s, %s)\n",
		       m.source ? m.source : "?", v->mountpoint,
		       m.fstype ? m.fstype : "?");
	else if (mounted == 0)
		printf("  mounted:  no (%s)\n", v->mountpoint);
	else
		printf("  mounted:  unknown (%s)\n", strerror(-mounted));
	if (sessions >= 0)
		printf("  sessions: %d\n", sessions);
	else
		printf("  sessions: unknown (%s)\n", strerror(-sessions));
	kt_mount_entry_clear(&m);
}

/*
 * What the last teardown could not lock: the agent leaves one report
 * line in RUNDIR/UID/failed.NAME (root's) for each such volume, also
 * one no longer in the config; it goes when the volume is locked or
 * opened again.
 */
static void print_teardown_failures(const struct kt_user *u, int *shown)
{
	_cleanup_close_ int dir = -1, list = -1;
	struct dirent *de;
	DIR *d;

	dir = kt_session_dir(u->uid, false);
	if (dir < 0)
		return;
	list = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (list < 0 || !(d = fdopendir(list)))
		return;
	list = -1;
	while ((de = readdir(d))) {
		char line[KT_LINE_MAX];
		struct kt_report rep;
		struct stat st;
		ssize_t n;
		int fd;

		if (strncmp(de->d_name, "failed.", 7) ||
		    strchr(de->d_name + 7, '.'))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
				    st.st_uid == 0 ?
			    read(fd, line, sizeof(line) - 1) :
			    -1;
		close(fd);
		if (n <= 0)
			continue;
		line[n] = '\0';
		if ((*shown)++)
			putchar('\n');
		if (kt_report_parse(line, &rep) < 0)
			printf("%s/%s\n  teardown: not locked at the last "
			       "logout (record unreadable)\n",
			       u->name, de->d_name + 7);
		else
			printf("%s/%s\n  teardown: not locked at the last "
			       "logout: %s\n",
			       u->name, rep.volume, rep.message);
	}
	closedir(d);
}

/* Prints the user's volumes, counting them in *shown. */
static int status_user(const char *path, const char *name, bool explicit,
		       int *shown)
{
	struct kt_diag diag = { .message = "" };
	struct kt_user_plan up;
	enum kt_plan_step step;
	int r, sessions;

	r = kt_user_plan_load(path, name, NULL, &up, &step, &diag);
	switch (step) {
	case KT_STEP_NONE:
	case KT_STEP_SERVICE:
		break;
	case KT_STEP_CONFIG:
		if (diag.message[0])
			ctl_error("%s", diag.message);
		else
			ctl_fail(r, "load config %s", path);
		break;
	case KT_STEP_NAME:
		ctl_error("User name %s: %s", name, diag.message);
		break;
	case KT_STEP_USER:
		if (explicit || r != -ENOENT)
			ctl_fail(r, "look up user %s", name);
		break;
	case KT_STEP_VOLUMES:
		if (diag.message[0])
			ctl_error("%s (user %s), ignoring", diag.message,
				  up.user->name);
		else
			ctl_fail(r, "expand the volumes of %s", up.user->name);
		break;
	}
	if (r < 0) {
		kt_user_plan_free(&up);
		return r;
	}
	sessions = kt_session_count(up.user->uid);
	if (sessions == -ENOENT)
		sessions = 0;
	for (size_t i = 0; i < up.n; i++) {
		if ((*shown)++)
			putchar('\n');
		print_volume(up.config, up.user, &up.volumes[i], sessions);
	}
	print_teardown_failures(up.user, shown);
	kt_user_plan_free(&up);
	return 0;
}

static bool name_listed(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p;) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == len && strncmp(p, name, n) == 0)
			return true;
		p += n;
	}
	return false;
}

/* A user is a candidate when a volume names them, or a volume is for
 * every user (then its device decides). */
static bool user_candidate(const struct kt_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_volumes; i++)
		if (c->volumes[i].any_user ||
		    name_listed(c->volumes[i].users, name))
			return true;
	return false;
}

int ctl_status(int argc, char **argv)
{
	_cleanup_config_ struct kt_config *c = NULL;
	const char *path = KT_CONFIG_PATH, *user = NULL;
	int r, shown = 0, failed = 0;
	char **names = NULL;
	size_t n_names = 0;
	struct passwd *pw;

	r = ctl_parse_user_config("status", argc, argv, &user, &path);
	if (r != 0)
		return r;

	r = ctl_config_load(path, false, &c);
	if (r < 0)
		return CTL_EXIT_FAILURE;
	kt_luks_set_log(ctl_luks_log, NULL);

	if (user) {
		r = status_user(path, user, true, &shown);
		if (r < 0)
			return CTL_EXIT_FAILURE;
		if (!shown)
			printf("No volume of %s.\n", user);
		return CTL_EXIT_OK;
	}

	/* Names first: looking users up while getpwent() walks the
	 * database would share its state. */
	setpwent();
	while ((pw = getpwent())) {
		char **more;

		if (!kt_user_name_valid(pw->pw_name) ||
		    !user_candidate(c, pw->pw_name))
			continue;
		more = reallocarray(names, n_names + 1, sizeof(*names));
		if (!more || !(more[n_names] = strdup(pw->pw_name))) {
			names = more ? more : names;
			r = -ENOMEM;
			break;
		}
		names = more;
		n_names++;
	}
	endpwent();
	if (r == -ENOMEM) {
		ctl_fail(r, "list users");
		failed++;
	}
	for (size_t i = 0; i < n_names; i++) {
		if (status_user(path, names[i], false, &shown) < 0)
			failed++;
		free(names[i]);
	}
	free(names);
	if (!shown && !failed)
		printf("No volume of any user.\n");
	return failed ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}
