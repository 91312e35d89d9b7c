/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_LUKS_H
#define KT_LUKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "secret.h"

/* libcryptsetup's messages go to the caller through this; lib/ never
 * logs. priority is a syslog priority. */
typedef void (*kt_log_fn)(int priority, const char *message, void *userdata);
void kt_luks_set_log(kt_log_fn fn, void *userdata);

struct kt_luks_token {
	int token;   /* token id */
	int keyslot; /* the keyslot assigned to it, -1 when none */
	/* That keyslot's KDF cost (0 when not Argon2): what opening it
	 * takes of memory and CPUs, to bound concurrent unlocks. */
	uint32_t memory_kib;
	uint32_t threads;
};

/*
 * Finds the luks2-keyring token of device whose key_description is
 * key_desc. -ENOENT: no such token; -EINVAL: not a LUKS2 device;
 * -ENOTUNIQ: more than one.
 */
int kt_luks_find_token(const char *device, const char *key_desc,
		       struct kt_luks_token *ret) _wur_;

/*
 * Opens device as dm_name through that token only, so only the keyslot
 * bound to it runs its KDF; dm_name NULL only checks the passphrase.
 * Returns the keyslot that opened. libcryptsetup reports both "key not
 * in keyring" and "wrong passphrase" as -EPERM: callers look the key up
 * first. -ENOENT: no token for key_desc; -EBADSLT: the token is there
 * but bound to no keyslot (its keyslot was destroyed).
 */
int kt_luks_open(const char *device, const char *dm_name,
		 const char *key_desc, uint32_t flags) _wur_;

/*
 * The same, for a pinned volume: -EMEDIUMTYPE when the device's LUKS2
 * UUID is not uuid (NULL: not pinned, not checked). Both also refuse,
 * with -EKEYREJECTED, a volume whose data segment or whose token-bound
 * keyslot is cipher_null (a keyslot that opens with any passphrase, data
 * written in clear), before any KDF runs; and after activation they
 * check what dm_name maps (UUID, cipher) and deactivate it if it is not
 * what was checked.
 */
int kt_luks_open_pinned(const char *device, const char *uuid,
			const char *dm_name, const char *key_desc,
			uint32_t flags) _wur_;

/* The LUKS2 UUID of device into buf. */
int kt_luks_uuid(const char *device, char *buf, size_t size) _wur_;

/* 1 when dm_name is active and backed by a LUKS2 device with the same
 * UUID as device, 0 when not active, -EEXIST when dm_name is taken by
 * something else. */
int kt_luks_active(const char *dm_name, const char *device) _wur_;

/* Deactivates; deferred asks the kernel to remove it when last closed.
 * 0 also when dm_name is not active. */
int kt_luks_close(const char *dm_name, bool deferred) _wur_;

/*
 * Enrollment: with an existing passphrase of the volume, adds a keyslot
 * for the login passphrase, a luks2-keyring token with description
 * key_desc, and assigns the keyslot to the token. -EEXIST when a token
 * for key_desc already exists; -EKEYREJECTED when the data segment or the
 * new keyslot is cipher_null. On failure nothing added stays behind.
 */
int kt_luks_enroll(const char *device, const struct kt_secret *existing,
		   const struct kt_secret *login, const char *key_desc,
		   struct kt_luks_token *ret) _wur_;

/* The same with the PBKDF of the new keyslot given (NULL: libcryptsetup's
 * default for LUKS2), for small machines and fast test volumes. */
struct crypt_pbkdf_type;
int kt_luks_enroll_pbkdf(const char *device, const struct kt_secret *existing,
			 const struct kt_secret *login, const char *key_desc,
			 const struct crypt_pbkdf_type *pbkdf,
			 struct kt_luks_token *ret) _wur_;

/*
 * Password change: makes the keyslot bound to key_desc's token take
 * new_pass instead of old. old is the old login passphrase or, when that
 * is lost, any other passphrase of the volume (a recovery keyslot). The
 * new keyslot gets the KDF cost of the one it replaces. Every header
 * write leaves a volume whose token opens with old or with new_pass:
 * libcryptsetup writes the new keyslot, already bound to the token,
 * before it retires the old one. Converges after an interruption: a
 * token left bound to both is cleaned up, by the same change run again
 * or by any later one; after every change that succeeds the token is
 * bound to the new keyslot alone. A change with a recovery passphrase
 * records the keyslots that exist (a keyturn-rekey token) before it adds
 * one, so that the next change removes a keyslot it added and could not
 * bind. Returns 0 re-keyed, 1 when
 * new_pass already opened the token's keyslot (nothing changed),
 * -EPERM when old opens nothing, -ENOENT when there is no such token.
 */
int kt_luks_rekey(const char *device, const char *key_desc,
		  const struct kt_secret *old, const struct kt_secret *new_pass,
		  struct kt_luks_token *ret) _wur_;

/*
 * Adds a recovery keyslot for recovery, unlocked with existing: its own
 * keyslot, bound to no token, so that logins never try it and password
 * changes never touch it. pbkdf NULL: libcryptsetup's default. Returns
 * the keyslot.
 */
int kt_luks_add_recovery(const char *device,
			 const struct kt_secret *existing,
			 const struct kt_secret *recovery,
			 const struct crypt_pbkdf_type *pbkdf) _wur_;

#endif
