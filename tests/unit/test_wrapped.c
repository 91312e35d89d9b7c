/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn's wrapped mount passphrase: format, cryptography and file I/O,
 * with real libsodium and libargon2 at a fast cost (at most 8 MiB).
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "secret.h"
#include "wrapped.h"

/* Fast costs: tampering runs Argon2 hundreds of times. */
static const struct kt_wrapped_params fast = { 1, 1024, 1 };
static const struct kt_wrapped_params test_cost = { 3, 8192, 2 };

static const char mount_pw[] = "3c9b1a0f6e2d4c8b7a69584736251403";

static struct kt_secret *secret_of(const char *s)
{
	struct kt_secret *p = kt_secret_from(s, strlen(s));

	assert_non_null(p);
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void seal(const char *login, const char *passphrase,
		 const struct kt_wrapped_params *p, uint8_t **buf,
		 size_t *len)
{
	_cleanup_secret_ struct kt_secret *l = secret_of(login);
	_cleanup_secret_ struct kt_secret *m = secret_of(passphrase);

	assert_int_equal(kt_wrapped_seal(l, m, p, buf, len), 0);
}

static int open_with(const uint8_t *buf, size_t len, const char *login,
		     struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *l = secret_of(login);

	return kt_wrapped_open(buf, len, l, ret);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void test_round_trip(void **state)
{
	_cleanup_free_ uint8_t *a = NULL, *b = NULL;
	_cleanup_secret_ struct kt_secret *out = NULL;
	struct kt_wrapped_header h;
	size_t alen, blen;

	seal("correct horse", mount_pw, &test_cost, &a, &alen);
	assert_int_equal(alen, KT_WRAPPED_HEADER_SIZE + strlen(mount_pw) +
				       KT_WRAPPED_TAG_SIZE);
	assert_memory_equal(a, "keyturnW", 8);
	assert_int_equal(kt_wrapped_parse(a, alen, &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.params.t_cost, test_cost.t_cost);
	assert_int_equal(h.params.m_cost_kib, test_cost.m_cost_kib);
	assert_int_equal(h.params.parallelism, test_cost.parallelism);
	assert_int_equal(h.passphrase_len, strlen(mount_pw));
	assert_ptr_equal(h.ciphertext, a + KT_WRAPPED_HEADER_SIZE);
	/* The passphrase is not in the file in clear. */
	assert_null(memmem(a, alen, mount_pw, 8));

	assert_int_equal(open_with(a, alen, "correct horse", &out), 0);
	assert_int_equal(out->len, strlen(mount_pw));
	assert_memory_equal(out->data, mount_pw, out->len);
	assert_int_equal(out->data[out->len], 0);

	/* Fresh salt and nonce every time. */
	seal("correct horse", mount_pw, &test_cost, &b, &blen);
	assert_int_equal(alen, blen);
	assert_memory_not_equal(a + 28, b + 28, 16);
	assert_memory_not_equal(a + 44, b + 44, 24);
}

static void test_wrong_login(void **state)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_secret_ struct kt_secret *empty = kt_secret_new(0);
	struct kt_secret *out = NULL;
	size_t len;

	seal("correct horse", mount_pw, &fast, &buf, &len);
	assert_int_equal(open_with(buf, len, "correct hors", &out), -EBADMSG);
	assert_int_equal(open_with(buf, len, "correct horse ", &out),
			 -EBADMSG);
	assert_int_equal(open_with(buf, len, "Correct horse", &out),
			 -EBADMSG);
	assert_non_null(empty);
	assert_int_equal(kt_wrapped_open(buf, len, empty, &out), -EBADMSG);
	assert_null(out);
}

/* Every byte, three ways: rejected, with an error the header explains. */
static void test_tamper_every_byte(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	seal("correct horse", mount_pw, &fast, &buf, &len);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < ELEMENTSOF(masks); k++) {
			struct kt_secret *out = NULL;
			int r;

			buf[i] ^= masks[k];
			r = open_with(buf, len, "correct horse", &out);
			buf[i] ^= masks[k];
			if (r == 0)
				fail_msg("byte %zu ^ 0x%02x accepted", i,
					 masks[k]);
			assert_null(out);
			if (i >= 28) /* salt, nonce, ciphertext, tag */
				assert_int_equal(r, -EBADMSG);
			else if (i < 8)
				assert_int_equal(r, -EMEDIUMTYPE);
			else if (i < 12)
				assert_int_equal(r, -ENOTSUP);
			else if (r != -EBADMSG && r != -E2BIG &&
				 r != -ERANGE && r != -EINVAL)
				fail_msg("byte %zu: unexpected %d", i, r);
		}
	}
	/* And the untouched file still opens. */
	{
		_cleanup_secret_ struct kt_secret *out = NULL;

		assert_int_equal(open_with(buf, len, "correct horse", &out),
				 0);
	}
}

