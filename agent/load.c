/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an agent starts from: the config, the user and their volumes,
 * the passphrase the module hands over, and a hardened process. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "agent_fds.h"

#define PASSPHRASE_TIMEOUT_MS 10000

static void agent_unload_config(struct agent *a);

int agent_load(struct agent *a, const char *user, const char *config)
{
	struct kt_diag diag = { { 0 } };
	struct kt_user_plan up;
	enum kt_plan_step step;
	int r;

	agent_unload_config(a);
	r = kt_user_plan_load(config, user, NULL, &up, &step, &diag);
	/* A resumed session knows its uid: a name that now means another
	 * uid is not this session's user. */
	if (up.user && a->user && a->user->uid != up.user->uid) {
		agent_log(LOG_ERR, "%s: the name now belongs to uid %u, not "
				   "%u",
			  user, (unsigned)up.user->uid,
			  (unsigned)a->user->uid);
		kt_user_plan_free(&up);
		return -ESTALE;
	}
	if (up.user) {
		kt_user_free(a->user);
		a->user = up.user;
	}
	a->config = up.config;
	a->volumes = up.volumes;
	a->n_volumes = up.n;
	a->n_alloc = up.n_alloc;
	switch (step) {
	case KT_STEP_NONE:
	case KT_STEP_SERVICE:
		break;
	case KT_STEP_CONFIG:
		agent_log(LOG_ERR, "Failed to load %s: %s", config,
			  diag.message[0] ? diag.message : strerror(-r));
		return r;
	case KT_STEP_NAME:
		agent_log(LOG_ERR, "Failed to look up user: the name %s",
			  diag.message);
		return r;
	case KT_STEP_USER:
		agent_log(LOG_ERR, "Failed to look up user: %s", strerror(-r));
		return r;
	case KT_STEP_VOLUMES:
		agent_log(LOG_ERR, "%s", diag.message);
		return r;
	}

	r = kt_key_description(a->config->key_prefix, a->user->name,
			       a->key_desc, sizeof(a->key_desc));
	if (r < 0) {
		agent_log(LOG_ERR, "Failed to make the key description: %s",
			  strerror(-r));
		return r;
	}
	return 0;
}

/* The config and the volumes it names, not the user. */
static void agent_unload_config(struct agent *a)
{
	kt_volumes_free(a->volumes, a->n_alloc);
	a->volumes = NULL;
	a->n_volumes = a->n_alloc = 0;
	a->config = kt_config_free(a->config);
}

void agent_unload(struct agent *a)
{
	agent_unload_config(a);
	a->user = kt_user_free(a->user);
}

void agent_harden(void)
{
	struct rlimit no_core = { 0, 0 };

	/* Secrets pass through this process: no core dumps, no ptrace by
	 * the user, no inherited umask. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
	umask(077);
	if (chdir("/") < 0)
		agent_log(LOG_WARNING, "Failed to change to /, ignoring");
	signal(SIGPIPE, SIG_IGN);
}

/* The module hands the passphrase over on fd 4, a pipe (lib/protocol.h);
 * without one, fd 4 is not there. */
void agent_passphrase_read(struct kt_secret **ret)
{
	struct stat st;
	int r;

	if (fstat(KT_AGENT_FD_PASSPHRASE, &st) < 0 || !S_ISFIFO(st.st_mode))
		return;
	r = kt_secret_pipe_read(KT_AGENT_FD_PASSPHRASE,
				kt_now_ms() + PASSPHRASE_TIMEOUT_MS, ret);
	(void)close(KT_AGENT_FD_PASSPHRASE);
	if (r < 0)
		agent_log(LOG_ERR, "Failed to read the passphrase from the "
				   "module: %s", strerror(-r));
}
