/* kt-login: a small real PAM application for keyturn's VM tests.
 *
 *   kt-login [-s SERVICE] [-n] USER [-- COMMAND ARGS...]
 *
 * Reads the password from stdin (one line) and answers every echo-off prompt
 * with it; PAM_TEXT_INFO and PAM_ERROR_MSG go to stderr. Then, like login:
 * pam_authenticate, pam_acct_mgmt, pam_setcred(ESTABLISH), pam_open_session,
 * a child that takes the user's groups and uid, changes to the home directory
 * and runs COMMAND (none by default), then pam_close_session,
 * pam_setcred(DELETE), pam_end. -n skips pam_authenticate (a login that
 * brings no password, as cron or su from root).
 *
 * Exit: 0 ok, 10 authentication or account refused, 11 session open failed,
 * 12 anything else, 13 COMMAND failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "kt-conv.h"

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 10,
	EXIT_SESSION = 11,
	EXIT_OTHER = 12,
	EXIT_COMMAND = 13,
};

static char password[4096];
static int have_password;

static void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* Every echo-off prompt gets the password of stdin. */
static char *answer(const char *prompt)
{
	(void)prompt;
	return have_password ? strdup(password) : NULL;
}

static const struct kt_conv app = { "kt-login", answer };

static void close_other_fds(void)
{
	DIR *d;
	struct dirent *e;

	if (close_range(3, ~0U, 0) == 0)
		return;
	d = opendir("/proc/self/fd");
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

static void child(pam_handle_t *pamh, const struct passwd *pw, char **argv)
{
	char **env = pam_getenvlist(pamh);
	int sigs[] = { SIGCHLD, SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP };
	sigset_t none;

	close_other_fds();
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		perror("kt-login: cannot become the user");
		_exit(127);
	}
	if (chdir(pw->pw_dir) < 0 && chdir("/") < 0)
		_exit(127);
	clearenv();
	for (char **e = env; e && *e; e++)
		putenv(*e);
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
	setenv("SHELL", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh",
	       1);
	if (!getenv("PATH"))
		setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
	execvp(argv[0], argv);
	fprintf(stderr, "kt-login: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int run_command(pam_handle_t *pamh, const char *user, char **argv)
{
	struct passwd *pw = getpwnam(user);
	int status;
	pid_t pid;

	if (!pw) {
		fprintf(stderr, "kt-login: no user %s\n", user);
		return EXIT_OTHER;
	}
	pid = fork();
	if (pid < 0) {
		perror("kt-login: fork");
		return EXIT_OTHER;
	}
	if (pid == 0)
		child(pamh, pw, argv);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("kt-login: waitpid");
			return EXIT_OTHER;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return EXIT_OK;
	if (WIFEXITED(status))
		fprintf(stderr, "kt-login: command exited with %d\n",
			WEXITSTATUS(status));
	else
		fprintf(stderr, "kt-login: command killed by signal %d\n",
			WTERMSIG(status));
	return EXIT_COMMAND;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: kt-login [-s SERVICE] [-n] USER [-- COMMAND ARGS...]\n");
	exit(EXIT_OTHER);
}

int main(int argc, char **argv)
{
	struct pam_conv pc = { kt_conv, (void *)&app };
	const char *service = "kt-test", *user;
	const void *item = NULL;
	pam_handle_t *pamh = NULL;
	int no_auth = 0, c, r, ret = EXIT_OK;
	char **cmd = NULL;

	while ((c = getopt(argc, argv, "+s:n")) != -1) {
		switch (c) {
		case 's': service = optarg; break;
		case 'n': no_auth = 1; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	user = argv[optind++];
	if (optind < argc) {
		if (strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind < argc)
			cmd = argv + optind;
	}

	if (!no_auth && fgets(password, sizeof(password), stdin)) {
		password[strcspn(password, "\n")] = '\0';
		have_password = 1;
	}

	r = pam_start(service, user, &pc, &pamh);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kt-login: pam_start: %s\n",
			pam_strerror(NULL, r));
		wipe(password, sizeof(password));
		return EXIT_OTHER;
	}
	pam_set_item(pamh, PAM_TTY, "kt-login");

	if (!no_auth) {
		r = pam_authenticate(pamh, 0);
		if (r != PAM_SUCCESS) {
			fprintf(stderr, "kt-login: authentication: %s\n",
				pam_strerror(pamh, r));
			ret = EXIT_REFUSED;
			goto end;
		}
	}
	r = pam_acct_mgmt(pamh, 0);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kt-login: account: %s\n",
			pam_strerror(pamh, r));
		ret = EXIT_REFUSED;
		goto end;
	}
	r = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kt-login: setcred: %s\n",
			pam_strerror(pamh, r));
		ret = EXIT_OTHER;
		goto end;
	}
	r = pam_open_session(pamh, 0);
	wipe(password, sizeof(password));
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kt-login: open session: %s\n",
			pam_strerror(pamh, r));
		pam_setcred(pamh, PAM_DELETE_CRED);
		ret = EXIT_SESSION;
		goto end;
	}
	if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item)
		user = item;
	if (cmd)
		ret = run_command(pamh, user, cmd);

	r = pam_close_session(pamh, 0);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kt-login: close session: %s\n",
			pam_strerror(pamh, r));
		if (ret == EXIT_OK)
			ret = EXIT_OTHER;
	}
	r = pam_setcred(pamh, PAM_DELETE_CRED);
	if (r != PAM_SUCCESS && ret == EXIT_OK) {
		fprintf(stderr, "kt-login: delete credentials: %s\n",
			pam_strerror(pamh, r));
		ret = EXIT_OTHER;
	}
end:
	wipe(password, sizeof(password));
	pam_end(pamh, r);
	return ret;
}
