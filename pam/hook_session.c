/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * open_session: take the passphrase auth stashed, start the agent with it
 * on a pipe, wait for its report. close_session:
 * tell the agent. A user or service keyturn does not manage returns at
 * once, with nothing done.
 */
#include <errno.h>
#include <sodium.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "keyring.h"
#include "pam_keyturn.h"
#include "protocol.h"
#include "secret.h"
#include "stash.h"
#include "user.h"

/* What open_session works on, once it knows the user is managed. */
struct plan {
	const char *user;
	const char *service;
	struct kt_config *config;
	struct kt_user *account;
	struct kt_volume *volumes; /* those that apply, first n */
	size_t n;
	size_t n_alloc;            /* for kt_volumes_free() */
	int *status;               /* per volume: reported status or -1 */
};

static void plan_done(struct plan *pl)
{
	free(pl->status);
	kt_volumes_free(pl->volumes, pl->n_alloc);
	kt_user_free(pl->account);
	kt_config_free(pl->config);
}

static unsigned wait_bound(const struct kt_config *c)
{
	return c && c->unlock_timeout ? c->unlock_timeout
				      : KT_UNLOCK_TIMEOUT_FALLBACK;
}

/*
 * Finds out whether keyturn has work for this login. Returns -1 when it
 * has, otherwise the hook's PAM code (nothing to do, or an error that
 * was logged and must not refuse the login).
 */
static int plan_load(struct kt_pam *p, struct plan *pl)
{
	struct kt_diag diag = { { 0 } };
	struct kt_user_plan up;
	enum kt_plan_step step;
	int r;

	r = pam_get_item(p->pamh, PAM_USER, (const void **)&pl->user);
	if (r != PAM_SUCCESS || !pl->user) {
		kt_pam_log(p, LOG_DEBUG, "No user, nothing to do");
		return PAM_IGNORE;
	}
	r = pam_get_item(p->pamh, PAM_SERVICE, (const void **)&pl->service);
	if (r != PAM_SUCCESS || !pl->service)
		pl->service = "";

	r = kt_user_plan_load(p->config_path, pl->user, pl->service, &up,
			      &step, &diag);
	/* The plan's parts are this plan's: plan_done() frees them. */
	pl->config = up.config;
	pl->account = up.user;
	pl->volumes = up.volumes;
	pl->n = up.n;
	pl->n_alloc = up.n_alloc;
	switch (step) {
	case KT_STEP_NONE:
		break;
	case KT_STEP_CONFIG:
		if (r == -ENOENT) {
			kt_pam_log(p, LOG_DEBUG, "No %s, nothing to do",
				   p->config_path);
			return PAM_IGNORE;
		}
		/* The diagnostic names the file (and line) itself. */
		return kt_pam_error(p, r, diag.message, "Failed to load %s",
				    diag.message[0] ? "the configuration"
						    : p->config_path);
	case KT_STEP_SERVICE:
		kt_pam_log(p, LOG_DEBUG, "Service %s is skipped", pl->service);
		return PAM_IGNORE;
	case KT_STEP_NAME:
		kt_pam_log(p, LOG_DEBUG, "User name %s, nothing to do",
			   diag.message);
		return PAM_IGNORE;
	case KT_STEP_USER:
		if (r == -ENOENT) {
			kt_pam_log(p, LOG_DEBUG, "No account %s, nothing to do",
				   pl->user);
			return PAM_IGNORE;
		}
		return kt_pam_error(p, r, NULL, "Failed to look up user %s",
				    pl->user);
	case KT_STEP_VOLUMES:
		return kt_pam_error(p, r, diag.message,
				    "Failed to find the volumes of %s",
				    pl->user);
	}
	if (pl->n == 0) {
		kt_pam_log(p, LOG_DEBUG, "No volume for %s, nothing to do",
			   pl->user);
		return PAM_IGNORE;
	}

	pl->status = malloc(pl->n * sizeof(*pl->status));
	if (!pl->status)
		return kt_pam_error(p, -ENOMEM, NULL, "Failed to plan %s",
				    "the session");
	for (size_t i = 0; i < pl->n; i++)
		pl->status[i] = -1;
	return -1;
}

/*
 * The login passphrase, in the order a host can keep it: the copy auth
 * kept in this process, the stash auth made (named in the PAM
 * environment: auth may have run in another process of the host), or
 * PAM_AUTHTOK if the host still has it. NULL when there is none.
 */
static struct kt_secret *passphrase(const struct kt_pam *p, const char *user)
{
	struct kt_secret *pass = NULL;
	struct kt_stash_ref ref;
	const void *kept = NULL;
	const char *text, *tok = NULL;
	size_t len;
	int r;

