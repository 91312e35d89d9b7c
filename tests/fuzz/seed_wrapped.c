/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the seeds of corpus/wrapped: files made by kt_wrapped_seal() at
 * cheap Argon2 costs, under the login passphrase fuzz_wrapped.c uses (and
 * one under another), so that the fuzzer starts from files that open.
 * Usage: seed_wrapped DIR. Run by "make fuzz-seeds"; the output is
 * committed (the salt and nonce are random each time).
 */
#include <stdio.h>
#include <string.h>

#include "secret.h"
#include "wrapped.h"

static int seed(const char *dir, const char *name, const char *login,
		const char *mount_passphrase, uint32_t t, uint32_t m,
		uint32_t p)
{
	const struct kt_wrapped_params params = { t, m, p };
	struct kt_secret *l = kt_secret_from(login, strlen(login));
	struct kt_secret *mp =
		kt_secret_from(mount_passphrase, strlen(mount_passphrase));
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[4096];
	FILE *f;
	int r;

	r = l && mp ? kt_wrapped_seal(l, mp, &params, &buf, &len) : -1;
	l = kt_secret_free(l);
	mp = kt_secret_free(mp);
	if (r < 0) {
		fprintf(stderr, "Failed to seal %s: %d\n", name, r);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		free(buf);
		return 1;
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	char longer[KT_PASSPHRASE_MAX + 1];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	memset(longer, 'k', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	return seed(argv[1], "t1-m8-p1", "fuzz-login",
		    "0123456789abcdef0123456789abcdef", 1, 8, 1) |
	       seed(argv[1], "t2-m64-p2", "fuzz-login", "x", 2, 64, 2) |
	       seed(argv[1], "t1-m16-p2-max-length", "fuzz-login", longer, 1,
		    16, 2) |
	       seed(argv[1], "other-login", "not-the-fuzz-login",
		    "0123456789abcdef", 1, 8, 1);
}
