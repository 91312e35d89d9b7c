/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, the real kernel keyring, the real agent. The passphrase key is
 * read back from the kernel (keyctl_describe, /proc/keys), never assumed:
 * it must appear with the stated owner, permissions and timeout while
 * the agent runs, and be revoked when open_session returns.
 *
 * Also the lib/keyring.c wrappers on their own, against the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "keyring.h"
#include "protocol.h"
#include "secret.h"
#include "session.h"

#define AGENT KT_BUILDDIR "/agent/keyturn-agent"
#define MODULE KT_BUILDDIR "/pam/pam_keyturn.so"
#define WRAPPER_LIB "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so"
#define SET_ITEMS "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so"
#define USER "daemon"
#define USER_UID 1
#define PASSPHRASE "host-test passphrase"
#define KEY_TIMEOUT 20

static char dir[128];

/* "type;uid;gid;perm;description" of a key, or "" with errno set. */
static const char *describe(key_serial_t key, char *buf, size_t size)
{
	long n = keyctl_describe(key, buf, size);

	if (n < 0 || (size_t)n > size)
		buf[0] = '\0';
	return buf;
}

static bool gone(key_serial_t key)
{
	char d[256];

	return keyctl_describe(key, d, sizeof(d)) < 0 &&
	       (errno == EKEYREVOKED || errno == ENOKEY);
}

/* The timeout column of /proc/keys for key: seconds left, -1 for
 * "perm", -2 when the key is not listed. */
static int proc_keys_timeout(key_serial_t key)
{
	char line[512];
	int left = -2;
	FILE *f = fopen("/proc/keys", "re");

	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f)) {
		unsigned serial;
		char flags[16], usage[16], timeout[16];

		if (sscanf(line, "%x %15s %15s %15s", &serial, flags, usage,
			   timeout) != 4 ||
		    (key_serial_t)serial != key)
			continue;
		if (!strcmp(timeout, "perm"))
			left = -1;
		else if (strchr(timeout, 's'))
			left = atoi(timeout);
		else
			left = 3600 * 24; /* m, h, d, w: far */
	}
	fclose(f);
	return left;
}

/* ---- lib/keyring.c against the kernel ------------------------------ */

static void test_add_read_drop(void **state)
{
	_cleanup_secret_ struct kt_secret *pass = NULL, *back = NULL;
	key_serial_t key = 0, found = 0;
	char d[256];
	int left, r;

	pass = kt_secret_from(PASSPHRASE, strlen(PASSPHRASE));
	assert_non_null(pass);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:kthost", pass, 7,
						   &key), 0);
	assert_string_equal(describe(key, d, sizeof(d)),
			    "user;0;0;2b000000;keyturn:kthost");
	left = proc_keys_timeout(key);
	assert_true(left > 0 && left <= 7);

	assert_int_equal(kt_keyring_find("keyturn:kthost", &found), 0);
	assert_int_equal(found, key);
	assert_int_equal(kt_keyring_read(key, &back), 0);
	assert_true(kt_secret_equal(pass, back));
	assert_int_equal(back->data[back->len], '\0');

	assert_int_equal(kt_keyring_drop(key), 0);
	assert_true(gone(key));
	assert_int_equal(kt_keyring_find("keyturn:kthost", &found), -ENOKEY);
	/* Dropping what is gone is not an error. */
	assert_int_equal(kt_keyring_drop(key), 0);
	/* Revoked, and no longer possessed either. */
	r = kt_keyring_read(key, &back);
	assert_true(r == -EKEYREVOKED || r == -ENOKEY || r == -EACCES);
}

static void test_add_over_live_key(void **state)
{
	_cleanup_secret_ struct kt_secret *a = NULL, *b = NULL, *back = NULL;
	key_serial_t k1 = 0, k2 = 0;

	/* A second session opened by the same process: the first key is
	 * not writable (by design), so it is replaced, not updated. */
	a = kt_secret_from("first", 5);
	b = kt_secret_from("second", 6);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:kttwice", a, 0,
						   &k1), 0);
	assert_int_equal(proc_keys_timeout(k1), -1);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:kttwice", b, 0,
						   &k2), 0);
	assert_true(gone(k1));
	assert_int_equal(kt_keyring_read(k2, &back), 0);
	assert_true(kt_secret_equal(b, back));
	assert_int_equal(kt_keyring_drop(k2), 0);
}

static void test_add_refuses(void **state)
{
	_cleanup_secret_ struct kt_secret *empty = NULL, *big = NULL;
	key_serial_t key = 0;

	empty = kt_secret_new(0);
	big = kt_secret_new(KT_PASSPHRASE_MAX + 1);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:ktx", empty, 5,
						   &key), -ENODATA);
	assert_int_equal(kt_keyring_add_passphrase("keyturn:ktx", big, 5,
						   &key), -E2BIG);
	assert_int_equal(key, 0);
}

