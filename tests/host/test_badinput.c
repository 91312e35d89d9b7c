/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bad-input matrix, the rows that need root, the real kernel keyring
 * and LUKS image files: each row asserts the specific error and that
 * nothing was opened, written or left behind (image files byte for byte
 * and mtime unchanged, no key left, no mount). Rows that need
 * device-mapper or eCryptfs live in tests/vm; pure parsing rows in
 * tests/unit.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <keyutils.h>
#include <libcryptsetup.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt-test-luks.h"
#include "kt-test-spawn.h"
#include "keyring.h"
#include "luks.h"
#include "mount.h"
#include "protocol.h"
#include "secret.h"
#include "session.h"
#include "user.h"
#include "wrapped.h"

#define AGENT KT_BUILDDIR "/agent/keyturn-agent"
/* Users of this test alone (test_control uses daemon and bin). */
#define AGENT_USER "sys"
#define INTRUDER_UID 4
#define QUOTA_UID 3999998
#define LOGIN "sys login words"

static char tmpdir[] = "/tmp/kt-test-badinput.XXXXXX";

/* ---- what "nothing written" means for an image file ------------------- */

struct file_state {
	unsigned char digest[crypto_generichash_BYTES];
	struct timespec mtime;
	off_t size;
};

static void file_state(const char *path, struct file_state *ret)
{
	crypto_generichash_state h;
	static unsigned char buf[1 << 16];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	crypto_generichash_init(&h, NULL, 0, sizeof(ret->digest));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crypto_generichash_update(&h, buf, (size_t)n);
	assert_int_equal(n, 0);
	close(fd);
	crypto_generichash_final(&h, ret->digest, sizeof(ret->digest));
	ret->mtime = st.st_mtim;
	ret->size = st.st_size;
}

static void assert_unchanged(const char *path, const struct file_state *before)
{
	struct file_state now;

	file_state(path, &now);
	if (memcmp(now.digest, before->digest, sizeof(now.digest)) != 0)
		fail_msg("%s: contents changed", path);
	assert_int_equal(now.size, before->size);
	assert_int_equal(now.mtime.tv_sec, before->mtime.tv_sec);
	assert_int_equal(now.mtime.tv_nsec, before->mtime.tv_nsec);
}

/* ---- images, one per row ------------------------------------------------ */

static void image_path(char *buf, const char *name)
{
	snprintf(buf, 256, "%s/%s", tmpdir, name);
}

/* A file of zeros: no header of any kind. */
static void make_plain(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024), 0);
	close(fd);
}

/* LUKS1 with one keyslot for pass (PBKDF2: LUKS1 knows nothing else). */
static void make_luks1(const char *path, const char *pass)
{
	static const struct crypt_pbkdf_type pbkdf2 = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha256",
		.iterations = 1000,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(crypt_init(&cd, path), 0);
	assert_int_equal(crypt_set_pbkdf_type(cd, &pbkdf2), 0);
	assert_int_equal(crypt_format(cd, CRYPT_LUKS1, "aes", "xts-plain64",
				      NULL, NULL, 64, NULL),
			 0);
	assert_int_equal(crypt_keyslot_add_by_volume_key(cd, 0, NULL, 0, pass,
							 strlen(pass)),
			 0);
}

/* LUKS2 whose token for desc lost its keyslot, as "cryptsetup
 * luksKillSlot" leaves it: the token stays, bound to nothing. */
