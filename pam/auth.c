/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * auth: keep a locked copy of the login passphrase for open_session (the
 * host may clear PAM_AUTHTOK in between), and never decide who gets in.
 */
#include <errno.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <string.h>
#include <syslog.h>

#include "pam_keyturn.h"
#include "secret.h"

/* Wipes only: no I/O, no message, whatever error_status says. Hosts end
 * handles in forked children with PAM_DATA_SILENT. */
static void authtok_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	kt_secret_free(data);
}

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				 const char **argv)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	const char *tok = NULL;
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

	pass = kt_secret_from(tok, len);
	if (!pass)
		return kt_pam_error(&p, kt_negerrno(), NULL,
				    "Failed to keep %s", "the passphrase");
	/* Replacing an earlier stash runs its cleanup, which wipes it. */
	r = pam_set_data(pamh, KT_DATA_AUTHTOK, pass, authtok_cleanup);
	if (r != PAM_SUCCESS)
		return kt_pam_error(&p, -ENOMEM, pam_strerror(pamh, r),
				    "Failed to keep %s", "the passphrase");
	(void)TAKE_PTR(pass); /* PAM owns it now */
	kt_pam_log(&p, LOG_DEBUG, "Kept the passphrase for the session");
	return PAM_IGNORE;
}

_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			    const char **argv)
{
	return PAM_IGNORE;
}
