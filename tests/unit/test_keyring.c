/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key descriptions: pure, no kernel. The keyring calls themselves are
 * exercised as root in tests/host/test_session_key.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "keyring.h"

static void test_valid(void **state)
{
	static const struct {
		const char *prefix, *user, *desc;
	} ok[] = {
		{ KT_KEY_PREFIX_DEFAULT, "alice", "keyturn:alice" },
		{ "keyturn:", "a", "keyturn:a" },
		{ "kt-", "bob.smith", "kt-bob.smith" },
		{ "x", "user_1-2", "xuser_1-2" },
		{ "A.b_c-d:", "Z9", "A.b_c-d:Z9" },
		/* 32-byte prefix, 32-byte user: the longest there is. */
		{ "pppppppppppppppppppppppppppppppp",
		  "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu",
		  "pppppppppppppppppppppppppppppppp"
		  "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu" },
	};

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		char buf[KT_KEY_DESC_MAX];

		assert_int_equal(kt_key_description(ok[i].prefix, ok[i].user,
						    buf, sizeof(buf)), 0);
		assert_string_equal(buf, ok[i].desc);
	}
}

static void test_bad_prefix(void **state)
{
	static const char *const bad[] = {
		"",
		"key turn:",
		"keyturn/",
		"keyturn;",     /* ';' separates fields in /proc/keys */
		"keyturn:\n",
		"keyturn:\t",
		"keyturn:\x01",
		"k\xc3\xa9:",
		"ppppppppppppppppppppppppppppppppp", /* 33 */
		"%u:",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char buf[KT_KEY_DESC_MAX] = "untouched";

		if (kt_key_description(bad[i], "alice", buf, sizeof(buf)) !=
		    -EINVAL)
			fail_msg("prefix accepted: \"%s\"", bad[i]);
		assert_string_equal(buf, "untouched");
	}
	assert_int_equal(kt_key_description(NULL, "alice", (char[8]){ 0 }, 8),
			 -EINVAL);
}

static void test_bad_user(void **state)
{
	static const char *const bad[] = {
		"",
		"/",
		"a/b",
		"../root",
		"..",
		".",
		".hidden",
		"-rf",
		"al ice",
		"alice ",
		" alice",
		"al\tice",
		"al\nice",
		"alice\r",
		"al\x1b[1mice",
		"al\x7fice",
		"al;ice",
		"al:ice",
		"al*",
		"al%uice",
		"\xc3\xa9lise",
		"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu", /* 33 */
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char buf[KT_KEY_DESC_MAX] = "untouched";

		if (kt_key_description(KT_KEY_PREFIX_DEFAULT, bad[i], buf,
				       sizeof(buf)) != -EINVAL)
			fail_msg("user accepted: \"%s\"", bad[i]);
		assert_string_equal(buf, "untouched");
	}
	assert_int_equal(kt_key_description(KT_KEY_PREFIX_DEFAULT, NULL,
					    (char[8]){ 0 }, 8), -EINVAL);
}

static void test_too_long_for_buffer(void **state)
{
	char buf[KT_KEY_DESC_MAX];

	/* "keyturn:alice" is 13 bytes and its NUL. */
	assert_int_equal(kt_key_description("keyturn:", "alice", buf, 13),
			 -ENAMETOOLONG);
	assert_int_equal(kt_key_description("keyturn:", "alice", buf, 14), 0);
	assert_string_equal(buf, "keyturn:alice");
	assert_int_equal(kt_key_description("keyturn:", "alice", buf, 0),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_bad_prefix),
		cmocka_unit_test(test_bad_user),
		cmocka_unit_test(test_too_long_for_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
