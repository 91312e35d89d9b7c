/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one table of the agent's backends, indexed by volume type: a new
 * type is its enum value (lib/config.h) and one row here.
 */
#include "backend.h"
#include "macro.h"

static const struct backend backends[] = {
	[KT_VOLUME_LUKS2] = {
		.type = KT_VOLUME_LUKS2,
		.name = "luks2",
		.cost = luks_cost,
		.open = luks_open_volume,
		.close = luks_close_volume,
		.rekey = luks_rekey,
		.record = luks_record,
	},
	[KT_VOLUME_ECRYPTFS] = {
		.type = KT_VOLUME_ECRYPTFS,
		.name = "ecryptfs",
		.cost = wrapped_file_cost,
		.open = ecryptfs_open_volume,
		.close = ecryptfs_close_volume,
		.rekey = ecryptfs_rekey,
	},
	[KT_VOLUME_FSCRYPT] = {
		.type = KT_VOLUME_FSCRYPT,
		.name = "fscrypt",
		.cost = wrapped_file_cost,
		.open = fscrypt_open_volume,
		.close = fscrypt_close_volume,
		.rekey = fscrypt_rekey,
		.record_all = fscrypt_record_volume,
	},
};

const struct backend *backend_of(enum kt_volume_type type)
{
	if ((size_t)type >= ELEMENTSOF(backends) || !backends[type].open)
		return NULL;
	return &backends[type];
}
