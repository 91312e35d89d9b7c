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

static void free_responses(struct pam_response *r, int n)
{
	for (int i = 0; i < n; i++) {
		if (r[i].resp) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
}

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

static int conv(int n, const struct pam_message **msg,
		struct pam_response **ret_resp, void *data)
{
	struct pam_response *r;

	(void)data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *text = msg[i]->msg ? msg[i]->msg : "";

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			fprintf(stderr, "%s\n", text);
			r[i].resp = next_line();
			if (!r[i].resp) {
				fprintf(stderr, "kt-passwd: no answer for: "
						"%s\n", text);
				goto fail;
			}
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			fprintf(stderr, "%s\n", text);
			break;
		default:
			fprintf(stderr, "kt-passwd: unanswered prompt: %s\n",
				text);
			goto fail;
		}
	}
	*ret_resp = r;
	return PAM_SUCCESS;
fail:
	free_responses(r, n);
	return PAM_CONV_ERR;
}

int main(int argc, char **argv)
{
	struct pam_conv pc = { conv, NULL };
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
