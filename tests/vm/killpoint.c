/* kt-killpoint.so: kills keyturn-agent right after its Nth file mutation,
 * for keyturn's VM test of a crash during a password change
 * (tests/62-fscrypt-rekey.sh).
 *
 * Loaded into every program through /etc/ld.so.preload (the agent is
 * started with an empty environment: LD_PRELOAD would not reach it). It
 * does nothing unless the program is /usr/libexec/keyturn/keyturn-agent
 * and /run/kt-killpoint (a regular file of root's, written by no one
 * else) holds a number N > 0 when the agent starts. Then it counts the
 * calls that change a regular file: write(2), fsync(2) and fdatasync(2)
 * on one, rename(2), renameat(2) and renameat2(2) of one (what
 * kt_wrapped_write_at() in lib/wrapped.c uses: write, fsync, renameat),
 * and right after the Nth it writes "N CALL" to /run/kt-killpoint.hit
 * and sends itself SIGKILL. Each call is passed on to libc's (dlsym
 * RTLD_NEXT), so other programs run as they would without it.
 *
 * No hook in the code under test: the agent is the installed program.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AGENT
#define AGENT "/usr/libexec/keyturn/keyturn-agent"
#endif
#ifndef CONTROL
#define CONTROL "/run/kt-killpoint"
#endif
#ifndef HIT
#define HIT "/run/kt-killpoint.hit"
#endif

#define EXPORT __attribute__((visibility("default")))

/* 0: inactive (not the agent, or no control file). */
static long kill_after;
static long mutations;

static long read_control(void)
{
	char buf[32];
	struct stat st;
	ssize_t n;
	long v;
	int fd;

	fd = open(CONTROL, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022)) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 ? v : 0;
}

__attribute__((constructor)) static void killpoint_init(void)
{
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	if (strcmp(exe, AGENT))
		return;
	kill_after = read_control();
}

/* After a successful mutation: count it, and die after the Nth. The
 * record of the hit goes through the system call itself, uncounted. */
static void mutated(const char *call)
{
	char line[64];
	int fd, len;

	if (kill_after == 0 || ++mutations < kill_after)
		return;
	fd = open(HIT, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd >= 0) {
		len = snprintf(line, sizeof(line), "%ld %s\n", mutations, call);
		(void)syscall(SYS_write, fd, line, (size_t)len);
		close(fd);
	}
	(void)kill(getpid(), SIGKILL);
}

static int fd_is_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* After a rename: the name now holds a regular file. */
static int name_is_regular(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

/* libc's function NAME, looked up once. */
#define REAL(name)                                                        \
	({                                                                \
		static __typeof__(name) *real_;                           \
		if (!real_)                                               \
			real_ = (__typeof__(name) *)dlsym(RTLD_NEXT, #name); \
		real_;                                                    \
	})

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r = REAL(write)(fd, buf, n);
	int saved = errno;

	if (r > 0 && kill_after && fd_is_regular(fd))
		mutated("write");
	errno = saved;
	return r;
}

EXPORT int fsync(int fd)
{
	int r = REAL(fsync)(fd);
	int saved = errno;

	if (r == 0 && kill_after && fd_is_regular(fd))
		mutated("fsync");
	errno = saved;
	return r;
}

EXPORT int fdatasync(int fd)
{
	int r = REAL(fdatasync)(fd);
	int saved = errno;

	if (r == 0 && kill_after && fd_is_regular(fd))
		mutated("fdatasync");
	errno = saved;
	return r;
}

EXPORT int rename(const char *from, const char *to)
{
	int r = REAL(rename)(from, to);
	int saved = errno;

	if (r == 0 && kill_after && name_is_regular(AT_FDCWD, to))
		mutated("rename");
	errno = saved;
	return r;
}

EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	int r = REAL(renameat)(fromfd, from, tofd, to);
	int saved = errno;

	if (r == 0 && kill_after && name_is_regular(tofd, to))
		mutated("renameat");
	errno = saved;
	return r;
}

EXPORT int renameat2(int fromfd, const char *from, int tofd, const char *to,
		     unsigned int flags)
{
	int r = REAL(renameat2)(fromfd, from, tofd, to, flags);
	int saved = errno;

	if (r == 0 && kill_after && name_is_regular(tofd, to))
		mutated("renameat2");
	errno = saved;
	return r;
}
