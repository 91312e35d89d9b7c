/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, the real kernel: the fscrypt ioctl wrappers on loop-mounted ext4
 * images made with -O encrypt, in a mount namespace of the test's own (the
 * mounts go with it). And the import end to end: the directory that the
 * real fscrypt tool encrypted (tests/unit/vectors/fscrypt/, made by
 * make-vectors.sh), its key unwrapped by keyturn from the tool's metadata
 * with the login password, added, the file inside read back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fscrypt.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "fscrypt.h"
#include "fscrypt_meta.h"
#include "holders.h"
#include "secret.h"

/* The vectors, from the build tree or (in the VM) KT_FSCRYPT_VECTORS. */
static const char *vectors = KT_BUILDDIR "/tests/unit/vectors/fscrypt/";
#define OTHER_UID 4243
/* alice in make-vectors.sh, and her login protector's descriptor */
#define REAL_UID 1500
#define REAL_PROTECTOR "3fd3fdb4a1b23ff6"

static char base[64];

static void path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", base, rel);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* An ext4 image at base/NAME.img mounted on base/NAME. */
static int make_fs(const char *name, const char *features)
{
	/* By its path: busybox's shell would run its own mke2fs. */
	return run("cd %s && truncate -s 32M %s.img && "
		   "/usr/sbin/mke2fs -q -t ext4 %s %s.img && mkdir %s && "
		   "mount -o loop %s.img %s",
		   base, name, features, name, name, name, name);
}

