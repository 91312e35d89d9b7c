/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The built ctl/keyturnctl's "enroll ecryptfs", run as root for a real
 * user (made with useradd, home in a temporary directory): the directories
 * and the wrapped file it makes, read back through the library; imports
 * checked against ~/.ecryptfs/Private.sig; symlinks planted in the home
 * refused with nothing written. No eCryptfs kernel module is needed: the
 * mount itself is the VM test's (tests/vm/tests/20-ecryptfs.sh).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
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

#include "ecryptfs.h"
#include "kt-test-spawn.h"
#include "mount.h"
#include "secret.h"
#include "wrapped.h"

#define USER "kttestecr"
/* Cheap Argon2id: the calibration still runs, within these bounds. */
#define FAST "--argon2-ms", "20", "--argon2-memory", "8192"
/* A mount passphrase as ecryptfs-setup-private makes them: 32 hex. */
#define MOUNT_PW "6f1c0e9a2b7d4c3e8a5f0b1d2c3e4f5a"
#define OTHER_MOUNT_PW "00112233445566778899aabbccddeeff"
#define LOGIN_PW "Login-pw of kttestecr"

static char tmpdir[] = "/tmp/kt-test-ecr.XXXXXX";
static char home[256], rootdir[256], conf[256], ctl[512];
static uid_t uid;
static gid_t gid;
static bool user_made;

/* Runs keyturnctl with the arguments after size (NULL-terminated), input
 * on its stdin; stdout and stderr together into out. Returns the exit
 * status. No
 * terminal: the tool must not find one to ask on. */
#define run(input, out, size, ...) \
	kt_test_spawnl(ctl, POSIX_SPAWN_SETSID, input, out, size, __VA_ARGS__)

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* A fresh, empty home of the user, and an empty root-owned directory. */
static int reset(void **state)
{
	sh("rm -rf -- '%s' '%s' && mkdir -m 0755 -- '%s' '%s' && "
	   "chown %u:%u -- '%s'", home, rootdir, home, rootdir,
	   (unsigned)uid, (unsigned)gid, home);
	return 0;
}

static void user_dir(const char *rel)
{
	sh("mkdir -m 0700 -- '%s/%s' && chown %u:%u -- '%s/%s'", home, rel,
	   (unsigned)uid, (unsigned)gid, home, rel);
}

static void user_file(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	f = fopen(path, "wxe");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chown(path, uid, gid), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

/* ~/.ecryptfs/Private.sig as ecryptfs-setup-private writes it. */
static void sig_file(const char *mount_pw, bool fnek)
{
	_cleanup_secret_ struct kt_secret *mp = NULL, *payload = NULL;
	char sig[17], fnek_sig[17], text[64];

	mp = kt_secret_from(mount_pw, strlen(mount_pw));
	assert_non_null(mp);
	assert_int_equal(kt_ecryptfs_sig(mp, KT_ECRYPTFS_SALT_DEFAULT, sig),
			 0);
	assert_int_equal(kt_ecryptfs_fnek_auth_tok(mp, &payload, fnek_sig),
			 0);
	if (fnek)
		snprintf(text, sizeof(text), "%s\n%s\n", sig, fnek_sig);
	else
		snprintf(text, sizeof(text), "%s\n", sig);
	user_file(".ecryptfs/Private.sig", text);
}

static bool exists(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	return lstat(path, &st) == 0;
}

static void assert_user_dir(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mode & 07777, 0700);
}

/* The wrapped file, read as the agent reads it. */
static void read_wrapped(const char *rel, uint8_t **buf, size_t *len)
{
	char path[512], dir[512], name[512];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_mode & 07777, 0600);
	strcpy(dir, path);
	strcpy(name, path);
	fd = kt_dir_open_checked(dirname(dir), uid);
	assert_true(fd >= 0);
	assert_int_equal(kt_wrapped_read_at(fd, basename(name), uid, buf, len),
			 0);
	close(fd);
}

static struct kt_secret *unwrap(const char *rel, const char *login_pw)
{
	_cleanup_secret_ struct kt_secret *login = NULL;
	struct kt_secret *mp = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	read_wrapped(rel, &buf, &len);
	login = kt_secret_from(login_pw, strlen(login_pw));
	assert_non_null(login);
	assert_int_equal(kt_wrapped_open(buf, len, login, &mp), 0);
	free(buf);
	return mp;
}

