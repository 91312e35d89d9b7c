/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The decision of the unlock rate limit: a sliding window of attempts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>

#include "ratelimit.h"

static void test_window(void **state)
{
	uint64_t times[5] = { 0 };
	size_t n = 0;

	/* 5 in a minute pass, the 6th does not. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(kt_ratelimit_step(times, n, 5, 1000 + i, 60,
						   &n),
				 0);
	assert_int_equal(n, 5);
	assert_int_equal(kt_ratelimit_step(times, n, 5, 1010, 60, &n),
			 -EBUSY);
	assert_int_equal(n, 5);
	/* Refused attempts do not extend the wait: at 1060 the first one
	 * (1000) has left the window. */
	assert_int_equal(kt_ratelimit_step(times, n, 5, 1059, 60, &n),
			 -EBUSY);
	assert_int_equal(kt_ratelimit_step(times, n, 5, 1060, 60, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(times[4], 1060);
	/* Much later: all old ones gone. */
	assert_int_equal(kt_ratelimit_step(times, n, 5, 5000, 60, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(times[0], 5000);
}

/* A time ahead of now (a clock that went back) still counts. */
static void test_future_counts(void **state)
{
	uint64_t times[2] = { 9000, 9001 };
	size_t n = 2;

	assert_int_equal(kt_ratelimit_step(times, n, 2, 100, 60, &n), -EBUSY);
	assert_int_equal(n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_future_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
