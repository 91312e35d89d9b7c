/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_KEYRING_H
#define KT_KEYRING_H

#include <keyutils.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "secret.h"

/* Longest key description keyturn makes, with its NUL. */
#define KT_KEY_DESC_MAX 96
#define KT_KEY_PREFIX_DEFAULT "keyturn:"

/*
 * "<prefix><user>" into buf. The prefix is 1..32 bytes of
 * [A-Za-z0-9_.:-]; the user must pass kt_user_name_valid(). -EINVAL
 * otherwise, -ENAMETOOLONG if it does not fit.
 */
int kt_key_description(const char *prefix, const char *user, char *buf,
		       size_t size) _wur_;

/*
 * Adds the passphrase as a "user" key with description desc to @s:
 * owner root (uid 0, gid 0), permissions possessor view+read+search
 * (+setattr: the kernel revokes only with write or setattr), nothing for
 * anyone else, expiring after timeout seconds (0: no timeout).
 */
int kt_keyring_add_passphrase(const char *desc, const struct kt_secret *pass,
			      unsigned timeout, key_serial_t *ret) _wur_;

/* Searches @s (and what it links) for a key of type "user" and desc;
 * a key not owned by root is not keyturn's (-ENOKEY). */
int kt_keyring_find(const char *desc, key_serial_t *ret) _wur_;

/* "type;uid;gid;perm;description" of key into buf, NUL-terminated;
 * -ENAMETOOLONG when it does not fit, -errno. */
int kt_key_describe(key_serial_t key, char *buf, size_t size) _wur_;

/* Reads a key's payload into secure memory (never keyctl_read_alloc). */
int kt_keyring_read(key_serial_t key, struct kt_secret **ret) _wur_;

/* Revokes (payload gone at once) and invalidates (freed from the quota).
 * A key already gone is not an error. */
int kt_keyring_drop(key_serial_t key);

/* Adds a key of type "user" with a binary payload to @s, possessor
 * permissions only, owned by root (eCryptfs auth tokens). */
int kt_keyring_add_blob(const char *desc, const void *payload, size_t len,
			key_serial_t *ret) _wur_;

#endif
