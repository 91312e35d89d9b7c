/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn.conf's values, one at a time: numbers with units, booleans,
 * word lists of services and users, path and device-mapper name
 * templates (checked expanded for a sample user), mount options. Pure,
 * as the rest of the parser (lib/config.c), and fuzzed with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "mount.h"
#include "user.h"

int kt_config_uint_unit(struct parser *p, unsigned line,
			const char *key, const char *value, unsigned min,
			unsigned max, const char *unit, unsigned *ret)
{
	unsigned long long n = 0;
	const char *s;

	for (s = value; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (unsigned)(*s - '0');
		if (n > max)
			break;
	}
	if (s == value || *s || n < min || n > max)
		return kt_config_fail(p, line,
			"bad value '%.*s' for '%s': expected a number of "
			"%s from %u to %u",
			Q, value, key, unit, min, max);
	*ret = (unsigned)n;
	return 0;
}

int kt_config_uint(struct parser *p, unsigned line, const char *key,
		   const char *value, unsigned min, unsigned max,
		   unsigned *ret)
{
	return kt_config_uint_unit(p, line, key, value, min, max, "seconds",
				   ret);
}

int kt_config_bool(struct parser *p, unsigned line, const char *key,
		   const char *value, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(value, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(value, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return kt_config_fail(p, line,
		"bad value '%.*s' for '%s': expected yes/no, true/false, "
		"on/off or 1/0",
		Q, value, key);
}

int kt_config_set_string(char **field, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

/*
 * Splits a blank-separated list into a NULL-terminated vector, checking
 * each word with check (which writes the diagnostic).
 */
int kt_config_words(struct parser *p, unsigned line, const char *key,
		    const char *value, char ***ret,
		    int (*check)(struct parser *, unsigned, const char *,
		    const char *, size_t))
{
	char **v = NULL;
	size_t n = 0;
	int r;

	v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (const char *s = value; *s;) {
		size_t len;
		char **grown;

		while (is_blank(*s))
			s++;
		if (!*s)
			break;
		len = strcspn(s, " \t");
		r = check(p, line, key, s, len);
		if (r < 0)
			goto out;
		grown = realloc(v, (n + 2) * sizeof(char *));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		v = grown;
		v[n] = strndup(s, len);
		if (!v[n]) {
			r = -ENOMEM;
			goto out;
		}
		v[++n] = NULL;
		s += len;
	}
	*ret = v;
	return 0;
out:
	kt_config_strv_free(v);
	return r;
}

int kt_config_check_service(struct parser *p, unsigned line, const char *key,
			    const char *s, size_t len)
{
	if (len > KT_SERVICE_MAX || s[0] == '.' ||
	    !kt_config_chars_ok(s, len, "_.+@-"))
		return kt_config_fail(p, line,
				      "invalid PAM service name '%.*s' in '%s'",
				      (int)(len < Q ? len : Q), s, key);
	return 0;
}

int kt_config_check_user(struct parser *p, unsigned line, const char *key,
			 const char *s, size_t len)
{
	char name[Q + 2];
	const char *problem;

	if (len == 1 && s[0] == '*')
		return kt_config_fail(p, line,
			"'*' must be the only entry of '%s'", key);
	if (len > sizeof(name) - 1)
		return kt_config_fail(p, line,
			"invalid user name '%.*s...' in '%s': is longer "
			"than 32 bytes",
			Q, s, key);
	memcpy(name, s, len);
	name[len] = '\0';
	problem = kt_user_name_problem(name);
	if (problem)
		return kt_config_fail(p, line,
				      "invalid user name '%s' in '%s': %s",
				      name, key, problem);
	return 0;
}

/* A user that exists only to check templates while parsing. */
static const struct kt_user template_user = {
	.name = "user",
	.uid = 1000,
	.gid = 1000,
	.home = "/home/user",
};

/*
 * Checks an expanded path: absolute, no "." or ".." component, bounded.
 * Collapses repeated slashes and drops a trailing one, so that what the
 * agent compares and mounts has one spelling. Returns a reason or NULL.
 */
const char *kt_config_path_problem(char *path)
{
	char *w = path;

	if (path[0] != '/')
		return "is not an absolute path";
	if (strlen(path) >= PATH_MAX)
		return "is too long";
	for (const char *r = path; *r;) {
		size_t len;

		while (*r == '/')
			r++;
		if (!*r)
			break;
		len = strcspn(r, "/");
		if ((len == 1 && r[0] == '.') ||
		    (len == 2 && r[0] == '.' && r[1] == '.'))
			return "has a '.' or '..' component";
		*w++ = '/';
		memmove(w, r, len);
		w += len;
		r += len;
	}
	if (w == path)
		*w++ = '/';
	*w = '\0';
	return NULL;
}

const char *kt_config_dm_name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > KT_DM_NAME_MAX)
		return "must be 1 to 127 bytes long";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    name[0] == '-')
		return "must not be '.', '..' or start with '-'";
	if (!kt_config_chars_ok(name, len, "_.+-"))
		return "may hold only [A-Za-z0-9_.+-]";
	return NULL;
}

