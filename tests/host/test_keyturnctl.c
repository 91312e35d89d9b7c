/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The built ctl/keyturnctl, run as a program: enrollment on real LUKS2
 * image files (checked afterwards through the library and the kernel
 * keyring), config checks, status, and its exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <libcryptsetup.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt-test-luks.h"
#include "kt-test-spawn.h"
#include "luks.h"

static char tmpdir[] = "/tmp/kt-test-ctl.XXXXXX";
static char ctl[512];
static int counter;

/* Runs keyturnctl with the arguments after size (NULL-terminated), input
 * on its stdin; stdout and stderr together into out. Returns the exit
 * status. */
#define run(input, out, size, ...) \
	kt_test_spawnl(ctl, 0, input, out, size, __VA_ARGS__)

static void make_image(char *path, size_t size, const char *pass)
{
	const char *passes[] = { pass };

	snprintf(path, size, "%s/img%d", tmpdir, counter++);
	kt_test_make_image(path, passes, 1);
}
static void write_config(char *path, size_t size, mode_t mode,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void write_config(char *path, size_t size, mode_t mode,
			 const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	snprintf(path, size, "%s/conf%d", tmpdir, counter++);
	f = fopen(path, "we");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void write_volume_config(char *conf, size_t size, const char *image)
{
	write_config(conf, size, 0600,
		     "[defaults]\n"
		     "key_prefix = kttest:\n"
		     "\n"
		     "[volume home]\n"
		     "user = root\n"
		     "type = luks2\n"
		     "device = %s\n"
		     "name = kt-%%u-home\n"
		     "mountpoint = %%h/kt-mnt\n",
		     image);
}

static void test_usage_errors(void **state)
{
	char out[8192];

	assert_int_equal(run(NULL, out, sizeof(out), NULL), 2);
	assert_non_null(strstr(out, "keyturnctl: no command given"));
	assert_int_equal(run(NULL, out, sizeof(out), "frobnicate", NULL), 2);
	assert_non_null(strstr(out, "unknown command 'frobnicate'"));
	assert_int_equal(run(NULL, out, sizeof(out), "--bogus", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "luks",
			     "/nonexistent", NULL), 2);
	assert_non_null(strstr(out, "--user"));
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "luks",
			     "--user", "root", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "tape",
			     "/dev/st0", "--user", "root", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "luks",
			     "/nonexistent", "--user", "root",
			     "--pbkdf-iterations", "2", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "luks",
			     "/nonexistent", "--user", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "check", "extra", NULL),
			 2);
	assert_int_equal(run(NULL, out, sizeof(out), "status", "--nope",
			     NULL), 2);

	assert_int_equal(run(NULL, out, sizeof(out), "--help", NULL), 0);
	assert_non_null(strstr(out, "Usage: keyturnctl"));
	assert_int_equal(run(NULL, out, sizeof(out), "--version", NULL), 0);
	assert_true(strncmp(out, "keyturnctl ", 11) == 0);
}

static void test_enroll_stdin(void **state)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct crypt_pbkdf_type pbkdf;
	char image[256], conf[256], out[8192], expect[1024], uuid[64];
	key_serial_t k;

	make_image(image, sizeof(image), "first passphrase");
	write_volume_config(conf, sizeof(conf), image);

	assert_int_equal(run("first passphrase\nroot login\n", out,
			     sizeof(out), "enroll", "luks", image, "--user",
			     "root", "--stdin", "--config", conf,
			     "--pbkdf-memory", "32768", "--pbkdf-iterations",
			     "4", NULL),
			 0);
	assert_int_equal(kt_luks_uuid(image, uuid, sizeof(uuid)), 0);
	snprintf(expect, sizeof(expect),
		 "Enrolled root on %s: keyslot 1, token 0 (kttest:root)\n"
		 "Pinned [volume home] in %s to %s: uuid = %s\n",
		 image, conf, image, uuid);
	assert_string_equal(out, expect);

	/* The keyslot has the PBKDF asked for. */
	assert_int_equal(crypt_init(&cd, image), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(crypt_keyslot_get_pbkdf(cd, 1, &pbkdf), 0);
	assert_string_equal(pbkdf.type, CRYPT_KDF_ARGON2ID);
	assert_int_equal(pbkdf.iterations, 4);
	assert_int_equal(pbkdf.max_memory_kb, 32768);

	/* And the login password, in the keyring under the configured
	 * prefix, opens the volume through the token. */
	k = kt_test_put_key("kttest:root", "root login");
	assert_int_equal(kt_luks_open(image, NULL, "kttest:root", 0), 1);
	kt_test_drop_key(k);

	/* A second enrollment is refused and changes nothing. */
	assert_int_equal(run("first passphrase\nother\n", out, sizeof(out),
			     "enroll", "luks", image, "--user", "root",
			     "--stdin", "--config", conf, "--pbkdf-memory",
			     "32768", "--pbkdf-iterations", "4", NULL),
			 1);
	assert_non_null(strstr(out, "root is already enrolled on"));
	assert_non_null(strstr(out, image));
	assert_int_equal(kt_test_active_keyslots(image), 0x3u);

	/* status sees the enrollment; no device-mapper here: locked. */
	assert_int_equal(run(NULL, out, sizeof(out), "status", "--user",
			     "root", "--config", conf, NULL),
			 0);
	assert_non_null(strstr(out, "root/home (luks2)"));
	assert_non_null(strstr(out, "dm name:  kt-root-home"));
	assert_non_null(strstr(out, "enrolled: yes (kttest:root: token 0, "
				    "keyslot 1)"));
	assert_non_null(strstr(out, "mounted:  no"));
	assert_non_null(strstr(out, "sessions: "));
	if (access("/sys/module/dm_mod", F_OK) != 0)
		assert_non_null(strstr(out, "state:    locked"));
}

