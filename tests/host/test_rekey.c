/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Password change against real LUKS2 image files and the real kernel
 * keyring: kt_luks_rekey() and kt_luks_add_recovery(), and the atomic
 * re-wrap of a wrapped file (an eCryptfs passphrase, an fscrypt key).
 *
 * Crash safety is tested by killing the re-key for real: this program
 * interposes write(2), fsync(2), fdatasync(2) and rename(2) (libcryptsetup
 * and lib/ reach them through the dynamic symbol, so the definitions here
 * win), counts those that touch a regular file, and in a forked child
 * sends itself SIGKILL right after the Nth one, for every N until the
 * re-key completes. After each kill the volume must open through its
 * token with the old or the new passphrase, and a second re-key must
 * finish the job. No hook in the code under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <libcryptsetup.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt-test-luks.h"
#include "kt-test-spawn.h"
#include "luks.h"
#include "secret.h"
#include "wrapped.h"

#define DESC "keyturn:rekeytest"
#define MIN_KILL_POINTS 20

static char tmpdir[] = "/tmp/kt-test-rekey.XXXXXX";
static char template_image[256];
static int image_counter;

/* ---- kill points ------------------------------------------------------ */

/* In the child: after this many file mutations, SIGKILL. 0: never. */
static long kill_after;
static long mutations;

static int is_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static void mutated(void)
{
	mutations++;
	if (kill_after > 0 && mutations >= kill_after)
		raise(SIGKILL);
}

__attribute__((visibility("default"))) ssize_t write(int fd, const void *buf,
						     size_t n)
{
	ssize_t r = syscall(SYS_write, fd, buf, n);

	if (r > 0 && is_regular(fd))
		mutated();
	return r;
}

__attribute__((visibility("default"))) int fsync(int fd)
{
	int r = (int)syscall(SYS_fsync, fd);

	if (r == 0 && is_regular(fd))
		mutated();
	return r;
}

__attribute__((visibility("default"))) int fdatasync(int fd)
{
	int r = (int)syscall(SYS_fdatasync, fd);

	if (r == 0 && is_regular(fd))
		mutated();
	return r;
}

__attribute__((visibility("default"))) int rename(const char *from,
						  const char *to)
{
	int r = (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);

	if (r == 0)
		mutated();
	return r;
}

__attribute__((visibility("default"))) int renameat(int fromfd,
						    const char *from, int tofd,
						    const char *to)
{
	int r = (int)syscall(SYS_renameat, fromfd, from, tofd, to);

	if (r == 0)
		mutated();
	return r;
}

/* ---- helpers ---------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "cp --sparse=always -- '%s' '%s'", from,
		 to);
	assert_int_equal(system(cmd), 0);
}

/* A LUKS2 image: keyslot 0 "recovery passphrase", keyslot 1 "old login"
 * bound to a luks2-keyring token for DESC. Made once, copied per test. */
static void make_template(void)
{
	const char *passes[] = { "recovery passphrase" };
	struct kt_luks_token tok;

	snprintf(template_image, sizeof(template_image), "%s/template",
		 tmpdir);
	kt_test_make_image(template_image, passes, 1);
	assert_int_equal(kt_test_enroll(template_image, "recovery passphrase",
					"old login", DESC, &tok), 0);
	assert_int_equal(tok.keyslot, 1);
}

static void new_image(char *path)
{
	snprintf(path, 256, "%s/img%d", tmpdir, image_counter++);
	copy_file(template_image, path);
}

/* 1 when the token of DESC opens image with pass in the session keyring
 * (verify only: no device-mapper), 0 when it does not. */
static int token_opens(const char *image, const char *pass)
{
	key_serial_t k = kt_test_put_key(DESC, pass);
	int r;

	r = kt_luks_open(image, NULL, DESC, 0);
	kt_test_drop_key(k);
	if (r == -EPERM)
		return 0;
	assert_true(r >= 0);
	return 1;
}

/* 1 when any keyslot of image opens with pass. */
static int any_opens(const char *image, const char *pass)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int r;

	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	r = crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, pass,
					 strlen(pass), 0);
	if (r == -EPERM)
		return 0;
	assert_true(r >= 0);
	return 1;
}

static int token_keyslot_count(const char *image)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct kt_luks_token tok;
	int n = 0;

	assert_int_equal(kt_luks_find_token(image, DESC, &tok), 0);
	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++)
		if (crypt_token_is_assigned(cd, tok.token, k) == 0)
			n++;
	return n;
}

static int rekey(const char *image, const char *old, const char *new_pass,
		 struct kt_luks_token *tok)
{
	_cleanup_secret_ struct kt_secret *o = kt_test_secret(old);
	_cleanup_secret_ struct kt_secret *n = kt_test_secret(new_pass);

