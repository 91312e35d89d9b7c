/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * auth: stash the login passphrase for open_session (the host may clear
 * PAM_AUTHTOK in between, or open the session in another process), and
 * never decide who gets in. setcred: a screen locker's call drops it.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <string.h>
#include <syslog.h>

#include "pam_keyturn.h"
#include "secret.h"
#include "stash.h"

/* Wipes only: no I/O, no message, whatever error_status says. Hosts end
 * handles in forked children with PAM_DATA_SILENT. */
static void authtok_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	kt_secret_free(data);
}

/* Drops the stash the handle made, unless a forked child of the host
 * ends its copy of the handle (PAM_DATA_SILENT): the parent goes on with
 * it. Never writes, never logs. */
static void stash_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct kt_stash_ref *ref = data;

	if (!ref)
		return;
	if (!(error_status & PAM_DATA_SILENT))
		kt_stash_drop(ref->key);
	sodium_memzero(ref, sizeof(*ref));
	free(ref);
}

void kt_pam_drop_stash(const struct kt_pam *p)
{
	/* Replacing data runs its cleanup: the copy is wiped, the stash
	 * key revoked; deleting the variable drops the sealing key. */
	(void)pam_set_data(p->pamh, KT_DATA_AUTHTOK, NULL, NULL);
	(void)pam_set_data(p->pamh, KT_DATA_STASH, NULL, NULL);
	if (pam_getenv(p->pamh, KT_STASH_ENV))
		(void)pam_putenv(p->pamh, KT_STASH_ENV);
}

/*
 * The stash for open_session, which may run in another process (sshd's
 * keyboard-interactive child): the sealed passphrase in the keyring, the
 * reference in the PAM environment, and the reference here too so that
 * pam_end() drops it. 0, or -errno when there is none.
 */
static int stash(const struct kt_pam *p, const char *user,
		 const struct kt_secret *pass)
{
	char text[KT_STASH_REF_MAX + sizeof(KT_STASH_ENV)];
	struct kt_stash_ref *ref;
	int r;

	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return -ENOMEM;
	r = kt_stash_put(user, pass, p->stash_timeout, ref);
	if (r < 0) {
		free(ref);
		return r;
	}
	memcpy(text, KT_STASH_ENV "=", sizeof(KT_STASH_ENV));
	r = kt_stash_ref_format(ref, text + sizeof(KT_STASH_ENV),
				sizeof(text) - sizeof(KT_STASH_ENV));
	if (r >= 0 && pam_putenv(p->pamh, text) != PAM_SUCCESS)
		r = -ENOMEM;
	sodium_memzero(text, sizeof(text));
	if (r >= 0 && pam_set_data(p->pamh, KT_DATA_STASH, ref,
				   stash_cleanup) != PAM_SUCCESS)
		r = -ENOMEM;
	if (r < 0) {
		stash_cleanup(p->pamh, ref, 0);
		if (pam_getenv(p->pamh, KT_STASH_ENV))
			(void)pam_putenv(p->pamh, KT_STASH_ENV);
	}
	return r;
}

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				 const char **argv)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	const char *tok = NULL, *user = NULL;
	struct kt_pam p;
	size_t len;
	int r;

	kt_pam_init(&p, pamh, KT_HOOK_AUTH, argc, argv);

	/* The authenticator above us has set it; never prompt ourselves
	 * (a prompt here would be a second password question). */
	r = pam_get_item(pamh, PAM_AUTHTOK, (const void **)&tok);
	if (r != PAM_SUCCESS || !tok) {
		kt_pam_log(&p, LOG_DEBUG, "No PAM_AUTHTOK to keep");
		return PAM_IGNORE;
	}
	len = strnlen(tok, KT_PASSPHRASE_MAX + 1);
	if (len == 0)
		return PAM_IGNORE;
	if (len > KT_PASSPHRASE_MAX)
		return kt_pam_error(&p, -E2BIG, NULL, "Failed to keep %s",
				    "the passphrase");
	if (pam_get_item(pamh, PAM_USER, (const void **)&user) !=
		    PAM_SUCCESS || !user)
		return PAM_IGNORE;

	pass = kt_secret_from(tok, len);
	if (!pass)
		return kt_pam_error(&p, kt_negerrno(), NULL,
				    "Failed to keep %s", "the passphrase");
	/* An earlier try of this handle leaves nothing behind. */
	kt_pam_drop_stash(&p);
	/* For another process of the host (sshd's keyboard-interactive
	 * child hands its PAM environment back, not its PAM data). */
	if (geteuid() == 0) {
		r = stash(&p, user, pass);
		if (r < 0)
			kt_pam_log(&p, LOG_DEBUG, "Failed to stash the "
				   "passphrase: %s, ignoring", strerror(-r));
	}
	/* For this process, which most hosts open the session in: it
	 * depends on no keyring (pam_keyinit may give the process a new
	 * session keyring in between, and the kernel then collects the
	 * old one with the stash in it). */
	r = pam_set_data(pamh, KT_DATA_AUTHTOK, pass, authtok_cleanup);
	if (r != PAM_SUCCESS)
		return kt_pam_error(&p, -ENOMEM, pam_strerror(pamh, r),
				    "Failed to keep %s", "the passphrase");
	(void)TAKE_PTR(pass); /* PAM owns it now */
	kt_pam_log(&p, LOG_DEBUG, "Kept the passphrase for the session");
	return PAM_IGNORE;
}

/*
 * A screen locker authenticates and then reinitialises or refreshes the
 * credentials, and opens no session: nothing of the passphrase may stay
 * behind. Deleting them ends them too. Establishing them (a login, before
 * or after open_session) keeps the stash for open_session.
 */
_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			    const char **argv)
{
	struct kt_pam p;

	kt_pam_init(&p, pamh, KT_HOOK_SETCRED, argc, argv);
	if (flags & (PAM_REINITIALIZE_CRED | PAM_REFRESH_CRED |
		     PAM_DELETE_CRED)) {
		kt_pam_drop_stash(&p);
		kt_pam_log(&p, LOG_DEBUG, "Dropped the kept passphrase");
	}
	return PAM_IGNORE;
}