static char *read_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

#define ENROLL(input, out, image, conf)                                     \
	run(input, out, sizeof(out), "enroll", "luks", image, "--user",     \
	    "root", "--stdin", "--config", conf, "--pbkdf-memory", "32768",  \
	    "--pbkdf-iterations", "4", NULL)

/*
 * enroll pins the volume: "uuid = UUID" written into the volume's
 * section (the rest of the file as it was, same owner and mode, replaced
 * atomically); a section that pins another UUID refuses the enrollment
 * before anything changes; a device in no volume gets the line to add.
 */
static void test_enroll_pins(void **state)
{
	char image[256], other[256], conf[256], out[8192], uuid[64],
		want[2048], *text;
	struct stat st;

	make_image(image, sizeof(image), "first passphrase");
	assert_int_equal(kt_luks_uuid(image, uuid, sizeof(uuid)), 0);
	write_config(conf, sizeof(conf), 0640,
		     "# keep me\n[defaults]\nkey_prefix = kttest:\n\n"
		     "[volume home]   ; root's\nuser = root\ntype = luks2\n"
		     "device = %s\nname = kt-%%u-home\n"
		     "mountpoint = %%h/kt-mnt # here\n\n# trailing comment\n",
		     image);
	assert_int_equal(chown(conf, 0, 4), 0);
	assert_int_equal(ENROLL("first passphrase\nroot login\n", out, image,
				conf),
			 0);
	snprintf(want, sizeof(want),
		 "# keep me\n[defaults]\nkey_prefix = kttest:\n\n"
		 "[volume home]   ; root's\nuser = root\ntype = luks2\n"
		 "device = %s\nname = kt-%%u-home\n"
		 "mountpoint = %%h/kt-mnt # here\nuuid = %s\n\n"
		 "# trailing comment\n",
		 image, uuid);
	text = read_text(conf);
	assert_string_equal(text, want);
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, 4);
	/* check is happy with it, and the agent's parser too. */
	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     "--user", "root", NULL),
			 0);
	assert_null(strstr(out, "not pinned"));

	/* Another device at the path the config pins: refused, nothing
	 * changed on it. */
	make_image(other, sizeof(other), "first passphrase");
	write_config(conf, sizeof(conf), 0600,
		     "[defaults]\nkey_prefix = kttest:\n[volume home]\n"
		     "user = root\ntype = luks2\ndevice = %s\nname = h\n"
		     "mountpoint = /srv/h\nuuid = %s\n",
		     other, uuid);
	assert_int_equal(ENROLL("first passphrase\nroot login\n", out, other,
				conf),
			 1);
	assert_non_null(strstr(out, "pins LUKS2 UUID"));
	assert_non_null(strstr(out, "nothing changed"));
	assert_int_equal(kt_test_active_keyslots(other), 0x1u);

	/* In no volume of the config: the line to add. */
	write_config(conf, sizeof(conf), 0600,
		     "[defaults]\nkey_prefix = kttest:\n");
	assert_int_equal(ENROLL("first passphrase\nroot login\n", out, other,
				conf),
			 0);
	assert_int_equal(kt_luks_uuid(other, uuid, sizeof(uuid)), 0);
	snprintf(want, sizeof(want), "  uuid = %s\n", uuid);
	assert_non_null(strstr(out, "is in no volume of root"));
	assert_non_null(strstr(out, want));
}