static void make_token_without_keyslot(const char *path, const char *desc)
{
	const char *passes[] = { "first passphrase" };
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct kt_luks_token tok;

	kt_test_make_image(path, passes, 1);
	assert_int_equal(kt_test_enroll(path, passes[0], LOGIN, desc, &tok),
			 0);
	assert_int_equal(crypt_init(&cd, path), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(crypt_keyslot_destroy(cd, tok.keyslot), 0);
	assert_int_equal(crypt_token_is_assigned(cd, tok.token, tok.keyslot),
			 -ENOENT);
}

/* LUKS2 with every token id taken by luks2-keyring tokens of others
 * (the last one desc's, when desc is given). */
static void make_full_tokens(const char *path, const char *desc)
{
	const char *passes[] = { "first passphrase" };
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int max = crypt_token_max(CRYPT_LUKS2);

	kt_test_make_image(path, passes, 1);
	assert_int_equal(crypt_init(&cd, path), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	for (int t = 0; t < (desc ? max - 1 : max); t++) {
		char d[32];
		struct crypt_token_params_luks2_keyring p = {
			.key_description = d,
		};

		snprintf(d, sizeof(d), "keyturn:other%d", t);
		assert_int_equal(crypt_token_luks2_keyring_set(cd, t, &p), t);
	}
	crypt_free(TAKE_PTR(cd));
	if (desc) {
		struct kt_luks_token tok;

		assert_int_equal(kt_test_enroll(path, passes[0], LOGIN, desc,
						&tok),
				 0);
		assert_int_equal(tok.token, max - 1);
	}
}

/* ---- LUKS rows, through lib/luks.c ------------------------------------- */

/*
 * Each row: the right passphrase under the right description is in the
 * keyring, and still the volume is refused with its own error, before
 * any keyslot is tried; the image is not written.
 */
static void expect_refused(const char *path, const char *desc, int find,
			   int open)
{
	struct kt_luks_token tok = { .token = -7, .keyslot = -7 };
	struct file_state before;
	key_serial_t k;

	file_state(path, &before);
	k = kt_test_put_key(desc, LOGIN);
	if (find <= 0)
		assert_int_equal(kt_luks_find_token(path, desc, &tok), find);
	if (find < 0)
		assert_int_equal(tok.token, -7);
	assert_int_equal(kt_luks_open(path, NULL, desc, 0), open);
	kt_test_drop_key(k);
	assert_unchanged(path, &before);
}

static void test_not_luks(void **state)
{
	char path[256];

	image_path(path, "plain");
	make_plain(path);
	expect_refused(path, "keyturn:ann", -EINVAL, -EINVAL);
}

static void test_luks1(void **state)
{
	_cleanup_secret_ struct kt_secret *e = kt_test_secret(LOGIN);
	_cleanup_secret_ struct kt_secret *l = kt_test_secret("new login");
	struct kt_luks_token tok = { .token = -7 };
	struct file_state before;
	char path[256];

	image_path(path, "luks1");
	/* Even a LUKS1 volume whose passphrase is the login one. */
	make_luks1(path, LOGIN);
	expect_refused(path, "keyturn:ann", -EINVAL, -EINVAL);

	/* Enrollment and re-key refuse it without writing a byte. */
	file_state(path, &before);
	assert_int_equal(kt_luks_enroll_pbkdf(path, e, l, "keyturn:ann",
					      &kt_test_fast_pbkdf, &tok),
			 -EINVAL);
	assert_int_equal(kt_luks_rekey(path, "keyturn:ann", e, l, &tok),
			 -EINVAL);
	assert_int_equal(tok.token, -7);
	assert_unchanged(path, &before);
}

static void test_luks2_without_token(void **state)
{
	const char *passes[] = { LOGIN };
	char path[256];

	image_path(path, "notoken");
	/* The login passphrase opens keyslot 0, but no token leads there:
	 * keyturn tries no keyslot on its own. */
	kt_test_make_image(path, passes, 1);
	expect_refused(path, "keyturn:ann", -ENOENT, -ENOENT);
}

static void test_token_of_other_description(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char path[256];

	image_path(path, "otherdesc");
	kt_test_make_image(path, passes, 1);
	assert_int_equal(kt_test_enroll(path, passes[0], LOGIN,
					"keyturn:someone", &tok),
			 0);
	/* Same prefix, a user name that only starts alike. */
	expect_refused(path, "keyturn:some", -ENOENT, -ENOENT);
	expect_refused(path, "keyturn:someone2", -ENOENT, -ENOENT);
}

/*
 * The token is there, its keyslot is gone: not "no token" (keyturnctl
 * enroll would then refuse, the token being there), its own error.
 */
static void test_token_without_keyslot(void **state)
{
	struct kt_luks_token tok = { .token = -7, .keyslot = -7 };
	char path[256];

	image_path(path, "nokeyslot");
	make_token_without_keyslot(path, "keyturn:ann");
	assert_int_equal(kt_luks_find_token(path, "keyturn:ann", &tok), 0);
	assert_int_equal(tok.token, 0);
	assert_int_equal(tok.keyslot, -1);
	expect_refused(path, "keyturn:ann", 1, -EBADSLT);

	/* keyturnctl says how out, and changes nothing. */
	image_path(path, "nokeyslot-root");
	make_token_without_keyslot(path, "keyturn:root");
	{
		char out[2048];

		assert_int_not_equal(kt_test_spawnl(KT_BUILDDIR
						    "/ctl/keyturnctl",
						    0, "first passphrase\n"
						    LOGIN "\n",
						    out, sizeof(out), "enroll",
						    "luks", path, "--user",
						    "root", "--stdin", NULL),
				     0);
		assert_non_null(strstr(out, "bound to no keyslot"));
		assert_non_null(strstr(out, "cryptsetup token remove "
					    "--token-id 0"));
		assert_int_equal(kt_luks_find_token(path, "keyturn:root",
						    &tok),
				 0);
		assert_int_equal(tok.keyslot, -1);
	}
}

static void test_all_tokens_taken(void **state)
{
	_cleanup_secret_ struct kt_secret *e = kt_test_secret("first passphrase");
	_cleanup_secret_ struct kt_secret *l = kt_test_secret(LOGIN);
	struct kt_luks_token tok = { .token = -7, .keyslot = -7 };
	struct file_state before;
	char full[256], last[256];
	key_serial_t k;

	image_path(full, "full");
	make_full_tokens(full, NULL);
	expect_refused(full, "keyturn:ann", -ENOENT, -ENOENT);

	/* No token id left: enrollment fails and takes back its keyslot. */
	file_state(full, &before);
	assert_int_equal(kt_test_active_keyslots(full), 0x1u);
	assert_true(kt_luks_enroll_pbkdf(full, e, l, "keyturn:ann",
					 &kt_test_fast_pbkdf, &tok) < 0);
	assert_int_equal(tok.token, -7);
	assert_int_equal(kt_test_active_keyslots(full), 0x1u);
	assert_int_equal(kt_luks_find_token(full, "keyturn:ann", &tok),
			 -ENOENT);

	/* The user's token in the last id is found among 31 others. */
	image_path(last, "last");
	make_full_tokens(last, "keyturn:ann");
	k = kt_test_put_key("keyturn:ann", LOGIN);
	assert_int_equal(kt_luks_open(last, NULL, "keyturn:ann", 0), 1);
	kt_test_drop_key(k);
	k = kt_test_put_key("keyturn:ann", "not the login");
	assert_int_equal(kt_luks_open(last, NULL, "keyturn:ann", 0), -EPERM);
	kt_test_drop_key(k);
}

/* ---- passphrases --------------------------------------------------------- */

static void test_passphrase_sizes(void **state)
{
	_cleanup_secret_ struct kt_secret *empty = kt_secret_new(0);
	_cleanup_secret_ struct kt_secret *huge = kt_secret_new(32768);
	_cleanup_secret_ struct kt_secret *max = kt_secret_new(
		KT_PASSPHRASE_MAX);
	_cleanup_secret_ struct kt_secret *back = NULL;
	key_serial_t key = 0;

	assert_non_null(empty);
	assert_non_null(huge);
	assert_non_null(max);
	memset(huge->data, 'a', huge->len);
	memset(max->data, 'a', max->len);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:ktsize", empty, 5,
						   &key),
			 -ENODATA);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:ktsize", huge, 5,
						   &key),
			 -E2BIG);
	assert_int_equal(key, 0);
	assert_int_equal(kt_keyring_find("keyturn:ktsize", &key), -ENOKEY);

	/* The limit itself is taken, whole. */
	assert_int_equal(kt_keyring_add_passphrase("keyturn:ktsize", max, 5,
						   &key),
			 0);
	assert_int_equal(kt_keyring_read(key, &back), 0);
	assert_true(kt_secret_equal(back, max));
	assert_int_equal(kt_keyring_drop(key), 0);
}

