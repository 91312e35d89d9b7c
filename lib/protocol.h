/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_PROTOCOL_H
#define KT_PROTOCOL_H

#include <stddef.h>

#include "macro.h"

/*
 * Module <-> agent, one line a message over a socketpair, text only, no
 * secrets (re-key secrets go over a separate pipe).
 *
 * agent -> module, one line per volume, then "done":
 *   volume NAME STATUS ERRNO MESSAGE...
 *   done
 * module -> agent:
 *   close
 * re-key mode (password change) reports rekeyed, unchanged or failed per
 * volume, then "done".
 */
#define KT_LINE_MAX 512

enum kt_report_status {
	KT_REPORT_OPENED,   /* unlocked and mounted now */
	KT_REPORT_REUSED,   /* was already open */
	KT_REPORT_LOCKED,   /* left locked: no passphrase this session */
	KT_REPORT_FAILED,   /* tried and failed */
	KT_REPORT_CLOSED,   /* locked at session end */
	KT_REPORT_KEPT,     /* left open at session end (other sessions, busy) */
	KT_REPORT_REKEYED,  /* password change: now takes the new password */
	KT_REPORT_UNCHANGED, /* password change: took the new one already */
	_KT_REPORT_MAX,
};

struct kt_report {
	char volume[33];
	enum kt_report_status status;
	int error;                 /* positive errno, 0 for none */
	char message[KT_LINE_MAX - 64];
};

const char *kt_report_status_name(enum kt_report_status s);

/* "volume NAME STATUS ERRNO MESSAGE\n"; newlines and control bytes in the
 * message are replaced. -ENOBUFS if size is too small. */
int kt_report_format(const struct kt_report *r, char *buf, size_t size) _wur_;

/* Parses one line (with or without its newline); -EBADMSG on anything
 * malformed. */
int kt_report_parse(const char *line, struct kt_report *ret) _wur_;

/*
 * keyturnctl -> agent, on the control socket: "unlock LEN" and then LEN
 * bytes of passphrase. The format writes the line (no newline);
 * the parse takes exactly "unlock " and 1..max in decimal, no sign, no
 * leading zero, nothing after: -EBADMSG otherwise, -E2BIG past max.
 */
int kt_control_format_unlock(size_t len, char *buf, size_t size) _wur_;
int kt_control_parse_unlock(const char *line, size_t max,
			    size_t *ret_len) _wur_;

/*
 * Secrets for the agent, on its fd 4: each as a 32-bit length (host
 * order) and its bytes, in a new pipe whose read end is returned,
 * close-on-exec, the write end closed. They fit in a pipe's buffer, so
 * all is written before the agent exists: nothing blocks, no SIGPIPE.
 * -E2BIG past KT_PASSPHRASE_MAX each. A session agent gets the login
 * passphrase this way; the re-key mode the old and the new one.
 */
struct kt_secret;
int kt_secret_pipe(const struct kt_secret *const *secrets, size_t n) _wur_;
int kt_rekey_pipe(const void *old, size_t old_len, const void *new_pass,
		  size_t new_len) _wur_;
/* Reads one secret of that format before the deadline (CLOCK_MONOTONIC
 * ms): -EPIPE at EOF, -EBADMSG for a length of 0 or past the maximum,
 * -ETIMEDOUT, -errno. */
int kt_secret_pipe_read(int fd, long long deadline_ms,
			struct kt_secret **ret) _wur_;

/*
 * Reads one line from fd into buf (NUL-terminated, newline removed),
 * waiting at most until deadline_ms (CLOCK_MONOTONIC ms; 0: forever).
 * Returns the length, 0 at EOF before any byte, -ETIMEDOUT, -EBADMSG for
 * an over-long line, or -errno. Reads a byte at a time so nothing after
 * the newline is consumed.
 */
int kt_line_read(int fd, char *buf, size_t size, long long deadline_ms) _wur_;
int kt_line_write(int fd, const char *line) _wur_;
long long kt_now_ms(void);

#endif