int kt_config_path_template(struct parser *p, unsigned line,
			    const char *key, const char *value)
{
	_cleanup_free_ char *expanded = NULL;
	const char *problem;
	int r;

	r = kt_user_expand(value, &template_user, &expanded);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return kt_config_fail(p, line,
			"bad value '%.*s' for '%s': unknown %% escape "
			"(only %%u, %%h, %%U and %%%% expand)",
			Q, value, key);
	problem = kt_config_path_problem(expanded);
	if (problem)
		return kt_config_fail(p, line, "bad value '%.*s' for '%s': %s",
				      Q, value,
				      key, problem);
	return 0;
}

int kt_config_dm_name_template(struct parser *p, unsigned line,
			       const char *value)
{
	_cleanup_free_ char *expanded = NULL;
	const char *problem;
	int r;

	for (const char *s = value; *s; s++) {
		if (*s != '%')
			continue;
		if (s[1] != 'u' && s[1] != 'U')
			return kt_config_fail(p, line,
				"bad value '%.*s' for 'name': only %%u and "
				"%%U expand in a device-mapper name",
				Q, value);
		s++;
	}
	r = kt_user_expand(value, &template_user, &expanded);
	if (r < 0)
		return r;
	problem = kt_config_dm_name_problem(expanded);
	if (problem)
		return kt_config_fail(p, line,
			"bad value '%.*s' for 'name': a device-mapper name "
			"%s",
			Q, value, problem);
	return 0;
}

int kt_config_options(struct parser *p, unsigned line, const char *value,
		      char **field)
{
	_cleanup_free_ char *out = malloc(strlen(value) + 1);
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	for (const char *s = value;; s++) {
		const char *end = s + strcspn(s, ",");
		size_t name_len;

		while (is_blank(*s))
			s++;
		while (end > s && is_blank(end[-1]))
			end--;
		if (end == s)
			return kt_config_fail(p, line,
				"empty mount option in 'options'");
		if (!kt_config_chars_ok(s, (size_t)(end - s), "_=.:/@+-"))
			return kt_config_fail(p, line,
				"bad mount option '%.*s' in 'options': "
				"only [A-Za-z0-9_=.:/@+-] are allowed",
				(int)(end - s < Q ? end - s : Q), s);
		name_len = strcspn(s, "=");
		if (name_len > (size_t)(end - s))
			name_len = (size_t)(end - s);
		if (kt_mount_option_refused(s, name_len))
			return kt_config_fail(p, line,
				"mount option '%.*s' is refused: "
				"keyturn always mounts nosuid,nodev",
				(int)name_len, s);
		if (n)
			out[n++] = ',';
		memcpy(out + n, s, (size_t)(end - s));
		n += (size_t)(end - s);
		s = end + strcspn(end, ",");
		if (!*s)
			break;
	}
	out[n] = '\0';
	free(*field);
	*field = TAKE_PTR(out);
	return 0;
}
