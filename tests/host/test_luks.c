/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/luks.c against real LUKS2 image files and the real kernel keyring.
 * Verification runs crypt_activate_by_token() with no dm name, so no
 * device-mapper is needed. Root: libcryptsetup's metadata locking and
 * keyring access as the agent does them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <libcryptsetup.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt-test-luks.h"
#include "kt-test-spawn.h"
#include "luks.h"
#include "secret.h"

static char tmpdir[] = "/tmp/kt-test-luks.XXXXXX";
static int image_counter;

/* Debug log captured through kt_luks_set_log(). */
static char captured[64 * 1024];
static size_t captured_len;
static int capturing;

static void capture_log(int priority, const char *message, void *userdata)
{
	size_t n = strlen(message);

	(void)priority;
	(void)userdata;
	if (!capturing || captured_len + n + 2 > sizeof(captured))
		return;
	memcpy(captured + captured_len, message, n);
	captured_len += n;
	captured[captured_len++] = '\n';
	captured[captured_len] = '\0';
}

/* A LUKS2 image file in tmpdir whose keyslots 0..n-1 open with
 * passes[0..n-1]; path gets its name (256 bytes). */
static void make_image(char *path, const char *const *passes, int n)
{
	snprintf(path, 256, "%s/img%d", tmpdir, image_counter++);
	kt_test_make_image(path, passes, n);
}

/* Count of the active tokens. */
static int active_tokens(const char *image)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int n = 0;

	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	for (int t = 0; t < crypt_token_max(CRYPT_LUKS2); t++) {
		crypt_token_info i = crypt_token_status(cd, t, NULL);

		if (i != CRYPT_TOKEN_INVALID && i != CRYPT_TOKEN_INACTIVE)
			n++;
	}
	return n;
}

static void test_enroll_then_verify(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok = { .token = -7, .keyslot = -7 },
			     found = { .token = -7, .keyslot = -7 };
	char image[256];
	key_serial_t k;

	make_image(image, passes, 1);
	assert_int_equal(kt_luks_find_token(image, "keyturn:alice", &found),
			 -ENOENT);
	assert_int_equal(found.token, -7); /* untouched on failure */

	assert_int_equal(kt_test_enroll(image, "first passphrase",
					"alice login", "keyturn:alice", &tok),
			 0);
	assert_int_equal(tok.keyslot, 1);
	assert_int_equal(tok.token, 0);
	assert_int_equal(kt_luks_find_token(image, "keyturn:alice", &found),
			 0);
	assert_int_equal(found.token, tok.token);
	assert_int_equal(found.keyslot, tok.keyslot);

	k = kt_test_put_key("keyturn:alice", "alice login");
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:alice", 0),
			 tok.keyslot);
	kt_test_drop_key(k);
}

static void test_wrong_payload_and_missing_key(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char image[256];
	key_serial_t k;

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, "first passphrase", "bob login",
				"keyturn:bob", &tok), 0);

	k = kt_test_put_key("keyturn:bob", "not bob's login");
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:bob", 0), -EPERM);
	kt_test_drop_key(k);

	/* No key at all. */
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:bob", 0), -EPERM);

	/* The volume's first passphrase is not what the token opens. */
	k = kt_test_put_key("keyturn:bob", "first passphrase");
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:bob", 0), -EPERM);
	kt_test_drop_key(k);
}

static void test_other_description(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char image[256];
	key_serial_t k;

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, "first passphrase",
					"carol login", "keyturn:carol", &tok),
			 0);

	/* Even with the right passphrase under the other name. */
	k = kt_test_put_key("keyturn:dave", "carol login");
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:dave", 0),
			 -ENOENT);
	kt_test_drop_key(k);
	assert_int_equal(kt_luks_find_token(image, "keyturn:dave", &tok),
			 -ENOENT);
}

