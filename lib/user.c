/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user.h"

#define KT_USER_NAME_MAX 32
/* getpwnam_r() buffers grow up to this; no sane entry is larger. */
#define KT_PW_BUF_MAX (1024 * 1024)

static bool user_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

const char *kt_user_name_problem(const char *name)
{
	size_t len;

	if (!name || !*name)
		return "is empty";
	len = strlen(name);
	if (len > KT_USER_NAME_MAX)
		return "is longer than 32 bytes";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "is a path component ('.' or '..')";
	if (name[0] == '-')
		return "starts with '-'";
	if (name[0] == '.')
		return "starts with '.'";
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/')
			return "contains '/'";
		if (c == ' ' || c == '\t')
			return "contains a blank";
		if (c < 0x20 || c == 0x7f)
			return "contains a control character";
		if (!user_char_ok(*p))
			return "contains a character outside [A-Za-z0-9_.-]";
	}
	return NULL;
}

bool kt_user_name_valid(const char *name)
{
	return !kt_user_name_problem(name);
}

/* A home keyturn builds paths from: absolute, printable, bounded. */
static bool home_ok(const char *home)
{
	size_t len;

	if (!home || home[0] != '/')
		return false;
	len = strlen(home);
	if (len >= PATH_MAX)
		return false;
	for (const char *p = home; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

struct kt_user *kt_user_free(struct kt_user *u)
{
	if (!u)
		return NULL;
	free(u->name);
	free(u->home);
	free(u);
	return NULL;
}

int kt_user_lookup(const char *name, struct kt_user **ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_user_ struct kt_user *u = NULL;
	struct passwd pw, *result = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 && hint < KT_PW_BUF_MAX ? (size_t)hint : 1024;
	int r;

	if (!kt_user_name_valid(name))
		return -EINVAL;

	for (;;) {
		char *n = realloc(buf, size);

		if (!n)
			return -ENOMEM;
		buf = n;
		r = getpwnam_r(name, &pw, buf, size, &result);
		if (r != ERANGE)
			break;
		if (size >= KT_PW_BUF_MAX)
			return -ERANGE;
		size *= 2;
	}
	if (r == EINTR)
		return -EINTR;
	/* getpwnam_r(3): "not found" shows up as 0, ENOENT, ESRCH, EBADF or
	 * EPERM depending on the NSS module. */
	if (!result && (r == 0 || r == ENOENT || r == ESRCH || r == EBADF ||
			r == EPERM))
		return -ENOENT;
	if (r != 0)
		return -r;
	if (!result)
		return -ENOENT;

	/* NSS may canonicalise the name (case-insensitive directories): act
	 * for the name it returns, and only if that one is safe too. */
	if (!kt_user_name_valid(pw.pw_name) || !home_ok(pw.pw_dir))
		return -EINVAL;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->name = strdup(pw.pw_name);
	u->home = strdup(pw.pw_dir);
	if (!u->name || !u->home)
		return -ENOMEM;
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	*ret = TAKE_PTR(u);
	return 0;
}

int kt_user_expand(const char *template, const struct kt_user *u, char **ret)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0, size = 0;
	char uid[16];

	if (!template || !u)
		return -EINVAL;
	snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);

	for (const char *p = template; *p; p++) {
		const char *piece = p;
		size_t n = 1;

		if (*p == '%') {
			switch (p[1]) {
			case 'u':
				piece = u->name;
				break;
			case 'h':
				piece = u->home;
				break;
			case 'U':
				piece = uid;
				break;
			case '%':
				piece = "%";
				break;
			default: /* unknown escape or trailing '%' */
				return -EINVAL;
			}
			if (!piece)
				return -EINVAL;
			n = strlen(piece);
			p++;
		}
		if (len + n + 1 > size) {
			size_t want = (len + n + 1) * 2;
			char *grown;

			if (want > SIZE_MAX / 2)
				return -ENOMEM;
			grown = realloc(out, want);
			if (!grown)
				return -ENOMEM;
			out = grown;
			size = want;
		}
		memcpy(out + len, piece, n);
		len += n;
	}
	if (!out) {
		out = strdup("");
		if (!out)
			return -ENOMEM;
	} else
		out[len] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}
