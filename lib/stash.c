/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The auth -> open_session hand-over of the login passphrase across a
 * host's processes (see stash.h). The sealing and the reference format
 * are pure; the keyring part is a few plain calls.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "keyring.h"
#include "stash.h"

/* The owner (root) may view, read, search and revoke it; possessors,
 * group and others nothing: whoever shares the host's keyring sees no
 * more than that a key is there. */
#define KT_STASH_PERM                                                        \
	(KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH | KEY_USR_SETATTR)

#define AD_PREFIX "keyturn-stash-1:"

int kt_stash_ref_format(const struct kt_stash_ref *ref, char *buf,
			size_t size)
{
	char hex[2 * KT_STASH_SEAL_KEY_BYTES + 1];
	int n;

	if (!ref || ref->key <= 0 || !buf)
		return -EINVAL;
	sodium_bin2hex(hex, sizeof(hex), ref->seal_key,
		       sizeof(ref->seal_key));
	n = snprintf(buf, size, "%d:%s", (int)ref->key, hex);
	sodium_memzero(hex, sizeof(hex));
	if (n < 0 || (size_t)n >= size) {
		sodium_memzero(buf, size);
		return -ENOBUFS;
	}
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int kt_stash_ref_parse(const char *text, struct kt_stash_ref *ret)
{
	struct kt_stash_ref ref = { 0 };
	const char *p = text;
	long long serial = 0;

	if (!text || !ret)
		return -EINVAL;
	if (*p < '1' || *p > '9')
		return -EBADMSG;
	for (; *p >= '0' && *p <= '9'; p++) {
		serial = serial * 10 + (*p - '0');
		if (serial > 0x7fffffff)
			return -EBADMSG;
	}
	if (*p++ != ':')
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(ref.seal_key); i++) {
		int hi = hex_digit(p[2 * i]), lo;

		if (hi < 0)
			goto bad;
		lo = hex_digit(p[2 * i + 1]);
		if (lo < 0)
			goto bad;
		ref.seal_key[i] = (uint8_t)(hi << 4 | lo);
	}
	if (p[2 * sizeof(ref.seal_key)] != '\0')
		goto bad;
	ref.key = (key_serial_t)serial;
	*ret = ref;
	sodium_memzero(&ref, sizeof(ref));
	return 0;
bad:
	sodium_memzero(&ref, sizeof(ref));
	return -EBADMSG;
}

/* "keyturn-stash-1:<user>": a stash made for one user opens for no
 * other. */
static int associated_data(const char *user, char *buf, size_t size)
{
	int n;

	if (!user)
		return -EINVAL;
	n = snprintf(buf, size, AD_PREFIX "%s", user);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

int kt_stash_seal(const uint8_t seal_key[KT_STASH_SEAL_KEY_BYTES],
		  const char *user, const struct kt_secret *pass,
		  uint8_t *out, size_t out_size)
{
	char ad[sizeof(AD_PREFIX) + 256];
	int n;

	if (!seal_key || !pass || pass->len == 0 || !out)
		return -EINVAL;
	if (pass->len > KT_PASSPHRASE_MAX)
		return -E2BIG;
	if (out_size < KT_STASH_SEALED_LEN(pass->len))
		return -ENOBUFS;
	n = associated_data(user, ad, sizeof(ad));
	if (n < 0)
		return n;
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(out, KT_STASH_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + KT_STASH_NONCE_BYTES, NULL, pass->data, pass->len,
		(const uint8_t *)ad, (unsigned long long)n, NULL, out,
		seal_key);
	return 0;
}

int kt_stash_open(const uint8_t seal_key[KT_STASH_SEAL_KEY_BYTES],
		  const char *user, const uint8_t *sealed, size_t len,
		  struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	char ad[sizeof(AD_PREFIX) + 256];
	size_t plain;
	int n;

	if (!seal_key || !sealed || !ret)
		return -EINVAL;
	if (len <= KT_STASH_NONCE_BYTES + KT_STASH_TAG_BYTES ||
	    len > KT_STASH_SEALED_LEN(KT_PASSPHRASE_MAX))
		return -EBADMSG;
	n = associated_data(user, ad, sizeof(ad));
	if (n < 0)
		return n;
	plain = len - KT_STASH_NONCE_BYTES - KT_STASH_TAG_BYTES;
	pass = kt_secret_new(plain);
	if (!pass)
		return kt_negerrno();
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    pass->data, NULL, NULL, sealed + KT_STASH_NONCE_BYTES,
		    len - KT_STASH_NONCE_BYTES, (const uint8_t *)ad,
		    (unsigned long long)n, sealed, seal_key) != 0)
		return -EBADMSG;
	*ret = TAKE_PTR(pass);
	return 0;
}

/*
 * Made in the thread keyring, which only this thread possesses, so that
 * the key never sits in the shared keyring with the permissions a new
 * key gets (possessor: everything); linked there only once they are the
 * stash's own. A process without a session keyring gets a new one of
 * its own, which ends with it: a stash of a login killed before its
 * session goes with it (under systemd every service has a session
 * keyring, which sshd's keyboard-interactive child shares with its
 * parent; a host without one cannot hand a stash to another process).
 */
