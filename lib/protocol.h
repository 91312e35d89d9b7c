/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_PROTOCOL_H
#define KT_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
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
/*
 * What a session opened, recorded when it opened (or reused) it, so
 * that its teardown locks exactly that, whatever happened to the config,
 * NSS or paths since: the agent hands these to keyturn-hold and back in
 * a sealed memfd, and keeps one file per open volume under
 * RUNDIR/UID/ so that the user's last session locks what earlier ones
 * opened. One line a volume, fields separated by one space, "-" for an
 * absent string, the path last (it may hold spaces):
 *
 *   volume NAME TYPE OWN BUSY TIMEOUT MNT_ID UNIQUE MAJ:MIN INO DM_NAME DM_UUID
 *          DM_MAJ:DM_MIN KEY KEY PATH
 *
 * TYPE luks2|ecryptfs|fscrypt; OWN own (this session opened it) or reused; BUSY
 * lazy|keep|kill; TIMEOUT seconds; MNT_ID the mount's id (statx
 * STATX_MNT_ID), UNIQUE its never-reused id (STATX_MNT_ID_UNIQUE, 0 where
 * the kernel has none), MAJ:MIN and INO the st_dev and st_ino of the mount's
 * root, PATH where it was mounted (0 0 0:0 0 -: no mount recorded);
 * DM_NAME, DM_UUID (CRYPT-LUKS2-<32 hex>-DM_NAME) and the dm device's
 * number for luks2, "- - 0:0" otherwise; KEY: eCryptfs auth-tok serials
 * this session added (0: none). Numbers are decimal without sign or
 * leading zero. Parsing is strict: -EBADMSG on anything else.
 *
 * TYPE fscrypt records a directory, not a mount: MNT_ID and UNIQUE are
 * those of the mount it is on, MAJ:MIN and INO the directory's own st_dev
 * and st_ino, PATH the directory, and the DM_UUID field holds the key
 * identifier of its v2 policy (32 lower-case hex), the key its teardown
 * removes; DM_NAME is "-", DM_MAJ:DM_MIN 0:0, KEY 0.
 */
#define KT_STATE_PATH_MAX 1024
#define KT_STATE_VOLUMES_MAX 32
#define KT_STATE_MAX (64 * 1024)
#define KT_STATE_MAGIC "keyturn-state 2"
#define KT_DM_UUID_PREFIX "CRYPT-LUKS2-"

struct kt_opened {
	char volume[33];
	enum kt_volume_type type;
	bool own;
	enum kt_busy_policy busy;
	unsigned busy_timeout;
	uint64_t mnt_id;	/* 0: no mount recorded */
	uint64_t mnt_unique;
	dev_t mnt_dev;
	uint64_t mnt_ino;
	char mountpoint[KT_STATE_PATH_MAX];
	char dm_name[128];	/* luks2 */
	char dm_uuid[12 + 32 + 1 + 127 + 1];
	dev_t dm_dev;
	int32_t keys[2];	/* ecryptfs: 0 for none */
	char fscrypt_id[33];	/* fscrypt: the policy's key identifier */
};

/* One record as a line with its newline; -ENOBUFS, -EINVAL for a record
 * the parser would refuse. Returns the length. */
int kt_opened_format(const struct kt_opened *o, char *buf, size_t size) _wur_;
/* One line (with or without its newline). */
int kt_opened_parse(const char *line, size_t len, struct kt_opened *ret) _wur_;

/*
 * The whole hand-over state:
 *   keyturn-state 2
 *   user UID GID NAME
 *   control PATH          (optional)
 *   volume ...            (0 to KT_STATE_VOLUMES_MAX)
 * every line ending in a newline, nothing else, no NUL.
 */
struct kt_state {
	uid_t uid;
	gid_t gid;
	char user[33];
	char control[108];	/* "" for none */
	size_t n_volumes;
	struct kt_opened volumes[KT_STATE_VOLUMES_MAX];
};

int kt_state_format(const struct kt_state *s, char *buf, size_t size) _wur_;
int kt_state_parse(const char *text, size_t len, struct kt_state *ret) _wur_;

int kt_line_read(int fd, char *buf, size_t size, long long deadline_ms) _wur_;
int kt_line_write(int fd, const char *line) _wur_;
long long kt_now_ms(void);

#endif