	return kt_luks_rekey(image, DESC, o, n, tok);
}

/* The state every re-key must end in. */
static void assert_rekeyed(const char *image, const char *new_pass,
			   const char *gone)
{
	assert_int_equal(token_opens(image, new_pass), 1);
	assert_int_equal(token_opens(image, gone), 0);
	assert_int_equal(any_opens(image, gone), 0);
	assert_int_equal(any_opens(image, "recovery passphrase"), 1);
	assert_int_equal(token_keyslot_count(image), 1);
	/* Recovery and login: no keyslot left behind. */
	assert_int_equal(__builtin_popcount(kt_test_active_keyslots(image)), 2);
}

/* ---- tests ------------------------------------------------------------ */

static void test_rekey_old_to_new(void **state)
{
	struct kt_luks_token tok = { .token = -7, .keyslot = -7 };
	char image[256];

	new_image(image);
	assert_int_equal(token_opens(image, "old login"), 1);
	assert_int_equal(rekey(image, "old login", "new login", &tok), 0);
	/* The token keeps its keyslot number; it holds the new one. */
	assert_int_equal(tok.token, 0);
	assert_int_equal(tok.keyslot, 1);
	assert_rekeyed(image, "new login", "old login");

	/* Again: nothing to do, said so. */
	assert_int_equal(rekey(image, "old login", "new login", &tok), 1);
	assert_rekeyed(image, "new login", "old login");
}

static void test_rekey_keeps_cost(void **state)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct crypt_pbkdf_type pb;
	struct kt_luks_token tok;
	char image[256];

	new_image(image);
	assert_int_equal(rekey(image, "old login", "new login", &tok), 0);
	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(crypt_keyslot_get_pbkdf(cd, tok.keyslot, &pb), 0);
	assert_string_equal(pb.type, CRYPT_KDF_ARGON2ID);
	assert_int_equal(pb.iterations, kt_test_fast_pbkdf.iterations);
	assert_int_equal(pb.max_memory_kb, kt_test_fast_pbkdf.max_memory_kb);
}

static void test_rekey_wrong_old(void **state)
{
	struct kt_luks_token tok = { .token = -7, .keyslot = -7 };
	char image[256];
	unsigned before;

	new_image(image);
	before = kt_test_active_keyslots(image);
	assert_int_equal(rekey(image, "not the old one", "new login", &tok),
			 -EPERM);
	assert_int_equal(tok.token, -7);
	assert_int_equal(kt_test_active_keyslots(image), before);
	assert_int_equal(token_opens(image, "old login"), 1);
	assert_int_equal(token_opens(image, "new login"), 0);
}

static void test_rekey_no_token(void **state)
{
	_cleanup_secret_ struct kt_secret *o = kt_test_secret("old login");
	_cleanup_secret_ struct kt_secret *n = kt_test_secret("new login");
	struct kt_luks_token tok;
	char image[256];

	new_image(image);
	assert_int_equal(kt_luks_rekey(image, "keyturn:nobody", o, n, &tok),
			 -ENOENT);
}

/* The old login password is lost (root ran passwd): the recovery
 * passphrase re-keys the token's keyslot and stays itself. */
static void test_rekey_with_recovery(void **state)
{
	struct kt_luks_token tok;
	char image[256];

	new_image(image);
	assert_int_equal(rekey(image, "recovery passphrase", "new login",
			       &tok), 0);
	assert_rekeyed(image, "new login", "old login");
	assert_int_equal(rekey(image, "recovery passphrase", "new login",
			       &tok), 1);
}

static void test_add_recovery(void **state)
{
	_cleanup_secret_ struct kt_secret *e = kt_test_secret("old login");
	_cleanup_secret_ struct kt_secret *r =
		kt_test_secret("second recovery");
	_cleanup_secret_ struct kt_secret *bad = kt_test_secret("wrong");
	struct kt_luks_token tok;
	char image[256];
	int slot;

	new_image(image);
	assert_int_equal(kt_luks_add_recovery(image, bad, r,
					      &kt_test_fast_pbkdf), -EPERM);
	slot = kt_luks_add_recovery(image, e, r, &kt_test_fast_pbkdf);
	assert_int_equal(slot, 2);
	/* Its own keyslot, no token: logins never try it. */
	assert_int_equal(token_keyslot_count(image), 1);
	assert_int_equal(token_opens(image, "second recovery"), 0);
	assert_int_equal(any_opens(image, "second recovery"), 1);

	/* A password change leaves it alone; it re-keys later. */
	assert_int_equal(rekey(image, "old login", "new login", &tok), 0);
	assert_int_equal(any_opens(image, "second recovery"), 1);
	assert_int_equal(rekey(image, "second recovery", "newer login", &tok),
			 0);
	assert_int_equal(token_opens(image, "newer login"), 1);
	assert_int_equal(token_opens(image, "new login"), 0);
	assert_int_equal(any_opens(image, "recovery passphrase"), 1);
}

