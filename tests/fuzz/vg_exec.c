/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Preloaded into a test under valgrind (make check-valgrind): the PAM test
 * re-executes itself through execv("/proc/self/exe") to start under
 * pam_wrapper, and under valgrind that link names valgrind's own tool, not
 * the test. Valgrind answers readlink() of it with the test's path, so
 * execute that instead. Nothing else changes.
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int execv(const char *path, char *const argv[])
{
	char self[PATH_MAX];
	ssize_t n;

	if (strcmp(path, "/proc/self/exe") == 0) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = '\0';
			path = self;
		}
	}
	return execve(path, argv, environ);
}