/*
 * A passphrase with NUL bytes (keyturnctl unlock takes any bytes) is used
 * whole: never cut at the first NUL, so "abc\0def" and "abc" are two
 * passphrases for the keyring, LUKS2 and the wrapped file alike.
 */
static void test_passphrase_with_nul(void **state)
{
	static const char with_nul[] = "abc\0def";
	_cleanup_secret_ struct kt_secret *nul = NULL, *cut = NULL;
	_cleanup_secret_ struct kt_secret *back = NULL, *first = NULL;
	_cleanup_secret_ struct kt_secret *mount_pw = NULL, *out = NULL;
	static const struct kt_wrapped_params fast = { 1, 64, 1 };
	_cleanup_free_ uint8_t *wrapped = NULL;
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	key_serial_t key = 0;
	char path[256];
	size_t len;

	nul = kt_secret_from(with_nul, sizeof(with_nul) - 1);
	cut = kt_test_secret("abc");
	first = kt_test_secret(passes[0]);
	mount_pw = kt_test_secret("0123456789abcdef0123456789abcdef");

	assert_int_equal(kt_keyring_add_passphrase("keyturn:ktnul", nul, 5,
						   &key),
			 0);
	assert_int_equal(kt_keyring_read(key, &back), 0);
	assert_int_equal(back->len, 7);
	assert_memory_equal(back->data, with_nul, 7);
	assert_int_equal(kt_keyring_drop(key), 0);

	image_path(path, "nul");
	kt_test_make_image(path, passes, 1);
	assert_int_equal(kt_luks_enroll_pbkdf(path, first, nul, "keyturn:nul",
					      &kt_test_fast_pbkdf, &tok),
			 0);
	key = add_key("user", "keyturn:nul", "abc", 3,
		      KEY_SPEC_SESSION_KEYRING);
	assert_true(key > 0);
	assert_int_equal(kt_luks_open(path, NULL, "keyturn:nul", 0), -EPERM);
	kt_test_drop_key(key);
	key = add_key("user", "keyturn:nul", with_nul, 7,
		      KEY_SPEC_SESSION_KEYRING);
	assert_true(key > 0);
	assert_int_equal(kt_luks_open(path, NULL, "keyturn:nul", 0),
			 tok.keyslot);
	kt_test_drop_key(key);

	assert_int_equal(kt_wrapped_seal(nul, mount_pw, &fast, &wrapped, &len),
			 0);
	assert_int_equal(kt_wrapped_open(wrapped, len, cut, &out), -EBADMSG);
	assert_null(out);
	assert_int_equal(kt_wrapped_open(wrapped, len, nul, &out), 0);
	assert_true(kt_secret_equal(out, mount_pw));
}