static void test_truncated(void **state)
{
	_cleanup_free_ uint8_t *buf = NULL, *longer = NULL;
	struct kt_wrapped_header h;
	struct kt_secret *out = NULL;
	size_t len;

	seal("correct horse", mount_pw, &fast, &buf, &len);
	assert_int_equal(kt_wrapped_parse(buf, 0, &h), -ENODATA);
	assert_int_equal(open_with(buf, 0, "correct horse", &out), -ENODATA);
	for (size_t n = 1; n < len; n++) {
		assert_int_equal(kt_wrapped_parse(buf, n, &h), -EINVAL);
		assert_int_equal(open_with(buf, n, "correct horse", &out),
				 -EINVAL);
	}
	/* Also a copy of exactly n bytes, so a sanitizer sees overreads. */
	for (size_t n = 1; n < len; n++) {
		_cleanup_free_ uint8_t *cut = malloc(n);

		assert_non_null(cut);
		memcpy(cut, buf, n);
		assert_int_equal(kt_wrapped_parse(cut, n, &h), -EINVAL);
	}
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(kt_wrapped_parse(longer, len + 1, &h), -EBADMSG);
	assert_int_equal(kt_wrapped_parse(NULL, 0, &h), -ENODATA);
	assert_null(out);
}

static void test_not_ours(void **state)
{
	static const char text[] = ":\x02garbage from somewhere else";
	_cleanup_free_ uint8_t *buf = NULL;
	struct kt_wrapped_header h;
	size_t len;

	assert_int_equal(kt_wrapped_parse((const uint8_t *)text,
					  sizeof(text) - 1, &h),
			 -EMEDIUMTYPE);
	assert_int_equal(kt_wrapped_parse((const uint8_t *)"k", 1, &h),
			 -EINVAL);
	assert_int_equal(kt_wrapped_parse((const uint8_t *)"x", 1, &h),
			 -EMEDIUMTYPE);

	seal("correct horse", mount_pw, &fast, &buf, &len);
	put32(buf + 8, 2);
	assert_int_equal(kt_wrapped_parse(buf, len, &h), -ENOTSUP);
	put32(buf + 8, 0);
	assert_int_equal(kt_wrapped_parse(buf, len, &h), -ENOTSUP);
	/* An unknown version is told as such even when short. */
	put32(buf + 8, 2);
	assert_int_equal(kt_wrapped_parse(buf, 12, &h), -ENOTSUP);
}

/* Absurd costs are refused by the parser, before Argon2 could run. */
static void test_absurd_params(void **state)
{
	static const struct {
		size_t off;
		uint32_t value;
		int error;
	} cases[] = {
		{ 12, 0, -ERANGE },             /* zero iterations */
		{ 12, 1001, -E2BIG },
		{ 12, UINT32_MAX, -E2BIG },
		{ 16, KT_WRAPPED_M_COST_MAX + 1, -E2BIG },
		{ 16, UINT32_MAX, -E2BIG },
		{ 16, 7, -ERANGE },             /* below 8 KiB per lane */
		{ 16, 0, -ERANGE },
		{ 20, 0, -ERANGE },
		{ 20, 17, -E2BIG },
		{ 20, UINT32_MAX, -E2BIG },
		{ 24, 0, -ERANGE },
		{ 24, KT_PASSPHRASE_MAX + 1, -E2BIG },
		{ 24, UINT32_MAX, -E2BIG },
	};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	seal("correct horse", mount_pw, &fast, &buf, &len);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ uint8_t *bad = malloc(len);
		struct kt_wrapped_header h;
		struct kt_secret *out = NULL;
		double start;

		assert_non_null(bad);
		memcpy(bad, buf, len);
		put32(bad + cases[i].off, cases[i].value);
		assert_int_equal(kt_wrapped_parse(bad, len, &h),
				 cases[i].error);
		start = now_s();
		assert_int_equal(open_with(bad, len, "correct horse", &out),
				 cases[i].error);
		/* Argon2 at 1 GiB or 1000 passes would take seconds. */
		assert_true(now_s() - start < 0.05);
	}
}

