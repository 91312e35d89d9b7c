/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "luks.h"
#include "luks_internal.h"


static kt_log_fn log_fn;
static void *log_userdata;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

void kt_crypt_freep(struct crypt_device **cd)
{
	if (*cd)
		crypt_free(*cd);
}

static int crypt_level_to_syslog(int level)
{
	switch (level) {
	case CRYPT_LOG_ERROR:
		return LOG_ERR;
	case CRYPT_LOG_NORMAL:
		return LOG_NOTICE;
	case CRYPT_LOG_VERBOSE:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/* libcryptsetup prints to stdout/stderr when no callback is set; lib/ never
 * does, so every message lands here and goes to the caller or nowhere. */
static void crypt_log_cb(int level, const char *msg, void *usrptr)
{
	char line[1024];
	size_t n;

	if (!log_fn || !msg)
		return;
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, msg, n);
	line[n] = '\0';
	log_fn(crypt_level_to_syslog(level), line, log_userdata);
}

static void install_default_log(void)
{
	crypt_set_log_callback(NULL, crypt_log_cb, NULL);
}

void kt_luks_set_log(kt_log_fn fn, void *userdata)
{
	log_fn = fn;
	log_userdata = userdata;
	pthread_once(&log_once, install_default_log);
}

/* crypt_init() + crypt_load(LUKS2), with the log routed before the first
 * message can be written. */
int kt_luks_load(const char *device, struct crypt_device **ret)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int r;

	if (!device)
		return -EINVAL;
	pthread_once(&log_once, install_default_log);
	r = crypt_init(&cd, device);
	if (r < 0)
		return r;
	crypt_set_log_callback(cd, crypt_log_cb, NULL);
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(cd);
	return 0;
}

static int token_first_keyslot(struct crypt_device *cd, int token)
{
	int n = crypt_keyslot_max(CRYPT_LUKS2);

	for (int k = 0; k < n; k++)
		if (crypt_token_is_assigned(cd, token, k) == 0)
			return k;
	return -1;
}

/* The keyslots bound to token, lowest first; returns how many. */
int kt_luks_token_keyslots(struct crypt_device *cd, int token, int *slots,
			   int max)
{
	int n = 0, k_max = crypt_keyslot_max(CRYPT_LUKS2);

	for (int k = 0; k < k_max && n < max; k++)
		if (crypt_token_is_assigned(cd, token, k) == 0)
			slots[n++] = k;
	return n;
}

int kt_luks_token_find(struct crypt_device *cd, const char *key_desc,
		       struct kt_luks_token *ret)
{
	struct kt_luks_token found = { .token = -1, .keyslot = -1 };
	int n = crypt_token_max(CRYPT_LUKS2);

	if (!key_desc || !*key_desc)
		return -EINVAL;
	if (n < 0)
		return n;
	for (int t = 0; t < n; t++) {
		struct crypt_token_params_luks2_keyring params = { 0 };
		const char *type = NULL;
		crypt_token_info info;

		info = crypt_token_status(cd, t, &type);
		if (info == CRYPT_TOKEN_INVALID || info == CRYPT_TOKEN_INACTIVE)
			continue;
		if (!type || strcmp(type, KT_TOKEN_TYPE) != 0)
			continue;
		if (crypt_token_luks2_keyring_get(cd, t, &params) < 0)
			continue;
		if (!params.key_description ||
		    strcmp(params.key_description, key_desc) != 0)
			continue;
		if (found.token >= 0)
			return -ENOTUNIQ;
		found.token = t;
	}
	if (found.token < 0)
		return -ENOENT;
	found.keyslot = token_first_keyslot(cd, found.token);
	if (found.keyslot >= 0) {
		struct crypt_pbkdf_type pbkdf = { 0 };

		if (crypt_keyslot_get_pbkdf(cd, found.keyslot, &pbkdf) == 0) {
			found.memory_kib = pbkdf.max_memory_kb;
			found.threads = pbkdf.parallel_threads;
		}
	}
	*ret = found;
	return 0;
}

int kt_luks_find_token(const char *device, const char *key_desc,
		       struct kt_luks_token *ret)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int r;

	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	return kt_luks_token_find(cd, key_desc, ret);
}

static bool is_cipher_null(const char *cipher)
{
	return cipher && strncmp(cipher, "cipher_null", 11) == 0;
}

/*
 * A volume whose data segment is not encrypted, or a keyslot of the
 * token whose key material is not (it then opens with any passphrase:
 * whoever made the header chose the volume key), is not a volume to
 * give the login password to, nor to mount as someone's home.
 */
static int check_ciphers(struct crypt_device *cd, int token)
{
	int slots[32], n;

	if (is_cipher_null(crypt_get_cipher(cd)))
		return -EKEYREJECTED;
	if (token < 0)
		return 0;
	n = kt_luks_token_keyslots(cd, token, slots, (int)ELEMENTSOF(slots));
	for (int i = 0; i < n; i++) {
		size_t key_size = 0;

		if (is_cipher_null(crypt_keyslot_get_encryption(cd, slots[i],
								&key_size)))
			return -EKEYREJECTED;
	}
	return 0;
}

static int check_uuid(struct crypt_device *cd, const char *uuid)
{
	const char *have = crypt_get_uuid(cd);

	if (!uuid)
		return 0;
	return have && strcasecmp(have, uuid) == 0 ? 0 : -EMEDIUMTYPE;
}

int kt_luks_uuid(const char *device, char *buf, size_t size)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	const char *uuid;
	int r;

	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	uuid = crypt_get_uuid(cd);
	if (!uuid)
		return -ENODATA;
	if (strlen(uuid) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, uuid);
	return 0;
}