static int stash_add(const uint8_t *sealed, size_t len, unsigned timeout,
		     key_serial_t *ret)
{
	char desc[sizeof(KT_STASH_DESC_PREFIX) + 16];
	uint8_t id[8];
	key_serial_t key;
	long r;

	randombytes_buf(id, sizeof(id));
	memcpy(desc, KT_STASH_DESC_PREFIX, sizeof(KT_STASH_DESC_PREFIX) - 1);
	sodium_bin2hex(desc + sizeof(KT_STASH_DESC_PREFIX) - 1, 17, id,
		       sizeof(id));

	key = RETRY_EINTR(add_key("user", desc, sealed, len,
				  KEY_SPEC_THREAD_KEYRING));
	if (key < 0)
		return kt_negerrno();
	if (RETRY_EINTR(keyctl_set_timeout(key, timeout)) < 0 ||
	    RETRY_EINTR(keyctl_chown(key, 0, 0)) < 0 ||
	    RETRY_EINTR(keyctl_setperm(key, KT_STASH_PERM | KEY_USR_LINK)) <
		    0 ||
	    RETRY_EINTR(keyctl_link(key, KEY_SPEC_SESSION_KEYRING)) < 0 ||
	    RETRY_EINTR(keyctl_setperm(key, KT_STASH_PERM)) < 0)
		goto fail;
	r = RETRY_EINTR(keyctl_unlink(key, KEY_SPEC_THREAD_KEYRING));
	(void)r; /* still linked there only keeps it until the thread ends */
	*ret = key;
	return 0;
fail:
	r = kt_negerrno();
	kt_stash_drop(key);
	return (int)r;
}

int kt_stash_put(const char *user, const struct kt_secret *pass,
		 unsigned timeout, struct kt_stash_ref *ret)
{
	_cleanup_secret_ struct kt_secret *sealed = NULL;
	struct kt_stash_ref ref = { 0 };
	int r;

	if (!pass || !ret || timeout == 0)
		return -EINVAL;
	if (pass->len == 0 || pass->len > KT_PASSPHRASE_MAX)
		return -E2BIG;
	/* The sealed bytes are no secret, but a kt_secret is a buffer
	 * that is wiped, which costs nothing here. */
	sealed = kt_secret_new(KT_STASH_SEALED_LEN(pass->len));
	if (!sealed)
		return kt_negerrno();
	randombytes_buf(ref.seal_key, sizeof(ref.seal_key));
	r = kt_stash_seal(ref.seal_key, user, pass, sealed->data, sealed->len);
	if (r >= 0)
		r = stash_add(sealed->data, sealed->len, timeout, &ref.key);
	if (r >= 0)
		*ret = ref;
	sodium_memzero(&ref, sizeof(ref));
	return r < 0 ? r : 0;
}

/* The stash is keyturn's: type user, owner root, exactly its
 * permissions and its description prefix. */
static int stash_check(key_serial_t key)
{
	char d[KT_KEY_DESC_MAX + 64], want[64];
	int r;

	r = kt_key_describe(key, d, sizeof(d));
	if (r < 0)
		return r == -ENAMETOOLONG ? -ENOKEY : r;
	snprintf(want, sizeof(want), "user;0;0;%08x;" KT_STASH_DESC_PREFIX,
		 (unsigned)KT_STASH_PERM);
	return strncmp(d, want, strlen(want)) == 0 ? 0 : -ENOKEY;
}

int kt_stash_take(const struct kt_stash_ref *ref, const char *user,
		  struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *sealed = NULL;
	int r;

	if (!ref || ref->key <= 0 || !ret)
		return -EINVAL;
	r = stash_check(ref->key);
	if (r < 0)
		return r == -EKEYREVOKED || r == -EKEYEXPIRED ||
				       r == -EACCES ?
			       -ENOKEY :
			       r;
	r = kt_keyring_read(ref->key, &sealed);
	kt_stash_drop(ref->key);
	if (r < 0)
		return r == -EKEYREVOKED || r == -EKEYEXPIRED ? -ENOKEY : r;
	return kt_stash_open(ref->seal_key, user, sealed->data, sealed->len,
			     ret);
}

void kt_stash_drop(key_serial_t key)
{
	long r;

	if (key <= 0 || stash_check(key) < 0)
		return;
	/* Invalidated first: unreadable at once, and the kernel unlinks it
	 * from every keyring and frees it now. Revoked first, it could no
	 * longer be invalidated (a revoked key cannot be searched) and
	 * would stay linked in a keyring this process may no longer have
	 * (pam_keyinit replaced it) until the collector's delay, 5 min. */
	r = RETRY_EINTR(keyctl_invalidate(key));
	if (r < 0)
		r = RETRY_EINTR(keyctl_revoke(key));
	(void)r;
}