	if (pam_get_data(p->pamh, KT_DATA_AUTHTOK, &kept) == PAM_SUCCESS &&
	    kept) {
		kt_pam_log(p, LOG_DEBUG, "Using the passphrase kept at auth");
		return kt_secret_dup(kept);
	}
	text = pam_getenv(p->pamh, KT_STASH_ENV);
	if (text) {
		r = kt_stash_ref_parse(text, &ref);
		if (r >= 0)
			r = kt_stash_take(&ref, user, &pass);
		sodium_memzero(&ref, sizeof(ref));
		if (r >= 0) {
			kt_pam_log(p, LOG_DEBUG, "Using the passphrase "
				   "stashed at auth");
			return pass;
		}
		kt_pam_log(p, LOG_NOTICE, "Failed to take the passphrase "
			   "stashed at auth: %s, ignoring",
			   r == -ENOKEY ? "gone (expired or revoked)" :
			   r == -EBADMSG ? "it does not unseal" :
					   strerror(-r));
	}
	if (pam_get_item(p->pamh, PAM_AUTHTOK, (const void **)&tok) !=
		    PAM_SUCCESS || !tok)
		return NULL;
	len = strnlen(tok, KT_PASSPHRASE_MAX + 1);
	if (len == 0 || len > KT_PASSPHRASE_MAX)
		return NULL;
	pass = kt_secret_from(tok, len);
	if (pass)
		kt_pam_log(p, LOG_DEBUG, "Using PAM_AUTHTOK");
	return pass;
}

static void log_report(const struct kt_pam *p, const char *user,
		       const struct kt_report *rep)
{
	const char *what = rep->message[0] ? rep->message :
			   rep->error ? strerror(rep->error) : "";

	switch (rep->status) {
	case KT_REPORT_OPENED:
	case KT_REPORT_REUSED:
	case KT_REPORT_CLOSED:
		kt_pam_log(p, LOG_INFO, "Volume %s of %s %s", rep->volume,
			   user, kt_report_status_name(rep->status));
		break;
	case KT_REPORT_LOCKED:
	case KT_REPORT_KEPT:
		kt_pam_log(p, LOG_NOTICE, "Volume %s of %s %s: %s",
			   rep->volume, user,
			   kt_report_status_name(rep->status), what);
		break;
	case KT_REPORT_FAILED:
	default:
		kt_pam_log(p, LOG_ERR, "Failed to open volume %s of %s: %s",
			   rep->volume, user, what);
		break;
	}
}

/*
 * Reads report lines until "done", EOF or the deadline, logging each.
 * Returns 1 after "done", 0 at EOF, -ETIMEDOUT or -errno.
 */
static int read_reports(const struct kt_pam *p, int fd, long long deadline,
			const char *user, struct plan *pl)
{
	for (;;) {
		char line[KT_LINE_MAX];
		struct kt_report rep;
		int r;

		r = kt_line_read(fd, line, sizeof(line), deadline);
		if (r == -EBADMSG) {
			kt_pam_log(p, LOG_WARNING, "Failed to read a line from "
				   "the agent: malformed, ignoring");
			continue;
		}
		if (r <= 0)
			return r;
		if (!strcmp(line, "done"))
			return 1;
		if (kt_report_parse(line, &rep) < 0) {
			kt_pam_log(p, LOG_WARNING, "Failed to parse a line from "
				   "the agent, ignoring");
			continue;
		}
		log_report(p, user, &rep);
		for (size_t i = 0; pl && i < pl->n; i++)
			if (!strcmp(pl->volumes[i].name, rep.volume))
				pl->status[i] = (int)rep.status;
	}
}

/* Closes only: the agent notices EOF and ends the session itself.
 * Never writes (PAM_DATA_SILENT: a forked child of the host ends its
 * copy of the handle while the parent goes on). */
static void agent_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct kt_pam_agent *a = data;

	if (!a)
		return;
	kt_close(a->fd);
	free(a);
}

/* The first required volume that did not open, or NULL. */
static const char *required_missing(const struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		if (pl->volumes[i].required &&
		    pl->status[i] != KT_REPORT_OPENED &&
		    pl->status[i] != KT_REPORT_REUSED)
			return pl->volumes[i].name;
	return NULL;
}

