/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the host tests that run a built program (keyturnctl) and read
 * what it says, or run a shell command. Include after <cmocka.h>. */
#ifndef KT_TEST_SPAWN_H
#define KT_TEST_SPAWN_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * Runs path with argv (NULL-terminated, argv[0] included) and input on its
 * stdin; its stdout and stderr together into out (size bytes, always
 * terminated). SIGPIPE is back at its default in the program; spawn_flags
 * adds posix_spawn flags (POSIX_SPAWN_SETSID: no controlling terminal to
 * find). Returns the exit status; the program must exit, not be killed.
 */
static inline int kt_test_spawn(const char *path, const char *const *argv,
				short spawn_flags, const char *input,
				char *out, size_t size)
{
	int in_pipe[2], out_pipe[2], status;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t sigpipe;
	size_t len = 0;
	pid_t pid;

	assert_int_equal(pipe2(in_pipe, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&sigpipe);
	sigaddset(&sigpipe, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &sigpipe);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | spawn_flags);
	assert_int_equal(posix_spawn(&pid, path, &fa, &attr,
				     (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in_pipe[0]);
	close(out_pipe[1]);

	/* The program may rightly exit before it reads (a usage error, an
	 * unknown user): EPIPE then, with SIGPIPE ignored by the caller.
	 * Small inputs fit in the pipe, so the write never waits for the
	 * reader. */
	if (input && write(in_pipe[1], input, strlen(input)) < 0)
		assert_int_equal(errno, EPIPE);
	close(in_pipe[1]);
	for (;;) {
		ssize_t k = read(out_pipe[0], out + len, size - 1 - len);

		if (k <= 0)
			break;
		len += (size_t)k;
	}
	out[len] = '\0';
	close(out_pipe[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The same with the arguments after size, NULL-terminated; argv[0] is
 * path. */
static inline int kt_test_spawnl(const char *path, short spawn_flags,
				 const char *input, char *out, size_t size,
				 ...)
{
	const char *argv[32] = { path };
	int n = 1;
	va_list ap;

	va_start(ap, size);
	while ((argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	return kt_test_spawn(path, argv, spawn_flags, input, out, size);
}

/* Removes a test's temporary directory and all in it (a group teardown:
 * 0 or -1). */
static inline int kt_test_remove_tree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* How many entries the directory path has, "." and ".." aside; -1 if it
 * cannot be read. */
static inline int kt_test_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

#endif
