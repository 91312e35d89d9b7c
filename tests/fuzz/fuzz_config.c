/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kt_config_parse() on arbitrary text, then what the module does with a
 * parsed config: the volumes of two users (one ordinary, one system
 * account whose home is "/") and the service lists.
 */
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

static bool has_control(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool volume_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 32)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") == len;
}

/* An expanded path keyturn may act on: absolute, no "." or ".."
 * component (config.h). Other bytes are the config's, which is root's. */
static bool path_ok(const char *s)
{
	if (!s)
		return true;
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

static void check_volumes(const struct kt_config *c, const struct kt_user *u)
{
	struct kt_volume *v = NULL;
	struct kt_diag diag = { "" };
	size_t n = 0;
	int r;

	r = kt_config_volumes_for(c, u, &v, &n, &diag);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		FUZZ_ASSERT(memchr(diag.message, '\0', sizeof(diag.message)));
		FUZZ_ASSERT(diag.message[0] != '\0');
		FUZZ_ASSERT(!has_control(diag.message));
		return;
	}
	FUZZ_ASSERT(n <= c->n_volumes);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(volume_name_ok(v[i].name));
		FUZZ_ASSERT(path_ok(v[i].device));
		FUZZ_ASSERT(path_ok(v[i].source));
		FUZZ_ASSERT(path_ok(v[i].wrapped));
		FUZZ_ASSERT(path_ok(v[i].mountpoint));
		FUZZ_ASSERT(!v[i].mountpoint || strcmp(v[i].mountpoint, "/"));
		if (v[i].dm_name) {
			FUZZ_ASSERT(!strchr(v[i].dm_name, '/'));
			FUZZ_ASSERT(!has_control(v[i].dm_name));
		}
	}
	kt_volumes_free(v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kt_user alice = {
		.name = "alice", .uid = 1000, .gid = 1000,
		.home = "/home/alice",
	};
	static const struct kt_user daemon_user = {
		.name = "daemon", .uid = 1, .gid = 1, .home = "/",
	};
	struct kt_config *c = NULL;
	struct kt_diag diag = { "" };
	int r;

	r = kt_config_parse((const char *)data, size, "fuzz.conf", &c, &diag);
	if (r < 0) {
		FUZZ_ASSERT(!c);
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		/* Every refusal says where and why, on one line. The
		 * config is root's (kt_config_load refuses any other), so
		 * its own bytes may be quoted as they are. */
		FUZZ_ASSERT(memchr(diag.message, '\0', sizeof(diag.message)));
		FUZZ_ASSERT(strncmp(diag.message, "fuzz.conf", 9) == 0);
		FUZZ_ASSERT(!strchr(diag.message, '\n'));
		return 0;
	}
	FUZZ_ASSERT(c);
	FUZZ_ASSERT(c->key_prefix && c->key_prefix[0]);
	for (size_t i = 0; i < c->n_volumes; i++) {
		FUZZ_ASSERT(volume_name_ok(c->volumes[i].name));
		for (size_t j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(c->volumes[i].name,
					   c->volumes[j].name));
	}
	check_volumes(c, &alice);
	check_volumes(c, &daemon_user);
	(void)kt_config_skips_service(c, "login");
	(void)kt_config_skips_service(c, "cron");
	(void)kt_config_skips_service(c, NULL);
	c = kt_config_free(c);
	return 0;
}