static int open_session(struct kt_pam *p, struct plan *pl)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	_cleanup_close_ int fd = -1, secret = -1;
	struct kt_pam_agent *a;
	const char *missing;
	int r, agent = -ENOENT; /* as read_reports() */

	/* The agent reads it from a pipe at its start and puts it in a
	 * keyring of its own: no keyring of the host, which others may
	 * share (su's caller, a service's other sessions), ever holds it. */
	pass = passphrase(p, pl->user);
	kt_pam_drop_stash(p);
	if (pass) {
		const struct kt_secret *one[] = { pass };

		secret = kt_secret_pipe(one, 1);
		if (secret < 0)
			(void)kt_pam_error(p, secret, NULL, "Failed to hand "
					   "over %s", "the passphrase");
	} else
		kt_pam_log(p, LOG_INFO, "No passphrase for %s: volumes not "
			   "open yet stay locked", pl->user);
	pass = kt_secret_free(pass);

	r = kt_pam_spawn_agent_mode(p->agent_path, NULL, pl->user,
				    pl->service, p->config_path, secret, &fd);
	secret = kt_close(secret);
	if (r < 0)
		(void)kt_pam_error(p, r, NULL, "Failed to start %s",
				   p->agent_path);
	else {
		long long deadline = kt_now_ms() +
				     (long long)wait_bound(pl->config) * 1000;

		r = read_reports(p, fd, deadline, pl->user, pl);
		if (r == 0)
			kt_pam_log(p, LOG_ERR, "Failed to get a report from "
				   "%s: it ended early", p->agent_path);
		else if (r < 0)
			(void)kt_pam_error(p, r, NULL, "Failed to read the "
					   "report of %s", p->agent_path);
		agent = r;
	}

	missing = required_missing(pl);
	if (missing)
		/* fd closes here: the agent sees EOF and locks again what
		 * it opened for this refused session. */
		return kt_pam_error(p, -EKEYREJECTED,
				    "it is required, refusing the session",
				    "Failed to open volume %s", missing);

	/* An agent that ended (or never ran) has nothing to be told at
	 * close; one that is still working (timeout) keeps the session. */
	if (fd < 0 || agent == 0)
		return PAM_SUCCESS;
	a = malloc(sizeof(*a));
	if (!a)
		return kt_pam_error(p, -ENOMEM, NULL, "Failed to keep %s",
				    "the agent connection");
	a->fd = fd;
	a->timeout = wait_bound(pl->config);
	a->open_done = agent == 1;
	if (pam_set_data(p->pamh, KT_DATA_AGENT, a, agent_cleanup) !=
	    PAM_SUCCESS) {
		free(a);
		return kt_pam_error(p, -ENOMEM, NULL, "Failed to keep %s",
				    "the agent connection");
	}
	(void)TAKE_FD(fd);
	return PAM_SUCCESS;
}

_public_ int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				 const char **argv)
{
	struct plan pl = { 0 };
	struct kt_pam p;
	int r;

	kt_pam_init(&p, pamh, KT_HOOK_OPEN, argc, argv);
	if (geteuid() != 0) {
		kt_pam_log(&p, LOG_DEBUG, "Not root, nothing to do");
		kt_pam_drop_stash(&p);
		return PAM_IGNORE;
	}
	r = plan_load(&p, &pl);
	if (r == -1)
		r = open_session(&p, &pl);
	plan_done(&pl);
	kt_pam_drop_stash(&p);
	return r;
}

_public_ int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
				  const char **argv)
{
	const void *data = NULL;
	struct kt_pam_agent *a;
	const char *user = NULL;
	long long deadline;
	struct kt_pam p;
	int r;

	kt_pam_init(&p, pamh, KT_HOOK_CLOSE, argc, argv);
	if (pam_get_data(pamh, KT_DATA_AGENT, &data) != PAM_SUCCESS || !data)
		return PAM_IGNORE;
	a = (struct kt_pam_agent *)data;
	if (pam_get_item(pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS ||
	    !user)
		user = "?";

	deadline = kt_now_ms() + (long long)a->timeout * 1000;
	r = kt_line_write(a->fd, "close");
	if (r < 0)
		(void)kt_pam_error(&p, r, NULL, "Failed to tell %s",
				   "the agent that the session ends");
	else {
		/* Lines of an open phase that outlasted its wait come
		 * first, up to their own "done". */
		r = a->open_done ? 1 :
				   read_reports(&p, a->fd, deadline, user, NULL);
		if (r == 1)
			r = read_reports(&p, a->fd, deadline, user, NULL);
		if (r < 0)
			(void)kt_pam_error(&p, r, NULL, "Failed to read the "
					   "report of %s", "the agent");
	}

	/* Runs agent_cleanup(): our end closes. */
	if (pam_set_data(pamh, KT_DATA_AGENT, NULL, NULL) != PAM_SUCCESS)
		kt_pam_log(&p, LOG_DEBUG, "Failed to drop the agent data");
	return PAM_SUCCESS;
}