static int setup(void **state)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	snprintf(base, sizeof(base), "/tmp/kt-fscrypt-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	if (make_fs("enc", "-O encrypt") < 0 || make_fs("plain", "") < 0)
		return -1;
	if (run("cd %s && xz -dc %sfscrypt-login.img.xz >real.img && "
		"mkdir real && mount -o loop real.img real",
		base, vectors) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	return run("umount -l %s/enc %s/plain %s/real 2>/dev/null; rm -rf %s",
		   base, base, base, base);
}

static int open_dir(const char *rel)
{
	char p[256];
	int fd;

	path(p, sizeof(p), rel);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void make_dir(const char *rel)
{
	char p[256];

	path(p, sizeof(p), rel);
	assert_int_equal(mkdir(p, 0700), 0);
}

static void write_file(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	path(p, sizeof(p), rel);
	f = fopen(p, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* 0 and the first line, or -errno. */
static int read_file(const char *rel, char *buf, size_t size)
{
	char p[256];
	FILE *f;

	path(p, sizeof(p), rel);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	return 0;
}

/* The one name in a directory (skipping . and ..), as it reads now. */
static void only_name(const char *rel, char *buf, size_t size)
{
	char p[256];
	DIR *d;
	struct dirent *e;
	int n = 0;

	path(p, sizeof(p), rel);
	d = opendir(p);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(buf, size, "%s", e->d_name);
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
}

static struct kt_secret *random_key(void)
{
	struct kt_secret *key = kt_secret_new(KT_FSCRYPT_KEY_SIZE);

	assert_non_null(key);
	randombytes_buf(key->data, key->len);
	return key;
}

/* A plain name in a locked directory: not found, or no key (kernels
 * differ in which they say). */
static void assert_locked(int r)
{
	assert_true(r == -ENOENT || r == -ENOKEY);
}

static void assert_state(int fd, const uint8_t *id,
			 enum kt_fscrypt_key_state state, uint32_t users)
{
	struct kt_fscrypt_key_status st;

	assert_int_equal(kt_fscrypt_get_key_status(fd, id, &st), 0);
	assert_int_equal(st.state, state);
	if (state == KT_FSCRYPT_KEY_PRESENT)
		assert_int_equal(st.user_count, users);
}

/* enroll, open, lock, open again: what keyturn will do with a new one. */
static void test_new_directory(void **state)
{
	_cleanup_secret_ struct kt_secret *key = random_key();
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE], want[KT_FSCRYPT_IDENTIFIER_SIZE];
	struct kt_fscrypt_policy pol;
	struct kt_fscrypt_key_status st;
	unsigned flags = 99;
	char text[64], name[256];
	int fd, fs;

	make_dir("enc/new");
	fd = open_dir("enc/new");
	fs = open_dir("enc");
	assert_int_equal(kt_fscrypt_get_policy(fd, &pol), -ENODATA);

	assert_int_equal(kt_fscrypt_add_key(fd, key, id), 0);
	assert_int_equal(kt_fscrypt_key_identifier(key, want), 0);
	assert_memory_equal(id, want, sizeof(id));
	assert_int_equal(kt_fscrypt_set_policy(fd, id), 0);
	/* The same policy again is no change. */
	assert_int_equal(kt_fscrypt_set_policy(fd, id), 0);
	assert_int_equal(kt_fscrypt_get_policy(fd, &pol), 0);
	assert_memory_equal(pol.identifier, id, sizeof(id));
	assert_int_equal(pol.contents_mode, FSCRYPT_MODE_AES_256_XTS);
	assert_int_equal(pol.filenames_mode, FSCRYPT_MODE_AES_256_CTS);
	assert_int_equal(pol.flags, FSCRYPT_POLICY_FLAGS_PAD_32);

	write_file("enc/new/secret", "plain text\n");
	assert_int_equal(kt_fscrypt_get_key_status(fd, id, &st), 0);
	assert_int_equal(st.state, KT_FSCRYPT_KEY_PRESENT);
	assert_true(st.added_by_self);
	assert_int_equal(st.user_count, 1);

	/* The open directory itself keeps the key busy. */
	assert_int_equal(kt_fscrypt_remove_key(fd, id, false, &flags), 0);
	assert_int_equal(flags, KT_FSCRYPT_REMOVED_FILES_BUSY);
	assert_state(fs, id, KT_FSCRYPT_KEY_INCOMPLETELY_REMOVED, 0);
	close(fd);
	/* Through the filesystem's root, once it is closed: gone. */
	assert_int_equal(kt_fscrypt_remove_key(fs, id, false, &flags), 0);
	assert_int_equal(flags, 0);
	assert_state(fs, id, KT_FSCRYPT_KEY_ABSENT, 0);
	/* Locked: the name is ciphertext, the file cannot be opened. */
	only_name("enc/new", name, sizeof(name));
	assert_string_not_equal(name, "secret");
	assert_locked(read_file("enc/new/secret", text, sizeof(text)));
	assert_int_equal(kt_fscrypt_remove_key(fs, id, false, NULL), -ENOKEY);

	assert_int_equal(kt_fscrypt_add_key(fs, key, NULL), 0);
	assert_int_equal(read_file("enc/new/secret", text, sizeof(text)), 0);
	assert_string_equal(text, "plain text\n");
	assert_int_equal(kt_fscrypt_remove_key(fs, id, false, &flags), 0);
	assert_int_equal(flags, 0);
	close(fs);
}

/* Who holds the directory: a child with its working directory there and
 * one that maps a file of it, found; the test itself, which holds the
 * file "held" open, is left out by design (the caller is never its own
 * holder); "enc/bus", a prefix of the name but not a parent, holds
 * nothing. */
static void check_holders(int held)
{
	char dir[256], other[256];
	struct stat st;
	pid_t pids[16], in_dir, maps;
	int ready[2], n;
	char c;

	path(dir, sizeof(dir), "enc/busy");
	path(other, sizeof(other), "enc/bus");
	assert_int_equal(fstat(held, &st), 0);
	assert_int_equal(pipe(ready), 0);
	in_dir = fork();
	assert_true(in_dir >= 0);
	if (in_dir == 0) {
		close(held);
		if (chdir(dir) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	maps = fork();
	assert_true(maps >= 0);
	if (maps == 0) {
		void *m = mmap(NULL, 2, PROT_READ, MAP_SHARED, held, 0);

		close(held);
		if (m == MAP_FAILED || chdir("/") < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(read(ready[0], &c, 1), 1);

	n = kt_holders(st.st_dev, dir, pids, 16);
	assert_int_equal(n, 2);
	assert_true((pids[0] == in_dir && pids[1] == maps) ||
		    (pids[0] == maps && pids[1] == in_dir));
	strcat(dir, "/");
	assert_int_equal(kt_holders(st.st_dev, dir, pids, 16), 2);
	assert_int_equal(kt_holders(st.st_dev, other, pids, 16), 0);
	assert_int_equal(kt_holders(st.st_dev, dir, pids, 1), 1);
	assert_int_equal(kt_holders(st.st_dev, "enc", pids, 1),
			 -EINVAL);

	kill(in_dir, SIGKILL);
	kill(maps, SIGKILL);
	assert_int_equal(waitpid(in_dir, NULL, 0), in_dir);
	assert_int_equal(waitpid(maps, NULL, 0), maps);
	close(ready[0]);
	close(ready[1]);
}

/* A file held open at logout: the key stays until it closes. */
static void test_busy(void **state)
{
	_cleanup_secret_ struct kt_secret *key = random_key();
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	unsigned flags = 0;
	char p[256];
	int fd, held;

	make_dir("enc/busy");
	fd = open_dir("enc/busy");
	assert_int_equal(kt_fscrypt_add_key(fd, key, id), 0);
	assert_int_equal(kt_fscrypt_set_policy(fd, id), 0);
	close(fd);
	fd = open_dir("enc");
	write_file("enc/busy/held", "x\n");
	path(p, sizeof(p), "enc/busy/held");
	held = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(held >= 0);

	assert_int_equal(kt_fscrypt_remove_key(fd, id, false, &flags), 0);
	assert_int_equal(flags, KT_FSCRYPT_REMOVED_FILES_BUSY);
	assert_state(fd, id, KT_FSCRYPT_KEY_INCOMPLETELY_REMOVED, 0);
	check_holders(held);
	close(held);
	/* Removing again finishes the job once nothing holds a file. */
	assert_int_equal(kt_fscrypt_remove_key(fd, id, false, &flags), 0);
	assert_int_equal(flags, 0);
	assert_state(fd, id, KT_FSCRYPT_KEY_ABSENT, 0);
	close(fd);
}

/* Two users hold the key: removing one claim leaves the other. */
static void test_other_users(void **state)
{
	_cleanup_secret_ struct kt_secret *key = random_key();
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	unsigned flags = 0;
	pid_t pid;
	int fd, status;

	make_dir("enc/shared");
	fd = open_dir("enc/shared");
	assert_int_equal(kt_fscrypt_add_key(fd, key, id), 0);
	assert_int_equal(kt_fscrypt_set_policy(fd, id), 0);
	close(fd);
	fd = open_dir("enc");

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The key is added to the filesystem, not to this process:
		 * the claim stays after the child exits. */
		if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
		    setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
			_exit(2);
		_exit(kt_fscrypt_add_key(fd, key, NULL) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_state(fd, id, KT_FSCRYPT_KEY_PRESENT, 2);

	assert_int_equal(kt_fscrypt_remove_key(fd, id, false, &flags), 0);
	assert_int_equal(flags, KT_FSCRYPT_REMOVED_OTHER_USERS);
	assert_state(fd, id, KT_FSCRYPT_KEY_PRESENT, 1);
	assert_int_equal(kt_fscrypt_remove_key(fd, id, true, &flags), 0);
	assert_int_equal(flags, 0);
	assert_state(fd, id, KT_FSCRYPT_KEY_ABSENT, 0);
	close(fd);
}

static void test_refusals(void **state)
{
	_cleanup_secret_ struct kt_secret *key = random_key();
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	struct fscrypt_policy_v1 v1;
	struct kt_fscrypt_policy pol;
	char p[256];
	int fd, file;

	/* Not empty. */
	make_dir("enc/full");
	write_file("enc/full/f", "x\n");
	fd = open_dir("enc/full");
	assert_int_equal(kt_fscrypt_add_key(fd, key, id), 0);
	assert_int_equal(kt_fscrypt_set_policy(fd, id), -ENOTEMPTY);
	close(fd);

	/* Another policy already there. */
	make_dir("enc/taken");
	fd = open_dir("enc/taken");
	assert_int_equal(kt_fscrypt_set_policy(fd, id), 0);
	{
		_cleanup_secret_ struct kt_secret *other = random_key();
		uint8_t other_id[KT_FSCRYPT_IDENTIFIER_SIZE];

		assert_int_equal(kt_fscrypt_add_key(fd, other, other_id), 0);
		assert_int_equal(kt_fscrypt_set_policy(fd, other_id), -EEXIST);
		assert_int_equal(
			kt_fscrypt_remove_key(fd, other_id, false, NULL), 0);
	}
	close(fd);

	/* A v1 policy (set by hand here: keyturn never makes one). */
	make_dir("enc/v1");
	fd = open_dir("enc/v1");
	memset(&v1, 0, sizeof(v1));
	v1.version = FSCRYPT_POLICY_V1;
	v1.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
	v1.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
	v1.flags = FSCRYPT_POLICY_FLAGS_PAD_32;
	memcpy(v1.master_key_descriptor, "\1\2\3\4\5\6\7\10", 8);
	assert_int_equal(ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, &v1), 0);
	assert_int_equal(kt_fscrypt_get_policy(fd, &pol), -EPROTO);
	close(fd);

	/* A file where a directory was expected. */
	path(p, sizeof(p), "enc/full/f");
	file = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(file >= 0);
	assert_int_equal(kt_fscrypt_get_policy(file, &pol), -ENOTDIR);
	assert_int_equal(kt_fscrypt_add_key(file, key, NULL), -ENOTDIR);
	close(file);
	assert_int_equal(kt_fscrypt_get_policy(-1, &pol), -EBADF);

	/* ext4 without -O encrypt. */
	make_dir("plain/d");
	fd = open_dir("plain/d");
	assert_int_equal(kt_fscrypt_set_policy(fd, id), -EOPNOTSUPP);
	assert_int_equal(kt_fscrypt_get_policy(fd, &pol), -EOPNOTSUPP);
	close(fd);

	/* A key of the wrong size never reaches the kernel. */
	fd = open_dir("enc");
	key->len = 32;
	assert_int_equal(kt_fscrypt_add_key(fd, key, NULL), -EINVAL);
	key->len = KT_FSCRYPT_KEY_SIZE;
	assert_int_equal(kt_fscrypt_remove_key(fd, id, true, NULL), 0);
	close(fd);
}

static size_t slurp(const char *name, uint8_t *buf, size_t size)
{
	char p[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s%s", vectors, name);
	f = fopen(p, "rbe");
	assert_non_null(f);
	n = fread(buf, 1, size, f);
	fclose(f);
	return n;
}

/* The directory the real fscrypt tool made, opened with the key keyturn
 * unwraps from the tool's own metadata (read from the image itself for
 * the policy, from the vectors for the protector, which fscrypt kept on
 * its root filesystem). */
static void test_real_fscrypt_import(void **state)
{
	uint8_t buf[KT_FSCRYPT_META_MAX];
	struct kt_fscrypt_protector prot;
	struct kt_fscrypt_policy_data pol;
	struct kt_fscrypt_policy dir_pol;
	_cleanup_secret_ struct kt_secret *pass = NULL, *key = NULL;
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1], rel[128], text[64];
	const char *why = NULL;
	unsigned flags = 99;
	size_t n;
	FILE *f;
	int fd;

	fd = open_dir("real/login");
	assert_int_equal(kt_fscrypt_get_policy(fd, &dir_pol), 0);
	kt_fscrypt_identifier_hex(dir_pol.identifier, hex);

	snprintf(rel, sizeof(rel), "%s/real/.fscrypt/policies/%s", base, hex);
	f = fopen(rel, "rbe");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(kt_fscrypt_policy_parse(buf, n, &pol, &why), 0);
	assert_memory_equal(pol.identifier, dir_pol.identifier, 16);
	n = slurp("login-protector", buf, sizeof(buf));
	assert_int_equal(kt_fscrypt_protector_parse(buf, n, &prot, &why), 0);

	pass = kt_secret_from("correct horse", 13);
	assert_non_null(pass);
	assert_int_equal(kt_fscrypt_import_key(&prot, &pol, pass, &key, &why),
			 0);

	close(fd);
	fd = open_dir("real");
	assert_locked(read_file("real/login/file", text, sizeof(text)));
	assert_int_equal(kt_fscrypt_add_key(fd, key, id), 0);
	assert_memory_equal(id, dir_pol.identifier, sizeof(id));
	assert_int_equal(read_file("real/login/file", text, sizeof(text)), 0);
	assert_string_equal(text, "hello\n");
	assert_int_equal(kt_fscrypt_remove_key(fd, id, false, &flags), 0);
	assert_int_equal(flags, 0);
	assert_locked(read_file("real/login/file", text, sizeof(text)));
	close(fd);
}

/* A root filesystem of the test's own for the login protector, as
 * fscrypt keeps it in /.fscrypt/protectors/. */
static int make_root_meta(mode_t file_mode, uid_t owner)
{
	return run("cd %s && rm -rf rootfs && mkdir -p rootfs/.fscrypt/policies "
		   "rootfs/.fscrypt/protectors && chmod -R 755 rootfs && "
		   "cp %slogin-protector rootfs/.fscrypt/protectors/%s && "
		   "chown %u rootfs/.fscrypt/protectors/%s && "
		   "chmod %o rootfs/.fscrypt/protectors/%s",
		   base, vectors, REAL_PROTECTOR, (unsigned)owner,
		   REAL_PROTECTOR, (unsigned)file_mode, REAL_PROTECTOR);
}

static int import_dir(uid_t uid, const char *pass, struct kt_secret **key,
		      uint8_t *id, const char **why)
{
	_cleanup_secret_ struct kt_secret *p = NULL;
	int dir = open_dir("real/login"), mnt = open_dir("real"),
	    root = open_dir("rootfs"), r;

	p = kt_secret_from(pass, strlen(pass));
	assert_non_null(p);
	r = kt_fscrypt_import_directory(dir, mnt, root, uid, p, key, id, why);
	close(dir);
	close(mnt);
	close(root);
	return r;
}

/* The same through kt_fscrypt_import_directory(): the metadata found on
 * the directory's filesystem and, through the link file, on a root of the
 * test's own; then what it refuses. */
static void test_import_directory(void **state)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	struct kt_fscrypt_policy pol;
	const char *why = NULL;
	char text[64];
	int fd;

	assert_int_equal(make_root_meta(0600, REAL_UID), 0);
	assert_int_equal(import_dir(REAL_UID, "correct horse", &key, id, &why),
			 0);
	fd = open_dir("real/login");
	assert_int_equal(kt_fscrypt_get_policy(fd, &pol), 0);
	close(fd);
	assert_memory_equal(id, pol.identifier, sizeof(id));
	fd = open_dir("real");
	assert_int_equal(kt_fscrypt_add_key(fd, key, NULL), 0);
	assert_int_equal(read_file("real/login/file", text, sizeof(text)), 0);
	assert_string_equal(text, "hello\n");
	assert_int_equal(kt_fscrypt_remove_key(fd, id, false, NULL), 0);
	close(fd);
	key = kt_secret_free(key);

	/* The wrong password. */
	why = NULL;
	assert_int_equal(import_dir(REAL_UID, "correct horsE", &key, id, &why),
			 -EACCES);
	assert_null(key);
	assert_non_null(why);

	/* Another user's import: the files are not theirs. */
	assert_int_equal(import_dir(REAL_UID + 1, "correct horse", &key, id,
				    &why),
			 -EPERM);
	assert_null(key);

	/* A protector others may write, or that another user owns. */
	assert_int_equal(make_root_meta(0620, REAL_UID), 0);
	assert_int_equal(import_dir(REAL_UID, "correct horse", &key, id, &why),
			 -EPERM);
	assert_int_equal(make_root_meta(0600, OTHER_UID), 0);
	assert_int_equal(import_dir(REAL_UID, "correct horse", &key, id, &why),
			 -EPERM);

	/* .fscrypt a symlink (fscrypt allows it; keyturn does not follow). */
	assert_int_equal(run("cd %s && rm -rf rootfs && mkdir -p elsewhere && "
			     "cp -a real/.fscrypt elsewhere/ && mkdir rootfs && "
			     "ln -s ../elsewhere/.fscrypt rootfs/.fscrypt",
			     base),
			 0);
	why = NULL;
	assert_int_equal(import_dir(REAL_UID, "correct horse", &key, id, &why),
			 -ELOOP);
	assert_non_null(why);
	assert_null(key);

	/* A directory with no policy. */
	assert_int_equal(make_root_meta(0600, REAL_UID), 0);
	{
		_cleanup_secret_ struct kt_secret *p =
			kt_secret_from("x", 1);
		int mnt = open_dir("real");

		assert_int_equal(kt_fscrypt_import_directory(mnt, mnt, mnt,
							     REAL_UID, p, &key,
							     id, &why),
				 -ENODATA);
		close(mnt);
	}
}

static void same_dir(int a, int b)
{
	struct stat sa, sb;

	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_true(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

static uint64_t mount_id(int fd)
{
	struct statx stx;

	assert_int_equal(statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx), 0);
	assert_true(stx.stx_mask & STATX_MNT_ID);
	return stx.stx_mnt_id;
}

/* From a directory deep in a mount to that mount's root; from the root
 * to itself; and from base, on whatever holds /tmp here, to a directory
 * of the same mount whose parent is on another one (or is itself). */
static void test_mount_root(void **state)
{
	int dir, want, got, parent;

	dir = open_dir("real/login");
	want = open_dir("real");
	got = kt_fscrypt_mount_root(dir);
	assert_true(got >= 0);
	same_dir(got, want);
	close(got);
	got = kt_fscrypt_mount_root(want);
	assert_true(got >= 0);
	same_dir(got, want);
	close(got);
	close(dir);
	close(want);

	dir = open_dir(".");
	got = kt_fscrypt_mount_root(dir);
	assert_true(got >= 0);
	assert_true(mount_id(got) == mount_id(dir));
	parent = openat(got, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(parent >= 0);
	if (mount_id(parent) == mount_id(got))
		same_dir(parent, got);
	close(parent);
	close(got);
	close(dir);
	assert_int_equal(kt_fscrypt_mount_root(-1), -EBADF);
}

/* Does this kernel do fscrypt on ext4 at all? */
static const char *cannot_run(void)
{
	if (geteuid() != 0)
		return "needs root (loop mounts)";
	if (access("/sys/fs/ext4/features/encryption", F_OK) < 0)
		return "the kernel's ext4 has no encryption";
	if (access("/usr/sbin/mke2fs", X_OK) < 0 ||
	    system("command -v xz >/dev/null") != 0)
		return "needs /usr/sbin/mke2fs and xz";
	return NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_directory),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_other_users),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_real_fscrypt_import),
		cmocka_unit_test(test_import_directory),
		cmocka_unit_test(test_mount_root),
	};
	const char *why = cannot_run();

	if (getenv("KT_FSCRYPT_VECTORS"))
		vectors = getenv("KT_FSCRYPT_VECTORS");
	if (why) {
		printf("SKIP: test_fscrypt %s\n", why);
		return 77;
	}
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