/* What was activated under dm_name is what was checked: the same UUID, an
 * encrypted segment. The header may have changed between the check and
 * the activation (a loop device's backing file is its owner's). */
static int check_active(const char *dm_name, const char *uuid)
{
	_cleanup_crypt_ struct crypt_device *active = NULL;
	int r;

	r = crypt_init_by_name(&active, dm_name);
	if (r < 0)
		return r;
	crypt_set_log_callback(active, crypt_log_cb, NULL);
	if (is_cipher_null(crypt_get_cipher(active)))
		return -EKEYREJECTED;
	return check_uuid(active, uuid);
}

int kt_luks_open_pinned(const char *device, const char *uuid,
			const char *dm_name, const char *key_desc,
			uint32_t flags)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct kt_luks_token tok;
	int keyslot, r;

	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	r = check_uuid(cd, uuid);
	if (r < 0)
		return r;
	r = kt_luks_token_find(cd, key_desc, &tok);
	if (r < 0)
		return r;
	/* A token whose keyslot was destroyed is not a missing token:
	 * enrolling again would be refused, the token being there. */
	if (tok.keyslot < 0)
		return -EBADSLT;
	r = check_ciphers(cd, tok.token);
	if (r < 0)
		return r;
	/* That token id only: libcryptsetup then tries the keyslots assigned
	 * to it, never every keyslot of the volume. */
	keyslot = crypt_activate_by_token(cd, dm_name, tok.token, NULL, flags);
	if (keyslot < 0 || !dm_name)
		return keyslot;
	r = check_active(dm_name, uuid);
	if (r < 0) {
		(void)crypt_deactivate_by_name(cd, dm_name, 0);
		return r;
	}
	return keyslot;
}

int kt_luks_open(const char *device, const char *dm_name,
		 const char *key_desc, uint32_t flags)
{
	return kt_luks_open_pinned(device, NULL, dm_name, key_desc, flags);
}

/* libdevmapper makes /dev/mapper/control itself when it is missing, so
 * only opening it tells whether the kernel has device-mapper. */
static bool dm_present(void)
{
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno != ENODEV && errno != ENXIO;
}

int kt_luks_active(const char *dm_name, const char *device)
{
	_cleanup_crypt_ struct crypt_device *active = NULL;
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	const char *type, *a_uuid, *d_uuid;
	crypt_status_info st;
	int r;

	if (!dm_name || !device)
		return -EINVAL;
	pthread_once(&log_once, install_default_log);
	if (!dm_present())
		return 0;
	st = crypt_status(NULL, dm_name);
	if (st == CRYPT_INACTIVE)
		return 0;
	if (st == CRYPT_INVALID)
		return -EIO;

	r = crypt_init_by_name(&active, dm_name);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	crypt_set_log_callback(active, crypt_log_cb, NULL);
	type = crypt_get_type(active);
	if (!type || strcmp(type, CRYPT_LUKS2) != 0)
		return -EEXIST;
	a_uuid = crypt_get_uuid(active);

	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	d_uuid = crypt_get_uuid(cd);
	if (!a_uuid || !d_uuid || strcmp(a_uuid, d_uuid) != 0)
		return -EEXIST;
	return 1;
}

int kt_luks_close(const char *dm_name, bool deferred)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int r;

	if (!dm_name)
		return -EINVAL;
	pthread_once(&log_once, install_default_log);
	r = crypt_init_by_name(&cd, dm_name);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	crypt_set_log_callback(cd, crypt_log_cb, NULL);
	return crypt_deactivate_by_name(cd, dm_name,
					deferred ? CRYPT_DEACTIVATE_DEFERRED : 0);
}

int kt_luks_enroll_pbkdf(const char *device, const struct kt_secret *existing,
			 const struct kt_secret *login, const char *key_desc,
			 const struct crypt_pbkdf_type *pbkdf,
			 struct kt_luks_token *ret)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct crypt_token_params_luks2_keyring params = {
		.key_description = key_desc,
	};
	struct kt_luks_token tok;
	int keyslot, token, r;

	if (!existing || !login || !key_desc || !*key_desc)
		return -EINVAL;
	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	r = kt_luks_token_find(cd, key_desc, &tok);
	if (r == 0 || r == -ENOTUNIQ)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	r = check_ciphers(cd, -1);
	if (r < 0)
		return r;
	if (pbkdf) {
		r = crypt_set_pbkdf_type(cd, pbkdf);
		if (r < 0)
			return r;
	}

	keyslot = crypt_keyslot_add_by_passphrase(
		cd, CRYPT_ANY_SLOT, (const char *)existing->data,
		existing->len, (const char *)login->data, login->len);
	if (keyslot < 0)
		return keyslot;

	token = crypt_token_luks2_keyring_set(cd, CRYPT_ANY_TOKEN, &params);
	r = token < 0 ? token : crypt_token_assign_keyslot(cd, token, keyslot);
	if (r >= 0)
		r = check_ciphers(cd, token);
	if (r < 0) {
		/* Nothing half-enrolled stays: no unassigned token, no
		 * keyslot that no token leads to. */
		if (token >= 0)
			(void)crypt_token_json_set(cd, token, NULL);
		(void)crypt_keyslot_destroy(cd, keyslot);
		return r;
	}

	ret->token = token;
	ret->keyslot = keyslot;
	return 0;
}

int kt_luks_enroll(const char *device, const struct kt_secret *existing,
		   const struct kt_secret *login, const char *key_desc,
		   struct kt_luks_token *ret)
{
	return kt_luks_enroll_pbkdf(device, existing, login, key_desc, NULL,
				    ret);
}
