/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_LUKS_H
#define KT_LUKS_H

#include <stdbool.h>
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
 * first.
 */
int kt_luks_open(const char *device, const char *dm_name,
		 const char *key_desc, uint32_t flags) _wur_;

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
 * for key_desc already exists. On failure nothing added stays behind.
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

#endif