/* ---- the user's key quota ------------------------------------------------ */

/* Polls: a key whose link failed is freed by the kernel's collector. */
static bool proc_keys_gone(const char *desc)
{
	for (int i = 0; i < 100; i++) {
		if (!kt_test_proc_keys_has(desc))
			return true;
		usleep(20000);
	}
	return false;
}

/* Grows filler keys until not one more byte is charged to the owner
 * (keyctl_update() takes at most a page). */
static int fill_bytes(key_serial_t *keys, int n)
{
	static char payload[4096];

	memset(payload, 'q', sizeof(payload));
	for (int i = 0; i < n; i++) {
		size_t lo = 1, hi = sizeof(payload);

		while (lo < hi) {
			size_t mid = lo + (hi - lo + 1) / 2;

			if (keyctl_update(keys[i], payload, mid) == 0)
				lo = mid;
			else if (errno == EDQUOT)
				hi = mid - 1;
			else
				return -errno;
		}
		if (keyctl_update(keys[i], payload, lo) < 0)
			return -errno;
		if (lo < sizeof(payload))
			return 0; /* this one hit the quota: full */
	}
	return -ENOSPC;
}

/*
 * Runs in a child: real uid QUOTA_UID, saved uid root, as the PAM module
 * is when it sets up the keyring. Exit code: 0, or the step that failed.
 */