static void test_params_bounds(void **state)
{
	struct kt_wrapped_params p;

	p = (struct kt_wrapped_params){ 1, 8, 1 };
	assert_int_equal(kt_wrapped_params_check(&p), 0);
	p = (struct kt_wrapped_params){ KT_WRAPPED_T_COST_MAX,
					KT_WRAPPED_M_COST_MAX,
					KT_WRAPPED_PARALLELISM_MAX };
	assert_int_equal(kt_wrapped_params_check(&p), 0);
	p = (struct kt_wrapped_params){ 1, 8 * 16 - 1, 16 };
	assert_int_equal(kt_wrapped_params_check(&p), -ERANGE);
	assert_int_equal(kt_wrapped_params_check(NULL), -EINVAL);
}

static void test_seal_refuses(void **state)
{
	_cleanup_secret_ struct kt_secret *login = secret_of("correct horse");
	_cleanup_secret_ struct kt_secret *mp = secret_of(mount_pw);
	_cleanup_secret_ struct kt_secret *empty = kt_secret_new(0);
	_cleanup_secret_ struct kt_secret *huge =
		kt_secret_new(KT_PASSPHRASE_MAX + 1);
	const struct kt_wrapped_params zero_t = { 0, 1024, 1 };
	const struct kt_wrapped_params big_m = { 1, KT_WRAPPED_M_COST_MAX + 1,
						 1 };
	uint8_t *buf = (uint8_t *)&buf, *const untouched = buf;
	size_t len = 12345;

	assert_non_null(empty);
	assert_non_null(huge);
	assert_int_equal(kt_wrapped_seal(login, mp, &zero_t, &buf, &len),
			 -ERANGE);
	assert_int_equal(kt_wrapped_seal(login, mp, &big_m, &buf, &len),
			 -E2BIG);
	assert_int_equal(kt_wrapped_seal(login, empty, &fast, &buf, &len),
			 -EINVAL);
	assert_int_equal(kt_wrapped_seal(login, huge, &fast, &buf, &len),
			 -EINVAL);
	assert_int_equal(kt_wrapped_seal(huge, mp, &fast, &buf, &len),
			 -EINVAL);
	assert_int_equal(kt_wrapped_seal(NULL, mp, &fast, &buf, &len),
			 -EINVAL);
	assert_ptr_equal(buf, untouched);
	assert_int_equal(len, 12345);
}

static void test_rewrap(void **state)
{
	_cleanup_secret_ struct kt_secret *old = secret_of("old password");
	_cleanup_secret_ struct kt_secret *new = secret_of("new password");
	_cleanup_secret_ struct kt_secret *out = NULL;
	_cleanup_free_ uint8_t *buf = NULL, *re = NULL;
	struct kt_wrapped_header h;
	size_t len, relen;

	seal("old password", mount_pw, &fast, &buf, &len);
	assert_int_equal(kt_wrapped_rewrap(buf, len, new, old, NULL, &re,
					   &relen), -EBADMSG);
	assert_null(re);
	assert_int_equal(kt_wrapped_rewrap(buf, len, old, new, NULL, &re,
					   &relen), 0);
	assert_int_equal(kt_wrapped_parse(re, relen, &h), 0);
	assert_int_equal(h.params.m_cost_kib, fast.m_cost_kib);
	assert_int_equal(kt_wrapped_open(re, relen, old, &out), -EBADMSG);
	assert_int_equal(kt_wrapped_open(re, relen, new, &out), 0);
	assert_memory_equal(out->data, mount_pw, strlen(mount_pw));
}

/* ---- files ----------------------------------------------------------- */

struct dir {
	char path[64];
	int fd;
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	const char *tmp = getenv("TMPDIR");

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "%s/kt-wrapped-XXXXXX",
		 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(d->path))
		return -1;
	d->fd = open(d->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0)
		return -1;
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	DIR *dir = opendir(d->path);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(dir), de->d_name, 0);
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") &&
		    strcmp(de->d_name, ".."))
			unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR);
	}
	if (dir)
		closedir(dir);
	close(d->fd);
	rmdir(d->path);
	free(d);
	return 0;
}

static size_t count_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(dir);
	return n;
}

