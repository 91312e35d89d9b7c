/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * chauthtok: keep the user's volumes in step with the login password.
 * Stacked after the module that changes the password (pam_unix), which
 * has set PAM_OLDAUTHTOK and PAM_AUTHTOK by our UPDATE_AUTHTOK pass. The
 * agent, started as for a session but in re-key mode, gets both through
 * a pipe and re-keys every volume; its report is logged and told to the
 * user. keyturn never refuses the change itself, unless a volume the
 * config marks required could not follow it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "pam_keyturn.h"
#include "protocol.h"
#include "secret.h"
#include "user.h"

/* The user's volumes, as open_session finds them. */
struct change {
	const char *user;
	const char *service;
	struct kt_config *config;
	struct kt_user *account;
	struct kt_volume *volumes;
	size_t n, n_alloc;
};

static void change_done(struct change *c)
{
	kt_volumes_free(c->volumes, c->n_alloc);
	kt_user_free(c->account);
	kt_config_free(c->config);
}

/* 1 when there is something to re-key, 0 when not, -errno (logged). */
static int change_load(struct kt_pam *p, struct change *c)
{
	struct kt_diag diag = { { 0 } };
	struct kt_user_plan up;
	enum kt_plan_step step;
	int r;

	r = pam_get_item(p->pamh, PAM_USER, (const void **)&c->user);
	if (r != PAM_SUCCESS || !c->user)
		return 0;
	r = pam_get_item(p->pamh, PAM_SERVICE, (const void **)&c->service);
	if (r != PAM_SUCCESS || !c->service)
		c->service = "";
	r = kt_user_plan_load(p->config_path, c->user, c->service, &up, &step,
			      &diag);
	/* change_done() frees what loaded. */
	c->config = up.config;
	c->account = up.user;
	c->volumes = up.volumes;
	c->n = up.n;
	c->n_alloc = up.n_alloc;
	switch (step) {
	case KT_STEP_NONE:
		break;
	case KT_STEP_CONFIG:
		if (r == -ENOENT)
			return 0;
		(void)kt_pam_error(p, r, diag.message, "Failed to load %s",
				   p->config_path);
		return r;
	case KT_STEP_SERVICE:
	case KT_STEP_NAME:
		return 0;
	case KT_STEP_USER:
		if (r == -ENOENT)
			return 0;
		(void)kt_pam_error(p, r, NULL, "Failed to look up user %s",
				   c->user);
		return r;
	case KT_STEP_VOLUMES:
		(void)kt_pam_error(p, r, diag.message,
				   "Failed to find the volumes of %s", c->user);
		return r;
	}
	return c->n > 0;
}

