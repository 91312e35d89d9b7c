/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_ECRYPTFS_H
#define KT_ECRYPTFS_H

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "secret.h"

/*
 * eCryptfs auth tokens, built byte for byte as ecryptfs-utils builds them
 * (libecryptfs: generate_passphrase_sig(), generate_payload(),
 * ecryptfs_add_passphrase_key_to_keyring()), so that the kernel accepts
 * them and a directory made by ecryptfs-setup-private mounts with them:
 *
 *   key       = SHA-512 iterated over salt || passphrase, 65536 hashes in
 *               all (the first over salt || passphrase, then 65535 over
 *               the previous digest); all 64 bytes are the key
 *   signature = lower-case hex of the first 8 bytes of SHA-512(key)
 *   payload   = the kernel's struct ecryptfs_auth_tok (version 0x0004,
 *               token_type ECRYPTFS_PASSWORD, 740 bytes on x86_64),
 *               added as a "user" key whose description is the signature.
 *
 * The main key uses the salt 0x0011223344556677: ecryptfs-utils reads a
 * "salt" from ~/.ecryptfsrc, but its parser never accepts one, so every
 * ecryptfs-utils directory uses the default. The filename key (fnek) is
 * derived from the same mount passphrase with the salt argument set to
 * the *string* "9988776655443322", of which libecryptfs reads 8 bytes:
 * the ASCII "99887766". Compatibility needs that quirk.
 *
 * These functions are pure: no keyring, no kernel. Vectors made by the
 * real libecryptfs are in tests/unit/test_ecryptfs.c.
 */

#define KT_ECRYPTFS_SALT_SIZE 8
#define KT_ECRYPTFS_SIG_HEX 16            /* ret_sig holds this + NUL */
#define KT_ECRYPTFS_KEY_SIZE 64
#define KT_ECRYPTFS_HASH_ROUNDS 65536
#define KT_ECRYPTFS_AUTH_TOK_SIZE 740     /* sizeof(struct ecryptfs_auth_tok) */
/* ECRYPTFS_MAX_PASSPHRASE_BYTES: libecryptfs refuses longer ones. */
#define KT_ECRYPTFS_PASSPHRASE_MAX 64

#define KT_ECRYPTFS_SALT_DEFAULT                                             \
	((const uint8_t[KT_ECRYPTFS_SALT_SIZE]){ 0x00, 0x11, 0x22, 0x33,     \
						 0x44, 0x55, 0x66, 0x77 })
/* The salt the filename key really gets (see above): ASCII, not hex. */
#define KT_ECRYPTFS_SALT_FNEK ((const uint8_t *)"99887766")

/*
 * The auth-token payload for mount_passphrase under salt (8 bytes;
 * KT_ECRYPTFS_SALT_DEFAULT for directories made by ecryptfs-utils).
 * *ret_payload gets KT_ECRYPTFS_AUTH_TOK_SIZE bytes in secure memory (it
 * holds the key); ret_sig gets the 16 hex digits and a NUL, which are the
 * key description to add it under and the ecryptfs_sig= mount option.
 * -EINVAL: passphrase empty, longer than KT_ECRYPTFS_PASSPHRASE_MAX, or
 * with a NUL byte (libecryptfs would silently cut it there).
 */
int kt_ecryptfs_auth_tok(const struct kt_secret *mount_passphrase,
			 const uint8_t salt[KT_ECRYPTFS_SALT_SIZE],
			 struct kt_secret **ret_payload,
			 char ret_sig[KT_ECRYPTFS_SIG_HEX + 1]) _wur_;

/* The filename-encryption key's payload and signature (ecryptfs_fnek_sig=)
 * for mount_passphrase, as ecryptfs-utils makes it. */
int kt_ecryptfs_fnek_auth_tok(const struct kt_secret *mount_passphrase,
			      struct kt_secret **ret_payload,
			      char ret_sig[KT_ECRYPTFS_SIG_HEX + 1]) _wur_;

/*
 * Only the signature (as in ~/.ecryptfs/Private.sig), e.g. to check at
 * enrollment that a mount passphrase belongs to a directory.
 */
int kt_ecryptfs_sig(const struct kt_secret *mount_passphrase,
		    const uint8_t salt[KT_ECRYPTFS_SALT_SIZE],
		    char ret_sig[KT_ECRYPTFS_SIG_HEX + 1]) _wur_;

/*
 * The mount data ecryptfs-utils' mount.ecryptfs_private passes, which
 * directories made by ecryptfs-setup-private need (their file names are
 * encrypted with AES and 16-byte keys, taken from these options):
 *   [ecryptfs_check_dev_ruid,]ecryptfs_cipher=aes,ecryptfs_key_bytes=16,
 *   ecryptfs_unlink_sigs,ecryptfs_sig=<sig>[,ecryptfs_fnek_sig=<fnek>]
 * fnek_sig NULL: no filename encryption. ecryptfs_check_dev_ruid makes the
 * kernel refuse the mount unless the lower directory belongs to the
 * mounting process's *real* uid: a root caller either leaves it out or
 * sets its real uid to the user around mount(). -EINVAL for a signature
 * that is not 16 lower-case hex digits. *ret_data is malloc'ed.
 */
int kt_ecryptfs_mount_data(const char *sig, const char *fnek_sig,
			   bool check_dev_ruid, char **ret_data) _wur_;

#endif
