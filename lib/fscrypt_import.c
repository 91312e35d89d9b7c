/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unwrap of fscrypt's login protectors and policy keys (the scheme is
 * in fscrypt_meta.h). libsodium has HMAC-SHA-256/512, SHA-512 and, through
 * libargon2, Argon2id; it has no AES-CTR, so that one comes from OpenSSL's
 * libcrypto, which libcryptsetup loads into the same programs already.
 */
#include <argon2.h>
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "fscrypt_meta.h"
#include "wrapped.h"

#define STRETCH_KEY_SIZE 32

/* HKDF-SHA256 (RFC 5869) with no salt and no info, 64 bytes: the "enc"
 * key, then the "auth" key (fscrypt's stretchKey()). */
static int stretch(const struct kt_secret *wrapping_key,
		   struct kt_secret **ret)
{
	static const uint8_t zero_salt[crypto_auth_hmacsha256_BYTES];
	_cleanup_secret_ struct kt_secret *out = NULL;
	crypto_auth_hmacsha256_state st;
	uint8_t prk[crypto_auth_hmacsha256_BYTES];
	const uint8_t one = 1, two = 2;

	out = kt_secret_new(2 * STRETCH_KEY_SIZE);
	if (!out)
		return kt_negerrno();
	crypto_auth_hmacsha256_init(&st, zero_salt, sizeof(zero_salt));
	crypto_auth_hmacsha256_update(&st, wrapping_key->data,
				      wrapping_key->len);
	crypto_auth_hmacsha256_final(&st, prk);
	/* T(1) = HMAC(PRK, 0x01), T(2) = HMAC(PRK, T(1) || 0x02) */
	crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha256_update(&st, &one, 1);
	crypto_auth_hmacsha256_final(&st, out->data);
	crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha256_update(&st, out->data, STRETCH_KEY_SIZE);
	crypto_auth_hmacsha256_update(&st, &two, 1);
	crypto_auth_hmacsha256_final(&st, out->data + STRETCH_KEY_SIZE);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(prk, sizeof(prk));
	*ret = TAKE_PTR(out);
	return 0;
}

static int aes256_ctr(const uint8_t *key, const uint8_t *iv,
		      const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	int n = 0, r = -EIO;

	if (len > INT32_MAX)
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	/* OpenSSL's CTR counts with the whole 16-byte IV as one big-endian
	 * number, as Go's cipher.NewCTR does. Freeing the context wipes its
	 * key schedule. */
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv) == 1 &&
	    EVP_DecryptUpdate(ctx, out, &n, in, (int)len) == 1 &&
	    (size_t)n == len)
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int kt_fscrypt_unwrap(const struct kt_secret *wrapping_key,
		      const struct kt_fscrypt_wrapped_key *wrapped,
		      struct kt_secret **ret_key)
{
	_cleanup_secret_ struct kt_secret *keys = NULL, *key = NULL;
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	int r;

	if (!wrapping_key ||
	    wrapping_key->len != KT_FSCRYPT_PROTECTOR_KEY_SIZE || !wrapped ||
	    wrapped->encrypted_len == 0 ||
	    wrapped->encrypted_len > KT_FSCRYPT_KEY_SIZE || !ret_key)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	r = stretch(wrapping_key, &keys);
	if (r < 0)
		return r;
	/* Encrypt-then-MAC: the MAC is checked before anything is
	 * decrypted. */
	crypto_auth_hmacsha256_init(&st, keys->data + STRETCH_KEY_SIZE,
				    STRETCH_KEY_SIZE);
	crypto_auth_hmacsha256_update(&st, wrapped->iv, sizeof(wrapped->iv));
	crypto_auth_hmacsha256_update(&st, wrapped->encrypted,
				      wrapped->encrypted_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	if (sodium_memcmp(mac, wrapped->hmac, sizeof(mac)) != 0)
		return -EACCES;
	key = kt_secret_new(wrapped->encrypted_len);
	if (!key)
		return kt_negerrno();
	r = aes256_ctr(keys->data, wrapped->iv, wrapped->encrypted,
		       wrapped->encrypted_len, key->data);
	if (r < 0)
		return r;
	*ret_key = TAKE_PTR(key);
	return 0;
}

/* fscrypt's descriptor of a protector key: SHA-512 twice, 8 bytes. */
static bool descriptor_matches(const struct kt_secret *key,
			       const uint8_t d[KT_FSCRYPT_DESCRIPTOR_SIZE])
{
	uint8_t h[crypto_hash_sha512_BYTES];
	bool same;

	crypto_hash_sha512(h, key->data, key->len);
	crypto_hash_sha512(h, h, sizeof(h));
	same = sodium_memcmp(h, d, KT_FSCRYPT_DESCRIPTOR_SIZE) == 0;
	sodium_memzero(h, sizeof(h));
	return same;
}

static int refuse(const char **ret_reason, const char *reason, int r)
{
	if (ret_reason)
		*ret_reason = reason;
	return r;
}

int kt_fscrypt_import_key(const struct kt_fscrypt_protector *protector,
			  const struct kt_fscrypt_policy_data *policy,
			  const struct kt_secret *passphrase,
			  struct kt_secret **ret_key,
			  const char **ret_reason)
{
	_cleanup_secret_ struct kt_secret *hash = NULL, *protector_key = NULL,
					  *key = NULL;
	const struct kt_fscrypt_policy_slot *slot = NULL;
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	int r;

	if (!protector || !policy || !ret_key || !passphrase ||
	    passphrase->len > KT_PASSPHRASE_MAX)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	for (size_t i = 0; i < policy->n_slots && i < KT_FSCRYPT_MAX_SLOTS;
	     i++)
		if (memcmp(policy->slots[i].protector, protector->descriptor,
			   KT_FSCRYPT_DESCRIPTOR_SIZE) == 0) {
			slot = &policy->slots[i];
			break;
		}
	if (!slot)
		return refuse(ret_reason,
			      "the policy has no key wrapped by this protector",
			      -ENOENT);

	hash = kt_secret_new(KT_FSCRYPT_PROTECTOR_KEY_SIZE);
	if (!hash)
		return kt_negerrno();
	/* libargon2 wipes its working memory when it frees it. */
	r = argon2id_hash_raw(protector->time_cost, protector->memory_kib,
			      protector->parallelism, passphrase->data,
			      passphrase->len, protector->salt,
			      sizeof(protector->salt), hash->data, hash->len);
	r = kt_argon2_errno(r);
	if (r < 0)
		return refuse(ret_reason, "Argon2id failed", r);
	r = kt_fscrypt_unwrap(hash, &protector->wrapped, &protector_key);
	if (r == -EACCES)
		return refuse(ret_reason,
			      "the passphrase does not open the login protector",
			      r);
	if (r < 0)
		return r;
	if (!descriptor_matches(protector_key, protector->descriptor))
		return refuse(ret_reason,
			      "the protector key does not match the protector's descriptor",
			      -EBADMSG);
	r = kt_fscrypt_unwrap(protector_key, &slot->wrapped, &key);
	if (r == -EACCES)
		return refuse(ret_reason,
			      "the policy key fails its HMAC under the protector key",
			      -EBADMSG);
	if (r < 0)
		return r;
	r = kt_fscrypt_key_identifier(key, id);
	if (r < 0)
		return r;
	if (memcmp(id, policy->identifier, sizeof(id)) != 0)
		return refuse(ret_reason,
			      "the policy key does not match the policy's identifier",
			      -EBADMSG);
	*ret_key = TAKE_PTR(key);
	return 0;
}