/* "home, private" into buf. */
static void volume_list(const struct change *c, const bool *only, char *buf,
			size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->n && used < size; i++) {
		int k;

		if (only && !only[i])
			continue;
		k = snprintf(buf + used, size - used, "%s%s",
			     used ? ", " : "", c->volumes[i].name);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/* One line on the conversation (passwd's terminal), unless silent. */
static void tell(const struct kt_pam *p, int flags, int style,
		 const char *fmt, ...) _printf_(4, 5);
static void tell(const struct kt_pam *p, int flags, int style,
		 const char *fmt, ...)
{
	va_list ap;

	if (flags & PAM_SILENT)
		return;
	va_start(ap, fmt);
	(void)pam_vprompt(p->pamh, style, NULL, fmt, ap);
	va_end(ap);
}

/* The root case: pam_unix asked no old password. */
static int no_old_password(struct kt_pam *p, int flags, struct change *c)
{
	char list[256];

	volume_list(c, NULL, list, sizeof(list));
	kt_pam_log(p, LOG_WARNING, "No old password for %s: volumes %s still "
		   "take the old password; run keyturnctl rekey --user %s",
		   c->user, list, c->user);
	tell(p, flags, PAM_ERROR_MSG, "keyturn: volumes %s still take the old "
	     "password; run: keyturnctl rekey --user %s", list, c->user);
	return PAM_IGNORE;
}

static int update(struct kt_pam *p, int flags, struct change *c)
{
	_cleanup_free_ bool *failed = NULL;
	_cleanup_close_ int secrets = -1, fd = -1;
	const char *old = NULL, *new_pass = NULL, *required = NULL;
	size_t old_len, new_len, n_failed = 0;
	unsigned bound;
	long long deadline;
	char list[256];
	int r;

	if (pam_get_item(p->pamh, PAM_AUTHTOK, (const void **)&new_pass) !=
		    PAM_SUCCESS || !new_pass || !*new_pass) {
		kt_pam_log(p, LOG_NOTICE, "No new password for %s: volumes "
			   "not re-keyed", c->user);
		return PAM_IGNORE;
	}
	if (pam_get_item(p->pamh, PAM_OLDAUTHTOK, (const void **)&old) !=
		    PAM_SUCCESS || !old || !*old)
		return no_old_password(p, flags, c);
	old_len = strnlen(old, KT_PASSPHRASE_MAX + 1);
	new_len = strnlen(new_pass, KT_PASSPHRASE_MAX + 1);
	if (old_len > KT_PASSPHRASE_MAX || new_len > KT_PASSPHRASE_MAX)
		return kt_pam_error(p, -E2BIG, NULL, "Failed to re-key the "
				    "volumes of %s", c->user);
	failed = calloc(c->n, sizeof(*failed));
	if (!failed)
		return kt_pam_error(p, -ENOMEM, NULL, "Failed to re-key the "
				    "volumes of %s", c->user);
	for (size_t i = 0; i < c->n; i++)
		failed[i] = true; /* until the agent says otherwise */

	secrets = kt_rekey_pipe(old, old_len, new_pass, new_len);
	r = secrets < 0 ? secrets :
			  kt_pam_spawn_agent_mode(p->agent_path, "--rekey",
						  c->user, c->service,
						  p->config_path, secrets, &fd);
	secrets = kt_close(secrets);
	if (r < 0) {
		(void)kt_pam_error(p, r, NULL, "Failed to start %s",
				   p->agent_path);
		goto report;
	}

	/* Each volume runs its key derivations: the bound is per volume. */
	bound = c->config->unlock_timeout ? c->config->unlock_timeout :
					    KT_UNLOCK_TIMEOUT_FALLBACK;
	deadline = kt_now_ms() + (long long)bound * 1000 * (long long)c->n;
	for (;;) {
		char line[KT_LINE_MAX];
		struct kt_report rep;

		r = kt_line_read(fd, line, sizeof(line), deadline);
		if (r <= 0 || !strcmp(line, "done"))
			break;
		if (r == -EBADMSG || kt_report_parse(line, &rep) < 0) {
			kt_pam_log(p, LOG_WARNING, "Failed to parse a line "
				   "from the agent, ignoring");
			continue;
		}
		for (size_t i = 0; i < c->n; i++) {
			if (strcmp(c->volumes[i].name, rep.volume) != 0)
				continue;
			failed[i] = rep.status != KT_REPORT_REKEYED &&
				    rep.status != KT_REPORT_UNCHANGED;
		}
		if (rep.status == KT_REPORT_FAILED)
			kt_pam_log(p, LOG_ERR, "Failed to re-key volume %s of "
				   "%s: %s", rep.volume, c->user, rep.message);
		else
			kt_pam_log(p, LOG_INFO, "Volume %s of %s %s: %s",
				   rep.volume, c->user,
				   kt_report_status_name(rep.status),
				   rep.message);
	}
	if (r < 0)
		(void)kt_pam_error(p, r, NULL, "Failed to read the report of "
				   "%s", p->agent_path);
	else if (r == 0)
		kt_pam_log(p, LOG_ERR, "%s ended before its report was "
			   "complete", p->agent_path);

report:
	for (size_t i = 0; i < c->n; i++) {
		if (!failed[i])
			continue;
		n_failed++;
		if (c->volumes[i].required && !required)
			required = c->volumes[i].name;
	}
	if (n_failed == 0) {
		volume_list(c, NULL, list, sizeof(list));
		tell(p, flags, PAM_TEXT_INFO, "keyturn: %s now open with the "
		     "new password", list);
		return PAM_IGNORE;
	}
	volume_list(c, failed, list, sizeof(list));
	kt_pam_log(p, LOG_WARNING, "Volumes %s of %s still take the old "
		   "password", list, c->user);
	tell(p, flags, PAM_ERROR_MSG, "keyturn: volumes %s still take the old "
	     "password; run: keyturnctl rekey --user %s", list, c->user);
	if (required)
		return kt_pam_error(p, -EKEYREJECTED, "it is required",
				    "Failed to re-key volume %s", required);
	return PAM_IGNORE;
}

_public_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc,
			      const char **argv)
{
	struct change c = { 0 };
	struct kt_pam p;
	int r;

	kt_pam_init(&p, pamh, KT_HOOK_CHAUTHTOK, argc, argv);
	/* The agent must run as root: passwd is set-uid root. */
	if (geteuid() != 0) {
		kt_pam_log(&p, LOG_DEBUG, "Not root, nothing to do");
		return PAM_IGNORE;
	}
	r = change_load(&p, &c);
	if (r <= 0) {
		kt_pam_log(&p, LOG_DEBUG, "Nothing to re-key");
		r = PAM_IGNORE;
	} else if (flags & PAM_PRELIM_CHECK) {
		kt_pam_log(&p, LOG_DEBUG, "%zu volume(s) of %s to re-key",
			   c.n, c.user);
		r = PAM_IGNORE;
	} else if (flags & PAM_UPDATE_AUTHTOK)
		r = update(&p, flags, &c);
	else
		r = PAM_IGNORE;
	change_done(&c);
	return r;
}
