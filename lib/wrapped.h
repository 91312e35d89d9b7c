/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_WRAPPED_H
#define KT_WRAPPED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "secret.h"

/*
 * keyturn's wrapped mount passphrase: a small versioned file that holds
 * the eCryptfs mount passphrase, encrypted with XChaCha20-Poly1305 under a
 * 32-byte key that Argon2id (v1.3) derives from the login passphrase and
 * a random salt. The whole header is the AEAD's associated data, so that
 * no byte of the file can change unnoticed. Little-endian, version 1:
 *
 *   off  size
 *     0     8  magic "keyturnW"
 *     8     4  version (1)
 *    12     4  Argon2 t_cost (iterations)
 *    16     4  Argon2 m_cost in KiB
 *    20     4  Argon2 parallelism (lanes and threads)
 *    24     4  length of the mount passphrase
 *    28    16  Argon2 salt
 *    44    24  XChaCha20-Poly1305 nonce
 *    68   n+16 ciphertext and tag
 *
 * Errors, the same from the parser and from the file functions, so that
 * callers can tell the user what is wrong:
 *   -ENODATA      empty
 *   -EMEDIUMTYPE  not a keyturn wrapped file (magic)
 *   -ENOTSUP      a version this keyturn does not know
 *   -EINVAL       truncated (shorter than its header says)
 *   -E2BIG        a parameter or length above keyturn's bound
 *   -ERANGE       a parameter below the minimum (zero iterations, ...)
 *   -EBADMSG      trailing bytes, or the AEAD refused: a tampered file
 *                 or a wrong login passphrase (the AEAD can't tell which)
 * Bounds are checked before Argon2 runs: a hostile file costs nothing.
 */

#define KT_WRAPPED_VERSION 1
#define KT_WRAPPED_HEADER_SIZE 68
#define KT_WRAPPED_SALT_SIZE 16
#define KT_WRAPPED_NONCE_SIZE 24
#define KT_WRAPPED_TAG_SIZE 16
#define KT_WRAPPED_KEY_SIZE 32
#define KT_WRAPPED_SIZE_MAX                                                  \
	(KT_WRAPPED_HEADER_SIZE + KT_PASSPHRASE_MAX + KT_WRAPPED_TAG_SIZE)

#define KT_WRAPPED_T_COST_MAX 1000
#define KT_WRAPPED_M_COST_MAX (1024u * 1024u)     /* KiB: 1 GiB */
#define KT_WRAPPED_PARALLELISM_MAX 16
/* Argon2's own floor: 8 KiB per lane. */
#define KT_WRAPPED_M_COST_MIN(parallelism) (8u * (parallelism))

/* Calibration defaults (enrollment): unwrap in about half a second, with
 * at most 1 GiB (and at most half the RAM). */
#define KT_WRAPPED_TARGET_MS_DEFAULT 500
#define KT_WRAPPED_M_COST_DEFAULT KT_WRAPPED_M_COST_MAX

struct kt_wrapped_params {
	uint32_t t_cost;
	uint32_t m_cost_kib;
	uint32_t parallelism;
};

/* A parsed file; the pointers point into the buffer given to the parser. */
struct kt_wrapped_header {
	uint32_t version;
	struct kt_wrapped_params params;
	size_t passphrase_len;
	const uint8_t *salt;          /* KT_WRAPPED_SALT_SIZE bytes */
	const uint8_t *nonce;         /* KT_WRAPPED_NONCE_SIZE bytes */
	const uint8_t *ciphertext;    /* passphrase_len + tag */
	size_t ciphertext_len;
	size_t header_len;            /* the associated data: buf[0..len) */
};

/* 0 if p is within keyturn's bounds, else -ERANGE / -E2BIG. */
int kt_wrapped_params_check(const struct kt_wrapped_params *p) _wur_;

/*
 * Pure parse and bounds check of a wrapped file held in buf; no
 * cryptography, no I/O (a fuzz target). Errors as above.
 */
