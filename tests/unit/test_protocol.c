/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"

static void test_status_names(void **state)
{
	static const char *const names[] = {
		"opened", "reused", "locked", "failed", "closed", "kept",
		"rekeyed", "unchanged",
	};

	assert_int_equal(ELEMENTSOF(names), _KT_REPORT_MAX);
	for (int s = 0; s < _KT_REPORT_MAX; s++)
		assert_string_equal(kt_report_status_name(s), names[s]);
	assert_null(kt_report_status_name(_KT_REPORT_MAX));
	assert_null(kt_report_status_name((enum kt_report_status)-1));
}

/* What the re-key agent writes, as the module reads it. */
static void test_parse_rekey_lines(void **state)
{
	struct kt_report r;

	assert_int_equal(kt_report_parse("volume home rekeyed 0 keyslot 1\n",
					 &r), 0);
	assert_string_equal(r.volume, "home");
	assert_int_equal(r.status, KT_REPORT_REKEYED);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.message, "keyslot 1");
	assert_int_equal(kt_report_parse("volume priv unchanged 0 in step",
					 &r), 0);
	assert_int_equal(r.status, KT_REPORT_UNCHANGED);
	assert_int_equal(kt_report_parse("volume home rekey 0 x", &r),
			 -EBADMSG);
}

static void test_round_trip_every_status(void **state)
{
	for (int s = 0; s < _KT_REPORT_MAX; s++) {
		struct kt_report in = { .status = s, .error = s * 7 };
		struct kt_report out;
		char line[KT_LINE_MAX], expect[KT_LINE_MAX];
		int n;

		snprintf(in.volume, sizeof(in.volume), "vol-%d.x_y", s);
		snprintf(in.message, sizeof(in.message),
			 "message %d with  two spaces", s);
		n = kt_report_format(&in, line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(line));
		snprintf(expect, sizeof(expect), "volume %s %s %d %s\n",
			 in.volume, kt_report_status_name(s), in.error,
			 in.message);
		assert_string_equal(line, expect);

		memset(&out, 0xaa, sizeof(out));
		assert_int_equal(kt_report_parse(line, &out), 0);
		assert_string_equal(out.volume, in.volume);
		assert_int_equal(out.status, in.status);
		assert_int_equal(out.error, in.error);
		assert_string_equal(out.message, in.message);

		/* Without its newline too. */
		line[n - 1] = '\0';
		assert_int_equal(kt_report_parse(line, &out), 0);
		assert_string_equal(out.message, in.message);
	}
}

static void test_round_trip_limits(void **state)
{
	struct kt_report in = { .status = KT_REPORT_FAILED, .error = 4095 };
	struct kt_report out;
	char line[KT_LINE_MAX];

	/* Longest name, longest message, largest errno: still one line. */
	memset(in.volume, 'v', sizeof(in.volume) - 1);
	memset(in.message, 'm', sizeof(in.message) - 1);
	assert_true(kt_report_format(&in, line, sizeof(line)) > 0);
	assert_true(strlen(line) < KT_LINE_MAX);
	assert_int_equal(kt_report_parse(line, &out), 0);
	assert_memory_equal(&out.volume, &in.volume, sizeof(in.volume));
	assert_string_equal(out.message, in.message);
	assert_int_equal(out.error, 4095);

	/* Empty message. */
	memset(&in.message, 0, sizeof(in.message));
	in.error = 0;
	assert_true(kt_report_format(&in, line, sizeof(line)) > 0);
	assert_int_equal(kt_report_parse(line, &out), 0);
	assert_string_equal(out.message, "");
	assert_int_equal(kt_report_parse("volume v opened 0", &out), 0);
	assert_string_equal(out.message, "");
}

static void test_format_sanitizes(void **state)
{
	struct kt_report in = { .volume = "home",
				.status = KT_REPORT_LOCKED,
				.error = 126 };
	struct kt_report out;
	char line[KT_LINE_MAX];

	strcpy(in.message, "a\nb\rc\td\x1b[0m\x7f");
	assert_true(kt_report_format(&in, line, sizeof(line)) > 0);
	assert_string_equal(line, "volume home locked 126 a?b?c?d?[0m?\n");
	assert_int_equal(kt_report_parse(line, &out), 0);
	assert_string_equal(out.message, "a?b?c?d?[0m?");
}

