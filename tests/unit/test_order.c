/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Nested volumes: parents open first, children close first. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "order.h"

/* keyturn.conf(5)'s example: LUKS2 on the home, eCryptfs inside it. */
static void test_waves_nested(void **state)
{
	struct kt_volume v[] = {
		{ .name = "private", .type = KT_VOLUME_ECRYPTFS,
		  .source = "/home/alice/.Private",
		  .wrapped = "/home/alice/.ecryptfs/keyturn-wrapped",
		  .mountpoint = "/home/alice/Private" },
		{ .name = "home", .type = KT_VOLUME_LUKS2,
		  .device = "/dev/disk/by-partlabel/home-alice",
		  .mountpoint = "/home/alice" },
		{ .name = "data", .type = KT_VOLUME_LUKS2,
		  .device = "/dev/sdb1", .mountpoint = "/srv/alice" },
		{ .name = "deep", .type = KT_VOLUME_LUKS2,
		  .device = "/home/alice/Private/image",
		  .mountpoint = "/mnt/deep" },
	};
	unsigned wave[4];

	assert_true(kt_volume_inside(&v[0], &v[1]));
	assert_false(kt_volume_inside(&v[1], &v[0]));
	assert_false(kt_volume_inside(&v[2], &v[1]));
	/* An image file inside another volume counts too. */
	assert_true(kt_volume_inside(&v[3], &v[0]));
	assert_int_equal(kt_volumes_open_waves(v, 4, wave), 0);
	assert_int_equal(wave[0], 1);
	assert_int_equal(wave[1], 0);
	assert_int_equal(wave[2], 0);
	assert_int_equal(wave[3], 2);
}

/* Whole components only: /home/al is not above /home/alice. */
static void test_prefix_components(void **state)
{
	struct kt_volume parent = { .mountpoint = "/home/al" };
	struct kt_volume child = { .mountpoint = "/home/alice/x",
				   .source = "/home/alx" };
	struct kt_volume root = { .mountpoint = "/" };

	assert_false(kt_volume_inside(&child, &parent));
	child.source = "/home/al/.Private";
	assert_true(kt_volume_inside(&child, &parent));
	parent.mountpoint = "/home/al/";
	assert_true(kt_volume_inside(&child, &parent));
	assert_true(kt_volume_inside(&child, &root));
}

/* An fscrypt directory in a LUKS2 home waits for the home; it has no
 * mount point, so nothing is inside it. */
static void test_fscrypt_inside(void **state)
{
	struct kt_volume home = { .mountpoint = "/home/al" };
	struct kt_volume secret = { .directory = "/home/al/Secret",
				    .wrapped = "/var/w" };
	struct kt_volume other = { .directory = "/home/alice/Secret" };

	assert_true(kt_volume_inside(&secret, &home));
	assert_false(kt_volume_inside(&other, &home));
	assert_false(kt_volume_inside(&home, &secret));
}

static void test_waves_cycle(void **state)
{
	struct kt_volume v[] = {
		{ .name = "a", .mountpoint = "/home/alice" },
		{ .name = "b", .mountpoint = "/home/alice" },
	};
	unsigned wave[2];

	assert_int_equal(kt_volumes_open_waves(v, 2, wave), -ELOOP);
}

static void test_close_order(void **state)
{
	struct kt_opened o[4] = { 0 };
	size_t order[4];

	/* Opened in this order: home, private (inside home), data, deep. */
	strcpy(o[0].mountpoint, "/home/alice");
	strcpy(o[1].mountpoint, "/home/alice/Private");
	strcpy(o[2].mountpoint, "/srv/alice");
	strcpy(o[3].mountpoint, "/home/alice/Private/deep");
	kt_opened_close_order(o, 4, order);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 1);
	/* Equal depth: the last opened closes first. */
	assert_int_equal(order[2], 2);
	assert_int_equal(order[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waves_nested),
		cmocka_unit_test(test_prefix_components),
		cmocka_unit_test(test_fscrypt_inside),
		cmocka_unit_test(test_waves_cycle),
		cmocka_unit_test(test_close_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