static int quota_child(void)
{
	_cleanup_secret_ struct kt_secret *pass = kt_secret_from("pw", 2);
	key_serial_t fill[256], key = 0;
	char d[256];
	int n = 0, r;

	if (!pass || setgroups(0, NULL) < 0 ||
	    setresgid(QUOTA_UID, QUOTA_UID, 0) < 0 ||
	    setresuid(QUOTA_UID, QUOTA_UID, 0) < 0)
		return 10;
	/* The login's session keyring, the user's (pam_keyinit made it
	 * with the user's real uid). */
	if (keyctl_join_session_keyring(NULL) < 0)
		return 11;
	/* The user fills their quota of keys. */
	for (;;) {
		char desc[32];

		if (n == (int)ELEMENTSOF(fill))
			return 12;
		snprintf(desc, sizeof(desc), "fill%d", n);
		fill[n] = add_key("user", desc, "x", 1,
				  KEY_SPEC_SESSION_KEYRING);
		if (fill[n] < 0)
			break;
		n++;
	}
	if (errno != EDQUOT)
		return 13;

	if (seteuid(0) < 0)
		return 14;
	/* A new session keyring would be the user's: refused, clearly. */
	/* keyturn's key is root's, charged to root: the user's full count
	 * does not stop it. */
	r = kt_keyring_add_passphrase("keyturn:ktquota", pass, 5, &key);
	if (r != 0) {
		fprintf(stderr, "add with keys full: %d\n", r);
		return 16;
	}
	if (keyctl_describe(key, d, sizeof(d)) < 0 || strncmp(d, "user;0;0;", 9))
		return 17;
	if (kt_keyring_drop(key) < 0)
		return 18;

	/* Now the bytes too: linking into the user's keyring costs the
	 * user 4 bytes, which are not there. */
	if (seteuid(QUOTA_UID) < 0)
		return 19;
	r = fill_bytes(fill, n);
	if (r < 0) {
		fprintf(stderr, "fill bytes: %d\n", r);
		return 20;
	}
	if (seteuid(0) < 0)
		return 21;
	key = 0;
	r = kt_keyring_add_passphrase("keyturn:ktquota", pass, 5, &key);
	if (r != -EDQUOT || key != 0) {
		fprintf(stderr, "add with bytes full: %d\n", r);
		return 22;
	}
	/* Nothing of it left behind. */
	if (!proc_keys_gone("keyturn:ktquota"))
		return 23;

	/* The agent's own keyring is root's: there the key goes in. */
	if (setresuid(0, 0, 0) < 0 || keyctl_join_session_keyring(NULL) < 0)
		return 24;
	r = kt_keyring_add_passphrase("keyturn:ktquota", pass, 5, &key);
	if (r != 0 || kt_keyring_drop(key) < 0)
		return 25;
	return 0;
}

static void test_key_quota_exhausted(void **state)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(quota_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("quota row failed at step %d", WEXITSTATUS(status));
	assert_true(proc_keys_gone("keyturn:ktquota"));
}

/* ---- the real agent: every LUKS row, then garbage on its sockets --------- */

static const struct agent_row {
	const char *volume;
	int error;
} agent_rows[] = {
	{ "plain", EINVAL },
	{ "luks1", EINVAL },
	{ "notoken", ENOENT },
	{ "nokeyslot", EBADSLT },
	{ "otherdesc", ENOENT },
};

/* Reads report lines until "done"; checks each against agent_rows. */
static void expect_agent_rows(int fd)
{
	char line[KT_LINE_MAX];
	size_t n = 0;

	for (;;) {
		struct kt_report rep;

		assert_true(kt_line_read(fd, line, sizeof(line),
					 kt_now_ms() + 60000) > 0);
		if (!strcmp(line, "done"))
			break;
		assert_int_equal(kt_report_parse(line, &rep), 0);
		assert_true(n < ELEMENTSOF(agent_rows));
		if (strcmp(rep.volume, agent_rows[n].volume) ||
		    rep.status != KT_REPORT_FAILED ||
		    rep.error != agent_rows[n].error)
			fail_msg("row %zu: got '%s', want %s failed %d", n,
				 line, agent_rows[n].volume,
				 agent_rows[n].error);
		n++;
	}
	assert_int_equal(n, ELEMENTSOF(agent_rows));
}

/* One request on the control socket; the reply's first line, or "" when
 * the agent closed without one. */