static void test_format_refuses(void **state)
{
	struct kt_report r = { .volume = "home", .status = KT_REPORT_OPENED };
	char line[KT_LINE_MAX];

	strcpy(r.message, "ok");
	/* Too small a buffer: -ENOBUFS at every size below the need. */
	for (size_t size = 0; size < strlen("volume home opened 0 ok\n") + 1;
	     size++)
		assert_int_equal(kt_report_format(&r, line, size), -ENOBUFS);
	assert_true(kt_report_format(&r, line, 25) > 0);

	r.status = _KT_REPORT_MAX;
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
	r.status = KT_REPORT_OPENED;
	r.error = -1;
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
	r.error = 4096;
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
	r.error = 0;
	strcpy(r.volume, "a b");
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
	strcpy(r.volume, "");
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
	strcpy(r.volume, "-x");
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
	strcpy(r.volume, "../x");
	assert_int_equal(kt_report_format(&r, line, sizeof(line)), -EINVAL);
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"done",
		"volume",
		"volume ",
		"volume home",
		"volume home opened",
		"volume home opened ",
		"Volume home opened 0 x",
		"volumes home opened 0 x",
		" volume home opened 0 x",
		"volume  home opened 0 x",
		"volume home  opened 0 x",
		"volume home opened  0 x",
		"volume home bogus 0 x",
		"volume home OPENED 0 x",
		"volume home opene 0 x",
		"volume home openedd 0 x",
		"volume home opened -1 x",
		"volume home opened +1 x",
		"volume home opened 01 x",
		"volume home opened 4096 x",
		"volume home opened 99999 x",
		"volume home opened 1e3 x",
		"volume home opened x x",
		"volume home/x opened 0 x",
		"volume .. opened 0 x",
		"volume .home opened 0 x",
		"volume -home opened 0 x",
		"volume h\xc3\xa9 opened 0 x",
		"volume aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa opened 0 x", /* 33 */
		"volume home opened 0 a\tb",
		"volume home opened 0 a\rb",
		"volume home opened 0 a\x1b",
		"volume home opened 0 a\x7f",
		"volume home opened 0 a\nb",
		"volume home opened 0 x\n\n",
		"volume\thome opened 0 x",
		"volume home\topened 0 x",
		"volume home opened\t0 x",
		"volume home opened 0\tx",
	};
	struct kt_report out, before;

	memset(&before, 0x5a, sizeof(before));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		out = before;
		if (kt_report_parse(bad[i], &out) != -EBADMSG)
			fail_msg("accepted: \"%s\"", bad[i]);
		/* ret_ untouched on failure */
		assert_memory_equal(&out, &before, sizeof(out));
	}
	assert_int_equal(kt_report_parse(NULL, &out), -EBADMSG);
}

static void test_parse_over_long(void **state)
{
	char line[KT_LINE_MAX * 2];
	struct kt_report out;
	size_t n;

	/* A message one byte longer than the field holds. */
	n = (size_t)snprintf(line, sizeof(line), "volume v failed 5 ");
	memset(line + n, 'm', sizeof(out.message));
	line[n + sizeof(out.message)] = '\0';
	assert_int_equal(kt_report_parse(line, &out), -EBADMSG);
	line[n + sizeof(out.message) - 1] = '\0';
	assert_int_equal(kt_report_parse(line, &out), 0);

	/* A line of KT_LINE_MAX bytes or more, whatever it holds. */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "volume v failed 5 ", 18);
	assert_int_equal(kt_report_parse(line, &out), -EBADMSG);
}

static void test_parse_high_bytes(void **state)
{
	struct kt_report out;

	/* UTF-8 in a message is data, not control. */
	assert_int_equal(kt_report_parse("volume v failed 2 caf\xc3\xa9", &out),
			 0);
	assert_string_equal(out.message, "caf\xc3\xa9");
	assert_int_equal(out.error, 2);
	assert_int_equal(out.status, KT_REPORT_FAILED);
}

/* ---- kt_line_read / kt_line_write over a socketpair ---------------- */

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
}

