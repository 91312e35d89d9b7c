/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The module <-> agent protocol: the input is (1) a report line for
 * kt_report_parse(), (2) the bytes of a struct kt_report for
 * kt_report_format(), (3) the byte stream a peer writes to the socket,
 * read back with kt_line_read() over a real socketpair, and (4) a
 * keyturnctl request line for kt_control_parse_unlock(), (5) the
 * hand-over state for kt_state_parse() and one line of it for
 * kt_opened_parse().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "protocol.h"
#include "stash.h"

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void check_report(const struct kt_report *r)
{
	size_t vlen = strnlen(r->volume, sizeof(r->volume));

	FUZZ_ASSERT(vlen >= 1 && vlen < sizeof(r->volume));
	FUZZ_ASSERT(strspn(r->volume, "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789_.-") == vlen);
	FUZZ_ASSERT(kt_report_status_name(r->status));
	FUZZ_ASSERT(r->error >= 0 && r->error <= 4095);
	FUZZ_ASSERT(memchr(r->message, '\0', sizeof(r->message)));
	FUZZ_ASSERT(!has_control(r->message));
}

static bool report_equal(const struct kt_report *a, const struct kt_report *b)
{
	return strcmp(a->volume, b->volume) == 0 && a->status == b->status &&
	       a->error == b->error && strcmp(a->message, b->message) == 0;
}

/* A parsed report formats, and the formatted line parses back equal. */
static void check_round_trip(const struct kt_report *r)
{
	char line[KT_LINE_MAX];
	struct kt_report back;
	int n;

	n = kt_report_format(r, line, sizeof(line));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(line));
	FUZZ_ASSERT((size_t)n == strlen(line) && line[n - 1] == '\n');
	FUZZ_ASSERT(!memchr(line, '\n', (size_t)n - 1));
	FUZZ_ASSERT(kt_report_parse(line, &back) == 0);
	FUZZ_ASSERT(report_equal(r, &back));
}

/* A control request the agent takes is the one keyturnctl would write
 * for that length, and within the bound. */
static void fuzz_control(const uint8_t *data, size_t size)
{
	char *line = fuzz_strndup(data, size), back[32];
	size_t len = 0;

	if (kt_control_parse_unlock(line, 4096, &len) == 0) {
		FUZZ_ASSERT(len >= 1 && len <= 4096);
		FUZZ_ASSERT(kt_control_format_unlock(len, back,
						     sizeof(back)) > 0);
		FUZZ_ASSERT(strcmp(back, line) == 0);
	} else {
		FUZZ_ASSERT(len == 0);
	}
	free(line);
}

/* A stash reference the module takes from the PAM environment is the
 * one it would have written. */
static void fuzz_stash_ref(const uint8_t *data, size_t size)
{
	char *line = fuzz_strndup(data, size), back[KT_STASH_REF_MAX];
	struct kt_stash_ref ref;

	if (kt_stash_ref_parse(line, &ref) == 0) {
		FUZZ_ASSERT(ref.key > 0);
		FUZZ_ASSERT(kt_stash_ref_format(&ref, back, sizeof(back)) ==
			    0);
		FUZZ_ASSERT(strcmp(back, line) == 0);
	}
	free(line);
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	char *line = fuzz_strndup(data, size);
	struct kt_report r;

	if (kt_report_parse(line, &r) == 0) {
		check_report(&r);
		check_round_trip(&r);
	}
	free(line);
}

/* Whatever a caller puts in the struct (unterminated arrays, any
 * status and error), format never writes past size, and what it accepts
 * parses back as sent, control bytes turned into '?'. */
static void fuzz_format(const uint8_t *data, size_t size)
{
	struct kt_report r, back;
	size_t bufsize, mlen;
	char *buf;
	int n;

	if (size < sizeof(r) + 2)
		return;
	memcpy(&r, data, sizeof(r));
	bufsize = ((size_t)data[sizeof(r)] << 8 | data[sizeof(r) + 1]) %
		  (KT_LINE_MAX + 64);
	buf = malloc(bufsize ? bufsize : 1);
	FUZZ_ASSERT(buf);
	n = kt_report_format(&r, bufsize ? buf : NULL, bufsize);
	if (n < 0) {
		FUZZ_ASSERT(n == -EINVAL || n == -ENOBUFS);
		free(buf);
		return;
	}
	FUZZ_ASSERT((size_t)n < bufsize && buf[n] == '\0');
	FUZZ_ASSERT(buf[n - 1] == '\n');
	if (kt_report_parse(buf, &back) == 0) {
		/* A message is at most the array less its NUL. */
		mlen = strnlen(r.message, sizeof(r.message) - 1);
		FUZZ_ASSERT(strlen(back.message) == mlen);
		for (size_t i = 0; i < mlen; i++) {
			unsigned char c = (unsigned char)r.message[i];

			FUZZ_ASSERT(back.message[i] ==
				    (c < 0x20 || c == 0x7f ? '?' : (char)c));
		}
		FUZZ_ASSERT(back.status == r.status && back.error == r.error);
		FUZZ_ASSERT(strncmp(back.volume, r.volume,
				    sizeof(r.volume)) == 0);
	} else {
		/* What format accepts, parse accepts: no report fits in
		 * fewer than KT_LINE_MAX bytes and is then refused. */
		FUZZ_ASSERT((size_t)n >= KT_LINE_MAX);
	}
	free(buf);
}