static void control_request(uid_t uid, const void *req, size_t len,
			    char *reply, size_t size)
{
	int fd = -1;

	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = kt_control_connect(uid);
		if (fd < 0)
			usleep(50000);
	}
	assert_true(fd >= 0);
	/* The agent may close while we still write (an over-long line):
	 * EPIPE then, not SIGPIPE. */
	(void)!send(fd, req, len, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	if (kt_line_read(fd, reply, size, kt_now_ms() + 15000) <= 0)
		reply[0] = '\0';
	close(fd);
}

/* Another user who got hold of the socket (its mode opened): refused. */
static void intruder_request(uid_t uid, pid_t agent)
{
	char path[128];
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), KT_RUNDIR "/%u/" KT_CONTROL_PREFIX "%d",
		 (unsigned)uid, (int)agent);
	assert_int_equal(chmod(path, 0666), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char reply[KT_LINE_MAX];
		int fd;

		if (strlen(path) >= sizeof(sa.sun_path))
			_exit(9);
		memcpy(sa.sun_path, path, strlen(path) + 1);
		if (setgroups(0, NULL) < 0 || setgid(INTRUDER_UID) < 0 ||
		    setuid(INTRUDER_UID) < 0)
			_exit(10);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
				      sizeof(sa)) < 0)
			_exit(11);
		/* The agent may already have closed it: EPIPE, not
		 * SIGPIPE. */
		(void)!send(fd, "unlock 3\nabc", 12, MSG_NOSIGNAL);
		/* No answer at all: closed. */
		_exit(kt_line_read(fd, reply, sizeof(reply),
				   kt_now_ms() + 15000) > 0 ? 12 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(path, 0600), 0);
	if (!WIFEXITED(status))
		fail_msg("the intruder was killed by signal %d",
			 WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The real agent as the module starts it: its socket on fd 3 and the
 * login passphrase on a pipe at fd 4. */
static pid_t spawn_agent(const char *config, const char *login,
			 int *ret_sock)
{
	const char *argv[] = { "keyturn-agent", "--user", AGENT_USER,
			       "--service", "kt-test", "--config", config,
			       NULL };
	char *envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	int pair[2], secret = -1;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    pair),
			 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pair[1], 3);
	if (login) {
		_cleanup_secret_ struct kt_secret *pass =
			kt_secret_from(login, strlen(login));
		const struct kt_secret *one[] = { pass };

		assert_non_null(pass);
		secret = kt_secret_pipe(one, 1);
		assert_true(secret >= 0);
		posix_spawn_file_actions_adddup2(&fa, secret, 4);
	}
	assert_int_equal(posix_spawn(&pid, AGENT, &fa, NULL,
				     (char *const *)argv, envp),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pair[1]);
	if (secret >= 0)
		close(secret);
	*ret_sock = pair[0];
	return pid;
}