static void test_line_write_read(void **state)
{
	char buf[KT_LINE_MAX];
	int sv[2];

	pair(sv);
	assert_int_equal(kt_line_write(sv[1], "done"), 0);
	assert_int_equal(kt_line_write(sv[1], "volume v opened 0 ok\n"), 0);
	assert_int_equal(kt_line_write(sv[1], "close"), 0);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), 4);
	assert_string_equal(buf, "done");
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), 20);
	assert_string_equal(buf, "volume v opened 0 ok");
	/* Nothing after a newline was consumed. */
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 1000), 5);
	assert_string_equal(buf, "close");

	/* One line per call: no empty, inner-newline or over-long lines. */
	assert_int_equal(kt_line_write(sv[1], ""), -EINVAL);
	assert_int_equal(kt_line_write(sv[1], "\n"), -EINVAL);
	assert_int_equal(kt_line_write(sv[1], "a\nb"), -EINVAL);
	memset(buf, 'x', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(kt_line_write(sv[1], buf), -EINVAL);
	buf[KT_LINE_MAX - 2] = '\0';
	assert_int_equal(kt_line_write(sv[1], buf), 0);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0),
			 KT_LINE_MAX - 2);
	close(sv[0]);
	close(sv[1]);
}

static void test_line_split_writes(void **state)
{
	char buf[KT_LINE_MAX];
	int sv[2];
	pid_t pid;

	pair(sv);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char *const parts[] = { "vol", "ume v ope",
						     "ned 0 x", "\nd", "one\n" };

		for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
			if (write(sv[1], parts[i], strlen(parts[i])) < 0)
				_exit(1);
			usleep(20000);
		}
		_exit(0);
	}
	close(sv[1]);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 5000), 19);
	assert_string_equal(buf, "volume v opened 0 x");
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 5000), 4);
	assert_string_equal(buf, "done");
	/* The writer is gone: EOF before any byte. */
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 5000), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(sv[0]);
}

static void test_line_timeout(void **state)
{
	char buf[KT_LINE_MAX];
	long long start, took;
	int sv[2];

	pair(sv);
	start = kt_now_ms();
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), start + 200),
			 -ETIMEDOUT);
	took = kt_now_ms() - start;
	assert_true(took >= 190 && took < 2000);

	/* Half a line then silence: a timeout too, not a short line. */
	assert_int_equal(write(sv[1], "volu", 4), 4);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 100), -ETIMEDOUT);
	/* A deadline already past. */
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() - 1), -ETIMEDOUT);
	close(sv[0]);
	close(sv[1]);
}

static void test_line_eof(void **state)
{
	char buf[KT_LINE_MAX];
	int sv[2];

	pair(sv);
	close(sv[1]);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), 0);
	close(sv[0]);

	/* EOF in the middle of a line: the line is cut, not returned. */
	pair(sv);
	assert_int_equal(write(sv[1], "volume v", 8), 8);
	close(sv[1]);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 1000), -EBADMSG);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), 0);
	close(sv[0]);
}

static void test_line_over_long(void **state)
{
	char big[KT_LINE_MAX + 100], buf[KT_LINE_MAX], small[8];
	int sv[2];

	pair(sv);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(write(sv[1], big, strlen(big)), (ssize_t)strlen(big));
	assert_int_equal(write(sv[1], "done\n", 5), 5);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 1000), -EBADMSG);
	/* The rest of the long line was consumed: the next is whole. */
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf),
				      kt_now_ms() + 1000), 4);
	assert_string_equal(buf, "done");

	/* Longer than the caller's buffer. */
	assert_int_equal(write(sv[1], "12345678\nabc\n", 13), 13);
	assert_int_equal(kt_line_read(sv[0], small, sizeof(small), 0),
			 -EBADMSG);
	assert_int_equal(kt_line_read(sv[0], small, sizeof(small), 0), 3);
	assert_string_equal(small, "abc");
	/* Exactly as long as it holds. */
	assert_int_equal(write(sv[1], "1234567\n", 8), 8);
	assert_int_equal(kt_line_read(sv[0], small, sizeof(small), 0), 7);

	/* Empty lines and NUL bytes are not protocol. */
	assert_int_equal(write(sv[1], "\nab\0c\nok\n", 9), 9);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), -EBADMSG);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), -EBADMSG);
	assert_int_equal(kt_line_read(sv[0], buf, sizeof(buf), 0), 2);
	assert_string_equal(buf, "ok");
	close(sv[0]);
	close(sv[1]);
}