static void make_file(struct dir *d, const char *name, const void *data,
		      size_t len, mode_t mode)
{
	int fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_file_round_trip(void **state)
{
	struct dir *d = *state;
	_cleanup_free_ uint8_t *buf = NULL, *back = NULL, *again = NULL;
	_cleanup_secret_ struct kt_secret *out = NULL;
	size_t len, backlen, againlen;
	struct stat st;

	seal("correct horse", mount_pw, &fast, &buf, &len);
	assert_int_equal(kt_wrapped_write_at(d->fd, "keyturn-wrapped",
					     getuid(), getgid(), buf, len),
			 0);
	assert_int_equal(fstatat(d->fd, "keyturn-wrapped", &st,
				 AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(st.st_size, len);
	/* No temporary file left behind. */
	assert_int_equal(count_entries(d->path), 1);

	assert_int_equal(kt_wrapped_read_at(d->fd, "keyturn-wrapped",
					    getuid(), &back, &backlen), 0);
	assert_int_equal(backlen, len);
	assert_memory_equal(back, buf, len);
	assert_int_equal(open_with(back, backlen, "correct horse", &out), 0);
	assert_memory_equal(out->data, mount_pw, strlen(mount_pw));

	/* Replacing: the new content, still one file. */
	free(buf);
	buf = NULL;
	seal("new password", mount_pw, &fast, &buf, &len);
	assert_int_equal(kt_wrapped_write_at(d->fd, "keyturn-wrapped",
					     (uid_t)-1, (gid_t)-1, buf, len),
			 0);
	assert_int_equal(count_entries(d->path), 1);
	assert_int_equal(kt_wrapped_read_at(d->fd, "keyturn-wrapped",
					    getuid(), &again, &againlen), 0);
	assert_memory_equal(again, buf, len);
}

/* A symlink where the file should be is replaced, its target untouched. */
static void test_file_write_over_symlink(void **state)
{
	struct dir *d = *state;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	struct stat st;

	make_file(d, "target", "precious", 8, 0600);
	assert_int_equal(symlinkat("target", d->fd, "wrapped"), 0);
	seal("correct horse", mount_pw, &fast, &buf, &len);
	assert_int_equal(kt_wrapped_write_at(d->fd, "wrapped", getuid(),
					     getgid(), buf, len), 0);
	assert_int_equal(fstatat(d->fd, "wrapped", &st, AT_SYMLINK_NOFOLLOW),
			 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(fstatat(d->fd, "target", &st, 0), 0);
	assert_int_equal(st.st_size, 8);
}

static void test_file_bad_names(void **state)
{
	struct dir *d = *state;
	static const char *const names[] = { "", ".", "..", "a/b", "/etc" };
	uint8_t *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		assert_int_equal(kt_wrapped_write_at(d->fd, names[i], getuid(),
						     getgid(),
						     (const uint8_t *)"x", 1),
				 -EINVAL);
		assert_int_equal(kt_wrapped_read_at(d->fd, names[i], getuid(),
						    &buf, &len), -EINVAL);
	}
	assert_int_equal(count_entries(d->path), 0);
}

static void expect_read_error(struct dir *d, const char *name, uid_t owner,
			      int error)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(kt_wrapped_read_at(d->fd, name, owner, &buf, &len),
			 error);
	assert_null(buf);
	assert_int_equal(len, 0);
}

static void on_alarm(int sig)
{
	(void)sig;
	/* Reached only if a read blocked: fail loudly, don't hang. */
	_exit(99);
}

static void test_file_hostile(void **state)
{
	struct dir *d = *state;
	_cleanup_free_ uint8_t *buf = NULL, *big = NULL;
	size_t len;

	seal("correct horse", mount_pw, &fast, &buf, &len);
	signal(SIGALRM, on_alarm);
	alarm(20);

	expect_read_error(d, "missing", getuid(), -ENOENT);

	make_file(d, "real", buf, len, 0600);
	assert_int_equal(symlinkat("real", d->fd, "link"), 0);
	expect_read_error(d, "link", getuid(), -ELOOP);

	assert_int_equal(mkfifoat(d->fd, "fifo", 0600), 0);
	expect_read_error(d, "fifo", getuid(), -EBADFD);

	assert_int_equal(mkdirat(d->fd, "dir", 0700), 0);
	expect_read_error(d, "dir", getuid(), -EISDIR);

	make_file(d, "empty", "", 0, 0600);
	expect_read_error(d, "empty", getuid(), -ENODATA);

	make_file(d, "open644", buf, len, 0644);
	expect_read_error(d, "open644", getuid(), -EACCES);
	make_file(d, "open640", buf, len, 0640);
	expect_read_error(d, "open640", getuid(), -EACCES);
	make_file(d, "open602", buf, len, 0602);
	expect_read_error(d, "open602", getuid(), -EACCES);

	big = calloc(1, KT_WRAPPED_SIZE_MAX + 1);
	assert_non_null(big);
	make_file(d, "big", big, KT_WRAPPED_SIZE_MAX + 1, 0600);
	expect_read_error(d, "big", getuid(), -EFBIG);

	/* Owned by another user. As root the file really is; otherwise
	 * the caller expects another owner than the file's. */
	make_file(d, "foreign", buf, len, 0600);
	if (geteuid() == 0) {
		assert_int_equal(fchownat(d->fd, "foreign", 4242, 4242, 0), 0);
		expect_read_error(d, "foreign", getuid(), -EPERM);
	} else {
		expect_read_error(d, "foreign", getuid() + 1, -EPERM);
	}
	alarm(0);
}

/* As root, the file is handed to its user: owner, group and mode. */
static void test_file_chown(void **state)
{
	struct dir *d = *state;
	_cleanup_free_ uint8_t *buf = NULL, *back = NULL;
	size_t len, backlen;
	struct stat st;

	if (geteuid() != 0) {
		/* Not a skip of the whole program: the rest ran. */
		print_message("not root: chown to another user not tested\n");
		return;
	}
	seal("correct horse", mount_pw, &fast, &buf, &len);
	assert_int_equal(kt_wrapped_write_at(d->fd, "w", 4242, 4343, buf,
					     len), 0);
	assert_int_equal(fstatat(d->fd, "w", &st, 0), 0);
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_gid, 4343);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(kt_wrapped_read_at(d->fd, "w", 4242, &back,
					    &backlen), 0);
	expect_read_error(d, "w", 0, -EPERM);
}

static void test_calibrate(void **state)
{
	_cleanup_secret_ struct kt_secret *login = secret_of("correct horse");
	_cleanup_secret_ struct kt_secret *mp = secret_of(mount_pw);
	_cleanup_secret_ struct kt_secret *out = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct kt_wrapped_params p = { 0 };
	double start, took;
	size_t len;

	assert_int_equal(kt_wrapped_calibrate(100, KT_WRAPPED_M_COST_MAX + 1,
					      0, &p), -E2BIG);
	assert_int_equal(kt_wrapped_calibrate(100, 4, 0, &p), -ERANGE);
	assert_int_equal(kt_wrapped_calibrate(100, 16384,
					      KT_WRAPPED_T_COST_MAX + 1, &p),
			 -E2BIG);
	/* The iterations bound holds whatever the time asks. */
	assert_int_equal(kt_wrapped_calibrate(300, 8192, 2, &p), 0);
	assert_true(p.t_cost >= 1 && p.t_cost <= 2);
	assert_true(p.m_cost_kib <= 8192);

	assert_int_equal(kt_wrapped_calibrate(100, 16384, 0, &p), 0);
	assert_int_equal(kt_wrapped_params_check(&p), 0);
	assert_true(p.m_cost_kib <= 16384);
	assert_true(p.t_cost >= 3);
	assert_true(p.parallelism >= 1 && p.parallelism <= 4);

	assert_int_equal(kt_wrapped_seal(login, mp, &p, &buf, &len), 0);
	start = now_s();
	assert_int_equal(kt_wrapped_open(buf, len, login, &out), 0);
	took = now_s() - start;
	print_message("calibrated for 100 ms within 16 MiB: t=%u m=%u KiB "
		      "p=%u, unwrap took %.0f ms\n", p.t_cost, p.m_cost_kib,
		      p.parallelism, took * 1000);
	/* Loose: a loaded machine slows it, never by ten times. */
	assert_true(took < 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_login),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_absurd_params),
		cmocka_unit_test(test_params_bounds),
		cmocka_unit_test(test_seal_refuses),
		cmocka_unit_test(test_rewrap),
		cmocka_unit_test_setup_teardown(test_file_round_trip,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_file_write_over_symlink,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_file_bad_names, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_file_hostile, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_file_chown, dir_setup,
						dir_teardown),
		cmocka_unit_test(test_calibrate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