/*
 * Runs the re-key in a child killed after the nth file mutation. Returns
 * 1 when it was killed, 0 when it completed first.
 */
static int rekey_killed_at(const char *image, const char *old, long n)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kt_luks_token tok;
		int r;

		mutations = 0;
		kill_after = n;
		r = rekey(image, old, "new login", &tok);
		_exit(r == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return 1;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return 0;
}

static void kill_everywhere(const char *old)
{
	long n;

	for (n = 1;; n++) {
		struct kt_luks_token tok;
		char image[256];
		int old_opens, new_opens, r;

		new_image(image);
		if (!rekey_killed_at(image, old, n)) {
			assert_rekeyed(image, "new login", "old login");
			break;
		}
		old_opens = token_opens(image, "old login");
		new_opens = token_opens(image, "new login");
		if (old_opens + new_opens == 0)
			fprintf(stderr, "killed after mutation %ld: neither "
					"passphrase opens the token\n", n);
		assert_true(old_opens || new_opens);
		assert_int_equal(any_opens(image, "recovery passphrase"), 1);

		/* The change can be made again and then it is complete. */
		r = rekey(image, old, "new login", &tok);
		assert_true(r == 0 || r == 1);
		assert_rekeyed(image, "new login", "old login");
		unlink(image);
	}
	printf("re-key with the %s killed at %ld points\n",
	       strcmp(old, "old login") ? "recovery passphrase"
					: "old password",
	       n - 1);
	assert_true(n - 1 >= MIN_KILL_POINTS);
}

static void test_kill_during_rekey(void **state)
{
	kill_everywhere("old login");
}

static void test_kill_during_recovery_rekey(void **state)
{
	kill_everywhere("recovery passphrase");
}

/*
 * A header left by an earlier interrupted change: the token bound to the
 * old login's keyslot and to the new one's. The next change (the user
 * changes the password again, from the new one) must leave the token
 * bound to its new keyslot alone, and the old login must open nothing.
 */
static void test_rekey_repairs_two_bound(void **state)
{
	_cleanup_secret_ struct kt_secret *e = kt_test_secret("old login");
	_cleanup_secret_ struct kt_secret *l = kt_test_secret("new login");
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct kt_luks_token tok;
	char image[256];
	int slot;

	new_image(image);
	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(crypt_set_pbkdf_type(cd, &kt_test_fast_pbkdf), 0);
	slot = crypt_keyslot_add_by_passphrase(cd, CRYPT_ANY_SLOT,
					       "old login", 9, "new login", 9);
	assert_int_equal(slot, 2);
	assert_int_equal(crypt_token_assign_keyslot(cd, 0, slot), 0);
	assert_int_equal(token_keyslot_count(image), 2);

	assert_int_equal(rekey(image, "new login", "newer login", &tok), 0);
	assert_int_equal(token_keyslot_count(image), 1);
	assert_int_equal(token_opens(image, "newer login"), 1);
	assert_int_equal(any_opens(image, "old login"), 0);
	assert_int_equal(any_opens(image, "new login"), 0);
	assert_int_equal(any_opens(image, "recovery passphrase"), 1);
	assert_int_equal(__builtin_popcount(kt_test_active_keyslots(image)), 2);
}

/*
 * Killed at every point of a change with the recovery passphrase, then
 * the user changes the password again with whichever login password the
 * token takes now (not the interrupted change run again): the token ends
 * bound to one keyslot, and no earlier login password opens any keyslot.
 */
static void test_kill_then_change_again(void **state)
{
	long n;

	for (n = 1;; n++) {
		struct kt_luks_token tok;
		const char *now;
		char image[256];
		int killed;

		new_image(image);
		killed = rekey_killed_at(image, "recovery passphrase", n);
		now = token_opens(image, "new login") ? "new login"
						      : "old login";
		assert_int_equal(rekey(image, now, "newer login", &tok), 0);
		assert_int_equal(token_keyslot_count(image), 1);
		assert_int_equal(token_opens(image, "newer login"), 1);
		if (token_opens(image, "old login") ||
		    token_opens(image, "new login"))
			fail_msg("killed after mutation %ld: an earlier login "
				 "password still opens the token", n);
		/* Nor a keyslot the cut-short change added before it bound
		 * it to the token. */
		if (any_opens(image, "old login") ||
		    any_opens(image, "new login"))
			fail_msg("killed after mutation %ld: an earlier login "
				 "password still opens a keyslot", n);
		assert_int_equal(any_opens(image, "recovery passphrase"), 1);
		assert_int_equal(
			__builtin_popcount(kt_test_active_keyslots(image)), 2);
		unlink(image);
		if (!killed)
			break;
	}
	assert_true(n - 1 >= MIN_KILL_POINTS);
}