/* The 16 hex digits after label in out. */
static void printed(const char *out, const char *label, char sig[17])
{
	const char *p = strstr(out, label);

	assert_non_null(p);
	p += strlen(label);
	assert_int_equal(strspn(p, "0123456789abcdef"), 16);
	memcpy(sig, p, 16);
	sig[16] = '\0';
}

static void test_usage(void **state)
{
	char out[8192];

	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     NULL), 2);
	assert_non_null(strstr(out, "--user"));
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     "--user", USER, "--argon2-memory", "4", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     "--user", USER, "--argon2-ms", "0", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     "extra", "--user", USER, NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     "--user", USER, "--pbkdf-memory", "32768", NULL),
			 2);
	/* The type is found behind options, not in their values. */
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "--user",
			     "ecryptfs", "ecryptfs", "--bogus", NULL), 2);
	assert_non_null(strstr(out, "enroll ecryptfs: unknown option"));
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     "--user", "no-such-user-kt", "--config", conf,
			     NULL), 1);
	assert_non_null(strstr(out, "No such user"));

	/* No login password: nothing is made. */
	assert_int_equal(run("", out, sizeof(out), "enroll", "ecryptfs",
			     "--user", USER, "--stdin", "--config", conf,
			     FAST, NULL), 1);
	assert_non_null(strstr(out, "No login password on standard input"));
	assert_int_equal(run("\n", out, sizeof(out), "enroll", "ecryptfs",
			     "--user", USER, "--stdin", "--config", conf,
			     FAST, NULL), 1);
	assert_non_null(strstr(out, "empty login password"));
	/* Without --stdin and without a terminal it cannot ask. */
	assert_int_equal(run(NULL, out, sizeof(out), "enroll", "ecryptfs",
			     "--user", USER, "--config", conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "No terminal"));
	assert_int_equal(kt_test_entries(home), 0);
}

static void test_create(void **state)
{
	_cleanup_secret_ struct kt_secret *mp = NULL, *payload = NULL;
	char out[8192], sig[17], fnek_sig[17], want[17];
	uint8_t *before = NULL, *after = NULL;
	size_t before_len = 0, after_len = 0;

	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     conf, FAST, NULL), 0);
	assert_user_dir(".Private");
	assert_user_dir("Private");
	assert_user_dir(".ecryptfs");
	assert_int_equal(kt_test_entries(home), 3);

	/* The login password opens it; the mount passphrase is 64 hex
	 * digits, and its signatures are the ones printed. */
	mp = unwrap(".ecryptfs/keyturn-wrapped", LOGIN_PW);
	assert_int_equal(mp->len, 64);
	assert_int_equal(strspn((char *)mp->data, "0123456789abcdef"), 64);
	printed(out, "Signature: ", sig);
	assert_int_equal(kt_ecryptfs_sig(mp, KT_ECRYPTFS_SALT_DEFAULT, want),
			 0);
	assert_string_equal(sig, want);
	printed(out, "Filename key signature: ", fnek_sig);
	assert_int_equal(kt_ecryptfs_fnek_auth_tok(mp, &payload, want), 0);
	assert_string_equal(fnek_sig, want);
	/* The hint to put into the config. */
	assert_non_null(strstr(out, "[volume private]\nuser = " USER "\n"
				    "type = ecryptfs\n"));
	assert_non_null(strstr(out, "measuring Argon2id"));

	/* Enrolled already: refused, the user's file left as it was. */
	read_wrapped(".ecryptfs/keyturn-wrapped", &before, &before_len);
	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "already exists"));
	read_wrapped(".ecryptfs/keyturn-wrapped", &after, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	free(before);
	free(after);
	/* No temporary file left behind either. */
	snprintf(out, sizeof(out), "%s/.ecryptfs", home);
	assert_int_equal(kt_test_entries(out), 1);
}

