/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, real flocks in RUNDIR: the count of a user's sessions is what the
 * kernel holds, so it cannot drift when a session dies.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "session.h"

/* A uid no real user has, so the test never meets a real session. */
#define UID 3999999

static pid_t session_child(int *ready_fd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = kt_session_join(UID);

		if (fd < 0 || write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

static void wait_ready(int fd)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
	close(fd);
}

static void test_count_and_last(void **state)
{
	int rfd1, rfd2, me, r;
	pid_t a, b;

	a = session_child(&rfd1);
	b = session_child(&rfd2);
	wait_ready(rfd1);
	wait_ready(rfd2);
	assert_int_equal(kt_session_count(UID), 2);

	me = kt_session_join(UID);
	assert_true(me >= 0);
	assert_int_equal(kt_session_count(UID), 3);

	/* Not last: two others hold it. The descriptor is closed. */
	r = kt_session_leave(&me);
	assert_int_equal(r, 0);
	assert_int_equal(me, -1);
	assert_int_equal(kt_session_count(UID), 2);

	/* A session that dies without a word stops counting at once. */
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	assert_int_equal(kt_session_count(UID), 1);
	kill(b, SIGKILL);
	waitpid(b, NULL, 0);
	assert_int_equal(kt_session_count(UID), 0);

	me = kt_session_join(UID);
	assert_true(me >= 0);
	r = kt_session_leave(&me);
	assert_int_equal(r, 1); /* last: holds it exclusively now */
	assert_true(me >= 0);
	close(me);
}

static void test_join_waits_for_teardown(void **state)
{
	int me = kt_session_join(UID), p[2], r;
	pid_t pid;
	char c;

	assert_true(me >= 0);
	assert_int_equal(kt_session_leave(&me), 1);

	/* A login during the teardown blocks in join until it is done. */
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		/* A copy of the teardown's descriptor would keep its lock. */
		close(me);
		fd = kt_session_join(UID);
		_exit(fd >= 0 && write(p[1], "j", 1) == 1 ? 0 : 1);
	}
	close(p[1]);
	{
		fd_set set;
		struct timeval tv = { 0, 300000 };

		FD_ZERO(&set);
		FD_SET(p[0], &set);
		r = select(p[0] + 1, &set, NULL, NULL, &tv);
		assert_int_equal(r, 0); /* still waiting */
	}
	close(me); /* teardown done */
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'j');
	waitpid(pid, &r, 0);
	assert_true(WIFEXITED(r) && WEXITSTATUS(r) == 0);
	close(p[0]);
}

/* The agent runs with umask 077; the user must still reach the control
 * sockets in RUNDIR/UID (a bug the VM tests found). */
static void test_dirs_reachable_under_umask(void **state)
{
	char path[64];
	struct stat st;
	mode_t old;
	int fd;

	snprintf(path, sizeof(path), KT_RUNDIR "/%u/sessions", (unsigned)UID);
	(void)unlink(path);
	snprintf(path, sizeof(path), KT_RUNDIR "/%u/lock", (unsigned)UID);
	(void)unlink(path);
	snprintf(path, sizeof(path), KT_RUNDIR "/%u", (unsigned)UID);
	(void)rmdir(path);
	assert_int_equal(mkdir(path, 0700), 0); /* as an older agent left it */
	old = umask(077);
	fd = kt_session_join(UID);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(KT_RUNDIR, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dirs_reachable_under_umask),
		cmocka_unit_test(test_count_and_last),
		cmocka_unit_test(test_join_waits_for_teardown),
	};

	if (geteuid() != 0) {
		printf("SKIP: test_session needs root (writes " KT_RUNDIR ")\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