/* The wrapped file is replaced atomically; killed after each write,
 * fsync and rename, the old or the new password unwraps it to mount. */
static void kill_during_rewrap(const char *name,
			       const struct kt_secret *mount)
{
	static const struct kt_wrapped_params cost = { 1, 1024, 1 };
	_cleanup_secret_ struct kt_secret *old = kt_test_secret("old login");
	_cleanup_secret_ struct kt_secret *nw = kt_test_secret("new login");
	char dir[300];
	long n;

	for (n = 1;; n++) {
		_cleanup_free_ uint8_t *buf = NULL, *re = NULL, *got = NULL;
		_cleanup_close_ int dfd = -1;
		size_t len, relen, gotlen;
		int status, opened = 0;
		pid_t pid;

		snprintf(dir, sizeof(dir), "%s/%s%ld", tmpdir, name, n);
		assert_int_equal(mkdir(dir, 0700), 0);
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		assert_true(dfd >= 0);
		assert_int_equal(kt_wrapped_seal(old, mount, &cost, &buf,
						 &len), 0);
		assert_int_equal(kt_wrapped_write_at(dfd, "wrapped", getuid(),
						     getgid(), buf, len), 0);

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			mutations = 0;
			kill_after = n;
			if (kt_wrapped_rewrap(buf, len, old, nw, NULL, &re,
					      &relen) < 0 ||
			    kt_wrapped_write_at(dfd, "wrapped", getuid(),
						getgid(), re, relen) < 0)
				_exit(1);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(kt_wrapped_read_at(dfd, "wrapped", getuid(),
						    &got, &gotlen), 0);
		for (int i = 0; i < 2; i++) {
			_cleanup_secret_ struct kt_secret *m = NULL;

			if (kt_wrapped_open(got, gotlen, i ? nw : old,
					    &m) == 0) {
				assert_true(kt_secret_equal(m, mount));
				opened++;
			}
		}
		assert_int_equal(opened, 1);
		if (WIFEXITED(status)) {
			assert_int_equal(WEXITSTATUS(status), 0);
			assert_int_equal(kt_test_entries(dir), 1);
			break;
		}
		assert_int_equal(WTERMSIG(status), SIGKILL);
		/* The next write finishes the job and leaves nothing of the
		 * killed one behind: no temporary beside the file. */
		free(re);
		re = NULL;
		assert_int_equal(kt_wrapped_rewrap(got, gotlen, old, nw, NULL,
						   &re, &relen) == 0 ||
				 kt_wrapped_rewrap(got, gotlen, nw, nw, NULL,
						   &re, &relen) == 0, 1);
		assert_int_equal(kt_wrapped_write_at(dfd, "wrapped", getuid(),
						     getgid(), re, relen), 0);
		assert_int_equal(kt_test_entries(dir), 1);
	}
	printf("re-wrap killed at %ld points\n", n - 1);
	assert_true(n - 1 >= 3);
}

/* eCryptfs: a mount passphrase. */
static void test_kill_during_rewrap(void **state)
{
	_cleanup_secret_ struct kt_secret *mount =
		kt_test_secret("mount passphrase");

	kill_during_rewrap("wrap", mount);
}

/* fscrypt: a raw 64-byte key, NUL bytes and all (the agent's
 * fscrypt_rekey re-wraps it as for eCryptfs). */
static void test_kill_during_rewrap_fscrypt_key(void **state)
{
	_cleanup_secret_ struct kt_secret *key = kt_secret_new(64);

	assert_non_null(key);
	for (size_t i = 0; i < key->len; i++)
		key->data[i] = (uint8_t)(i * 37);
	kill_during_rewrap("fskey", key);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	make_template();
	return 0;
}

static int teardown(void **state)
{
	return kt_test_remove_tree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rekey_old_to_new),
		cmocka_unit_test(test_rekey_keeps_cost),
		cmocka_unit_test(test_rekey_wrong_old),
		cmocka_unit_test(test_rekey_no_token),
		cmocka_unit_test(test_rekey_with_recovery),
		cmocka_unit_test(test_add_recovery),
		cmocka_unit_test(test_kill_during_rekey),
		cmocka_unit_test(test_kill_during_recovery_rekey),
		cmocka_unit_test(test_kill_during_rewrap),
		cmocka_unit_test(test_kill_during_rewrap_fscrypt_key),
		cmocka_unit_test(test_rekey_repairs_two_bound),
		cmocka_unit_test(test_kill_then_change_again),
	};

	if (!kt_test_root_with_keyring("test_rekey", "LUKS2 metadata locking, "
				       "kernel keyring"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
