/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Re-keying a LUKS2 volume to a new login password, and recovery
 * passphrases: the keyslot bound to the user's luks2-keyring token is
 * replaced so that a cut-short change never leaves the volume without
 * a working keyslot (the keyturn-rekey record token says what to clean).
 */
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

/* Destroys every keyslot bound to token but keep: after a change, the
 * token leads to the new keyslot alone. */
static int unbind_others(struct crypt_device *cd, int token, int keep)
{
	int slots[32], n, r;

	n = kt_luks_token_keyslots(cd, token, slots, (int)ELEMENTSOF(slots));
	for (int i = 0; i < n; i++) {
		if (slots[i] == keep)
			continue;
		r = crypt_keyslot_destroy(cd, slots[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* 1 when pass opens keyslot (KDF run, nothing activated), 0 when not. */
static int keyslot_opens(struct crypt_device *cd, int keyslot,
			 const struct kt_secret *pass)
{
	int r = crypt_activate_by_passphrase(cd, NULL, keyslot,
					     (const char *)pass->data,
					     pass->len, 0);

	if (r == -EPERM)
		return 0;
	return r < 0 ? r : 1;
}

/* New keyslots cost what the keyslot they replace cost: no benchmark
 * (the machine that changes the password may not be the one that set
 * the cost), no surprise for a small machine. */
static int pbkdf_like(struct crypt_device *cd, int keyslot)
{
	struct crypt_pbkdf_type pb = { 0 };
	int r;

	r = crypt_keyslot_get_pbkdf(cd, keyslot, &pb);
	if (r < 0)
		return r;
	pb.flags |= CRYPT_PBKDF_NO_BENCHMARK;
	pb.time_ms = 0;
	return crypt_set_pbkdf_type(cd, &pb);
}

/*
 * A change with a recovery passphrase adds the new keyslot in one header
 * write and binds it to the token in the next: cut short between them, it
 * leaves a keyslot that no token leads to and that a password of that
 * change opens, which a later change with other passwords would never
 * find. So before it adds anything, it records in a token of its own
 * (type keyturn-rekey, bound to no keyslot) which keyslots existed; any
 * later change first destroys the keyslots that came after that record and
 * that the user's token does not lead to, then drops the record.
 */
#define KT_REKEY_TOKEN_TYPE "keyturn-rekey"

/* The record of key_desc: its token id, and the keyslots it lists as a
 * bit mask. -ENOENT when there is none. */
static int rekey_record_find(struct crypt_device *cd, const char *key_desc,
			     uint64_t *ret_existing)
{
	int n = crypt_token_max(CRYPT_LUKS2);

	for (int t = 0; t < n; t++) {
		const char *type = NULL, *json = NULL, *at;
		char want[160];
		uint64_t mask = 0;
		crypt_token_info info;

		info = crypt_token_status(cd, t, &type);
		if (info != CRYPT_TOKEN_EXTERNAL &&
		    info != CRYPT_TOKEN_EXTERNAL_UNKNOWN)
			continue;
		if (!type || strcmp(type, KT_REKEY_TOKEN_TYPE) != 0 ||
		    crypt_token_json_get(cd, t, &json) < 0 || !json)
			continue;
		snprintf(want, sizeof(want), "\"key_description\":\"%s\"",
			 key_desc);
		if (!strstr(json, want))
			continue;
		at = strstr(json, "\"existing\":\"");
		if (!at)
			continue;
		for (at += 12; *at && *at != '"';) {
			char *end;
			long k = strtol(at, &end, 10);

			if (end == at || k < 0 || k >= 64)
				break;
			mask |= 1ULL << k;
			at = *end == ',' ? end + 1 : end;
		}
		*ret_existing = mask;
		return t;
	}
	return -ENOENT;
}

/* Keyslots in use, as a bit mask. */
static uint64_t keyslots_in_use(struct crypt_device *cd)
{
	int n = crypt_keyslot_max(CRYPT_LUKS2);
	uint64_t mask = 0;

	for (int k = 0; k < n && k < 64; k++) {
		crypt_keyslot_info i = crypt_keyslot_status(cd, k);

		if (i == CRYPT_SLOT_ACTIVE || i == CRYPT_SLOT_ACTIVE_LAST ||
		    i == CRYPT_SLOT_UNBOUND)
			mask |= 1ULL << k;
	}
	return mask;
}

/* Finishes what a cut-short change left: keyslots added after the record
 * that the token does not lead to go, then the record. */
static int rekey_record_clean(struct crypt_device *cd, const char *key_desc,
			      int token)
{
	uint64_t existing = 0, now;
	int t, r;

	t = rekey_record_find(cd, key_desc, &existing);
	if (t == -ENOENT)
		return 0;
	if (t < 0)
		return t;
	/* A record that lists nothing was not written by keyturn (the
	 * token's keyslot existed): destroy nothing on its word. */
	now = existing ? keyslots_in_use(cd) : 0;
	for (int k = 0; k < 64; k++) {
		if (!(now & (1ULL << k)) || (existing & (1ULL << k)) ||
		    crypt_token_is_assigned(cd, token, k) == 0)
			continue;
		r = crypt_keyslot_destroy(cd, k);
		if (r < 0)
			return r;
	}
	return crypt_token_json_set(cd, t, NULL) < 0 ? -EIO : 0;
}

static int rekey_record_write(struct crypt_device *cd, const char *key_desc)
{
	char json[512], list[256] = "";
	uint64_t now = keyslots_in_use(cd);
	size_t w = 0;
	int r;

	if (strpbrk(key_desc, "\"\\"))
		return -EINVAL;
	for (int k = 0; k < 64; k++)
		if (now & (1ULL << k))
			w += (size_t)snprintf(list + w, sizeof(list) - w,
					      "%s%d", w ? "," : "", k);
	r = snprintf(json, sizeof(json),
		     "{\"type\":\"" KT_REKEY_TOKEN_TYPE "\",\"keyslots\":[],"
		     "\"key_description\":\"%s\",\"existing\":\"%s\"}",
		     key_desc, list);
	if (r < 0 || (size_t)r >= sizeof(json))
		return -ENAMETOOLONG;
	r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);
	return r < 0 ? r : 0;
}

int kt_luks_rekey(const char *device, const char *key_desc,
		  const struct kt_secret *old, const struct kt_secret *new_pass,
		  struct kt_luks_token *ret)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	struct kt_luks_token tok;
	int slots[32], n, keyslot, r;

	if (!old || !new_pass || new_pass->len == 0 || !ret)
		return -EINVAL;
	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	r = kt_luks_token_find(cd, key_desc, &tok);
	if (r < 0)
		return r;
	/* What a change with a recovery passphrase cut short left. */
	r = rekey_record_clean(cd, key_desc, tok.token);
	if (r < 0)
		return r;
	n = kt_luks_token_keyslots(cd, tok.token, slots,
				   (int)ELEMENTSOF(slots));
	if (n == 0)
		return -ENOENT;

	/* A change that was cut short leaves the token bound to the old
	 * keyslot and the new one: finish it. */
	if (n > 1) {
		for (int i = 0; i < n; i++) {
			r = keyslot_opens(cd, slots[i], new_pass);
			if (r < 0)
				return r;
			if (r == 0)
				continue;
			for (int j = 0; j < n; j++) {
				if (j == i)
					continue;
				r = crypt_keyslot_destroy(cd, slots[j]);
				if (r < 0)
					return r;
			}
			ret->token = tok.token;
			ret->keyslot = slots[i];
			return 1;
		}
	}

	/*
	 * libcryptsetup 2.6 writes the new keyslot (bound to the digest and
	 * to the old keyslot's tokens) in one header update, then swaps the
	 * two keyslot numbers and destroys the old material: the token
	 * keeps its keyslot number, and opens with old or new at every
	 * write. The same-slot variant wipes first: never used.
	 */
	for (int i = 0; i < n; i++) {
		r = pbkdf_like(cd, slots[i]);
		if (r < 0)
			return r;
		keyslot = crypt_keyslot_change_by_passphrase(
			cd, slots[i], CRYPT_ANY_SLOT, (const char *)old->data,
			old->len, (const char *)new_pass->data,
			new_pass->len);
		if (keyslot >= 0) {
			/* A token left bound to two keyslots by an earlier
			 * change that was cut short keeps the other one,
			 * which an old password opens: it goes now. */
			r = unbind_others(cd, tok.token, keyslot);
			if (r < 0)
				return r;
			ret->token = tok.token;
			ret->keyslot = keyslot;
			return 0;
		}
		if (keyslot != -EPERM)
			return keyslot;
	}

	/* old does not open the token's keyslot: done already? */
	for (int i = 0; i < n; i++) {
		r = keyslot_opens(cd, slots[i], new_pass);
		if (r < 0)
			return r;
		if (r > 0) {
			ret->token = tok.token;
			ret->keyslot = slots[i];
			return 1;
		}
	}

	/*
	 * old is another passphrase of the volume (recovery): a new keyslot
	 * for new_pass, bound to the token, and only then the token's old
	 * keyslots go. Three header writes, each leaving the token bound to
	 * a keyslot that the old or the new login passphrase opens.
	 */
	r = pbkdf_like(cd, slots[0]);
	if (r < 0)
		return r;
	/* old must open something before anything is written. */
	r = crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT,
					 (const char *)old->data, old->len, 0);
	if (r < 0)
		return r;
	r = rekey_record_write(cd, key_desc);
	if (r < 0)
		return r;
	keyslot = crypt_keyslot_add_by_passphrase(
		cd, CRYPT_ANY_SLOT, (const char *)old->data, old->len,
		(const char *)new_pass->data, new_pass->len);
	if (keyslot < 0) {
		(void)rekey_record_clean(cd, key_desc, tok.token);
		return keyslot;
	}
	r = crypt_token_assign_keyslot(cd, tok.token, keyslot);
	if (r < 0) {
		(void)crypt_keyslot_destroy(cd, keyslot);
		(void)rekey_record_clean(cd, key_desc, tok.token);
		return r;
	}
	for (int i = 0; i < n; i++) {
		r = crypt_keyslot_destroy(cd, slots[i]);
		if (r < 0)
			return r;
	}
	r = rekey_record_clean(cd, key_desc, tok.token);
	if (r < 0)
		return r;
	ret->token = tok.token;
	ret->keyslot = keyslot;
	return 0;
}

int kt_luks_add_recovery(const char *device,
			 const struct kt_secret *existing,
			 const struct kt_secret *recovery,
			 const struct crypt_pbkdf_type *pbkdf)
{
	_cleanup_crypt_ struct crypt_device *cd = NULL;
	int r;

	if (!existing || !recovery || recovery->len == 0)
		return -EINVAL;
	r = kt_luks_load(device, &cd);
	if (r < 0)
		return r;
	if (pbkdf) {
		r = crypt_set_pbkdf_type(cd, pbkdf);
		if (r < 0)
			return r;
	}
	return crypt_keyslot_add_by_passphrase(
		cd, CRYPT_ANY_SLOT, (const char *)existing->data,
		existing->len, (const char *)recovery->data, recovery->len);
}
