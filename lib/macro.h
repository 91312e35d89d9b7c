/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_MACRO_H
#define KT_MACRO_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(fn) __attribute__((cleanup(fn)))
#define _wur_ __attribute__((warn_unused_result))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _public_ __attribute__((visibility("default")))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand a pointer on and leave NULL behind, so that the cleanup of the
 * local that held it does nothing. */
#define TAKE_PTR(p)                                                          \
	({                                                                   \
		__typeof__(p) _p_ = (p);                                     \
		(p) = NULL;                                                  \
		_p_;                                                         \
	})

#define TAKE_FD(fd)                                                          \
	({                                                                   \
		int _fd_ = (fd);                                             \
		(fd) = -1;                                                   \
		_fd_;                                                        \
	})

/* Defines fn##p(type *p) that calls fn(*p) when *p is set. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, fn)                                \
	static inline void fn##p(type *p)                                    \
	{                                                                    \
		if (*p)                                                      \
			fn(*p);                                              \
	}

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes and keeps errno: used on error paths where errno still matters. */
static inline int kt_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void closep(int *fd)
{
	*fd = kt_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* libc's -1 + errno as -errno, never 0 even if errno was not set. */
static inline int kt_negerrno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* Runs a keyctl()-style call again while it fails with EINTR. */
#define RETRY_EINTR(expr)                                                    \
	({                                                                   \
		long _r_;                                                    \
		do                                                           \
			_r_ = (long)(expr);                                  \
		while (_r_ < 0 && errno == EINTR);                           \
		_r_;                                                         \
	})

#endif
