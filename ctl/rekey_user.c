/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl rekey --user USER: bring USER's volumes in step with their
 * login password after a change keyturn could not follow (root ran
 * passwd, a volume was offline). Runs keyturn-agent --rekey, the same
 * code as the password change, with the old password (or, for LUKS2,
 * any other passphrase of the volume, a recovery one) and the new one on
 * a pipe, and prints its report.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_spawn.h"
#include "ctl.h"
#include "protocol.h"
#include "user.h"

#ifndef KT_AGENT_PATH
#define KT_AGENT_PATH "/usr/libexec/keyturn/keyturn-agent"
#endif

#define REKEY_TIMEOUT_MS (10 * 60 * 1000)

struct rekey_args {
	const char *user;
	const char *config;
	const char *agent;
	bool from_stdin;
};

static int parse_args(int argc, char **argv, struct rekey_args *a)
{
	enum { OPT_AGENT = 0x100 };
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "stdin", no_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "agent", required_argument, NULL, OPT_AGENT },
		{}
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":u:c:", options, NULL)) >= 0) {
		switch (c) {
		case 'u':
			a->user = optarg;
			break;
		case 's':
			a->from_stdin = true;
			break;
		case 'c':
			a->config = optarg;
			break;
		case OPT_AGENT:
			a->agent = optarg;
			break;
		case ':':
			return ctl_usage_error("rekey: option %s needs a value",
					       argv[optind - 1]);
		default:
			return ctl_usage_error("rekey: unknown option %s",
					       argv[optind - 1]);
		}
	}
	if (optind != argc)
		return ctl_usage_error("rekey takes no arguments: rekey --user "
				       "USER");
	if (!a->user)
		return ctl_usage_error("rekey needs --user USER");
	if (a->agent[0] != '/')
		return ctl_usage_error("--agent wants an absolute path");
	return 0;
}

/* Old (or recovery) passphrase and new login password: stdin lines 1
 * and 2, or asked on the terminal (the new one twice). */
static int read_passphrases(const struct rekey_args *a,
			    struct kt_secret **ret_old,
			    struct kt_secret **ret_new)
{
	_cleanup_secret_ struct kt_secret *old = NULL, *nw = NULL;
	char prompt[256];
	int r;

	snprintf(prompt, sizeof(prompt), "Old password of %s (or a LUKS2 "
		 "recovery passphrase): ", a->user);
	r = ctl_read_secret(a->from_stdin, 1, prompt, "old password", &old);
	if (r < 0)
		return r;
	if (old->len == 0) {
		ctl_error("Refusing an empty old password");
		return -EINVAL;
	}
	snprintf(prompt, sizeof(prompt), "Current login password of %s: ",
		 a->user);
	r = ctl_read_new_secret(a->from_stdin, 2, prompt,
				"Current login password again: ",
				"new password", &nw);
	if (r < 0)
		return r;
	*ret_old = TAKE_PTR(old);
	*ret_new = TAKE_PTR(nw);
	return 0;
}

static void print_report(const struct kt_report *rep, int *failed)
{
	switch (rep->status) {
	case KT_REPORT_REKEYED:
		printf("%s: re-keyed: %s\n", rep->volume, rep->message);
		break;
	case KT_REPORT_UNCHANGED:
		printf("%s: already in step: %s\n", rep->volume, rep->message);
		break;
	default:
		(*failed)++;
		printf("%s: FAILED: %s\n", rep->volume, rep->message);
		break;
	}
}

int ctl_rekey(int argc, char **argv)
{
	struct rekey_args a = {
		.config = KT_CONFIG_PATH,
		.agent = KT_AGENT_PATH,
	};
	_cleanup_secret_ struct kt_secret *old = NULL, *nw = NULL;
	_cleanup_user_ struct kt_user *user = NULL;
	_cleanup_close_ int ours = -1, theirs = -1, secrets = -1;
	long long deadline;
	int sv[2], status, failed = 0, volumes = 0, r;
	bool done = false;
	pid_t pid;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r;
	r = ctl_user_lookup(a.user, &user);
	if (r != 0)
		return r;
	if (geteuid() != 0) {
		ctl_error("rekey needs root");
		return CTL_EXIT_FAILURE;
	}
	r = read_passphrases(&a, &old, &nw);
	if (r < 0)
		return CTL_EXIT_FAILURE;

	secrets = kt_rekey_pipe(old->data, old->len, nw->data, nw->len);
	if (secrets < 0)
		return ctl_fail(secrets, "pass the passphrases on");
	old = kt_secret_free(old);
	nw = kt_secret_free(nw);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ctl_fail(kt_negerrno(), "make a socket pair");
	ours = sv[0];
	theirs = sv[1];
	(void)signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	/* The report socket and the passphrases at the agent's fds 3 and
	 * 4, our 0-2 its own. */
	r = kt_agent_spawn(&(struct kt_agent_start){
				   .agent = a.agent,
				   .mode = KT_AGENT_MODE_REKEY,
				   .user = a.user,
				   .service = "keyturnctl",
				   .config = a.config,
				   .module_fd = theirs,
				   .extra_fd = secrets,
			   }, &pid);
	if (r < 0)
		return ctl_fail(r, "start %s", a.agent);
	theirs = kt_close(theirs);
	secrets = kt_close(secrets);

	deadline = kt_now_ms() + REKEY_TIMEOUT_MS;
	for (;;) {
		char line[KT_LINE_MAX];
		struct kt_report rep;

		r = kt_line_read(ours, line, sizeof(line), deadline);
		if (r <= 0)
			break;
		if (!strcmp(line, "done")) {
			done = true;
			break;
		}
		if (kt_report_parse(line, &rep) < 0)
			continue;
		volumes++;
		print_report(&rep, &failed);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ctl_error("%s failed (the config, the user?): see the system "
			  "log", a.agent);
		return CTL_EXIT_FAILURE;
	}
	if (volumes == 0)
		printf("%s has no volume keyturn manages\n", a.user);
	return failed ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}
