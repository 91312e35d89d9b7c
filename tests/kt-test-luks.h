/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the host tests that need LUKS2 image files: fast volumes and
 * enrollment. Include after <cmocka.h>. */
#ifndef KT_TEST_LUKS_H
#define KT_TEST_LUKS_H

#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <libcryptsetup.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "luks.h"
#include "secret.h"

/* Whether /proc/keys lists (to this process: the keys it may view) a key
 * whose line names desc. */
static inline bool kt_test_proc_keys_has(const char *desc)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/keys", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, desc) != NULL;
	fclose(f);
	return found;
}

#define KT_TEST_IMAGE_SIZE (32 * 1024 * 1024)

/*
 * Fast Argon2id for test volumes: 4 iterations (libcryptsetup's least),
 * 1 MiB. The kill-point tests of test_rekey run some thousand key
 * derivations: at 32 MiB they took 7 of the host suite's 9 minutes.
 */
static const struct crypt_pbkdf_type kt_test_fast_pbkdf = {
	.type = CRYPT_KDF_ARGON2ID,
	.hash = "sha256",
	.iterations = 4,
	.max_memory_kb = 1024,
	.parallel_threads = 1,
	.flags = CRYPT_PBKDF_NO_BENCHMARK,
};

static inline void kt_test_crypt_freep(struct crypt_device **cd)
{
	if (*cd)
		crypt_free(*cd);
}
#define _cleanup_crypt_ __attribute__((cleanup(kt_test_crypt_freep)))

/* A LUKS2 image file at path whose keyslots 0..n-1 open with
 * passes[0..n-1]. */
static inline void kt_test_make_image(const char *path,
				      const char *const *passes, int n)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
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

/*
 * Rewrites image's LUKS2 header as a hostile one would be: the first
 * "encryption":"aes-xts-plain64" after the JSON key after (a keyslot's
 * area after "keyslots", the data segment after "segments") becomes
 * cipher_null-ecb (the same length), in both header copies, their
 * checksums made again. libcryptsetup itself refuses to write such a
 * header.
 */
static inline void kt_test_make_cipher_null(const char *image,
					    const char *after)
{
	static const char from[] = "\"encryption\":\"aes-xts-plain64\"";
	static const char to[] = "\"encryption\":\"cipher_null-ecb\"";
	uint8_t *hdr;
	uint64_t size = 0;
	int fd = open(image, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	hdr = malloc(64 * 1024);
	assert_non_null(hdr);
	assert_int_equal(pread(fd, hdr, 16, 0), 16);
	for (int i = 0; i < 8; i++)
		size = size << 8 | hdr[8 + i];
	assert_true(size >= 4096 && size <= 32 * 1024);
	for (uint64_t off = 0; off <= size; off += size) {
		char *json, *at;

		assert_int_equal(pread(fd, hdr, size, (off_t)off),
				 (ssize_t)size);
		json = (char *)hdr + 4096;
		at = strstr(json, after);
		assert_non_null(at);
		at = strstr(at, from);
		assert_non_null(at);
		memcpy(at, to, sizeof(to) - 1);
		memset(hdr + 448, 0, 64);
		crypto_hash_sha256(hdr + 448, hdr, size);
		assert_int_equal(pwrite(fd, hdr, size, (off_t)off),
				 (ssize_t)size);
	}
	free(hdr);
	assert_int_equal(close(fd), 0);
}

/* Bitmask of the keyslots of image in use (active or unbound). */
static inline unsigned kt_test_active_keyslots(const char *image)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	unsigned mask = 0;

	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++) {
		crypt_keyslot_info i = crypt_keyslot_status(cd, k);

		if (i == CRYPT_SLOT_ACTIVE || i == CRYPT_SLOT_ACTIVE_LAST ||
		    i == CRYPT_SLOT_UNBOUND)
			mask |= 1u << k;
	}
	return mask;
}

/* A "user" key in the session keyring, as pam_keyturn puts it there. */
static inline key_serial_t kt_test_put_key(const char *desc,
					   const char *payload)
{
	key_serial_t k = add_key("user", desc, payload, strlen(payload),
				 KEY_SPEC_SESSION_KEYRING);

	assert_true(k > 0);
	return k;
}

static inline void kt_test_drop_key(key_serial_t k)
{
	assert_int_equal(keyctl_revoke(k), 0);
	assert_int_equal(keyctl_unlink(k, KEY_SPEC_SESSION_KEYRING), 0);
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

/*
 * What these tests need before anything: root (LUKS2 metadata locking,
 * root-owned files) and a session keyring of this process's own, as the
 * agent has. Prints "SKIP: <name> needs root (<why>)" or the keyring's
 * error and returns false when either is missing.
 */
static inline bool kt_test_root_with_keyring(const char *name,
					     const char *why)
{
	if (geteuid() != 0) {
		printf("SKIP: %s needs root (%s)\n", name, why);
		return false;
	}
	if (keyctl_join_session_keyring(NULL) < 0) {
		printf("SKIP: cannot join a session keyring: %s\n",
		       strerror(errno));
		return false;
	}
	return true;
}

#endif
