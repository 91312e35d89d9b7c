/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_STASH_H
#define KT_STASH_H

#include <keyutils.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "secret.h"

/*
 * The login passphrase between auth and open_session when a host runs
 * them in different processes (OpenSSH authenticates keyboard-interactive
 * logins in a forked child: only the kernel keyring and the PAM
 * environment come back from it).
 *
 * The passphrase is sealed (XChaCha20-Poly1305) with a one-time random
 * key. The sealed bytes go into a "user" key that is linked into the
 * host's session keyring, owned by root, with permissions for its owner
 * only and none for possessors (so the other processes that share that
 * keyring, su's caller among them, can neither read, search nor update
 * it) and a timeout. The one-time key and the key's serial go into the
 * PAM environment as KEYTURN_STASH=<serial>:<64 hex digits>. Neither half
 * is of use without the other, both are gone after open_session, and the
 * kernel forgets the sealed half on its own when the timeout runs out
 * (a failed login, a session never opened).
 */
#define KT_STASH_ENV "KEYTURN_STASH"
#define KT_STASH_TIMEOUT 120 /* s: a second factor after the password */
#define KT_STASH_DESC_PREFIX "keyturn-stash:"
#define KT_STASH_SEAL_KEY_BYTES 32
/* "<serial>:<hex>" with its NUL */
#define KT_STASH_REF_MAX (10 + 1 + 2 * KT_STASH_SEAL_KEY_BYTES + 1)

/* Where a stash is: the key's serial and the one-time sealing key. */
struct kt_stash_ref {
	key_serial_t key;
	uint8_t seal_key[KT_STASH_SEAL_KEY_BYTES];
};

/* Pure: "<serial>:<hex>" and back. The parse takes exactly a positive
 * decimal serial without sign or leading zero, ':' and 64 lowercase hex
 * digits; -EBADMSG otherwise. */
int kt_stash_ref_format(const struct kt_stash_ref *ref, char *buf,
			size_t size) _wur_;
int kt_stash_ref_parse(const char *text, struct kt_stash_ref *ret) _wur_;

/* Pure: seals pass for user under ref->seal_key into out (nonce, then
 * ciphertext and tag): KT_STASH_SEALED_LEN(pass->len) bytes. */
#define KT_STASH_NONCE_BYTES 24
#define KT_STASH_TAG_BYTES 16
#define KT_STASH_SEALED_LEN(n)                                               \
	(KT_STASH_NONCE_BYTES + (n) + KT_STASH_TAG_BYTES)
int kt_stash_seal(const uint8_t seal_key[KT_STASH_SEAL_KEY_BYTES],
		  const char *user, const struct kt_secret *pass,
		  uint8_t *out, size_t out_size) _wur_;
/* The reverse; -EBADMSG when it does not authenticate (another user,
 * another key, altered bytes). */
int kt_stash_open(const uint8_t seal_key[KT_STASH_SEAL_KEY_BYTES],
		  const char *user, const uint8_t *sealed, size_t len,
		  struct kt_secret **ret) _wur_;

/*
 * Seals pass and puts it into the calling process's session keyring as
 * described above, expiring after timeout seconds. The caller must run
 * with fsuid 0. Fills *ret (to be kept in the PAM environment).
 */
int kt_stash_put(const char *user, const struct kt_secret *pass,
		 unsigned timeout, struct kt_stash_ref *ret) _wur_;

/*
 * Reads the stash ref names, checks that it is one keyturn made (type
 * "user", owner root, our permissions, our description), unseals it for
 * user and drops the key. -ENOKEY when it is gone or not ours, -EBADMSG
 * when it does not unseal.
 */
int kt_stash_take(const struct kt_stash_ref *ref, const char *user,
		  struct kt_secret **ret) _wur_;

/* Revokes and unlinks the stash key, if it is still there and ours. */
void kt_stash_drop(key_serial_t key);

#endif
