/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecryptfs.h"

/*
 * The kernel's struct ecryptfs_auth_tok (fs/ecryptfs/ecryptfs_kernel.h,
 * mirrored in ecryptfs-utils' ecryptfs.h), used here only for its layout:
 * the payload is written field by field at these offsets into secure
 * memory, which need not be aligned. The outer struct is packed, the
 * inner ones are not (struct ecryptfs_password ends in 3 bytes of
 * padding, which libecryptfs leaves zero after its memset()).
 */
struct layout_session_key {
	int32_t flags;
	int32_t encrypted_key_size;
	int32_t decrypted_key_size;
	uint8_t encrypted_key[512];
	uint8_t decrypted_key[64];
};

struct layout_password {
	int32_t password_bytes;
	int32_t hash_algo;
	int32_t hash_iterations;
	int32_t session_key_encryption_key_bytes;
	uint32_t flags;
	uint8_t session_key_encryption_key[KT_ECRYPTFS_KEY_SIZE];
	uint8_t signature[KT_ECRYPTFS_SIG_HEX + 1];
	uint8_t salt[KT_ECRYPTFS_SALT_SIZE];
};

struct layout_private_key {
	uint32_t key_size;
	uint32_t data_len;
	uint8_t signature[KT_ECRYPTFS_SIG_HEX + 1];
	char key_mod_alias[16 + 1];
	uint8_t data[];
};

struct layout_auth_tok {
	uint16_t version;
	uint16_t token_type;
	uint32_t flags;
	struct layout_session_key session_key;
	uint8_t reserved[32];
	union {
		struct layout_password password;
		struct layout_private_key private_key;
	} token;
} __attribute__((packed));

_Static_assert(sizeof(struct layout_auth_tok) == KT_ECRYPTFS_AUTH_TOK_SIZE,
	       "struct ecryptfs_auth_tok is 740 bytes");
_Static_assert(offsetof(struct layout_auth_tok, token) == 628,
	       "auth_tok token offset");

#define PW_OFF(field)                                                        \
	(offsetof(struct layout_auth_tok, token) +                           \
	 offsetof(struct layout_password, field))

/* ECRYPTFS_VERSION_MAJOR 0x00, ECRYPTFS_VERSION_MINOR 0x04 */
#define ECRYPTFS_AUTH_TOK_VERSION 0x0004
#define ECRYPTFS_PASSWORD 0
#define PGP_DIGEST_ALGO_SHA512 10
#define ECRYPTFS_SESSION_KEY_ENCRYPTION_KEY_SET 0x02

static int check_passphrase(const struct kt_secret *p)
{
	if (!p || p->len == 0 || p->len > KT_ECRYPTFS_PASSPHRASE_MAX)
		return -EINVAL;
	/* libecryptfs takes a C string: a NUL would end it early, and
	 * keyturn would then derive from a different passphrase. */
	if (memchr(p->data, 0, p->len))
		return -EINVAL;
	return 0;
}

static void to_hex(char *dst, const uint8_t *src, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 0x0f];
	}
	dst[2 * len] = '\0';
}

/* key (64 bytes, secret) and sig from passphrase and salt, as
 * generate_passphrase_sig() makes them. */