/* check says which LUKS2 volumes are not pinned, with the line to add. */
static void test_check_unpinned(void **state)
{
	char image[256], conf[256], out[8192], uuid[64], want[256];

	make_image(image, sizeof(image), "first passphrase");
	assert_int_equal(kt_luks_uuid(image, uuid, sizeof(uuid)), 0);
	write_volume_config(conf, sizeof(conf), image);
	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     NULL),
			 0);
	assert_non_null(strstr(out, "[volume home]"));
	assert_non_null(strstr(out, "not pinned"));
	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     "--user", "root", NULL),
			 0);
	snprintf(want, sizeof(want), "uuid = %s", uuid);
	assert_non_null(strstr(out, "not pinned"));
	assert_non_null(strstr(out, want));
}

static void test_enroll_wrong_passphrase(void **state)
{
	char image[256], out[8192];

	make_image(image, sizeof(image), "first passphrase");
	assert_int_equal(run("not it\nroot login\n", out, sizeof(out),
			     "enroll", "luks", image, "--user", "root",
			     "--stdin", "--config", "/nonexistent/keyturn.conf",
			     "--pbkdf-memory", "32768", "--pbkdf-iterations",
			     "4", NULL),
			 1);
	/* --config given explicitly and missing: refused before anything. */
	assert_non_null(strstr(out, "/nonexistent/keyturn.conf"));
	assert_int_equal(kt_test_active_keyslots(image), 0x1u);

	assert_int_equal(run("not it\nroot login\n", out, sizeof(out),
			     "enroll", "luks", image, "--user", "root",
			     "--stdin", "--pbkdf-memory", "32768",
			     "--pbkdf-iterations", "4", NULL),
			 1);
	assert_non_null(strstr(out, "existing passphrase"));
	assert_non_null(strstr(out, image));
	assert_int_equal(kt_test_active_keyslots(image), 0x1u);
}

static void test_enroll_input_errors(void **state)
{
	char image[256], plain[256], out[8192];
	int fd;

	make_image(image, sizeof(image), "first passphrase");
	/* Only one line: no login password. */
	assert_int_equal(run("first passphrase\n", out, sizeof(out), "enroll",
			     "luks", image, "--user", "root", "--stdin",
			     "--pbkdf-memory", "32768", "--pbkdf-iterations",
			     "4", NULL),
			 1);
	assert_non_null(strstr(out, "No login password on standard input"));
	assert_int_equal(kt_test_active_keyslots(image), 0x1u);

	assert_int_equal(run("first passphrase\nx\n", out, sizeof(out),
			     "enroll", "luks", image, "--user",
			     "no-such-user-kt", "--stdin", NULL),
			 1);
	assert_non_null(strstr(out, "No such user: no-such-user-kt"));

	snprintf(plain, sizeof(plain), "%s/plain", tmpdir);
	fd = open(plain, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(run("a\nb\n", out, sizeof(out), "enroll", "luks",
			     plain, "--user", "root", "--stdin", NULL),
			 1);
	assert_non_null(strstr(out, "is not a LUKS2 volume"));
}

/* Reads from the pty master until text has appeared after buf[from] (or
 * 10 s passed); everything read is appended to buf. */
static bool wait_for(int master, char *buf, size_t size, size_t *len,
		     size_t from, const char *text)
{
	for (int i = 0; i < 100 && !strstr(buf + from, text); i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, 100) <= 0)
			continue;
		k = read(master, buf + *len, size - 1 - *len);
		if (k <= 0)
			break;
		*len += (size_t)k;
		buf[*len] = '\0';
	}
	return strstr(buf + from, text) != NULL;
}

/*
 * Enrollment on a terminal: keyturnctl in a session of its own with a
 * pty as controlling terminal, answering its prompts. Echo must be off:
 * nothing typed comes back. answers[2] differing from answers[1] is the
 * mismatch case.
 */
