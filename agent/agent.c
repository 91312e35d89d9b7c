/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn-agent: one per login session, started by pam_keyturn.so as
 * root inside the session's keyring. Unlocks the user's volumes, reports
 * to the module, holds the session, and locks everything again when the
 * user's last session ends (close from the module, or EOF when the PAM
 * host died).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "hold.h"
#include "luks.h"
#include "session.h"

static int usage(void)
{
	fprintf(stderr, "keyturn-agent is started by pam_keyturn.so; "
			"see keyturn-agent(8).\n");
	return 2;
}

/* keyturnctl lock: the teardown by hand, reported on stdout. A config
 * that does not load still leaves the records: what sessions opened is
 * locked from them alone. */
static int lock_main(struct agent *a, const char *user, const char *config)
{
	openlog("keyturn-agent", LOG_PID, LOG_AUTHPRIV);
	agent_harden();
	kt_luks_set_log(agent_cryptsetup_log, NULL);
	a->sock = STDOUT_FILENO;
	a->human = true;
	if (agent_load(a, user, config) < 0 && !a->user &&
	    kt_user_lookup(user, &a->user) < 0)
		return 1;
	agent_log(LOG_NOTICE, "%s: locking by hand (keyturnctl lock)", user);
	agent_lock_by_hand(a);
	agent_unload(a);
	return 0;
}

/* The process as the session agent: its name in ps and the log (the
 * holder's image has it too), descriptors 4 to 7 held for the hand-over,
 * hardened. */
static void become_agent(bool resume)
{
	/* Resumed through the holder's descriptor, the name is that
	 * descriptor's number. */
	(void)prctl(PR_SET_NAME, HOLD_COMM);
	agent_fds_reserve(resume);
	openlog(HOLD_COMM, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	agent_harden();
	kt_luks_set_log(agent_cryptsetup_log, NULL);
}

/* The session's start: config, user and volumes; counted among the
 * user's sessions; the passphrase in the agent's own keyring; every
 * volume opened and reported, then "done" (the module's copy of the
 * passphrase is freed before); the control socket for
 * keyturnctl unlock. -errno when there is no session to hold. */
static int session_begin(struct agent *a, const char *user,
			 const char *config, struct kt_secret **pass)
{
	int r;

	r = agent_load(a, user, config);
	if (r < 0) {
		agent_send_line(a->sock, "done");
		return r;
	}
	agent_state_set_user(a);

	/* Waits here while a teardown of this user's volumes runs. */
	a->sessions_fd = agent_fd_place(kt_session_join(a->user->uid),
					KT_AGENT_FD_SESSIONS);
	if (a->sessions_fd < 0)
		agent_log(LOG_ERR, "Failed to join the sessions of %s: %s",
			  a->user->name, strerror(-a->sessions_fd));

	(void)agent_take_passphrase(a, *pass);
	*pass = kt_secret_free(*pass);
	agent_open_all(a, a->sock);
	agent_send_line(a->sock, "done");

	a->control = agent_fd_place(
		kt_control_listen(a->user->uid, a->user->gid, a->control_path,
				  sizeof(a->control_path)),
		KT_AGENT_FD_CONTROL);
	if (a->control < 0)
		agent_log(LOG_WARNING, "Failed to listen for keyturnctl "
				       "unlock: %s, ignoring",
			  strerror(-a->control));
	return 0;
}

/* Given back by keyturn-hold: the session as it was handed over. */
static int session_resume(struct agent *a, const char *user,
			  const char *config)
{
	int r = agent_resume(a, user, config);

	if (r < 0) {
		/* Exiting drops the session's count and the module sees
		 * EOF; the volumes wait for another session's end or
		 * keyturnctl lock. */
		agent_log(LOG_CRIT, "%s: cannot resume the session; its "
				    "volumes stay open until the user's last "
				    "session ends or keyturnctl lock %s",
			  user, user);
		if (a->control_path[0])
			(void)unlink(a->control_path);
	}
	return r;
}

/* The session's end: locked if it was the user's last, reported. */
static void session_end(struct agent *a)
{
	agent_close_all(a);
	agent_send_line(a->sock, "done");
	if (a->control >= 0)
		(void)unlink(a->control_path);
	kt_close(a->control);
	kt_close(a->sessions_fd);
	agent_unload(a);
}

/*
 * One login session's life: the module starts the agent with the login
 * passphrase (or none); it opens the user's volumes and reports; it
 * holds the session, mostly as keyturn-hold, which gives the process
 * back (--resume) when something happens; at the session's end it locks
 * what it opened, if that was the user's last session.
 */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "service", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "lock", no_argument, NULL, 'l' },
		{ "resume", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .sock = KT_AGENT_FD_MODULE, .sessions_fd = -1,
			   .control = -1 };
	_cleanup_secret_ struct kt_secret *pass = NULL;
	const char *user = NULL, *config = KT_CONFIG_PATH;
	bool lock_mode = false, resume = false;
	int type, c;
	socklen_t len = sizeof(type);

	/* Password change: a separate mode (agent/rekey.c). */
	if (argc > 1 && !strcmp(argv[1], KT_AGENT_MODE_REKEY))
		return rekey_main(argc - 1, argv + 1);

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 's': a.service = optarg; break;
		case 'c': config = optarg; break;
		case 'l': lock_mode = true; break;
		case 'R': resume = true; break;
		default: return usage();
		}
	}
	a.config_path = config;
	if (lock_mode && !resume && user && optind == argc &&
	    geteuid() == 0)
		return lock_main(&a, user, config);
	if (!user || !a.service || optind != argc || lock_mode ||
	    getsockopt(KT_AGENT_FD_MODULE, SOL_SOCKET, SO_TYPE, &type,
		       &len) < 0 ||
	    type != SOCK_STREAM)
		return usage();
	if (geteuid() != 0) {
		fprintf(stderr, "keyturn-agent: must run as root\n");
		return 1;
	}

	/* The login passphrase, if the module had one: read and closed
	 * before fd 4 becomes a placeholder (lib/agent_fds.h). */
	if (!resume)
		agent_passphrase_read(&pass);
	become_agent(resume);

	if (resume) {
		if (session_resume(&a, user, config) < 0)
			return 1;
	} else {
		if (session_begin(&a, user, config, &pass) < 0)
			return 1;
	}
	agent_hold(&a);
	session_end(&a);
	return 0;
}