static void test_enroll_twice(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok, again = { .token = -7, .keyslot = -7 };
	char image[256];

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, "first passphrase", "erin login",
				"keyturn:erin", &tok), 0);
	assert_int_equal(kt_test_active_keyslots(image), 0x3u);
	assert_int_equal(kt_test_enroll(image, "first passphrase", "erin other",
				"keyturn:erin", &again), -EEXIST);
	assert_int_equal(again.token, -7);
	assert_int_equal(kt_test_active_keyslots(image), 0x3u);
	assert_int_equal(active_tokens(image), 1);

	/* A second user on the same volume is fine. */
	assert_int_equal(kt_test_enroll(image, "erin login", "frank login",
				"keyturn:frank", &tok), 0);
	assert_int_equal(tok.keyslot, 2);
	assert_int_equal(tok.token, 1);
}

static void test_wrong_existing_passphrase(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char image[256];

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, "wrong", "gina login",
					"keyturn:gina", &tok), -EPERM);
	assert_int_equal(kt_test_active_keyslots(image), 0x1u);
	assert_int_equal(active_tokens(image), 0);
}

/* When the token cannot be added, the keyslot already added goes away:
 * fill every token slot first so that the token step fails. */
static void test_enroll_rolls_back(void **state)
{
	const char *passes[] = { "first passphrase" };
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct kt_luks_token tok;
	char image[256], desc[64];
	int n = crypt_token_max(CRYPT_LUKS2), r;

	make_image(image, passes, 1);
	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	for (int t = 0; t < n; t++) {
		struct crypt_token_params_luks2_keyring p = {
			.key_description = desc,
		};

		snprintf(desc, sizeof(desc), "other:%d", t);
		assert_int_equal(crypt_token_luks2_keyring_set(cd, t, &p), t);
	}
	crypt_free(cd);
	cd = NULL;

	captured_len = 0;
	captured[0] = '\0';
	capturing = 1;
	crypt_set_debug_level(CRYPT_DEBUG_ALL);
	r = kt_test_enroll(image, "first passphrase", "hal login",
			   "keyturn:hal", &tok);
	crypt_set_debug_level(CRYPT_DEBUG_NONE);
	capturing = 0;
	assert_true(r < 0);
	/* The keyslot was really added before the token step failed, and
	 * then taken away again. */
	if (!strstr(captured, "Destroying keyslot 1."))
		fprintf(stderr, "debug log:\n%s", captured);
	assert_non_null(strstr(captured, "Destroying keyslot 1."));
	assert_int_equal(kt_test_active_keyslots(image), 0x1u);
	assert_int_equal(active_tokens(image), n);
	assert_int_equal(kt_luks_find_token(image, "keyturn:hal", &tok),
			 -ENOENT);
}

static void test_not_luks2(void **state)
{
	struct kt_luks_token tok;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/plain", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(kt_luks_find_token(path, "keyturn:x", &tok), -EINVAL);
	assert_int_equal(kt_luks_open(path, NULL, "keyturn:x", 0), -EINVAL);
}

/*
 * Only the keyslot bound to the token runs its KDF: four keyslots with
 * the same KDF, the login one last; libcryptsetup's debug log names every
 * keyslot it tries.
 */
static void test_only_bound_keyslot_tried(void **state)
{
	const char *passes[] = { "slot zero", "slot one", "slot two" };
	struct kt_luks_token tok;
	char image[256], line[64];
	key_serial_t k;
	int r;

	make_image(image, passes, 3);
	assert_int_equal(kt_test_enroll(image, "slot two", "ivan login",
				"keyturn:ivan", &tok), 0);
	assert_int_equal(tok.keyslot, 3);

	k = kt_test_put_key("keyturn:ivan", "ivan login");
	captured_len = 0;
	captured[0] = '\0';
	capturing = 1;
	crypt_set_debug_level(CRYPT_DEBUG_ALL);
	r = kt_luks_open(image, NULL, "keyturn:ivan", 0);
	crypt_set_debug_level(CRYPT_DEBUG_NONE);
	capturing = 0;
	kt_test_drop_key(k);

	assert_int_equal(r, 3);
	snprintf(line, sizeof(line), "Trying to open LUKS2 keyslot %d.", 3);
	if (!strstr(captured, line))
		fprintf(stderr, "debug log:\n%s", captured);
	assert_non_null(strstr(captured, line));
	for (int s = 0; s < 3; s++) {
		snprintf(line, sizeof(line), "Trying to open LUKS2 keyslot %d.",
			 s);
		assert_null(strstr(captured, line));
	}
}