static int enroll_on_pty(const char *image, const char *conf,
			 const char *const answers[3], char *buf, size_t size)
{
	const char *prompts[3] = { "Existing passphrase for ",
				   "Login password of root: ",
				   "Login password again: " };
	const char *argv[] = { ctl, "enroll", "luks", image, "--user", "root",
			       "--config", conf, "--pbkdf-memory", "32768",
			       "--pbkdf-iterations", "4", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t sigpipe;
	int master, status;
	size_t len = 0, from = 0;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);

	posix_spawnattr_init(&attr);
	sigemptyset(&sigpipe);
	sigaddset(&sigpipe, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &sigpipe);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
					       POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	/* Opened by a session leader: becomes its controlling terminal. */
	posix_spawn_file_actions_addopen(&fa, 0, ptsname(master), O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, 0, 1);
	posix_spawn_file_actions_adddup2(&fa, 0, 2);
	assert_int_equal(posix_spawn(&pid, ctl, &fa, &attr,
				     (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);

	/* buf keeps the whole transcript, so that an echo would show. */
	buf[0] = '\0';
	for (int i = 0; i < 3 && answers[i]; i++) {
		if (!wait_for(master, buf, size, &len, from, prompts[i]))
			break;
		assert_int_equal(write(master, answers[i], strlen(answers[i])),
				 (ssize_t)strlen(answers[i]));
		assert_int_equal(write(master, "\n", 1), 1);
		from = len; /* the next prompt must be a new one */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Whatever is left after the child is gone. */
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, 0) <= 0)
			break;
		k = read(master, buf + len, size - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
	}
	close(master);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_enroll_terminal(void **state)
{
	const char *good[3] = { "first passphrase", "tty login", "tty login" };
	const char *differ[3] = { "first passphrase", "tty login", "tty logon" };
	char image[256], conf[256], out[8192];
	key_serial_t k;

	make_image(image, sizeof(image), "first passphrase");
	write_volume_config(conf, sizeof(conf), image);

	assert_int_equal(enroll_on_pty(image, conf, differ, out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "The two login passwords differ"));
	assert_int_equal(kt_test_active_keyslots(image), 0x1u);

	assert_int_equal(enroll_on_pty(image, conf, good, out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "Existing passphrase for "));
	assert_non_null(strstr(out, "Login password again: "));
	assert_non_null(strstr(out, "Enrolled root on "));
	assert_null(strstr(out, "tty login"));
	assert_null(strstr(out, "first passphrase"));

	k = kt_test_put_key("kttest:root", "tty login");
	assert_int_equal(kt_luks_open(image, NULL, "kttest:root", 0), 1);
	kt_test_drop_key(k);
}

static void test_check(void **state)
{
	char conf[256], out[8192], expect[512];

	write_volume_config(conf, sizeof(conf), "/dev/kt-test-%u");
	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     NULL),
			 0);
	assert_non_null(strstr(out, "OK"));

	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     "--user", "root", NULL),
			 0);
	assert_non_null(strstr(out, "[volume home]"));
	assert_non_null(strstr(out, "/dev/kt-test-root"));
	assert_non_null(strstr(out, "kt-root-home"));
	assert_non_null(strstr(out, "/root/kt-mnt"));

	/* A mistake on line 3: the file and the line in the message. */
	write_config(conf, sizeof(conf), 0600,
		     "[defaults]\n"
		     "key_timeout = 60\n"
		     "no_such_key = 1\n");
	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     NULL),
			 1);
	snprintf(expect, sizeof(expect), "%s:3:", conf);
	assert_non_null(strstr(out, expect));

	/* Writable by others: refused. */
	write_volume_config(conf, sizeof(conf), "/dev/kt-test-%u");
	assert_int_equal(chmod(conf, 0666), 0);
	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config", conf,
			     NULL),
			 1);
	assert_non_null(strstr(out, conf));

	assert_int_equal(run(NULL, out, sizeof(out), "check", "--config",
			     "/nonexistent/keyturn.conf", NULL),
			 1);
	assert_non_null(strstr(out, "keyturnctl: /nonexistent/keyturn.conf"));
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	return kt_test_remove_tree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_enroll_stdin),
		cmocka_unit_test(test_enroll_wrong_passphrase),
		cmocka_unit_test(test_enroll_pins),
		cmocka_unit_test(test_check_unpinned),
		cmocka_unit_test(test_enroll_input_errors),
		cmocka_unit_test(test_enroll_terminal),
		cmocka_unit_test(test_check),
	};

	signal(SIGPIPE, SIG_IGN);
	snprintf(ctl, sizeof(ctl), "%s/ctl/keyturnctl", KT_BUILDDIR);
	if (access(ctl, X_OK) < 0) {
		printf("SKIP: %s not built\n", ctl);
		return 77;
	}
	if (!kt_test_root_with_keyring("test_keyturnctl",
				       "LUKS2 images, root-owned config"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