static void test_agent_rows_and_garbage(void **state)
{
	_cleanup_user_ struct kt_user *u = NULL;
	struct file_state before[ELEMENTSOF(agent_rows)];
	struct kt_mount_entry m = { .mnt_id = -1 };
	char config[256], mnt[256], text[2048], reply[KT_LINE_MAX];
	char image[ELEMENTSOF(agent_rows)][256], head[32], longline[600];
	const char *passes[] = { LOGIN };
	struct kt_luks_token tok;
	size_t off = 0;
	int sock, status;
	pid_t agent;

	if (access(AGENT, X_OK) < 0) {
		print_message("SKIP: %s is not built\n", AGENT);
		skip();
	}
	assert_int_equal(kt_user_lookup(AGENT_USER, &u), 0);
	for (size_t i = 0; i < ELEMENTSOF(agent_rows); i++) {
		char name[64];

		snprintf(name, sizeof(name), "agent-%s", agent_rows[i].volume);
		image_path(image[i], name);
	}
	make_plain(image[0]);
	make_luks1(image[1], LOGIN);
	kt_test_make_image(image[2], passes, 1);
	make_token_without_keyslot(image[3], "keyturn:" AGENT_USER);
	kt_test_make_image(image[4], passes, 1);
	assert_int_equal(kt_test_enroll(image[4], LOGIN, "other login",
					"keyturn:" AGENT_USER "x", &tok),
			 0);

	image_path(mnt, "agent-mnt");
	assert_int_equal(mkdir(mnt, 0700), 0);
	assert_int_equal(chown(mnt, u->uid, u->gid), 0);
	for (size_t i = 0; i < ELEMENTSOF(agent_rows); i++) {
		off += (size_t)snprintf(text + off, sizeof(text) - off,
			"[volume %s]\nuser = " AGENT_USER "\ntype = luks2\n"
			"device = %s\nname = kt-bad-%zu\nmountpoint = %s\n",
			agent_rows[i].volume, image[i], i, mnt);
		assert_true(off < sizeof(text));
		file_state(image[i], &before[i]);
	}
	image_path(config, "agent.conf");
	{
		FILE *f = fopen(config, "we");

		assert_non_null(f);
		fputs(text, f);
		assert_int_equal(fclose(f), 0);
	}

	/* The login's passphrase, handed over as the module does. */
	agent = spawn_agent(config, LOGIN, &sock);
	expect_agent_rows(sock);

	/* Garbage from the module's side is ignored. */
	assert_int_equal(kt_line_write(sock, "garbage \x01 from nowhere"), 0);

	/* Garbage on the control socket: refused, clearly, nothing run. */
	control_request(u->uid, "hello\n", 6, reply, sizeof(reply));
	assert_string_equal(reply, "error bad request");
	control_request(u->uid, "unlock 0\n", 9, reply, sizeof(reply));
	assert_string_equal(reply, "error bad request");
	control_request(u->uid, "unlock 32768\n", 13, reply, sizeof(reply));
	assert_string_equal(reply, "error bad request");
	control_request(u->uid, "unlock -1\n", 10, reply, sizeof(reply));
	assert_string_equal(reply, "error bad request");
	memset(longline, 'u', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\n';
	control_request(u->uid, longline, sizeof(longline), reply,
			sizeof(reply));
	assert_true(!reply[0] || !strcmp(reply, "error bad request"));
	/* Fewer bytes than announced: no answer, no unlock. */
	control_request(u->uid, "unlock 9\nab", 11, reply, sizeof(reply));
	assert_string_equal(reply, "");
	intruder_request(u->uid, agent);

	/* Still serving: every row again, with the same errors. */
	snprintf(head, sizeof(head), "unlock %zu\n", strlen(LOGIN));
	{
		int fd = kt_control_connect(u->uid);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, head, strlen(head)),
				 (ssize_t)strlen(head));
		assert_int_equal(write(fd, LOGIN, strlen(LOGIN)),
				 (ssize_t)strlen(LOGIN));
		expect_agent_rows(fd);
		close(fd);
	}

	/* Nothing written, nothing mounted. */
	for (size_t i = 0; i < ELEMENTSOF(agent_rows); i++)
		assert_unchanged(image[i], &before[i]);
	assert_int_equal(kt_mount_find(mnt, &m), 0);

	assert_int_equal(kt_line_write(sock, "close"), 0);
	do
		assert_true(kt_line_read(sock, reply, sizeof(reply),
					 kt_now_ms() + 60000) > 0);
	while (strcmp(reply, "done"));
	assert_int_equal(waitpid(agent, &status, 0), agent);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sock);
}

/* ---- group ------------------------------------------------------------- */

static int group_setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	return chmod(tmpdir, 0755) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	return kt_test_remove_tree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_luks),
		cmocka_unit_test(test_luks1),
		cmocka_unit_test(test_luks2_without_token),
		cmocka_unit_test(test_token_of_other_description),
		cmocka_unit_test(test_token_without_keyslot),
		cmocka_unit_test(test_all_tokens_taken),
		cmocka_unit_test(test_passphrase_sizes),
		cmocka_unit_test(test_passphrase_with_nul),
		cmocka_unit_test(test_key_quota_exhausted),
		cmocka_unit_test(test_agent_rows_and_garbage),
	};

	if (!kt_test_root_with_keyring("test_badinput",
				       "LUKS2 metadata locks, keys of root"))
		return 77;
	if (sodium_init() < 0) {
		printf("SKIP: libsodium cannot start\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
