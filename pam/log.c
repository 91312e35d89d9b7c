/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Module options, logging, and the one -errno -> PAM code mapping. */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "pam_keyturn.h"
#include "stash.h"

void kt_pam_init(struct kt_pam *p, pam_handle_t *pamh, enum kt_pam_hook hook,
		 int argc, const char **argv)
{
	*p = (struct kt_pam){
		.pamh = pamh,
		.hook = hook,
		.config_path = KT_CONFIG_PATH,
		.agent_path = KT_AGENT_PATH,
		.stash_timeout = KT_STASH_TIMEOUT,
	};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!a)
			continue;
		if (!strncmp(a, "config=", 7) && a[7])
			p->config_path = a + 7;
		else if (!strncmp(a, "agent=", 6) && a[6])
			p->agent_path = a + 6;
		else if (!strncmp(a, "stash_timeout=", 14)) {
			char *end;
			unsigned long t = strtoul(a + 14, &end, 10);

			/* 1 s to an hour: within seconds to minutes, the
			 * kernel forgets a stash on its own. */
			if (a[14] >= '1' && a[14] <= '9' && !*end && t <= 3600)
				p->stash_timeout = (unsigned)t;
			else
				pam_syslog(pamh, LOG_WARNING, "Bad value \"%s\", "
					   "using stash_timeout=%u, ignoring",
					   a, p->stash_timeout);
		} else if (!strcmp(a, "debug"))
			p->debug = true;
		else
			pam_syslog(pamh, LOG_WARNING,
				   "Unknown option \"%s\", ignoring", a);
	}
}

void kt_pam_log(const struct kt_pam *p, int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority == LOG_DEBUG && !p->debug)
		return;
	va_start(ap, fmt);
	pam_vsyslog(p->pamh, priority, fmt, ap);
	va_end(ap);
}

static int hook_code(enum kt_pam_hook hook, int err)
{
	switch (hook) {
	case KT_HOOK_OPEN:
		if (err == -EKEYREJECTED)
			return PAM_SESSION_ERR;
		return PAM_IGNORE;
	case KT_HOOK_CHAUTHTOK:
		/* A required volume that could not follow the change. */
		if (err == -EKEYREJECTED)
			return PAM_AUTHTOK_ERR;
		return PAM_IGNORE;
	case KT_HOOK_AUTH:
	case KT_HOOK_SETCRED:
	case KT_HOOK_CLOSE:
		break;
	}
	return PAM_IGNORE;
}

int kt_pam_error(const struct kt_pam *p, int err, const char *detail,
		 const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pam_syslog(p->pamh, LOG_ERR, "%s: %s", what,
		   detail && *detail ? detail : strerror(err < 0 ? -err : err));
	return hook_code(p->hook, err);
}
