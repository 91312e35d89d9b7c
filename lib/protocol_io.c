/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The protocol's I/O (formats and parsers: lib/protocol.c): lines on a
 * socket with a deadline, and secrets on a pipe, each as a 4-byte length
 * and its bytes, read straight into locked memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "secret.h"

long long kt_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable or the deadline passes. */
static int wait_readable(int fd, long long deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int timeout = -1, r;

		if (deadline_ms > 0) {
			long long left = deadline_ms - kt_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			timeout = left > 60000 ? 60000 : (int)left;
		}
		r = poll(&p, 1, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return kt_negerrno();
		}
		if (r > 0) {
			if (p.revents & POLLNVAL)
				return -EBADF;
			return 0; /* readable, hung up or error: read() says */
		}
	}
}

/* One byte: 1, 0 at EOF, or -errno. */
static int read_byte(int fd, char *c, long long deadline_ms)
{
	for (;;) {
		ssize_t n;
		int r;

		r = wait_readable(fd, deadline_ms);
		if (r < 0)
			return r;
		n = read(fd, c, 1);
		if (n >= 0)
			return (int)n;
		if (errno != EINTR && errno != EAGAIN)
			return kt_negerrno();
	}
}

int kt_line_read(int fd, char *buf, size_t size, long long deadline_ms)
{
	size_t n = 0;
	bool bad = false;

	if (!buf || size < 2)
		return -EINVAL;
	for (;;) {
		char c;
		int r;

		r = read_byte(fd, &c, deadline_ms);
		if (r < 0)
			return r;
		if (r == 0) {
			if (n == 0 && !bad)
				return 0;
			/* EOF in the middle of a line: it is cut. */
			return -EBADMSG;
		}
		if (c == '\n')
			break;
		/* After an over-long line or a NUL, consume the rest of it
		 * so that the next call starts at a line boundary. */
		if (bad)
			continue;
		if (c == '\0' || n >= size - 1 || n >= KT_LINE_MAX - 1) {
			bad = true;
			continue;
		}
		buf[n++] = c;
	}
	if (bad || n == 0)
		return -EBADMSG; /* the protocol has no empty lines */
	buf[n] = '\0';
	return (int)n;
}

int kt_line_write(int fd, const char *line)
{
	char buf[KT_LINE_MAX];
	size_t len = strlen(line), off = 0;

	/* Exactly one line: a trailing newline is optional, an inner one
	 * is an error. */
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0 || len > sizeof(buf) - 2 || memchr(line, '\n', len))
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len++] = '\n';

	while (off < len) {
		/* MSG_NOSIGNAL: a peer that is gone must not kill the PAM
		 * host with SIGPIPE. */
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, buf + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd,
						    .events = POLLOUT };

				(void)poll(&p, 1, 1000);
				continue;
			}
			return kt_negerrno();
		}
		off += (size_t)n;
	}
	return 0;
}

int kt_secret_pipe(const struct kt_secret *const *secrets, size_t n)
{
	_cleanup_close_ int rd = -1, wr = -1;
	int fds[2];

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!secrets[i] || secrets[i]->len > KT_PASSPHRASE_MAX)
			return -E2BIG;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return kt_negerrno();
	rd = fds[0];
	wr = fds[1];
	if (fcntl(wr, F_SETFL, O_NONBLOCK) < 0)
		return kt_negerrno();
	for (size_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)secrets[i]->len;

		if (write(wr, &len, sizeof(len)) != (ssize_t)sizeof(len) ||
		    write(wr, secrets[i]->data, len) != (ssize_t)len)
			return -EAGAIN;
	}
	return TAKE_FD(rd);
}

int kt_rekey_pipe(const void *old, size_t old_len, const void *new_pass,
		  size_t new_len)
{
	_cleanup_secret_ struct kt_secret *o = NULL, *n = NULL;
	const struct kt_secret *both[2];

	if (old_len > KT_PASSPHRASE_MAX || new_len > KT_PASSPHRASE_MAX)
		return -E2BIG;
	o = kt_secret_from(old, old_len);
	n = kt_secret_from(new_pass, new_len);
	if (!o || !n)
		return -ENOMEM;
	both[0] = o;
	both[1] = n;
	return kt_secret_pipe(both, 2);
}

/* Reads exactly len bytes before the deadline; -EPIPE at early EOF. */
static int read_full(int fd, void *buf, size_t len, long long deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - kt_now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return kt_negerrno();
		}
		n = read(fd, (uint8_t *)buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return kt_negerrno();
		}
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

int kt_secret_pipe_read(int fd, long long deadline_ms, struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *s = NULL;
	uint32_t len;
	int r;

	r = read_full(fd, &len, sizeof(len), deadline_ms);
	if (r < 0)
		return r;
	if (len == 0 || len > KT_PASSPHRASE_MAX)
		return -EBADMSG;
	s = kt_secret_new(len);
	if (!s)
		return -ENOMEM;
	r = read_full(fd, s->data, len, deadline_ms);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}
