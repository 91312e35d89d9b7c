/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the host tests that need LUKS2 image files: fast volumes and
 * enrollment. Include after <cmocka.h>. */
#ifndef KT_TEST_LUKS_H
#define KT_TEST_LUKS_H

#include <fcntl.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "luks.h"
#include "secret.h"

#define KT_TEST_IMAGE_SIZE (32 * 1024 * 1024)

/* Fast Argon2id for test volumes: 4 iterations, 32 MiB. */
static const struct crypt_pbkdf_type kt_test_fast_pbkdf = {
	.type = CRYPT_KDF_ARGON2ID,
	.hash = "sha256",
	.iterations = 4,
	.max_memory_kb = 32 * 1024,
	.parallel_threads = 1,
	.flags = CRYPT_PBKDF_NO_BENCHMARK,
};

static inline void kt_test_crypt_freep(struct crypt_device **cd)
{
	if (*cd)
		crypt_free(*cd);
}

/* A LUKS2 image file at path whose keyslots 0..n-1 open with
 * passes[0..n-1]. */
static inline void kt_test_make_image(const char *path,
				      const char *const *passes, int n)
{
	__attribute__((cleanup(kt_test_crypt_freep))) struct crypt_device *cd =
		NULL;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, KT_TEST_IMAGE_SIZE), 0);
	close(fd);

	assert_int_equal(crypt_init(&cd, path), 0);
	assert_int_equal(crypt_set_pbkdf_type(cd, &kt_test_fast_pbkdf), 0);
	assert_int_equal(crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64",
				      NULL, NULL, 64, NULL),
			 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(crypt_keyslot_add_by_volume_key(
					 cd, i, NULL, 0, passes[i],
					 strlen(passes[i])),
				 i);
}

static inline struct kt_secret *kt_test_secret(const char *s)
{
	struct kt_secret *x = kt_secret_from(s, strlen(s));

	assert_non_null(x);
	return x;
}

static inline int kt_test_enroll(const char *image, const char *existing,
				 const char *login, const char *desc,
				 struct kt_luks_token *ret)
{
	_cleanup_secret_ struct kt_secret *e = kt_test_secret(existing);
	_cleanup_secret_ struct kt_secret *l = kt_test_secret(login);

	return kt_luks_enroll_pbkdf(image, e, l, desc, &kt_test_fast_pbkdf,
				    ret);
}

#endif
