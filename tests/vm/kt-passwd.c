/* kt-passwd: a small real PAM password-change application for keyturn's VM
 * tests (busybox's passwd does not use PAM).
 *
 *   kt-passwd [-s SERVICE] [USER]
 *
 * Like passwd, it is installed set-uid root: run by a user it changes that
 * user's password (pam_unix then asks the current one); run by root it
 * changes USER's (pam_unix asks none). Every echo-off prompt is answered
 * with the next line of stdin; PAM_TEXT_INFO and PAM_ERROR_MSG go to
 * stderr. pam_start, pam_chauthtok(0), pam_end.
 *
 * Exit: 0 changed, 10 refused by PAM (its message on stderr), 12 anything
 * else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "kt-conv.h"

/* The next line of stdin, read a byte at a time (nothing buffered). */
static char *next_line(void)
{
	char buf[4097];
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t k = read(0, &c, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (c == '\n')
			break;
		if (n + 1 >= sizeof(buf))
			return NULL;
		buf[n++] = c;
	}
	if (n == 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* Every echo-off prompt, shown on stderr, gets the next line of stdin. */
static char *answer(const char *prompt)
{
	char *line;

	fprintf(stderr, "%s\n", prompt);
	line = next_line();
	if (!line)
		fprintf(stderr, "kt-passwd: no answer for: %s\n", prompt);
	return line;
}

static const struct kt_conv app = { "kt-passwd", answer };

int main(int argc, char **argv)
{
	struct pam_conv pc = { kt_conv, (void *)&app };
	const char *service = "passwd", *user;
	struct passwd *pw;
	pam_handle_t *pamh = NULL;
	int o, r;

	while ((o = getopt(argc, argv, "s:")) >= 0) {
		switch (o) {
		case 's':
			service = optarg;
			break;
		default:
			fprintf(stderr, "usage: kt-passwd [-s SERVICE] "
					"[USER]\n");
			return 12;
		}
	}
	pw = getpwuid(getuid());
	if (!pw) {
		fprintf(stderr, "kt-passwd: who are you?\n");
		return 12;
	}
	user = pw->pw_name;
	if (optind < argc) {
		/* As passwd: only root names another user. */
		if (getuid() != 0 && strcmp(argv[optind], user) != 0) {
			fprintf(stderr, "kt-passwd: only root changes another "
					"user's password\n");
			return 12;
		}
		user = argv[optind];
	}

	r = pam_start(service, user, &pc, &pamh);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "kt-passwd: pam_start: %s\n",
			pam_strerror(pamh, r));
		return 12;
	}
	r = pam_chauthtok(pamh, 0);
	if (r != PAM_SUCCESS)
		fprintf(stderr, "kt-passwd: %s\n", pam_strerror(pamh, r));
	else
		fprintf(stderr, "kt-passwd: password updated successfully\n");
	pam_end(pamh, r);
	return r == PAM_SUCCESS ? 0 : 10;
}
