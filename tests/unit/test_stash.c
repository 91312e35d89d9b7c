/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The auth -> open_session stash, its pure parts: the reference kept in
 * the PAM environment and the sealing. The keyring part is exercised by
 * tests/pam/test_pam.c against the kernel, as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stash.h"

static const char HEX[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_ref_round_trip(void **state)
{
	struct kt_stash_ref ref = { .key = 123456789 }, back;
	char text[KT_STASH_REF_MAX], want[128];

	for (size_t i = 0; i < sizeof(ref.seal_key); i++)
		ref.seal_key[i] = (uint8_t)i;
	assert_int_equal(kt_stash_ref_format(&ref, text, sizeof(text)), 0);
	snprintf(want, sizeof(want), "123456789:%s", HEX);
	assert_string_equal(text, want);
	assert_int_equal(kt_stash_ref_parse(text, &back), 0);
	assert_int_equal(back.key, ref.key);
	assert_memory_equal(back.seal_key, ref.seal_key, sizeof(ref.seal_key));

	/* The largest serial fits the buffer the header names. */
	ref.key = 0x7fffffff;
	assert_int_equal(kt_stash_ref_format(&ref, text, sizeof(text)), 0);
	assert_int_equal(kt_stash_ref_format(&ref, text, sizeof(text) - 1),
			 -ENOBUFS);
	ref.key = 0;
	assert_int_equal(kt_stash_ref_format(&ref, text, sizeof(text)),
			 -EINVAL);
}

static void test_ref_parse_is_strict(void **state)
{
	char buf[256];
	const char *bad[] = {
		"",
		":",
		"0:",
		"-5:",
		"+5:",
		"05:",
		"2147483648:", /* past the largest serial */
		"12",
		"12;",
		" 12:",
	};
	struct kt_stash_ref ref = { .key = 42 };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(buf, sizeof(buf), "%s%s", bad[i], HEX);
		if (kt_stash_ref_parse(buf, &ref) != -EBADMSG)
			fail_msg("accepted \"%s\"", buf);
	}
	/* The hex part: exactly 64 lowercase digits. */
	snprintf(buf, sizeof(buf), "12:%.63s", HEX);
	assert_int_equal(kt_stash_ref_parse(buf, &ref), -EBADMSG);
	snprintf(buf, sizeof(buf), "12:%s0", HEX);
	assert_int_equal(kt_stash_ref_parse(buf, &ref), -EBADMSG);
	snprintf(buf, sizeof(buf), "12:%s", HEX);
	buf[5] = 'A';
	assert_int_equal(kt_stash_ref_parse(buf, &ref), -EBADMSG);
	buf[5] = 'g';
	assert_int_equal(kt_stash_ref_parse(buf, &ref), -EBADMSG);
	/* Left untouched on failure. */
	assert_int_equal(ref.key, 42);
	snprintf(buf, sizeof(buf), "12:%s", HEX);
	assert_int_equal(kt_stash_ref_parse(buf, &ref), 0);
	assert_int_equal(ref.key, 12);
}

static void test_seal_open(void **state)
{
	_cleanup_secret_ struct kt_secret *pass = NULL, *back = NULL;
	uint8_t key[KT_STASH_SEAL_KEY_BYTES] = { 1, 2, 3 };
	uint8_t other[KT_STASH_SEAL_KEY_BYTES] = { 1, 2, 4 };
	uint8_t sealed[KT_STASH_SEALED_LEN(11)];

	pass = kt_secret_from("hunter2 x y", 11);
	assert_non_null(pass);
	assert_int_equal(kt_stash_seal(key, "alice", pass, sealed,
				       sizeof(sealed) - 1),
			 -ENOBUFS);
	assert_int_equal(kt_stash_seal(key, "alice", pass, sealed,
				       sizeof(sealed)),
			 0);
	/* No clear text in what goes into the keyring. */
	assert_null(memmem(sealed, sizeof(sealed), "hunter2", 7));

	assert_int_equal(kt_stash_open(key, "alice", sealed, sizeof(sealed),
				       &back),
			 0);
	assert_int_equal(back->len, 11);
	assert_memory_equal(back->data, "hunter2 x y", 11);
	back = kt_secret_free(back);

	/* Another key, another user, a byte changed, cut short: nothing. */
	assert_int_equal(kt_stash_open(other, "alice", sealed, sizeof(sealed),
				       &back),
			 -EBADMSG);
	assert_int_equal(kt_stash_open(key, "bob", sealed, sizeof(sealed),
				       &back),
			 -EBADMSG);
	sealed[KT_STASH_NONCE_BYTES + 3] ^= 1;
	assert_int_equal(kt_stash_open(key, "alice", sealed, sizeof(sealed),
				       &back),
			 -EBADMSG);
	sealed[KT_STASH_NONCE_BYTES + 3] ^= 1;
	assert_int_equal(kt_stash_open(key, "alice", sealed,
				       KT_STASH_NONCE_BYTES +
					       KT_STASH_TAG_BYTES,
				       &back),
			 -EBADMSG);
	assert_int_equal(kt_stash_open(key, "alice", sealed, sizeof(sealed) - 1,
				       &back),
			 -EBADMSG);
	assert_null(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_round_trip),
		cmocka_unit_test(test_ref_parse_is_strict),
		cmocka_unit_test(test_seal_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
