/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mount option handling: nosuid,nodev always, nothing can undo them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include <cmocka.h>

#include "mount.h"

static void test_options_table(void **state)
{
	static const struct {
		const char *in;
		int r;
		unsigned long flags;
		const char *data;
	} cases[] = {
		{ NULL, 0, 0, "" },
		{ "", 0, 0, "" },
		/* refused, as in keyturn.conf: one table (lib/mount_options.c) */
		{ "defaults", -EINVAL, 0, NULL },
		{ "noatime,defaults", -EINVAL, 0, NULL },
		{ "bind", -EINVAL, 0, NULL },
		{ "remount", -EINVAL, 0, NULL },
		{ "suid=1", -EINVAL, 0, NULL },
		{ "noatime", 0, MS_NOATIME, "" },
		{ "ro,noexec", 0, MS_RDONLY | MS_NOEXEC, "" },
		{ "ro,rw", 0, 0, "" },
		{ "noexec,exec", 0, 0, "" },
		{ "discard,noatime,commit=30", 0, MS_NOATIME,
		  "discard,commit=30" },
		{ "nosuid,nodev", 0, 0, "" },
		{ ",,noatime,", 0, MS_NOATIME, "" },
		{ "suid", -EINVAL, 0, NULL },
		{ "noatime,dev", -EINVAL, 0, NULL },
		{ "a b", -EINVAL, 0, NULL },
		{ "x\ny", -EINVAL, 0, NULL },
		{ "x\\040", -EINVAL, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long flags = 0xdead;
		char *data = NULL;
		int r = kt_mount_options(cases[i].in, &flags, &data);

		assert_int_equal(r, cases[i].r);
		if (r < 0) {
			assert_null(data);
			assert_int_equal(flags, 0xdead);
			continue;
		}
		assert_int_equal(flags,
				 cases[i].flags | MS_NOSUID | MS_NODEV);
		assert_string_equal(data, cases[i].data);
		free(data);
	}
}

/* The names the config refuses are the names kt_mount_options() refuses. */
static void test_refused_names(void **state)
{
	static const char *const refused[] = {
		"suid", "dev", "defaults", "bind", "rbind", "move", "remount",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		unsigned long flags;
		char *data = NULL;

		assert_true(kt_mount_option_refused(refused[i],
						    strlen(refused[i])));
		assert_int_equal(kt_mount_options(refused[i], &flags, &data),
				 -EINVAL);
	}
	assert_false(kt_mount_option_refused("noatime", 7));
	assert_false(kt_mount_option_refused("devices", 7));
	assert_true(kt_mount_option_refused("devices", 3));
}

static void test_relative_paths_refused(void **state)
{
	assert_int_equal(kt_dir_open_checked("home/alice", 0), -EINVAL);
	assert_int_equal(kt_dir_open_checked("", 0), -EINVAL);
	assert_int_equal(kt_dir_open_checked(NULL, 0), -EINVAL);
	assert_int_equal(kt_dir_open_checked("/tmp/../etc", 0), -EINVAL);
	assert_int_equal(kt_dir_open_checked("/./tmp", 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_table),
		cmocka_unit_test(test_refused_names),
		cmocka_unit_test(test_relative_paths_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