static void test_line_write_to_closed_peer(void **state)
{
	int sv[2];

	/* EPIPE, and no SIGPIPE: this runs inside PAM hosts. */
	pair(sv);
	close(sv[0]);
	assert_int_equal(kt_line_write(sv[1], "close"), -EPIPE);
	close(sv[1]);
	assert_int_equal(kt_line_write(sv[1], "close"), -EBADF);
}

/* keyturnctl's request line: only the exact form is taken. */
static void test_control_unlock(void **state)
{
	static const char *const bad[] = {
		"",	       "unlock",       "unlock ",     "unlock 0",
		"unlock 012",  "unlock -1",    "unlock +5",   " unlock 5",
		"unlock  5",   "unlock 5 ",    "unlock 5x",   "Unlock 5",
		"unlock\t5",   "unlock 0x10",  "lock 5",      "unlock 5\n",
	};
	char buf[32];
	size_t len = 7;

	assert_int_equal(kt_control_parse_unlock("unlock 1", 4096, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(kt_control_parse_unlock("unlock 4096", 4096, &len),
			 0);
	assert_int_equal(len, 4096);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		len = 7;
		if (kt_control_parse_unlock(bad[i], 4096, &len) != -EBADMSG)
			fail_msg("'%s' was not refused", bad[i]);
		assert_int_equal(len, 7); /* untouched */
	}
	/* Past the bound, also when the digits would overflow. */
	assert_int_equal(kt_control_parse_unlock("unlock 4097", 4096, &len),
			 -E2BIG);
	assert_int_equal(kt_control_parse_unlock("unlock "
						 "99999999999999999999999999",
						 4096, &len),
			 -E2BIG);
	assert_int_equal(len, 7);

	/* What keyturnctl writes, the agent takes back. */
	assert_int_equal(kt_control_format_unlock(4096, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "unlock 4096");
	assert_int_equal(kt_control_parse_unlock(buf, 4096, &len), 0);
	assert_int_equal(len, 4096);
	assert_int_equal(kt_control_format_unlock(0, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(kt_control_format_unlock(4096, buf, 8), -ENOBUFS);
}

/* ---- the hand-over state -------------------------------------------- */

static const char luks_line[] =
	"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
	"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice 253:0 0 0 "
	"/home/alice\n";
static const char ecryptfs_line[] =
	"volume priv ecryptfs reused lazy 10 77 9000000123 0:51 131 - - 0:0 "
	"987654 12345 /home/alice/Private dir\n";
static const char fscrypt_line[] =
	"volume secret fscrypt own keep 3 41 9000000124 8:1 5123 - "
	"0123456789abcdef0123456789abcdef 0:0 0 0 /home/alice/Secret\n";

static void test_opened_round_trip(void **state)
{
	struct kt_opened o, back;
	char buf[2048];

	assert_int_equal(kt_opened_parse(luks_line, strlen(luks_line), &o),
			 0);
	assert_string_equal(o.volume, "home");
	assert_int_equal(o.type, KT_VOLUME_LUKS2);
	assert_true(o.own);
	assert_int_equal(o.busy, KT_BUSY_KILL);
	assert_int_equal(o.busy_timeout, 5);
	assert_int_equal(o.mnt_id, 123);
	assert_int_equal(major(o.mnt_dev), 253);
	assert_int_equal(o.mnt_ino, 2);
	assert_string_equal(o.dm_name, "home-alice");
	assert_int_equal(o.dm_dev, makedev(253, 0));
	assert_string_equal(o.mountpoint, "/home/alice");
	assert_int_equal(kt_opened_format(&o, buf, sizeof(buf)),
			 (int)strlen(luks_line));
	assert_string_equal(buf, luks_line);

	/* The path is the rest of the line: spaces are kept. */
	assert_int_equal(kt_opened_parse(ecryptfs_line, strlen(ecryptfs_line),
					 &o), 0);
	assert_false(o.own);
	assert_int_equal(o.keys[0], 987654);
	assert_int_equal(o.keys[1], 12345);
	assert_string_equal(o.mountpoint, "/home/alice/Private dir");
	assert_true(kt_opened_format(&o, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, ecryptfs_line);
	assert_int_equal(kt_opened_parse(buf, strlen(buf), &back), 0);
	assert_memory_equal(&o, &back, sizeof(o));

	/* Too small a buffer is refused, never cut. */
	assert_int_equal(kt_opened_format(&o, buf, 20), -ENOBUFS);
}

/* An fscrypt directory: its identity and the key identifier to remove. */
static void test_opened_fscrypt(void **state)
{
	struct kt_opened o, back;
	char buf[2048];

	assert_int_equal(kt_opened_parse(fscrypt_line, strlen(fscrypt_line),
					 &o), 0);
	assert_int_equal(o.type, KT_VOLUME_FSCRYPT);
	assert_int_equal(o.busy, KT_BUSY_KEEP);
	assert_int_equal(o.mnt_dev, makedev(8, 1));
	assert_int_equal(o.mnt_ino, 5123);
	assert_string_equal(o.fscrypt_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(o.dm_uuid, "");
	assert_string_equal(o.mountpoint, "/home/alice/Secret");
	assert_int_equal(kt_opened_format(&o, buf, sizeof(buf)),
			 (int)strlen(fscrypt_line));
	assert_string_equal(buf, fscrypt_line);
	assert_int_equal(kt_opened_parse(buf, strlen(buf), &back), 0);
	assert_memory_equal(&o, &back, sizeof(o));

	/* No identifier, or one on another type: no record. */
	o.fscrypt_id[0] = '\0';
	assert_int_equal(kt_opened_format(&o, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kt_opened_parse(ecryptfs_line, strlen(ecryptfs_line),
					 &o), 0);
	strcpy(o.fscrypt_id, "0123456789abcdef0123456789abcdef");
	assert_int_equal(kt_opened_format(&o, buf, sizeof(buf)), -EINVAL);
}

/* What sscanf/strtok_r took and the strict parser does not. */
static void test_opened_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"volume",
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0",		  /* no path */
		"volume  home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* two spaces */
		"volume home luks2 own kill +5 123 0 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* a sign */
		"volume home luks2 own kill 05 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* a leading zero */
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-bob "
		"253:0 0 0 /h",		  /* UUID of another name */
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789ABCDEF0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* upper-case hex */
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"0:0 0 0 /h",		  /* no dm device */
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h/../etc",	  /* dot-dot */
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 relative",
		"volume home luks2 own kill 5 0 0 0:0 0 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* a path without a mount */
		"volume home luks2 own kill 5 123 9000000123 4096:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* major past 12 bits */
		"volume home luks2 own kill 5 123 9000000123 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 1 0 /h",		  /* keys for luks2 */
		"volume home luks2 mine kill 5 123 0 253:0 2 home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",
		"volume home luks2 own kill 5 18446744073709551616 "
		"9000000123 253:0 2 "
		"home-alice "
		"CRYPT-LUKS2-0123456789abcdef0123456789abcdef-home-alice "
		"253:0 0 0 /h",		  /* 2^64 */
		"volume priv ecryptfs own lazy 10 77 9000000123 0:51 131 - - 0:0 "
		"2147483648 0 /h",	  /* past a key serial */
		"volume priv ecryptfs own lazy 10 77 9000000123 0:51 131 x - 0:0 0 0 /h",
		"volume priv ecryptfs own lazy 10 77 9000000123 0:51 131 - - 0:0 0 0 "
		"/h\t",
		"volume priv ecryptfs own lazy 10 77 9000000123 0:51 131 - - 0:0 0 0 "
		"/h\n\n",		"volume s fscrypt own lazy 3 41 0 8:1 5123 - "
		"0123456789abcdef0123456789abcde 0:0 0 0 /h", /* 31 hex */
		"volume s fscrypt own lazy 3 41 0 8:1 5123 - "
		"0123456789ABCDEF0123456789abcdef 0:0 0 0 /h", /* upper case */
		"volume s fscrypt own lazy 3 41 0 8:1 5123 - - 0:0 0 0 /h",
		"volume s fscrypt own lazy 3 41 0 8:1 5123 x "
		"0123456789abcdef0123456789abcdef 0:0 0 0 /h", /* a dm name */
		"volume s fscrypt own lazy 3 41 0 8:1 5123 - "
		"0123456789abcdef0123456789abcdef 0:0 7 0 /h", /* a key serial */
		"volume s fscrypt own lazy 3 0 0 0:0 0 - "
		"0123456789abcdef0123456789abcdef 0:0 0 0 -", /* no directory */
		"volume s fscrypt own lazy 3 41 0 8:1 5123 - "
		"0123456789abcdef0123456789abcdef0 0:0 0 0 /h", /* 33 hex */
	};
	struct kt_opened o;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(kt_opened_parse(bad[i], strlen(bad[i]), &o),
				 -EBADMSG);
	/* An embedded NUL. */
	assert_int_equal(kt_opened_parse("volume\0x", 8, &o), -EBADMSG);
}

static void test_state_round_trip(void **state)
{
	struct kt_state *s = calloc(1, sizeof(*s)), *back = calloc(1, sizeof(*s));
	char *buf = malloc(KT_STATE_MAX), text[4096];
	int n;

	assert_non_null(s);
	assert_non_null(back);
	assert_non_null(buf);
	snprintf(text, sizeof(text),
		 "keyturn-state 2\nuser 1000 1000 alice\n"
		 "control /run/keyturn/1000/agent.42\n%s%s%s",
		 luks_line, ecryptfs_line, fscrypt_line);
	assert_int_equal(kt_state_parse(text, strlen(text), s), 0);
	assert_int_equal(s->uid, 1000);
	assert_string_equal(s->user, "alice");
	assert_string_equal(s->control, "/run/keyturn/1000/agent.42");
	assert_int_equal(s->n_volumes, 3);
	n = kt_state_format(s, buf, KT_STATE_MAX);
	assert_int_equal(n, (int)strlen(text));
	assert_string_equal(buf, text);
	assert_int_equal(kt_state_parse(buf, (size_t)n, back), 0);
	assert_memory_equal(s, back, sizeof(*s));

	/* No control socket, no volume: still a state. */
	assert_int_equal(kt_state_parse("keyturn-state 2\nuser 0 0 root\n", 30,
					 s), 0);
	assert_int_equal(s->n_volumes, 0);
	assert_string_equal(s->control, "");
	free(buf);
	free(s);
	free(back);
}

static void test_state_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"keyturn-hold-state 1\nvolume home\n", /* the old format */
		"keyturn-state 2\n",
		"keyturn-state 2\nuser 1000 1000 alice", /* no newline */
		"keyturn-state 2\nuser 1000 1000 alice\n\n",
		"keyturn-state 2\nuser 1000 1000 al/ice\n",
		"keyturn-state 2\nuser 4294967295 1000 alice\n",
		"keyturn-state 2\nuser 1000 1000 alice \n",
		"keyturn-state 2\nuser 1000 alice\n",
		"keyturn-state 2\nuser 1000 1000 alice\ncontrol rel\n",
		"keyturn-state 2\nuser 1000 1000 alice\ncontrol /a\n"
		"control /b\n",
		"keyturn-state 2\nuser 1000 1000 alice\nauth home 12\n",
		"keyturn-state 2\nuser 1000 1000 alice\nvolume home\n",
	};
	struct kt_state *s = calloc(1, sizeof(*s));
	char text[4096];

	assert_non_null(s);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(kt_state_parse(bad[i], strlen(bad[i]), s),
				 -EBADMSG);
	/* The same volume twice. */
	snprintf(text, sizeof(text),
		 "keyturn-state 2\nuser 1000 1000 alice\n%s%s", luks_line,
		 luks_line);
	assert_int_equal(kt_state_parse(text, strlen(text), s), -EBADMSG);
	/* A NUL inside. */
	assert_int_equal(kt_state_parse("keyturn-state 2\0user 0 0 a\n", 27,
					 s), -EBADMSG);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_round_trip_every_status),
		cmocka_unit_test(test_parse_rekey_lines),
		cmocka_unit_test(test_round_trip_limits),
		cmocka_unit_test(test_format_sanitizes),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_over_long),
		cmocka_unit_test(test_parse_high_bytes),
		cmocka_unit_test(test_line_write_read),
		cmocka_unit_test(test_line_split_writes),
		cmocka_unit_test(test_line_timeout),
		cmocka_unit_test(test_line_eof),
		cmocka_unit_test(test_line_over_long),
		cmocka_unit_test(test_line_write_to_closed_peer),
		cmocka_unit_test(test_control_unlock),
		cmocka_unit_test(test_opened_round_trip),
		cmocka_unit_test(test_opened_fscrypt),
		cmocka_unit_test(test_opened_malformed),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
