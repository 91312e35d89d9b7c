/* The PAM conversation of keyturn's small VM test applications (kt-login,
 * kt-passwd): echo-off prompts get the program's answer, PAM_TEXT_INFO and
 * PAM_ERROR_MSG go to stderr, any other prompt fails the conversation. */
#ifndef KT_CONV_H
#define KT_CONV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

/* What the program brings to the conversation: its name for messages, and
 * the answer to an echo-off prompt, a malloc'ed string or NULL to fail (the
 * answer says why, if it should). */
struct kt_conv {
	const char *program;
	char *(*answer)(const char *prompt);
};

static void kt_conv_free_responses(struct pam_response *r, int n)
{
	for (int i = 0; i < n; i++) {
		if (r[i].resp) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
}

/* A pam_conv function; its appdata_ptr is a struct kt_conv. */
static int kt_conv(int n, const struct pam_message **msg,
		   struct pam_response **ret_resp, void *data)
{
	const struct kt_conv *app = data;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *text = msg[i]->msg ? msg[i]->msg : "";

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = app->answer(text);
			if (!r[i].resp)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			fprintf(stderr, "%s\n", text);
			break;
		default: /* echo-on prompts: nothing to answer them with */
			fprintf(stderr, "%s: unanswered prompt: %s\n",
				app->program, text);
			goto fail;
		}
	}
	*ret_resp = r;
	return PAM_SUCCESS;
fail:
	kt_conv_free_responses(r, n);
	return PAM_CONV_ERR;
}

#endif
