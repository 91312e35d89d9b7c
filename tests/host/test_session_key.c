/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, the real kernel keyring, the real agent. The passphrase key is
 * looked for from outside the agent (the host's keyring, /proc/keys) the
 * whole time the agent runs, never assumed: it must be nowhere a process
 * outside keyturn could reach.
 *
 * Also the lib/keyring.c wrappers on their own, against the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <poll.h>
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
#include "kt-test-luks.h"
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
	unsigned polls;
	unsigned in_host_keyring; /* found through the host's @s */
	unsigned in_proc_keys;	  /* visible in /proc/keys to root */
};

/*
 * A root process of the host's, outside keyturn, sharing its session
 * keyring: looks for the passphrase key until stop closes.
 */
static void watcher(int stop, int out_fd, const char *desc)
{
	struct seen seen = { 0 };
	struct pollfd p = { .fd = stop, .events = POLLIN };

	while (poll(&p, 1, 1) == 0) {
		seen.polls++;
		if (keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc, 0) >
		    0)
			seen.in_host_keyring++;
		if (kt_test_proc_keys_has(desc))
			seen.in_proc_keys++;
	}
	if (write(out_fd, &seen, sizeof(seen)) != sizeof(seen))
		_exit(1);
	_exit(0);
}

static int conv_fn(int n, const struct pam_message **msg,
		   struct pam_response **resp, void *data)
{
	*resp = calloc((size_t)n, sizeof(**resp));
	return *resp ? PAM_SUCCESS : PAM_BUF_ERR;
}

static void test_key_only_in_the_agent(void **state)
{
	static const struct pam_conv conv = { conv_fn, NULL };
	char text[1024], cmd[512], desc[KT_KEY_DESC_MAX], log[256];
	int stop[2], pipefd[2], status, r, saved, fd;
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
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(stop[1]);
		watcher(stop[0], pipefd[1], desc);
	}
	close(stop[0]);
	close(pipefd[1]);

	assert_int_equal(pam_start("kt-host", USER, &conv, &pamh),
			 PAM_SUCCESS);
	setenv("PAM_AUTHTOK", PASSPHRASE, 1);
	saved = dup(2);
	snprintf(log, sizeof(log), "%s/stderr", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	t0 = kt_now_ms();
	r = pam_open_session(pamh, 0);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	unsetenv("PAM_AUTHTOK");
	assert_int_equal(r, PAM_SUCCESS);
	assert_true(kt_now_ms() - t0 < 25000);

	close(stop[1]);
	assert_int_equal(read(pipefd[0], &seen, sizeof(seen)), sizeof(seen));
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The whole time the agent ran, the key was in no keyring of the
	 * host's and invisible to a root process outside keyturn: only
	 * the agent possesses it, and it gives nothing to anyone else. */
	assert_true(seen.polls > 0);
	assert_int_equal(seen.in_host_keyring, 0);
	assert_int_equal(seen.in_proc_keys, 0);
	/* And the agent had it: the volume was tried with it (without
	 * device-mapper the activation itself fails), not left locked
	 * for want of a passphrase. */
	{
		char text2[4096] = "";
		FILE *f = fopen(log, "re");
		size_t n;

		assert_non_null(f);
		n = fread(text2, 1, sizeof(text2) - 1, f);
		fclose(f);
		text2[n] = '\0';
		if (!strstr(text2, "Failed to open volume kthost") ||
		    strstr(text2, "no passphrase"))
			fail_msg("the agent did not try the passphrase:\n%s",
				 text2);
	}

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
		cmocka_unit_test(test_key_only_in_the_agent),
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
		printf("SKIP: test_key_only_in_the_agent: %s is not built\n",
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