/* The stream a peer sends: every line kt_line_read() returns is
 * NUL-terminated, has no newline and fits; the reader always reaches the
 * end of the stream. */
static void fuzz_stream(const uint8_t *data, size_t size)
{
	size_t bufsize = 2 + (size ? data[0] : 0) * 3, lines = 0;
	char *buf = malloc(bufsize + 1);
	int sv[2];
	int r;

	FUZZ_ASSERT(buf);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ==
		    0);
	/* The socket buffer (over 200 KiB) holds any input of -max_len. */
	FUZZ_ASSERT(write(sv[1], data, size) == (ssize_t)size);
	FUZZ_ASSERT(shutdown(sv[1], SHUT_WR) == 0);
	buf[bufsize] = 'X'; /* a canary one past the size given */
	for (;;) {
		r = kt_line_read(sv[0], buf, bufsize, kt_now_ms() + 5000);
		if (r == 0)
			break;
		FUZZ_ASSERT(r > 0 || r == -EBADMSG);
		FUZZ_ASSERT(buf[bufsize] == 'X');
		FUZZ_ASSERT(++lines <= size + 1);
		if (r < 0)
			continue;
		FUZZ_ASSERT((size_t)r < bufsize && (size_t)r < KT_LINE_MAX);
		FUZZ_ASSERT(strlen(buf) == (size_t)r);
		FUZZ_ASSERT(!strchr(buf, '\n'));
		/* What a line is read as, the module and the agent
		 * parse. */
		fuzz_parse((const uint8_t *)buf, (size_t)r);
		fuzz_control((const uint8_t *)buf, (size_t)r);

		/* kt_line_write sends it as one line that reads back. */
		{
			char back[KT_LINE_MAX];
			int w[2];

			FUZZ_ASSERT(socketpair(AF_UNIX,
					       SOCK_STREAM | SOCK_CLOEXEC, 0,
					       w) == 0);
			if (kt_line_write(w[1], buf) == 0) {
				FUZZ_ASSERT(kt_line_read(w[0], back,
							 sizeof(back), 0) ==
					    r);
				FUZZ_ASSERT(strcmp(back, buf) == 0);
			}
			close(w[0]);
			close(w[1]);
		}
	}
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

/* The hand-over state: what parses formats back to the very same bytes
 * (one spelling per state), and so does each volume line alone. */
static void fuzz_state(const uint8_t *data, size_t size)
{
	struct kt_state *st = malloc(sizeof(*st));
	char *buf = malloc(KT_STATE_MAX);
	int n;

	FUZZ_ASSERT(st && buf);
	if (kt_state_parse((const char *)data, size, st) == 0) {
		FUZZ_ASSERT(st->n_volumes <= KT_STATE_VOLUMES_MAX);
		n = kt_state_format(st, buf, KT_STATE_MAX);
		FUZZ_ASSERT(n > 0 && (size_t)n == size);
		FUZZ_ASSERT(memcmp(buf, data, size) == 0);
	}
	{
		struct kt_opened o;
		char line[KT_STATE_PATH_MAX + 512];

		if (kt_opened_parse((const char *)data, size, &o) == 0) {
			n = kt_opened_format(&o, line, sizeof(line));
			FUZZ_ASSERT(n > 0);
			FUZZ_ASSERT((size_t)n == size ||
				    (size_t)n == size + 1);
			FUZZ_ASSERT(memcmp(line, data, size) == 0);
		}
	}
	free(buf);
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	fuzz_parse(data, size);
	fuzz_control(data, size);
	fuzz_stash_ref(data, size);
	fuzz_format(data, size);
	fuzz_stream(data, size);
	fuzz_state(data, size);
	return 0;
}
