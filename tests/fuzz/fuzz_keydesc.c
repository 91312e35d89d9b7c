/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rules that turn a user name into things root acts on: which names
 * are safe (kt_user_name_valid/_problem), the key description
 * (kt_key_description) and template expansion (kt_user_expand). The input
 * is "PREFIX\0USER\0TEMPLATE\0HOME\0SIZE" (missing parts are empty).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "keyring.h"
#include "user.h"

#define NAME_CHARS                                                           \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

/* The rule of user.h, written out again. */
static bool name_safe(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= 32 && name[0] != '-' && name[0] != '.' &&
	       strspn(name, NAME_CHARS) == len;
}

static void check_name(const char *name)
{
	const char *problem = kt_user_name_problem(name);
	bool valid = kt_user_name_valid(name);

	FUZZ_ASSERT(valid == !problem);
	FUZZ_ASSERT(valid == name_safe(name));
	if (valid) {
		FUZZ_ASSERT(!strchr(name, '/'));
		FUZZ_ASSERT(strcmp(name, ".") && strcmp(name, ".."));
	} else
		FUZZ_ASSERT(problem[0] != '\0');
}

static void check_description(const char *prefix, const char *user,
			      size_t size)
{
	char buf[KT_KEY_DESC_MAX + 32];
	size_t plen = strlen(prefix), ulen = strlen(user);
	int r;

	memset(buf, 'X', sizeof(buf));
	r = kt_key_description(prefix, user, buf, size);
	/* Nothing written past the size given. */
	for (size_t i = size; i < sizeof(buf); i++)
		FUZZ_ASSERT(buf[i] == 'X');
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENAMETOOLONG);
		if (r == -ENAMETOOLONG)
			FUZZ_ASSERT(plen + ulen + 1 > size ||
				    plen + ulen + 1 > KT_KEY_DESC_MAX);
		return;
	}
	FUZZ_ASSERT(kt_user_name_valid(user));
	FUZZ_ASSERT(plen >= 1 && plen <= 32);
	FUZZ_ASSERT(strspn(prefix, NAME_CHARS ":") == plen);
	FUZZ_ASSERT(plen + ulen < size && plen + ulen < KT_KEY_DESC_MAX);
	FUZZ_ASSERT(memcmp(buf, prefix, plen) == 0);
	FUZZ_ASSERT(strcmp(buf + plen, user) == 0);
}

/* Expansion, written out again: NULL for a template that is refused. */
static char *expand(const char *t, const struct kt_user *u)
{
	size_t size = 1;
	char uid[16], *out, *w;

	snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
	for (const char *p = t; *p; p++)
		size += *p == '%' ? strlen(u->name) + strlen(u->home) +
					    strlen(uid) + 1
				  : 1;
	out = w = malloc(size);
	FUZZ_ASSERT(out);
	for (const char *p = t; *p; p++) {
		const char *piece;

		if (*p != '%') {
			*w++ = *p;
			continue;
		}
		switch (*++p) {
		case 'u': piece = u->name; break;
		case 'h': piece = u->home; break;
		case 'U': piece = uid; break;
		case '%': piece = "%"; break;
		default: free(out); return NULL;
		}
		w = stpcpy(w, piece);
	}
	*w = '\0';
	return out;
}

static void check_expand(const char *template, const char *user,
			 const char *home, uid_t uid)
{
	const struct kt_user u = {
		.name = (char *)user, .uid = uid, .gid = uid,
		.home = (char *)home,
	};
	char *got = NULL, *want = expand(template, &u);
	int r;

	r = kt_user_expand(template, &u, &got);
	if (!want) {
		FUZZ_ASSERT(r == -EINVAL);
		FUZZ_ASSERT(!got);
		return;
	}
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(strcmp(got, want) == 0);
	free(got);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[5], *buf;
	size_t desc_size;
	uid_t uid;

	if (size > 4096)
		return 0;
	fuzz_split(data, size, part, 5, &buf);
	desc_size = KT_KEY_DESC_MAX;
	if (part[4][0])
		desc_size = (unsigned char)part[4][0] % (KT_KEY_DESC_MAX + 32);
	uid = part[4][0] ? (uid_t)strtoul(part[4] + 1, NULL, 10) : 1000;

	check_name(part[0]);
	check_name(part[1]);
	check_description(part[0], part[1], desc_size);
	check_description(part[0], part[1], KT_KEY_DESC_MAX);
	check_expand(part[2], part[1], part[3], uid);
	free(buf);
	return 0;
}
