/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_PAM_KEYTURN_H
#define KT_PAM_KEYTURN_H

#include <security/pam_modules.h>
#include <stdbool.h>

#include "macro.h"

#ifndef KT_AGENT_PATH
#define KT_AGENT_PATH "/usr/libexec/keyturn/keyturn-agent"
#endif

/* pam_set_data() names. The user is in the handle: one of each is
 * enough. */
#define KT_DATA_AUTHTOK "keyturn_authtok"
#define KT_DATA_AGENT "keyturn_agent"
#define KT_DATA_STASH "keyturn_stash"

/* When the config sets no bound (0), every wait still ends. */
#define KT_UNLOCK_TIMEOUT_FALLBACK 60

enum kt_pam_hook {
	KT_HOOK_AUTH,
	KT_HOOK_SETCRED,
	KT_HOOK_OPEN,
	KT_HOOK_CLOSE,
	KT_HOOK_CHAUTHTOK,
};

/* One call of a hook: its handle and module options. */
struct kt_pam {
	pam_handle_t *pamh;
	enum kt_pam_hook hook;
	const char *config_path; /* config=PATH */
	const char *agent_path;  /* agent=PATH */
	unsigned stash_timeout;  /* stash_timeout=S (lib/stash.h) */
	bool debug;
};

/* Parses argv (unknown options are logged and ignored). */
void kt_pam_init(struct kt_pam *p, pam_handle_t *pamh, enum kt_pam_hook hook,
		 int argc, const char **argv);

/* pam_syslog(); LOG_DEBUG only with the "debug" option. */
void kt_pam_log(const struct kt_pam *p, int priority, const char *fmt, ...)
	_printf_(3, 4);

/* Drops every copy auth made of the passphrase in this handle: the
 * in-process one, the stash key and its reference in the environment. */
void kt_pam_drop_stash(const struct kt_pam *p);

/*
 * The one place where -errno becomes a PAM code: logs
 * "<fmt...>: <detail, or strerror(-err)>" and returns the hook's code for
 * err. Only -EKEYREJECTED in open_session (a required volume stayed
 * locked) and in chauthtok (a required volume was not re-keyed) fails a
 * hook; everything else is PAM_IGNORE, because keyturn never decides who
 * gets in.
 */
int kt_pam_error(const struct kt_pam *p, int err, const char *detail,
		 const char *fmt, ...) _printf_(4, 5);

/*
 * Starts the agent per the module <-> agent contract: double fork,
 * setsid, fd 3 = its end of a socketpair, 0-2 on /dev/null, every other
 * fd closed, signals reset, empty environment, the host's SIGCHLD
 * disposition restored. Returns our end (close-on-exec) in *ret_fd.
 */
int kt_pam_spawn_agent(const char *agent, const char *user,
		       const char *service, const char *config,
		       int *ret_fd) _wur_;

/*
 * The same with a mode option after argv[0] (mode NULL: none) and, when
 * extra_fd >= 0, that descriptor as the agent's fd 4 (the re-key mode
 * reads its passphrases there).
 */
int kt_pam_spawn_agent_mode(const char *agent, const char *mode,
			    const char *user, const char *service,
			    const char *config, int extra_fd,
			    int *ret_fd) _wur_;

/* The per-session state kept with pam_set_data(KT_DATA_AGENT). */
struct kt_pam_agent {
	int fd;
	unsigned timeout; /* s, bound of the wait at close */
	bool open_done;   /* its open phase ended with "done" */
};

#endif
