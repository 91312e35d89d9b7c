/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Thin wrappers over the kernel keyring: every call retries EINTR and
 * returns -errno. Key descriptions are pure and unit-tested.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "keyring.h"
#include "user.h"

#define KT_KEY_PREFIX_MAX 32

/*
 * Possessor view+read+search, plus setattr: the kernel lets a key be
 * revoked only with write or setattr, and revoking is what wipes the
 * payload at once. Only the PAM host and the agent (both root) possess
 * the key; nobody else has any permission on it.
 */
#define KT_KEY_PERM                                                          \
	(KEY_POS_VIEW | KEY_POS_READ | KEY_POS_SEARCH | KEY_POS_SETATTR)

static bool prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
	       c == '-';
}

int kt_key_description(const char *prefix, const char *user, char *buf,
		       size_t size)
{
	size_t plen, ulen;

	if (!prefix || !user || !buf)
		return -EINVAL;
	plen = strnlen(prefix, KT_KEY_PREFIX_MAX + 1);
	if (plen == 0 || plen > KT_KEY_PREFIX_MAX)
		return -EINVAL;
	for (size_t i = 0; i < plen; i++)
		if (!prefix_char(prefix[i]))
			return -EINVAL;
	if (!kt_user_name_valid(user))
		return -EINVAL;
	ulen = strlen(user);
	if (plen + ulen + 1 > size || plen + ulen + 1 > KT_KEY_DESC_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, user, ulen + 1);
	return 0;
}

int kt_key_describe(key_serial_t key, char *buf, size_t size)
{
	long n;

	if (!buf || size == 0)
		return -EINVAL;
	n = RETRY_EINTR(keyctl_describe(key, buf, size));
	if (n < 0)
		return kt_negerrno();
	if ((size_t)n > size)
		return -ENAMETOOLONG;
	buf[size - 1] = '\0';
	return 0;
}

/* The uid field of a key's description ("type;uid;gid;perm;desc"). */
static int key_owner(key_serial_t key, uid_t *ret_uid)
{
	char d[KT_KEY_DESC_MAX + 64];
	unsigned long uid;
	int r;

	r = kt_key_describe(key, d, sizeof(d));
	if (r < 0)
		return r;
	if (sscanf(d, "%*[^;];%lu;", &uid) != 1)
		return -EBADMSG;
	*ret_uid = (uid_t)uid;
	return 0;
}

static int key_add(const char *desc, const void *payload, size_t len,
		   unsigned timeout, key_serial_t *ret)
{
	key_serial_t key;
	long r;

	if (!desc || !payload || len == 0 || !ret)
		return -EINVAL;

	key = RETRY_EINTR(add_key("user", desc, payload, len,
				  KEY_SPEC_SESSION_KEYRING));
	if (key < 0 && errno == EACCES) {
		/*
		 * A live key of ours with this description is still in @s
		 * (a session opened before in this process): add_key()
		 * would update it, which our permissions forbid. Drop it
		 * and add again; a key someone else owns stays.
		 */
		key_serial_t old;
		uid_t owner;

		if (kt_keyring_find(desc, &old) == 0 &&
		    key_owner(old, &owner) == 0 && owner == 0 &&
		    kt_keyring_drop(old) == 0)
			key = RETRY_EINTR(add_key("user", desc, payload, len,
						  KEY_SPEC_SESSION_KEYRING));
		else
			errno = EACCES;
	}
	if (key < 0)
		return kt_negerrno();

	/* setattr is needed for each of these, so permissions go last. */
	if (timeout > 0) {
		r = RETRY_EINTR(keyctl_set_timeout(key, timeout));
		if (r < 0)
			goto fail;
	}
	r = RETRY_EINTR(keyctl_chown(key, 0, 0));
	if (r < 0)
		goto fail;
	r = RETRY_EINTR(keyctl_setperm(key, KT_KEY_PERM));
	if (r < 0)
		goto fail;

	*ret = key;
	return 0;

fail:
	r = kt_negerrno();
	(void)kt_keyring_drop(key);
	return (int)r;
}

int kt_keyring_add_passphrase(const char *desc, const struct kt_secret *pass,
			      unsigned timeout, key_serial_t *ret)
{
	if (!pass)
		return -EINVAL;
	/* The kernel takes no empty "user" payload; longer than the
	 * maximum is refused, never cut. */
	if (pass->len == 0)
		return -ENODATA;
	if (pass->len > KT_PASSPHRASE_MAX)
		return -E2BIG;
	return key_add(desc, pass->data, pass->len, timeout, ret);
}

int kt_keyring_add_blob(const char *desc, const void *payload, size_t len,
			key_serial_t *ret)
{
	return key_add(desc, payload, len, 0, ret);
}

int kt_keyring_find(const char *desc, key_serial_t *ret)
{
	key_serial_t key;
	uid_t owner;
	int r;

	if (!desc || !ret)
		return -EINVAL;
	key = RETRY_EINTR(keyctl_search(KEY_SPEC_SESSION_KEYRING, "user",
					desc, 0));
	if (key < 0)
		return kt_negerrno();
	/* Only root made keyturn's keys: a key of this name the user put
	 * into a keyring linked from @s (their @u) is not one of them. */
	r = key_owner(key, &owner);
	if (r < 0)
		return r;
	if (owner != 0)
		return -ENOKEY;
	*ret = key;
	return 0;
}

int kt_keyring_read(key_serial_t key, struct kt_secret **ret)
{
	for (unsigned attempt = 0; attempt < 4; attempt++) {
		_cleanup_secret_ struct kt_secret *s = NULL;
		long size, n;

		size = RETRY_EINTR(keyctl_read(key, NULL, 0));
		if (size < 0)
			return kt_negerrno();
		if (size == 0 || size > KT_PASSPHRASE_MAX * 4)
			return -EBADMSG;
		s = kt_secret_new((size_t)size);
		if (!s)
			return kt_negerrno();
		n = RETRY_EINTR(keyctl_read(key, (char *)s->data,
					    (size_t)size));
		if (n < 0)
			return kt_negerrno();
		if (n > size)
			continue; /* it grew in between: read again */
		s->len = (size_t)n;
		s->data[n] = '\0';
		*ret = TAKE_PTR(s);
		return 0;
	}
	return -EAGAIN;
}

static bool key_gone(int err)
{
	return err == ENOKEY || err == EKEYREVOKED || err == EKEYEXPIRED;
}

int kt_keyring_drop(key_serial_t key)
{
	long r;
	int ret = 0;

	if (key <= 0)
		return -EINVAL;
	/* Revoking wipes the payload at once. */
	r = RETRY_EINTR(keyctl_revoke(key));
	if (r < 0 && !key_gone(errno))
		ret = kt_negerrno();
	/* Invalidating frees it from the quota now; on a key revoked a
	 * moment ago the kernel may say EKEYREVOKED, then unlinking it
	 * from @s drops the last reference instead. */
	r = RETRY_EINTR(keyctl_invalidate(key));
	if (r < 0 && !key_gone(errno) && ret == 0)
		ret = kt_negerrno();
	if (r < 0) {
		r = RETRY_EINTR(keyctl_unlink(key, KEY_SPEC_SESSION_KEYRING));
		(void)r; /* not linked there (or gone): nothing to undo */
	}
	return ret;
}
