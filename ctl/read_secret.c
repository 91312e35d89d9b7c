/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Passphrases from standard input or the terminal, straight into secure
 * memory: read(2) a byte at a time, no stdio buffer that keeps a copy. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"

int ctl_read_secret_line(int fd, struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *buf = NULL;
	struct kt_secret *line;
	size_t len = 0;
	bool any = false;

	/* One byte more than allowed, to tell "too long" from "full". */
	buf = kt_secret_new(KT_PASSPHRASE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		unsigned char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0) {
			if (errno == EINTR)
				return -EINTR;
			return kt_negerrno();
		}
		if (n == 0)
			break;
		any = true;
		if (c == '\n')
			break;
		if (len == KT_PASSPHRASE_MAX) {
			explicit_bzero(&c, sizeof(c));
			return -E2BIG;
		}
		buf->data[len++] = c;
		explicit_bzero(&c, sizeof(c));
	}
	if (!any)
		return -ENODATA;
	line = kt_secret_from(buf->data, len);
	if (!line)
		return -ENOMEM;
	*ret = line;
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

int ctl_prompt_secret(const char *prompt, struct kt_secret **ret)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa = { .sa_handler = on_signal }, old[ELEMENTSOF(sigs)];
	_cleanup_close_ int tty = -1;
	struct termios saved, quiet;
	struct kt_secret *line = NULL;
	int r;

	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0)
		return -ENXIO;
	if (tcgetattr(tty, &saved) < 0)
		return kt_negerrno();

	/* No SA_RESTART: a signal ends the read, and the terminal gets its
	 * echo back before we go. */
	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);

	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
		r = kt_negerrno();
		goto out;
	}
	if (write(tty, prompt, strlen(prompt)) < 0) {
		r = kt_negerrno();
		goto restore;
	}
	r = ctl_read_secret_line(tty, &line);
	if (r == 0 && interrupted)
		r = -EINTR;
	(void)!write(tty, "\n", 1);
restore:
	(void)tcsetattr(tty, TCSAFLUSH, &saved);
out:
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (r < 0) {
		line = kt_secret_free(line);
		return r;
	}
	*ret = line;
	return 0;
}

int ctl_read_stdin_secret(const char *what, int lineno, struct kt_secret **ret)
{
	int r = ctl_read_secret_line(STDIN_FILENO, ret);

	if (r == -ENODATA)
		ctl_error("No %s on standard input (line %d)", what, lineno);
	else if (r == -E2BIG)
		ctl_error("The %s on standard input is longer than %d bytes",
			  what, KT_PASSPHRASE_MAX);
	else if (r < 0)
		ctl_fail(r, "read the %s from standard input", what);
	return r;
}

int ctl_ask_secret(const char *prompt, const char *what,
		   struct kt_secret **ret)
{
	int r = ctl_prompt_secret(prompt, ret);

	if (r == -ENXIO)
		ctl_error("No terminal to ask for the %s on; use --stdin",
			  what);
	else if (r == -E2BIG)
		ctl_error("The %s is longer than %d bytes", what,
			  KT_PASSPHRASE_MAX);
	else if (r < 0)
		ctl_fail(r, "read the %s", what);
	return r;
}

int ctl_read_secret(bool from_stdin, int lineno, const char *prompt,
		    const char *what, struct kt_secret **ret)
{
	return from_stdin ? ctl_read_stdin_secret(what, lineno, ret)
			  : ctl_ask_secret(prompt, what, ret);
}

int ctl_read_new_secret(bool from_stdin, int lineno, const char *prompt,
			const char *again_prompt, const char *what,
			struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *secret = NULL, *again = NULL;
	int r;

	r = ctl_read_secret(from_stdin, lineno, prompt, what, &secret);
	if (r < 0)
		return r;
	if (secret->len == 0) {
		ctl_error("Refusing an empty %s", what);
		return -EINVAL;
	}
	if (!from_stdin) {
		r = ctl_ask_secret(again_prompt, what, &again);
		if (r < 0)
			return r;
		if (!kt_secret_equal(secret, again)) {
			ctl_error("The two %ss differ, nothing changed", what);
			return -EINVAL;
		}
	}
	*ret = TAKE_PTR(secret);
	return 0;
}
