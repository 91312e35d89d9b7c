/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, real mounts (tmpfs stands in for the volume's filesystem: the
 * host has no dm-crypt). The mount point is checked and mounted through
 * one descriptor, so a swap between check and mount changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "holders.h"
#include "mount.h"

#define USER_UID 4242

static char base[64];

static void path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", base, rel);
}

static void mkdir_owned(const char *rel, uid_t uid, mode_t mode)
{
	char p[256];

	path(p, sizeof(p), rel);
	assert_int_equal(mkdir(p, mode), 0);
	assert_int_equal(chown(p, uid, uid), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static int setup(void **state)
{
	char p[256];

	if (geteuid() != 0)
		return 0;
	snprintf(base, sizeof(base), "/tmp/kt-mount-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	/* mkdtemp makes it 0700; the walk wants no group/other write. */
	chmod(base, 0755);
	mkdir_owned("home", 0, 0755);
	mkdir_owned("home/alice", USER_UID, 0755);
	mkdir_owned("home/alice/vault", USER_UID, 0700);
	mkdir_owned("home/alice/other", 0, 0755);
	mkdir_owned("open", 0, 0777);
	mkdir_owned("open/vault", USER_UID, 0700);
	mkdir_owned("sticky", 0, 01777);
	mkdir_owned("sticky/vault", USER_UID, 0700);
	path(p, sizeof(p), "home/alice/link");
	assert_int_equal(symlink("vault", p), 0);
	path(p, sizeof(p), "home/alice/file");
	close(open(p, O_CREAT | O_WRONLY, 0600));
	path(p, sizeof(p), "home/alice/fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[1024];

	if (geteuid() != 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "umount -R %s/home/alice/vault %s/decoy/vault "
		 "%s/home/alice/a/vault %s/home/alice/b/vault 2>/dev/null;"
		 "rm -rf %s", base, base, base, base, base);
	return system(cmd) == -1;
}

#define NEED_ROOT()                                                          \
	do {                                                                 \
		if (geteuid() != 0) {                                        \
			print_message("SKIP: needs root\n");                 \
			skip();                                              \
		}                                                            \
	} while (0)

static void test_checks(void **state)
{
	static const struct {
		const char *rel;
		uid_t owner;
		int r;
	} cases[] = {
		{ "home/alice/vault", USER_UID, 0 },
		{ "home/alice", USER_UID, 0 },
		{ "sticky/vault", USER_UID, 0 },
		{ "home/alice/link", USER_UID, -ELOOP },
		{ "home/alice/link/x", USER_UID, -ELOOP },
		{ "home/alice/file", USER_UID, -ENOTDIR },
		{ "home/alice/fifo", USER_UID, -ENOTDIR },
		{ "home/alice/missing", USER_UID, -ENOENT },
		{ "home/alice/other", USER_UID, -EPERM }, /* root's dir */
		{ "home/alice/vault", USER_UID + 1, -EPERM }, /* not theirs */
		{ "open/vault", USER_UID, -EPERM }, /* parent 0777 */
	};
	char p[256];

	NEED_ROOT();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd;

		path(p, sizeof(p), cases[i].rel);
		fd = kt_dir_open_checked(p, cases[i].owner);
		if (cases[i].r == 0) {
			assert_true(fd >= 0);
			close(fd);
		} else {
			if (fd != cases[i].r)
				print_error("%s: got %d want %d\n", p, fd,
					    cases[i].r);
			assert_int_equal(fd, cases[i].r);
		}
	}
	/* A parent owned by another user: that user could swap it. */
	assert_int_equal(kt_dir_open_checked("/proc/1", 0), -EXDEV);
	assert_int_equal(kt_dir_open_checked("/sys/kernel", 0), -EXDEV);
}

static void test_swap_after_check(void **state)
{
	char vault[256], moved[256], target[256];
	struct kt_mount_entry m = { .mnt_id = -1 };
	int fd;

	NEED_ROOT();
	path(vault, sizeof(vault), "home/alice/vault");
	path(moved, sizeof(moved), "home/alice/moved");
	path(target, sizeof(target), "home/alice/other");
	fd = kt_dir_open_checked(vault, USER_UID);
	assert_true(fd >= 0);

	/* The user swaps the checked directory for a symlink to a root
	 * directory between the check and the mount. */
	assert_int_equal(rename(vault, moved), 0);
	assert_int_equal(symlink(target, vault), 0);

	assert_int_equal(kt_mount_at("tmpfs", fd, "tmpfs",
				     MS_NOSUID | MS_NODEV, "size=1m"),
			 0);
	close(fd);
	/* The mount is on the directory that was checked, now "moved". */
	assert_int_equal(kt_mount_find(target, &m), 0);
	assert_int_equal(kt_mount_find(moved, &m), 1);
	assert_string_equal(m.fstype, "tmpfs");
	assert_non_null(strstr(m.options, "nosuid"));
	assert_non_null(strstr(m.options, "nodev"));
	kt_mount_entry_clear(&m);

	/* kt_umount never follows the symlink the user left. */
	assert_int_equal(kt_umount(vault, false), -EINVAL);
	assert_int_equal(kt_umount(moved, false), 0);
	assert_int_equal(kt_mount_find(moved, &m), 0);

	assert_int_equal(unlink(vault), 0);
	assert_int_equal(rename(moved, vault), 0);
}

static void test_busy_holders(void **state)
{
	char vault[256];
	struct kt_mount_entry m = { .mnt_id = -1 };
	pid_t pids[16], child;
	int fd, n, ready[2];
	char c;

	NEED_ROOT();
	path(vault, sizeof(vault), "home/alice/vault");
	fd = kt_dir_open_checked(vault, USER_UID);
	assert_true(fd >= 0);
	assert_int_equal(kt_mount_at("tmpfs", fd, "tmpfs",
				     MS_NOSUID | MS_NODEV, "size=1m"),
			 0);
	close(fd);
	assert_int_equal(kt_mount_find(vault, &m), 1);

	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (chdir(vault) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);

	assert_int_equal(kt_umount(vault, false), -EBUSY);
	n = kt_holders(m.dev, NULL, pids, 16);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], child);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(kt_holders(m.dev, NULL, pids, 16), 0);
	assert_int_equal(kt_umount(vault, false), 0);
	kt_mount_entry_clear(&m);
	close(ready[0]);
	close(ready[1]);
}

/* The user renames a directory above the mount point and leaves a
 * symlink to a root-owned mount in its place (kt_umount() on the path,
 * as the agent unmounted until now, follows it and unmounts that one):
 * the recorded unmount finds its own mount where it went and leaves the
 * decoy alone. */
static void test_umount_by_identity(void **state)
{
	char dir_a[256], dir_b[256], vault[256], moved[256], decoy[256];
	char decoy_dir[256];
	struct kt_mount_entry m = { .mnt_id = -1 };
	struct kt_mount_id id, decoy_id;
	int fd;

	NEED_ROOT();
	mkdir_owned("home/alice/a", USER_UID, 0755);
	mkdir_owned("home/alice/a/vault", USER_UID, 0700);
	mkdir_owned("decoy", 0, 0755);
	mkdir_owned("decoy/vault", 0, 0755);
	path(dir_a, sizeof(dir_a), "home/alice/a");
	path(dir_b, sizeof(dir_b), "home/alice/b");
	path(vault, sizeof(vault), "home/alice/a/vault");
	path(moved, sizeof(moved), "home/alice/b/vault");
	path(decoy, sizeof(decoy), "decoy/vault");
	path(decoy_dir, sizeof(decoy_dir), "decoy");

	fd = kt_dir_open_checked(vault, USER_UID);
	assert_true(fd >= 0);
	assert_int_equal(kt_mount_at("tmpfs", fd, "tmpfs",
				     MS_NOSUID | MS_NODEV, "size=1m"), 0);
	close(fd);
	assert_int_equal(kt_mount_identify(vault, USER_UID, &id), 0);
	assert_true(id.mnt_id > 0);
	/* A plain directory is no mount. */
	assert_int_equal(kt_mount_identify(dir_a, USER_UID, &decoy_id),
			 -ENOTCONN);
	assert_int_equal(mount("tmpfs", decoy, "tmpfs", MS_NOSUID | MS_NODEV,
			       "size=1m"), 0);
	assert_int_equal(kt_mount_identify(decoy, 0, &decoy_id), 0);
	assert_true(decoy_id.mnt_id != id.mnt_id);

	assert_int_equal(rename(dir_a, dir_b), 0);
	assert_int_equal(symlink(decoy_dir, dir_a), 0);

	/* Not at the recorded path any more: found by its id, where it is
	 * now, and unmounted there. */
	assert_int_equal(kt_umount_recorded(vault, USER_UID, &id, false), 0);
	assert_int_equal(kt_mount_find(moved, &m), 0);
	assert_int_equal(kt_mount_find(decoy, &m), 1);
	kt_mount_entry_clear(&m);
	/* Gone: said so, and nothing else is touched. */
	assert_int_equal(kt_umount_recorded(vault, USER_UID, &id, false),
			 -ENOENT);
	assert_int_equal(kt_mount_find(decoy, &m), 1);
	kt_mount_entry_clear(&m);

	/* A new mount at the recorded place is not the recorded one. */
	assert_int_equal(unlink(dir_a), 0);
	assert_int_equal(rename(dir_b, dir_a), 0);
	fd = kt_dir_open_checked(vault, USER_UID);
	assert_true(fd >= 0);
	assert_int_equal(kt_mount_at("tmpfs", fd, "tmpfs",
				     MS_NOSUID | MS_NODEV, "size=1m"), 0);
	close(fd);
	assert_int_equal(kt_umount_recorded(vault, USER_UID, &id, false),
			 -ENOENT);
	assert_int_equal(kt_mount_find(vault, &m), 1);
	kt_mount_entry_clear(&m);
	assert_int_equal(kt_umount(vault, false), 0);
	assert_int_equal(kt_umount(decoy, false), 0);
}

/* busy = kill: only a process that, through its pidfd, is the user's and
 * still holds the mount is signalled; a pid that stopped holding it
 * between the scan and the signal is spared (it was killed before). */
static void test_signal_holder(void **state)
{
	char vault[256];
	struct kt_mount_entry m = { .mnt_id = -1 };
	pid_t holder, other;
	int fd, status, ready[2];
	char c;

	NEED_ROOT();
	path(vault, sizeof(vault), "home/alice/vault");
	fd = kt_dir_open_checked(vault, USER_UID);
	assert_true(fd >= 0);
	assert_int_equal(kt_mount_at("tmpfs", fd, "tmpfs",
				     MS_NOSUID | MS_NODEV, "size=1m"), 0);
	close(fd);
	assert_int_equal(kt_mount_find(vault, &m), 1);

	assert_int_equal(pipe(ready), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		if (chdir(vault) < 0 || setresuid(USER_UID, USER_UID,
						  USER_UID) < 0 ||
		    write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	other = fork();
	assert_true(other >= 0);
	if (other == 0) {
		/* The user's, but holding nothing on the mount. */
		if (setresuid(USER_UID, USER_UID, USER_UID) < 0 ||
		    write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);

	assert_int_equal(kt_holder_signal(other, USER_UID, m.dev, NULL,
					  SIGKILL), 0);
	assert_int_equal(kt_holder_signal(holder, USER_UID + 1, m.dev, NULL,
					  SIGKILL), 0);
	assert_int_equal(kt_holder_signal(holder, USER_UID, m.dev, NULL,
					  SIGKILL), 1);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Reaped: its pid names nothing (or someone else) now. */
	assert_int_equal(kt_holder_signal(holder, USER_UID, m.dev, NULL,
					  SIGKILL), 0);
	assert_int_equal(kill(other, 0), 0);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	assert_int_equal(kt_umount(vault, false), 0);
	kt_mount_entry_clear(&m);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_swap_after_check),
		cmocka_unit_test(test_busy_holders),
		cmocka_unit_test(test_umount_by_identity),
		cmocka_unit_test(test_signal_holder),
	};

	if (geteuid() != 0) {
		printf("SKIP: test_mount needs root (real mounts)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