static void test_create_config_wins(void **state)
{
	_cleanup_secret_ struct kt_secret *mp = NULL;
	char out[8192], cfg[512];
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/conf-priv", tmpdir);
	f = fopen(cfg, "we");
	assert_non_null(f);
	fputs("[volume vault]\n"
	      "user = " USER "\n"
	      "type = ecryptfs\n"
	      "source = %h/lower\n"
	      "mountpoint = %h/upper\n"
	      "wrapped = %h/keys/wrapped\n"
	      "fnek = no\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(cfg, 0600), 0);

	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     cfg, FAST, NULL), 0);
	assert_user_dir("lower");
	assert_user_dir("upper");
	assert_user_dir("keys");
	assert_false(exists(".Private"));
	assert_false(exists(".ecryptfs"));
	mp = unwrap("keys/wrapped", LOGIN_PW);
	assert_int_equal(mp->len, 64);
	assert_non_null(strstr(out, "[volume vault]"));
	/* fnek = no: no filename key. */
	assert_null(strstr(out, "Filename key signature"));
	assert_null(strstr(out, "[volume private]"));
}

/* The config's bounds on a wrapped file's cost are what the agent
 * checks at every login: enroll must never write a file above them,
 * whatever --argon2-ms asks, and refuses --argon2-memory above them. */
static void test_create_within_config_bounds(void **state)
{
	struct kt_wrapped_header h;
	uint8_t *buf = NULL;
	char out[8192], cfg[512];
	size_t len = 0;
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/conf-bounds", tmpdir);
	f = fopen(cfg, "we");
	assert_non_null(f);
	fputs("[defaults]\n"
	      "wrapped_max_iterations = 3\n"
	      "wrapped_max_memory = 16\n"
	      "[volume bounded]\n"
	      "user = " USER "\n"
	      "type = ecryptfs\n"
	      "source = %h/blower\n"
	      "mountpoint = %h/bupper\n"
	      "wrapped = %h/bkeys/wrapped\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(cfg, 0600), 0);

	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     cfg, "--argon2-memory", "32768", NULL), 1);
	assert_non_null(strstr(out, "wrapped_max_memory"));
	assert_false(exists("bkeys/wrapped"));

	/* 8 MiB, and a time that takes far more than 3 iterations of it. */
	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     cfg, "--argon2-memory", "8192", "--argon2-ms",
			     "2000", NULL), 0);
	read_wrapped("bkeys/wrapped", &buf, &len);
	assert_int_equal(kt_wrapped_parse(buf, len, &h), 0);
	free(buf);
	assert_true(h.params.t_cost <= 3);
	assert_true(h.params.m_cost_kib <= 8192);
	assert_non_null(strstr(out, "wrapped_max_iterations = 3"));
}

static void test_create_refuses_files(void **state)
{
	char out[8192];

	/* Files in the lower directory: an ecryptfs-utils directory, most
	 * likely, which a new key would hide. */
	user_dir(".Private");
	user_file(".Private/ECRYPTFS_FNEK_ENCRYPTED.FWZ", "ciphertext");
	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "--import"));
	assert_false(exists(".ecryptfs"));
	assert_false(exists("Private"));
}

static void import_setup(const char *sig_of, bool fnek)
{
	user_dir(".Private");
	user_file(".Private/ECRYPTFS_FNEK_ENCRYPTED.FWZ", "ciphertext");
	user_dir(".ecryptfs");
	user_file(".ecryptfs/wrapped-passphrase", "ecryptfs-utils' own");
	sig_file(sig_of, fnek);
}

static void test_import(void **state)
{
	_cleanup_secret_ struct kt_secret *mp = NULL;
	char out[8192], sig[17], want[17];

	import_setup(MOUNT_PW, true);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 0);
	assert_non_null(strstr(out, "Imported"));
	mp = unwrap(".ecryptfs/keyturn-wrapped", LOGIN_PW);
	assert_int_equal(mp->len, strlen(MOUNT_PW));
	assert_memory_equal(mp->data, MOUNT_PW, mp->len);
	printed(out, "Signature: ", sig);
	assert_int_equal(kt_ecryptfs_sig(mp, KT_ECRYPTFS_SALT_DEFAULT, want),
			 0);
	assert_string_equal(sig, want);
	assert_non_null(strstr(out, "Filename key signature: "));
	/* The mount point is made; the lower directory keeps its files. */
	assert_user_dir("Private");
	assert_true(exists(".Private/ECRYPTFS_FNEK_ENCRYPTED.FWZ"));
	assert_true(exists(".ecryptfs/wrapped-passphrase"));
}