static void test_blob(void **state)
{
	static const unsigned char blob[] = { 0, 1, 2, 0xff, 0, 7 };
	_cleanup_secret_ struct kt_secret *back = NULL;
	key_serial_t key = 0;
	char d[256];

	assert_int_equal(kt_keyring_add_blob("ktblob", blob, sizeof(blob),
					     &key), 0);
	assert_string_equal(describe(key, d, sizeof(d)),
			    "user;0;0;2b000000;ktblob");
	assert_int_equal(proc_keys_timeout(key), -1);
	assert_int_equal(kt_keyring_read(key, &back), 0);
	assert_int_equal(back->len, sizeof(blob));
	assert_memory_equal(back->data, blob, sizeof(blob));
	assert_int_equal(kt_keyring_drop(key), 0);
}

static void test_find_ignores_foreign_keys(void **state)
{
	key_serial_t ring, key, found = 0;

	/* A key of that name owned by someone else, in a keyring linked
	 * from @s (as a user's @u is), is not keyturn's. */
	ring = add_key("keyring", "kt-foreign", NULL, 0,
		       KEY_SPEC_SESSION_KEYRING);
	assert_true(ring > 0);
	key = add_key("user", "keyturn:ktforeign", "planted", 7, ring);
	assert_true(key > 0);
	assert_int_equal(keyctl_chown(key, USER_UID, USER_UID), 0);
	assert_int_equal(kt_keyring_find("keyturn:ktforeign", &found),
			 -ENOKEY);
	assert_int_equal(found, 0);
	(void)keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

static void test_ensure_session(void **state)
{
	key_serial_t s, us;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char d[256];
		long n;

		/* Start from the user-session keyring, as a process that
		 * no pam_keyinit ran for. */
		us = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
		if (us < 0 || keyctl_join_session_keyring(NULL) < 0)
			_exit(10);
		describe(us, d, sizeof(d));
		if (!strstr(d, ";_uid_ses."))
			_exit(11);
		/* Install the user-session keyring as @s: the kernel does
		 * this for a process without one when @s is looked up. */
		if (keyctl_join_session_keyring(strrchr(d, ';') + 1) != us)
			_exit(77);
		if (kt_keyring_ensure_session() != 1)
			_exit(12);
		s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
		if (s < 0 || s == us)
			_exit(13);
		describe(s, d, sizeof(d));
		if (!strstr(d, "keyring;") || !strstr(d, ";_ses"))
			_exit(14);
		/* @u is linked into it: listed among its keys. */
		us = keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 0);
		{
			key_serial_t list[64];

			n = keyctl_read(s, (char *)list, sizeof(list));
			if (n < 0 || n > (long)sizeof(list))
				_exit(15);
			for (n = n / (long)sizeof(list[0]) - 1; n >= 0; n--)
				if (list[n] == us)
					break;
			if (n < 0)
				_exit(15);
		}
		/* Now it has one of its own: nothing to do. */
		if (kt_keyring_ensure_session() != 0)
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- the real agent, through the module ---------------------------- */

static int run(const char *cmd)
{
	int r = system(cmd);

	return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

/* What the watcher saw, through a pipe. */
struct seen {
	key_serial_t key;
	char desc[128];
	int timeout;
};

static void watcher(int lock_fd, int out_fd, const char *desc)
{
	struct seen seen = { 0 };
	long long deadline = kt_now_ms() + 30000;

	/* It inherits and so possesses the test's session keyring, where
	 * the module puts the key. */
	while (kt_now_ms() < deadline) {
		key_serial_t key = keyctl_search(KEY_SPEC_SESSION_KEYRING,
						 "user", desc, 0);

		if (key > 0) {
			seen.key = key;
			describe(key, seen.desc, sizeof(seen.desc));
			seen.timeout = proc_keys_timeout(key);
			break;
		}
		usleep(2000);
	}
	if (write(out_fd, &seen, sizeof(seen)) != sizeof(seen))
		_exit(1);
	/* The agent waits for this lock before it uses the key: let it
	 * go only now (the lock belongs to the shared open file). */
	(void)flock(lock_fd, LOCK_UN);
	_exit(0);
}

static int conv_fn(int n, const struct pam_message **msg,
		   struct pam_response **resp, void *data)
{
	*resp = calloc((size_t)n, sizeof(**resp));
	return *resp ? PAM_SUCCESS : PAM_BUF_ERR;
}

static void test_key_while_agent_runs(void **state)
{
	static const struct pam_conv conv = { conv_fn, NULL };
	char text[1024], cmd[512], desc[KT_KEY_DESC_MAX];
	int lock_fd, pipefd[2], status, r;
	pam_handle_t *pamh = NULL;
	struct seen seen;
	long long t0;
	pid_t pid;

	if (access(AGENT, X_OK) < 0)
		skip(); /* printed by main */

	/* A LUKS2 image with a fast KDF. Without device-mapper the agent
	 * cannot activate it and reports "failed": not what is tested. */
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 20M %s/disk.img && "
		 "printf %%s '" PASSPHRASE "' | cryptsetup luksFormat -q "
		 "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
		 "--key-file - %s/disk.img >/dev/null 2>&1",
		 dir, dir);
	assert_int_equal(run(cmd), 0);

	snprintf(text, sizeof(text),
		 "[defaults]\nkey_timeout = %d\nunlock_timeout = 20\n\n"
		 "[volume kthost]\nuser = " USER "\ntype = luks2\n"
		 "device = %s/disk.img\nname = kt-host-%%u\n"
		 "mountpoint = %s/mnt-%%u\n",
		 KEY_TIMEOUT, dir, dir);
	write_file("keyturn.conf", text, 0600);

	assert_int_equal(kt_key_description(KT_KEY_PREFIX_DEFAULT, USER, desc,
					    sizeof(desc)), 0);
	lock_fd = kt_session_lock(USER_UID);
	assert_true(lock_fd >= 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		watcher(lock_fd, pipefd[1], desc);
	close(pipefd[1]);
	/* The module has the lock through the watcher only. */
	close(lock_fd);

	assert_int_equal(pam_start("kt-host", USER, &conv, &pamh),
			 PAM_SUCCESS);
	setenv("PAM_AUTHTOK", PASSPHRASE, 1);
	t0 = kt_now_ms();
	r = pam_open_session(pamh, 0);
	unsetenv("PAM_AUTHTOK");
	assert_int_equal(r, PAM_SUCCESS);
	assert_true(kt_now_ms() - t0 < 25000);

	assert_int_equal(read(pipefd[0], &seen, sizeof(seen)), sizeof(seen));
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* While the agent ran: root's, possessor view+read+search (and
	 * setattr, without which it could not be revoked), nothing for
	 * anyone else, with a timeout. */
	assert_true(seen.key > 0);
	snprintf(text, sizeof(text), "user;0;0;2b000000;%s", desc);
	assert_string_equal(seen.desc, text);
	assert_true(seen.timeout > 0 && seen.timeout <= KEY_TIMEOUT);

	/* Revoked by the time open_session returned. */
	assert_true(gone(seen.key));

	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

static int reexec_under_wrapper(char **argv)
{
	char tmpl[] = "/tmp/keyturn-host-XXXXXX", text[1024];

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	/* pam_wrapper reads the service files when it loads. */
	snprintf(dir, sizeof(dir), "%s", tmpl);
	snprintf(text, sizeof(text),
		 "session required " SET_ITEMS "\n"
		 "session required " MODULE " config=%s/keyturn.conf agent="
		 AGENT " debug\n",
		 dir);
	write_file("kt-host", text, 0644);
	write_file("other", "session required "
			    "/lib/x86_64-linux-gnu/security/pam_deny.so\n",
		   0644);
	setenv("LD_PRELOAD", WRAPPER_LIB, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", tmpl, 1);
	setenv("KT_TEST_DIR", tmpl, 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	return 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_read_drop),
		cmocka_unit_test(test_add_over_live_key),
		cmocka_unit_test(test_add_refuses),
		cmocka_unit_test(test_blob),
		cmocka_unit_test(test_find_ignores_foreign_keys),
		cmocka_unit_test(test_ensure_session),
		cmocka_unit_test(test_key_while_agent_runs),
	};
	const char *d = getenv("KT_TEST_DIR");
	char cmd[256];
	int r;

	if (geteuid() != 0) {
		printf("SKIP: needs root (keys owned by root, the agent)\n");
		return 77;
	}
	if (keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 1) < 0) {
		printf("SKIP: no kernel keyring here: %s\n", strerror(errno));
		return 77;
	}
	if (access(WRAPPER_LIB, R_OK) < 0 || access(MODULE, R_OK) < 0) {
		printf("SKIP: needs pam_wrapper and %s\n", MODULE);
		return 77;
	}
	if (!d || !getenv("PAM_WRAPPER"))
		return reexec_under_wrapper(argv);
	snprintf(dir, sizeof(dir), "%s", d);
	if (access(AGENT, X_OK) < 0)
		printf("SKIP: test_key_while_agent_runs: %s is not built\n",
		       AGENT);

	/* A session keyring of our own: what the test adds stays here,
	 * and the watcher child inherits it. */
	if (keyctl_join_session_keyring(NULL) < 0) {
		printf("SKIP: cannot join a session keyring: %s\n",
		       strerror(errno));
		return 77;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	if (!strncmp(dir, "/tmp/keyturn-host-", 18)) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)run(cmd);
	}
	return r;
}