static int derive(const struct kt_secret *passphrase, const uint8_t *salt,
		  uint8_t key[KT_ECRYPTFS_KEY_SIZE],
		  char sig[KT_ECRYPTFS_SIG_HEX + 1])
{
	uint8_t buf[KT_ECRYPTFS_SALT_SIZE + KT_ECRYPTFS_PASSPHRASE_MAX];
	uint8_t digest[crypto_hash_sha512_BYTES];
	int r;

	_Static_assert(crypto_hash_sha512_BYTES == KT_ECRYPTFS_KEY_SIZE,
		       "the key is one SHA-512 digest");
	r = check_passphrase(passphrase);
	if (r < 0)
		return r;
	if (sodium_init() < 0)
		return -EIO;

	memcpy(buf, salt, KT_ECRYPTFS_SALT_SIZE);
	memcpy(buf + KT_ECRYPTFS_SALT_SIZE, passphrase->data, passphrase->len);
	crypto_hash_sha512(key, buf,
			   KT_ECRYPTFS_SALT_SIZE + passphrase->len);
	sodium_memzero(buf, sizeof(buf));
	for (unsigned i = 1; i < KT_ECRYPTFS_HASH_ROUNDS; i++)
		crypto_hash_sha512(key, key, KT_ECRYPTFS_KEY_SIZE);

	/* The signature is public: it names the key in the keyring. */
	crypto_hash_sha512(digest, key, KT_ECRYPTFS_KEY_SIZE);
	to_hex(sig, digest, KT_ECRYPTFS_SIG_HEX / 2);
	sodium_memzero(digest, sizeof(digest));
	return 0;
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static int auth_tok(const struct kt_secret *passphrase, const uint8_t *salt,
		    struct kt_secret **ret_payload,
		    char ret_sig[KT_ECRYPTFS_SIG_HEX + 1])
{
	_cleanup_secret_ struct kt_secret *payload = NULL;
	char sig[KT_ECRYPTFS_SIG_HEX + 1];
	uint16_t v16;
	uint8_t *p;
	int r;

	r = check_passphrase(passphrase);
	if (r < 0)
		return r;
	/* Zeroed, like libecryptfs' memset(): every field not set below,
	 * the padding and the reserved bytes are 0. */
	payload = kt_secret_new(KT_ECRYPTFS_AUTH_TOK_SIZE);
	if (!payload)
		return kt_negerrno();
	p = payload->data;

	r = derive(passphrase, salt, p + PW_OFF(session_key_encryption_key),
		   sig);
	if (r < 0)
		return r;

	/* Native byte order: the kernel reads the struct as it is. */
	v16 = ECRYPTFS_AUTH_TOK_VERSION;
	memcpy(p + offsetof(struct layout_auth_tok, version), &v16, 2);
	v16 = ECRYPTFS_PASSWORD;
	memcpy(p + offsetof(struct layout_auth_tok, token_type), &v16, 2);
	put32(p, PW_OFF(hash_algo), PGP_DIGEST_ALGO_SHA512);
	put32(p, PW_OFF(session_key_encryption_key_bytes),
	      KT_ECRYPTFS_KEY_SIZE);
	put32(p, PW_OFF(flags), ECRYPTFS_SESSION_KEY_ENCRYPTION_KEY_SET);
	/* strncpy() of 16 characters: the 17th byte stays NUL. */
	memcpy(p + PW_OFF(signature), sig, KT_ECRYPTFS_SIG_HEX);
	memcpy(p + PW_OFF(salt), salt, KT_ECRYPTFS_SALT_SIZE);

	*ret_payload = TAKE_PTR(payload);
	memcpy(ret_sig, sig, sizeof(sig));
	return 0;
}

int kt_ecryptfs_auth_tok(const struct kt_secret *mount_passphrase,
			 const uint8_t salt[KT_ECRYPTFS_SALT_SIZE],
			 struct kt_secret **ret_payload,
			 char ret_sig[KT_ECRYPTFS_SIG_HEX + 1])
{
	if (!salt || !ret_payload || !ret_sig)
		return -EINVAL;
	return auth_tok(mount_passphrase, salt, ret_payload, ret_sig);
}

int kt_ecryptfs_fnek_auth_tok(const struct kt_secret *mount_passphrase,
			      struct kt_secret **ret_payload,
			      char ret_sig[KT_ECRYPTFS_SIG_HEX + 1])
{
	if (!ret_payload || !ret_sig)
		return -EINVAL;
	return auth_tok(mount_passphrase, KT_ECRYPTFS_SALT_FNEK, ret_payload,
			ret_sig);
}

int kt_ecryptfs_sig(const struct kt_secret *mount_passphrase,
		    const uint8_t salt[KT_ECRYPTFS_SALT_SIZE],
		    char ret_sig[KT_ECRYPTFS_SIG_HEX + 1])
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	char sig[KT_ECRYPTFS_SIG_HEX + 1];
	int r;

	if (!salt || !ret_sig)
		return -EINVAL;
	r = check_passphrase(mount_passphrase);
	if (r < 0)
		return r;
	key = kt_secret_new(KT_ECRYPTFS_KEY_SIZE);
	if (!key)
		return kt_negerrno();
	r = derive(mount_passphrase, salt, key->data, sig);
	if (r < 0)
		return r;
	memcpy(ret_sig, sig, sizeof(sig));
	return 0;
}

static bool sig_valid(const char *sig)
{
	if (!sig || strlen(sig) != KT_ECRYPTFS_SIG_HEX)
		return false;
	return strspn(sig, "0123456789abcdef") == KT_ECRYPTFS_SIG_HEX;
}

int kt_ecryptfs_mount_data(const char *sig, const char *fnek_sig,
			   bool check_dev_ruid, char **ret_data)
{
	char *data;

	if (!ret_data || !sig_valid(sig) || (fnek_sig && !sig_valid(fnek_sig)))
		return -EINVAL;
	if (asprintf(&data,
		     "%secryptfs_cipher=aes,ecryptfs_key_bytes=16,"
		     "ecryptfs_unlink_sigs,ecryptfs_sig=%s%s%s",
		     check_dev_ruid ? "ecryptfs_check_dev_ruid," : "", sig,
		     fnek_sig ? ",ecryptfs_fnek_sig=" : "",
		     fnek_sig ? fnek_sig : "") < 0)
		return -ENOMEM;
	*ret_data = data;
	return 0;
}