/* An encrypted home keeps its files elsewhere (/home/.ecryptfs/USER):
 * the config's paths, and Private.sig beside the config's wrapped file. */
static void test_import_config_paths(void **state)
{
	_cleanup_secret_ struct kt_secret *mp = NULL;
	char out[8192], cfg[512];
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/conf-store", tmpdir);
	f = fopen(cfg, "we");
	assert_non_null(f);
	fputs("[volume home]\n"
	      "user = *\n"
	      "type = ecryptfs\n"
	      "source = %h/store/.Private\n"
	      "mountpoint = %h/Private\n"
	      "wrapped = %h/store/.ecryptfs/keyturn-wrapped\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(cfg, 0600), 0);
	user_dir("store");
	user_dir("store/.Private");
	user_dir("store/.ecryptfs");
	user_dir(".ecryptfs");
	/* A Private.sig in ~/.ecryptfs that is not this directory's. */
	sig_file(OTHER_MOUNT_PW, true);
	sh("mv '%s/.ecryptfs/Private.sig' '%s/store/.ecryptfs/'", home, home);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", cfg, FAST, NULL), 1);
	assert_non_null(strstr(out, "store/.ecryptfs/Private.sig says"));
	sig_file(MOUNT_PW, true);
	sh("mv -f '%s/.ecryptfs/Private.sig' '%s/store/.ecryptfs/'", home,
	   home);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", cfg, FAST, NULL), 0);
	assert_non_null(strstr(out, "[volume home] of"));
	mp = unwrap("store/.ecryptfs/keyturn-wrapped", LOGIN_PW);
	assert_memory_equal(mp->data, MOUNT_PW, strlen(MOUNT_PW));
	assert_user_dir("Private");
	assert_false(exists(".ecryptfs/keyturn-wrapped"));
}

static void test_import_without_fnek(void **state)
{
	char out[8192];

	import_setup(MOUNT_PW, false);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 0);
	assert_null(strstr(out, "Filename key signature"));
	assert_non_null(strstr(out, "fnek = no\n"));
}

static void test_import_wrong_passphrase(void **state)
{
	char out[8192];

	/* Private.sig is another passphrase's: nothing written. */
	import_setup(OTHER_MOUNT_PW, true);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "does not belong"));
	assert_null(strstr(out, "measuring"));
	assert_false(exists(".ecryptfs/keyturn-wrapped"));
	assert_false(exists("Private"));
	assert_int_equal(kt_test_entries(home), 2);

	/* The right first signature, a wrong filename key signature. */
	reset(state);
	user_dir(".Private");
	user_dir(".ecryptfs");
	{
		_cleanup_secret_ struct kt_secret *mp = NULL;
		char sig[17], text[64];

		mp = kt_secret_from(MOUNT_PW, strlen(MOUNT_PW));
		assert_non_null(mp);
		assert_int_equal(kt_ecryptfs_sig(mp, KT_ECRYPTFS_SALT_DEFAULT,
						 sig), 0);
		snprintf(text, sizeof(text), "%s\n0123456789abcdef\n", sig);
		user_file(".ecryptfs/Private.sig", text);
	}
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "filename key signature of"));
	assert_false(exists(".ecryptfs/keyturn-wrapped"));
	assert_false(exists("Private"));

	/* No Private.sig at all, or no lower directory: refused. */
	reset(state);
	user_dir(".Private");
	user_dir(".ecryptfs");
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "Private.sig"));
	reset(state);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "no lower directory"));
	assert_int_equal(kt_test_entries(home), 0);

	/* A mount passphrase longer than libecryptfs takes. */
	import_setup(MOUNT_PW, true);
	assert_int_equal(run(MOUNT_PW MOUNT_PW "0\n" LOGIN_PW "\n", out,
			     sizeof(out), "enroll", "ecryptfs", "--import",
			     "--user", USER, "--stdin", "--config", conf, FAST,
			     NULL), 1);
	assert_false(exists(".ecryptfs/keyturn-wrapped"));
}

static void plant_symlink(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	assert_int_equal(symlink(rootdir, path), 0);
	assert_int_equal(lchown(path, uid, gid), 0);
}

