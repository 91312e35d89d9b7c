/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* User names, passwd lookup and template expansion. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "user.h"

static const struct name_case {
	const char *name;
	const char *problem; /* NULL: valid */
} name_cases[] = {
	{ "alice", NULL },
	{ "a", NULL },
	{ "Alice_Smith-2.0", NULL },
	{ "_apt", NULL },
	{ "a.", NULL },
	{ "a..b", NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL }, /* 32 */
	{ "", "is empty" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "is longer than 32 bytes" },
	{ ".", "is a path component" },
	{ "..", "is a path component" },
	{ ".alice", "starts with '.'" },
	{ "-alice", "starts with '-'" },
	{ "a/b", "contains '/'" },
	{ "../etc", "starts with '.'" },
	{ "a/../b", "contains '/'" },
	{ "/", "contains '/'" },
	{ "a b", "contains a blank" },
	{ " alice", "contains a blank" },
	{ "alice ", "contains a blank" },
	{ "a\tb", "contains a blank" },
	{ "a\nb", "contains a control character" },
	{ "a\001", "contains a control character" },
	{ "a\033[0m", "contains a control character" },
	{ "a\177", "contains a control character" },
	{ "al:ice", "contains a character outside" },
	{ "a%u", "contains a character outside" },
	{ "a*", "contains a character outside" },
	{ "al\303\251x", "contains a character outside" }, /* UTF-8 */
};

static void test_name_valid(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		const char *problem = kt_user_name_problem(c->name);

		if (!c->problem) {
			if (problem || !kt_user_name_valid(c->name))
				fail_msg("case %zu '%s': refused (%s)", i,
					 c->name, problem);
			continue;
		}
		if (kt_user_name_valid(c->name) || !problem ||
		    !strstr(problem, c->problem))
			fail_msg("case %zu: got '%s', want '%s'", i,
				 problem ? problem : "(valid)", c->problem);
	}
	assert_false(kt_user_name_valid(NULL));
}

static void test_lookup_root(void **state)
{
	_cleanup_user_ struct kt_user *u = NULL;
	struct passwd *pw = getpwnam("root");

	if (!pw) {
		print_message("SKIP: no root entry in the user database\n");
		skip();
	}
	assert_int_equal(kt_user_lookup("root", &u), 0);
	assert_string_equal(u->name, "root");
	assert_int_equal(u->uid, 0);
	assert_int_equal(u->gid, pw->pw_gid);
	assert_string_equal(u->home, pw->pw_dir);
	u = kt_user_free(u);
	assert_null(u);
	assert_null(kt_user_free(NULL));
}

/* The user the test runs as, whoever that is, through getpwnam_r(). */
static void test_lookup_self(void **state)
{
	_cleanup_user_ struct kt_user *u = NULL;
	struct passwd *pw = getpwuid(geteuid());

	if (!pw || !kt_user_name_valid(pw->pw_name) || pw->pw_dir[0] != '/') {
		print_message("SKIP: no usable entry for uid %u\n",
			      (unsigned)geteuid());
		skip();
	}
	assert_int_equal(kt_user_lookup(pw->pw_name, &u), 0);
	assert_int_equal(u->uid, geteuid());
	assert_string_equal(u->home, pw->pw_dir);
}

static void test_lookup_errors(void **state)
{
	static const char *const unsafe[] = {
		"", "..", "a/b", "root/..", "ro ot", "root\n", "-root",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct kt_user *u = (struct kt_user *)0x1;

	assert_int_equal(kt_user_lookup("keyturn-no-such-user", &u), -ENOENT);
	assert_ptr_equal(u, (struct kt_user *)0x1);
	for (size_t i = 0; i < ELEMENTSOF(unsafe); i++) {
		assert_int_equal(kt_user_lookup(unsafe[i], &u), -EINVAL);
		assert_ptr_equal(u, (struct kt_user *)0x1);
	}
	assert_int_equal(kt_user_lookup(NULL, &u), -EINVAL);
}

static const struct expand_case {
	const char *template;
	const char *result; /* NULL: -EINVAL */
} expand_cases[] = {
	{ "", "" },
	{ "plain", "plain" },
	{ "%u", "alice" },
	{ "%h", "/home/alice" },
	{ "%U", "4294967294" },
	{ "%%", "%" },
	{ "%%u", "%u" },
	{ "%%%u", "%alice" },
	{ "%h/.Private", "/home/alice/.Private" },
	{ "/dev/disk/by-partlabel/home-%u", "/dev/disk/by-partlabel/home-alice" },
	{ "home-%u-%U-%u", "home-alice-4294967294-alice" },
	{ "%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u",
	  "alicealicealicealicealicealicealicealicealicealice"
	  "alicealicealicealicealicealicealicealicealicealice" },
	{ "%", NULL },
	{ "abc%", NULL },
	{ "%x", NULL },
	{ "%H", NULL },
	{ "%/", NULL },
	{ "%%%", NULL },
};

static void test_expand(void **state)
{
	struct kt_user alice = { "alice", 4294967294u, 100, "/home/alice" };

	for (size_t i = 0; i < ELEMENTSOF(expand_cases); i++) {
		const struct expand_case *c = &expand_cases[i];
		char *s = (char *)0x1;
		int r = kt_user_expand(c->template, &alice, &s);

		if (!c->result) {
			if (r != -EINVAL || s != (char *)0x1)
				fail_msg("case %zu '%s': r=%d, want -EINVAL", i,
					 c->template, r);
			continue;
		}
		if (r != 0 || strcmp(s, c->result) != 0)
			fail_msg("case %zu '%s': r=%d '%s', want '%s'", i,
				 c->template, r, r == 0 ? s : "", c->result);
		free(s);
	}
}

/* Expansion is one pass: a '%' that comes from the user is not expanded
 * again. */
static void test_expand_single_pass(void **state)
{
	struct kt_user odd = { "bob", 7, 7, "/home/%u%h" };
	_cleanup_free_ char *s = NULL;

	assert_int_equal(kt_user_expand("%h/x-%u", &odd, &s), 0);
	assert_string_equal(s, "/home/%u%h/x-bob");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_lookup_root),
		cmocka_unit_test(test_lookup_self),
		cmocka_unit_test(test_lookup_errors),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_single_pass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
