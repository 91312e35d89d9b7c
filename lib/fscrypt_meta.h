/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_FSCRYPT_META_H
#define KT_FSCRYPT_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fscrypt.h"
#include "macro.h"
#include "secret.h"

/*
 * Import from the fscrypt tool (google/fscrypt, Debian package fscrypt).
 * Its metadata lives in <mountpoint>/.fscrypt/policies/<identifier hex> and
 * .fscrypt/protectors/<descriptor hex>; a login protector of a filesystem
 * other than the root one is a link file there ("PATH=/\n") and the
 * protector itself lives in /.fscrypt/protectors/. Each file is one
 * serialized protobuf message (fscrypt's metadata/metadata.proto):
 *
 *   ProtectorData    1 descriptor (16 hex), 2 source (1 = pam_passphrase),
 *                    3 name, 4 HashingCosts, 5 salt (16), 6 uid,
 *                    7 WrappedKeyData (the 32-byte protector key)
 *   HashingCosts     2 time, 3 memory (KiB), 4 parallelism,
 *                    5 truncation_fixed
 *   WrappedKeyData   1 IV (16), 2 encrypted key, 3 HMAC (32)
 *   PolicyData       1 key descriptor (32 hex for v2), 2 EncryptionOptions,
 *                    3 WrappedPolicyKey (repeated: one per protector)
 *   EncryptionOptions 1 padding, 2 contents mode, 3 filenames mode,
 *                    4 policy version
 *   WrappedPolicyKey 1 protector descriptor, 2 WrappedKeyData (the 64-byte
 *                    policy key)
 *
 * The reader is strict: only varint and length-delimited wire types, no
 * field it does not know, no field twice (but the repeated one), varints
 * of at most 10 bytes that fit their field, lengths inside the input, and
 * files of at most KT_FSCRYPT_META_MAX bytes. What keyturn cannot honour is
 * refused after parsing, with *ret_reason (may be NULL) set to a static
 * sentence that says why. Errors:
 *   -EBADMSG          not a well-formed message of that type
 *   -EPROTONOSUPPORT  well-formed, but something keyturn does not support
 *                     (a protector other than a login one, a v1 policy,
 *                     an unknown mode, hashing costs past the bounds)
 *   -E2BIG            larger than KT_FSCRYPT_META_MAX
 *
 * The unwrap, as fscrypt's crypto/crypto.go does it:
 *   wrapping key = Argon2id(login passphrase, salt, time, memory KiB,
 *                  parallelism), 32 bytes
 *   enc || auth  = HKDF-SHA256(wrapping key, no salt, no info), 2 x 32 bytes
 *   check          HMAC-SHA256(auth, IV || encrypted) = HMAC
 *   key          = AES-256-CTR(enc, IV as the 128-bit big-endian counter)
 * first for the protector key under the passphrase, then for the policy
 * key under the protector key. keyturn also checks what fscrypt only
 * records: the protector descriptor is the first 8 bytes of
 * SHA-512(SHA-512(protector key)) in hex, and the policy key's identifier
 * (kt_fscrypt_key_identifier) is the policy's descriptor.
 */

#define KT_FSCRYPT_META_MAX 8192
#define KT_FSCRYPT_DESCRIPTOR_SIZE 8    /* protector descriptors */
#define KT_FSCRYPT_DESCRIPTOR_HEX (2 * KT_FSCRYPT_DESCRIPTOR_SIZE)
#define KT_FSCRYPT_PROTECTOR_KEY_SIZE 32
#define KT_FSCRYPT_IV_SIZE 16
#define KT_FSCRYPT_HMAC_SIZE 32
#define KT_FSCRYPT_SALT_SIZE 16
#define KT_FSCRYPT_MAX_SLOTS 16          /* wrapped keys in one policy */

/* fscrypt's SourceType. */
#define KT_FSCRYPT_SOURCE_PAM_PASSPHRASE 1

/* Bounds on the protector's Argon2id costs: the import runs them once, as
 * root, and a file that asked for more is refused rather than obeyed. */
#define KT_FSCRYPT_TIME_MAX 64
#define KT_FSCRYPT_MEMORY_KIB_MAX (1024 * 1024)  /* 1 GiB */
#define KT_FSCRYPT_PARALLELISM_MAX 64

struct kt_fscrypt_wrapped_key {
	uint8_t iv[KT_FSCRYPT_IV_SIZE];
	uint8_t encrypted[KT_FSCRYPT_KEY_SIZE];
	size_t encrypted_len;
	uint8_t hmac[KT_FSCRYPT_HMAC_SIZE];
};

/* A login protector (ProtectorData with source pam_passphrase). */
struct kt_fscrypt_protector {
	uint8_t descriptor[KT_FSCRYPT_DESCRIPTOR_SIZE];
	uint32_t time_cost;
	uint32_t memory_kib;
	uint32_t parallelism;
	uint8_t salt[KT_FSCRYPT_SALT_SIZE];
	int64_t uid;   /* the user whose login passphrase it is */
	struct kt_fscrypt_wrapped_key wrapped;  /* 32 bytes */
};