int kt_wrapped_parse(const uint8_t *buf, size_t len,
		     struct kt_wrapped_header *ret) _wur_;

/*
 * Wraps mount_passphrase (1..KT_PASSPHRASE_MAX bytes) under login with
 * the Argon2id cost p, with a fresh random salt and nonce. *ret_buf
 * (malloc'ed, not secret) gets the file, to be freed with free().
 */
int kt_wrapped_seal(const struct kt_secret *login,
		    const struct kt_secret *mount_passphrase,
		    const struct kt_wrapped_params *p,
		    uint8_t **ret_buf, size_t *ret_len) _wur_;

/*
 * Unwraps: *ret_mount_passphrase gets the mount passphrase in secure
 * memory. -EBADMSG for a wrong login passphrase or a tampered file,
 * -ENOMEM if Argon2 could not get its memory, other errors as above.
 */
int kt_wrapped_open(const uint8_t *buf, size_t len,
		    const struct kt_secret *login,
		    struct kt_secret **ret_mount_passphrase) _wur_;

/*
 * Re-key (password change): opens buf with old_login and seals the same
 * mount passphrase under new_login with the same cost (p NULL) or p.
 */
int kt_wrapped_rewrap(const uint8_t *buf, size_t len,
		      const struct kt_secret *old_login,
		      const struct kt_secret *new_login,
		      const struct kt_wrapped_params *p,
		      uint8_t **ret_buf, size_t *ret_len) _wur_;

/*
 * Writes buf as the file name (a plain name, no '/') in the directory
 * dirfd (which may be an O_PATH descriptor): into a new temporary file in
 * the same directory (O_EXCL|O_NOFOLLOW), fchown to owner:group
 * ((uid_t)-1 / (gid_t)-1 leave them), mode 0600, written, fsynced, then
 * renamed over name and the directory fsynced. Either the old file or the
 * new one is there at every instant; the temporary file is removed on
 * failure, and after the rename so is any a write of name killed before
 * its own rename left (re-keys of a file are serialized by the session
 * lock; an enroll racing with another writer may then fail its rename).
 */
int kt_wrapped_write_at(int dirfd, const char *name, uid_t owner,
			gid_t group, const uint8_t *buf, size_t len) _wur_;

/*
 * Reads the file name in dirfd, never following a symlink, never opening
 * anything but a regular file (so a FIFO can't block and a device can't
 * be touched), checked through the open descriptor: owned by owner and
 * not accessible by group or other. Errors: -ELOOP symlink, -EISDIR
 * directory, -EBADFD other non-regular file, -EPERM wrong owner, -EACCES
 * mode open to group/other, -ENODATA empty, -EFBIG larger than
 * KT_WRAPPED_SIZE_MAX, -ESTALE replaced while being opened, or open()'s
 * -errno (-ENOENT ...). *ret_buf is malloc'ed; free() it.
 */
int kt_wrapped_read_at(int dirfd, const char *name, uid_t owner,
		       uint8_t **ret_buf, size_t *ret_len) _wur_;

/*
 * Chooses an Argon2id cost by a short benchmark, as cryptsetup does: at
 * least 3 iterations (or max_t_cost, if lower), memory raised up to
 * max_m_cost_kib (and half the RAM) first, then iterations up to
 * max_t_cost, until one derivation takes about target_ms (less when the
 * bounds stop it: the caller compares). 0 selects
 * KT_WRAPPED_TARGET_MS_DEFAULT, KT_WRAPPED_M_COST_DEFAULT and
 * KT_WRAPPED_T_COST_MAX. Parallelism: the CPUs online, at most 4.
 * -E2BIG / -ERANGE for bounds outside keyturn's.
 */
int kt_wrapped_calibrate(unsigned target_ms, uint32_t max_m_cost_kib,
			 uint32_t max_t_cost,
			 struct kt_wrapped_params *ret) _wur_;

/* libargon2's result as -errno: 0, -ENOMEM (its memory), -EAGAIN (its
 * threads), -EINVAL (anything else). */
int kt_argon2_errno(int argon2_result);

#endif