static void test_symlinks_refused(void **state)
{
	char out[8192];

	/* ~/.ecryptfs -> a directory of root: nothing is written there. */
	plant_symlink(".ecryptfs");
	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "symbolic link"));
	assert_int_equal(kt_test_entries(rootdir), 0);
	assert_false(exists(".Private"));
	assert_false(exists("Private"));

	/* The same when importing (Private.sig is behind it). */
	sh("touch '%s/Private.sig'", rootdir);
	user_dir(".Private");
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 1);
	assert_int_equal(kt_test_entries(rootdir), 1);
	assert_false(exists("Private"));

	/* ~/Private -> a directory of root. */
	reset(state);
	plant_symlink("Private");
	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "symbolic link"));
	assert_int_equal(kt_test_entries(rootdir), 0);
	assert_false(exists(".ecryptfs"));
	assert_false(exists(".Private"));

	/* ~/.Private -> a directory of root, importing. */
	reset(state);
	plant_symlink(".Private");
	user_dir(".ecryptfs");
	sig_file(MOUNT_PW, true);
	assert_int_equal(run(MOUNT_PW "\n" LOGIN_PW "\n", out, sizeof(out),
			     "enroll", "ecryptfs", "--import", "--user", USER,
			     "--stdin", "--config", conf, FAST, NULL), 1);
	assert_int_equal(kt_test_entries(rootdir), 0);
	assert_false(exists(".ecryptfs/keyturn-wrapped"));

	/* A directory of someone else (root) where ~/.ecryptfs goes. */
	reset(state);
	sh("mkdir -m 0755 '%s/.ecryptfs'", home);
	assert_int_equal(run(LOGIN_PW "\n", out, sizeof(out), "enroll",
			     "ecryptfs", "--user", USER, "--stdin", "--config",
			     conf, FAST, NULL), 1);
	assert_non_null(strstr(out, "not owned by the user"));
	assert_int_equal(kt_test_entries(home), 1);
}

static int setup(void **state)
{
	struct passwd *pw;
	char cmd[512];
	FILE *f;

	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) < 0)
		return -1;
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(rootdir, sizeof(rootdir), "%s/rootdir", tmpdir);
	snprintf(conf, sizeof(conf), "%s/keyturn.conf", tmpdir);
	f = fopen(conf, "we");
	if (!f || fclose(f) != 0 || chmod(conf, 0600) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "useradd -M -U -d '%s' -s /bin/false " USER " >/dev/null",
		 home);
	if (system(cmd) != 0)
		return -1;
	user_made = true;
	pw = getpwnam(USER);
	if (!pw)
		return -1;
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	return 0;
}

static int teardown(void **state)
{
	int r = 0;

	if (user_made && system("userdel " USER " >/dev/null 2>&1") != 0)
		r = -1;
	if (kt_test_remove_tree(tmpdir) < 0)
		r = -1;
	return r;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_usage, reset),
		cmocka_unit_test_setup(test_create, reset),
		cmocka_unit_test_setup(test_create_config_wins, reset),
		cmocka_unit_test_setup(test_create_within_config_bounds, reset),
		cmocka_unit_test_setup(test_create_refuses_files, reset),
		cmocka_unit_test_setup(test_import, reset),
		cmocka_unit_test_setup(test_import_config_paths, reset),
		cmocka_unit_test_setup(test_import_without_fnek, reset),
		cmocka_unit_test_setup(test_import_wrong_passphrase, reset),
		cmocka_unit_test_setup(test_symlinks_refused, reset),
	};

	signal(SIGPIPE, SIG_IGN);
	snprintf(ctl, sizeof(ctl), "%s/ctl/keyturnctl", KT_BUILDDIR);
	if (access(ctl, X_OK) < 0) {
		printf("SKIP: %s not built\n", ctl);
		return 77;
	}
	if (geteuid() != 0) {
		printf("SKIP: test_ctl_ecryptfs needs root (a test user, "
		       "files owned by them)\n");
		return 77;
	}
	if (access("/usr/sbin/useradd", X_OK) < 0 ||
	    access("/usr/sbin/userdel", X_OK) < 0) {
		printf("SKIP: useradd or userdel missing (package passwd)\n");
		return 77;
	}
	if (getpwnam(USER)) {
		printf("SKIP: a user %s exists already (left by an "
		       "interrupted run? userdel %s)\n", USER, USER);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
