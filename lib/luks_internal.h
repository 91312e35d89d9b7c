/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_LUKS_INTERNAL_H
#define KT_LUKS_INTERNAL_H

/*
 * Shared by lib/luks.c and lib/luks_rekey.c; not for use outside them.
 * load: crypt_init() + crypt_load(LUKS2), with the log routed before the
 * first message can be written. token_find: the user's luks2-keyring
 * token (key_desc) and its first keyslot. token_keyslots: the keyslots
 * bound to token, lowest first; returns how many.
 */

#include <libcryptsetup.h>

#include "luks.h"

#define KT_TOKEN_TYPE "luks2-keyring"

void kt_crypt_freep(struct crypt_device **cd);
#define _cleanup_crypt_ _cleanup_(kt_crypt_freep)

int kt_luks_load(const char *device, struct crypt_device **ret);
int kt_luks_token_find(struct crypt_device *cd, const char *key_desc,
		       struct kt_luks_token *ret);
int kt_luks_token_keyslots(struct crypt_device *cd, int token, int *slots,
			   int max);

#endif