static void test_active_close_without_dm(void **state)
{
	const char *passes[] = { "first passphrase" };
	char image[256];
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		skip(); /* device-mapper here: the VM tests cover it */
	}
	make_image(image, passes, 1);
	assert_int_equal(kt_luks_active("kt-test-none", image), 0);
	assert_int_equal(kt_luks_close("kt-test-none", false), 0);
}

/* The device must be the volume the config pins: its LUKS2 UUID. */
static void test_pinned_uuid(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char image[256], uuid[64], upper[64];
	key_serial_t k;

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, passes[0], "pin login",
					"keyturn:pin", &tok),
			 0);
	assert_int_equal(kt_luks_uuid(image, uuid, sizeof(uuid)), 0);
	assert_int_equal(strlen(uuid), 36);
	for (size_t i = 0; i <= strlen(uuid); i++)
		upper[i] = (char)toupper((unsigned char)uuid[i]);

	k = kt_test_put_key("keyturn:pin", "pin login");
	assert_int_equal(kt_luks_open_pinned(image, uuid, NULL, "keyturn:pin",
					     0),
			 tok.keyslot);
	assert_int_equal(kt_luks_open_pinned(image, upper, NULL,
					     "keyturn:pin", 0),
			 tok.keyslot);
	assert_int_equal(kt_luks_open_pinned(image,
					     "00000000-0000-4000-8000-"
					     "000000000000",
					     NULL, "keyturn:pin", 0),
			 -EMEDIUMTYPE);
	kt_test_drop_key(k);
}

/* A header whose data segment is cipher_null: the login password must
 * not open it (it would be mounted as a home written in clear), nor be
 * enrolled on it. */
static void test_cipher_null_segment(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char image[256], other[256];
	key_serial_t k;

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, passes[0], "null login",
					"keyturn:null", &tok),
			 0);
	kt_test_make_cipher_null(image, "\"segments\"");
	k = kt_test_put_key("keyturn:null", "null login");
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:null", 0),
			 -EKEYREJECTED);
	kt_test_drop_key(k);

	make_image(other, passes, 1);
	kt_test_make_cipher_null(other, "\"segments\"");
	assert_int_equal(kt_test_enroll(other, passes[0], "null login",
					"keyturn:null", &tok),
			 -EKEYREJECTED);
	assert_int_equal(active_tokens(other), 0);
	assert_int_equal(kt_test_active_keyslots(other), 1);
}

/* A token-bound keyslot whose area is cipher_null opens with any
 * passphrase a header maker likes: refused before its KDF runs. */
static void test_cipher_null_keyslot(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char image[256];
	key_serial_t k;

	make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, passes[0], "null login",
					"keyturn:nullks", &tok),
			 0);
	assert_int_equal(tok.keyslot, 1);
	kt_test_make_cipher_null(image, "\"1\":{\"type\":\"luks2\"");
	k = kt_test_put_key("keyturn:nullks", "null login");
	assert_int_equal(kt_luks_open(image, NULL, "keyturn:nullks", 0),
			 -EKEYREJECTED);
	kt_test_drop_key(k);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	kt_luks_set_log(capture_log, NULL);
	return 0;
}

static int teardown(void **state)
{
	return kt_test_remove_tree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_then_verify),
		cmocka_unit_test(test_wrong_payload_and_missing_key),
		cmocka_unit_test(test_other_description),
		cmocka_unit_test(test_enroll_twice),
		cmocka_unit_test(test_wrong_existing_passphrase),
		cmocka_unit_test(test_enroll_rolls_back),
		cmocka_unit_test(test_not_luks2),
		cmocka_unit_test(test_only_bound_keyslot_tried),
		cmocka_unit_test(test_active_close_without_dm),
		cmocka_unit_test(test_pinned_uuid),
		cmocka_unit_test(test_cipher_null_segment),
		cmocka_unit_test(test_cipher_null_keyslot),
	};

	if (!kt_test_root_with_keyring("test_luks", "LUKS2 metadata locking, "
				       "kernel keyring"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