struct kt_fscrypt_policy_slot {
	uint8_t protector[KT_FSCRYPT_DESCRIPTOR_SIZE];
	struct kt_fscrypt_wrapped_key wrapped;  /* 64 bytes */
};

/* A v2 policy (PolicyData). */
struct kt_fscrypt_policy_data {
	uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE];
	uint8_t contents_mode;
	uint8_t filenames_mode;
	uint8_t padding;
	size_t n_slots;
	struct kt_fscrypt_policy_slot slots[KT_FSCRYPT_MAX_SLOTS];
};

int kt_fscrypt_protector_parse(const void *buf, size_t len,
			       struct kt_fscrypt_protector *ret,
			       const char **ret_reason) _wur_;

int kt_fscrypt_policy_parse(const void *buf, size_t len,
			    struct kt_fscrypt_policy_data *ret,
			    const char **ret_reason) _wur_;

/*
 * A link file ("PATH=<mountpoint>\n", older versions "UUID=...\n" too):
 * 0 if it names the root filesystem's metadata ("/"), which is the only
 * place keyturn looks for a login protector; -EBADMSG if it is not a link
 * file, -EPROTONOSUPPORT if it names another place.
 */
int kt_fscrypt_link_parse(const void *buf, size_t len,
			  const char **ret_reason) _wur_;

/* Lower-case hex of a protector descriptor; ret_hex holds
 * KT_FSCRYPT_DESCRIPTOR_HEX + 1 bytes. */
void kt_fscrypt_descriptor_hex(const uint8_t d[KT_FSCRYPT_DESCRIPTOR_SIZE],
			       char ret_hex[KT_FSCRYPT_DESCRIPTOR_HEX + 1]);

/*
 * The policy's raw 64-byte key, unwrapped with the login passphrase through
 * protector, in secure memory. Every intermediate key lives in secure
 * memory or is wiped. Errors:
 *   -EACCES   the passphrase does not open the protector (HMAC mismatch)
 *   -ENOENT   the policy has no key wrapped by this protector
 *   -EBADMSG  the policy's wrapped key fails its HMAC, or a key does not
 *             match its descriptor: the metadata is corrupt or was
 *             tampered with
 *   -EINVAL   passphrase missing or longer than KT_PASSPHRASE_MAX
 */
int kt_fscrypt_import_key(const struct kt_fscrypt_protector *protector,
			  const struct kt_fscrypt_policy_data *policy,
			  const struct kt_secret *passphrase,
			  struct kt_secret **ret_key,
			  const char **ret_reason) _wur_;

/*
 * One wrapped key under a 32-byte wrapping key (the second half of the
 * above, exposed for known-answer tests). -EACCES on an HMAC mismatch.
 */
int kt_fscrypt_unwrap(const struct kt_secret *wrapping_key,
		      const struct kt_fscrypt_wrapped_key *wrapped,
		      struct kt_secret **ret_key) _wur_;

/*
 * Reads <mount_fd>/.fscrypt/KIND/NAME (KIND "policies" or "protectors";
 * NAME one path component) into buf, through descriptors opened with
 * O_NOFOLLOW and checked after open (lib/fscrypt_locate.c says what is
 * accepted). -E2BIG if the file holds more than size bytes, -EPERM for
 * unsafe ownership or modes, -ELOOP for a symlink, -ENOENT if absent.
 */
int kt_fscrypt_meta_read(int mount_fd, const char *kind, const char *name,
			 uid_t uid, uint8_t *buf, size_t size,
			 size_t *ret_len, const char **ret_reason) _wur_;

/*
 * A new descriptor (O_CLOEXEC) of the root directory of the mount that
 * dir_fd is on: where fscrypt keeps that filesystem's .fscrypt. Found by
 * walking ".." from the descriptor (mount IDs from statx, kernel 5.8 or
 * later; -EOPNOTSUPP before). A bind mount of a subtree has no .fscrypt
 * at its root: the reads that follow then say so (-ENOENT).
 */
int kt_fscrypt_mount_root(int dir_fd) _wur_;

/*
 * The whole import of a directory the fscrypt tool encrypted: its v2
 * policy (from the kernel), the policy file on its filesystem (mount_fd,
 * the root directory of the filesystem the directory is on), the user's
 * login protector there or, through a link file, on the root filesystem
 * (root_fd, "/"), then kt_fscrypt_import_key(). *ret_key gets the raw key,
 * ret_identifier its identifier. Errors as above, and those of
 * kt_fscrypt_get_policy(); -EPERM also for a login protector of another
 * uid. The caller finds mount_fd (a bind mount of a subtree has no
 * .fscrypt of its own: fscrypt itself then looks at the whole
 * filesystem's mount).
 */
int kt_fscrypt_import_directory(int dir_fd, int mount_fd, int root_fd,
				uid_t uid, const struct kt_secret *passphrase,
				struct kt_secret **ret_key,
				uint8_t ret_identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
				const char **ret_reason) _wur_;

#endif
