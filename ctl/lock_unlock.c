/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl unlock: hand the login password to one's own agent, for a
 * session that began without one (public-key login).
 * keyturnctl lock: lock a user's volumes by hand (after an agent died).
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_spawn.h"
#include "ctl.h"
#include "protocol.h"
#include "session.h"

#ifndef KT_AGENT_PATH
#define KT_AGENT_PATH "/usr/libexec/keyturn/keyturn-agent"
#endif

/* Prints the agent's report lines until "done"; 1 when a volume failed. */
static int print_reports(int fd)
{
	char line[KT_LINE_MAX];
	int failed = 0, r;

	for (;;) {
		struct kt_report rep;

		r = kt_line_read(fd, line, sizeof(line),
				 kt_now_ms() + 120 * 1000);
		if (r <= 0) {
			ctl_error("the agent did not finish its report (%s)",
				  r == 0 ? "connection closed"
					 : strerror(-r));
			return 1;
		}
		if (!strcmp(line, "done"))
			return failed;
		if (!strncmp(line, "error ", 6)) {
			ctl_error("the agent refused: %s", line + 6);
			return 1;
		}
		if (kt_report_parse(line, &rep) < 0) {
			ctl_error("unreadable answer from the agent");
			return 1;
		}
		printf("%s: %s: %s\n", rep.volume,
		       kt_report_status_name(rep.status), rep.message);
		if (rep.status == KT_REPORT_FAILED)
			failed = 1;
	}
}

static int parse_user_opts(int argc, char **argv, const char **ret_user,
			   bool *ret_stdin, bool *ret_force,
			   const char **ret_config)
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "stdin", no_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{}
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (o) {
		case 'u':
			*ret_user = optarg;
			break;
		case 's':
			if (!ret_stdin)
				return -EINVAL;
			*ret_stdin = true;
			break;
		case 'f':
			if (!ret_force)
				return -EINVAL;
			*ret_force = true;
			break;
		case 'c':
			if (!ret_config)
				return -EINVAL;
			*ret_config = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

int ctl_unlock(int argc, char **argv)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	_cleanup_user_ struct kt_user *user = NULL;
	_cleanup_close_ int fd = -1;
	const char *name = NULL;
	bool from_stdin = false;
	char head[32];
	int r;

	if (parse_user_opts(argc, argv, &name, &from_stdin, NULL, NULL) < 0)
		return ctl_usage_error("usage: keyturnctl unlock [--user USER] "
				       "[--stdin]");
	if (!name) {
		struct passwd *pw = getpwuid(getuid());

		if (!pw)
			return ctl_fail(-ENOENT, "look up uid %u",
					(unsigned)getuid());
		name = pw->pw_name;
	}
	r = kt_user_lookup(name, &user);
	if (r < 0)
		return ctl_fail(r, "look up user %s", name);
	/* The agent checks this too (SO_PEERCRED); saying it here is
	 * kinder than a refused connection. */
	if (getuid() != 0 && getuid() != user->uid) {
		ctl_error("only %s or root may unlock %s's volumes", name,
			  name);
		return CTL_EXIT_FAILURE;
	}
	fd = kt_control_connect(user->uid);
	if (fd < 0) {
		if (fd == -ENOENT)
			ctl_error("%s has no keyturn session to unlock "
				  "(log in first)",
				  name);
		else
			ctl_fail(fd, "reach the agent of %s", name);
		return CTL_EXIT_FAILURE;
	}
	r = from_stdin ? ctl_read_secret_line(STDIN_FILENO, &pass)
		       : ctl_prompt_secret("Login password: ", &pass);
	if (r < 0)
		return ctl_fail(r, "read the password");
	if (pass->len == 0) {
		ctl_error("an empty password opens nothing");
		return CTL_EXIT_FAILURE;
	}
	r = kt_control_format_unlock(pass->len, head, sizeof(head));
	if (r >= 0)
		r = kt_line_write(fd, head);
	if (r >= 0) {
		size_t done = 0;

		while (done < pass->len) {
			ssize_t n = write(fd, pass->data + done,
					  pass->len - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = -EPIPE;
				break;
			}
			done += (size_t)n;
		}
	}
	if (r < 0)
		return ctl_fail(r, "send the password to the agent");
	pass = kt_secret_free(pass);
	return print_reports(fd) ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

int ctl_lock(int argc, char **argv)
{
	_cleanup_user_ struct kt_user *user = NULL;
	const char *name = NULL, *config = KT_CONFIG_PATH;
	bool force = false;
	int n, status, r;
	pid_t pid;

	if (parse_user_opts(argc, argv, &name, NULL, &force, &config) < 0 ||
	    !name)
		return ctl_usage_error("usage: keyturnctl lock --user USER "
				       "[--force] [--config PATH]");
	if (geteuid() != 0) {
		ctl_error("lock needs root");
		return CTL_EXIT_FAILURE;
	}
	r = kt_user_lookup(name, &user);
	if (r < 0)
		return ctl_fail(r, "look up user %s", name);
	n = kt_session_count(user->uid);
	if (n > 0 && !force) {
		ctl_error("%s has %d keyturn session%s open: their volumes "
			  "are in use (--force locks them anyway)",
			  name, n, n == 1 ? "" : "s");
		return CTL_EXIT_FAILURE;
	}
	/* The agent's teardown, with its busy policy, under the user's
	 * lock: one implementation of locking, not two. */
	r = kt_agent_spawn(&(struct kt_agent_start){
				   .agent = KT_AGENT_PATH,
				   .mode = KT_AGENT_MODE_LOCK,
				   .user = user->name,
				   .config = config,
				   .module_fd = -1,
				   .extra_fd = -1,
			   }, &pid);
	if (r < 0)
		return ctl_fail(r, "start the agent");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return ctl_fail(-errno, "wait for the agent");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		ctl_error("Failed to start %s", KT_AGENT_PATH);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0
		       ? CTL_EXIT_OK
		       : CTL_EXIT_FAILURE;
}
