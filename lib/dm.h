/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_DM_H
#define KT_DM_H

#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/*
 * A device-mapper device as the kernel names it now: its number (from
 * /dev/mapper/NAME) and the UUID it was created with (sysfs
 * dm/uuid, "CRYPT-LUKS2-<uuid>-<name>" for a LUKS2 mapping made by
 * libcryptsetup), checked to carry that name (sysfs dm/name). -ENODEV
 * when no mapping of that name is active.
 */
int kt_dm_identify(const char *name, dev_t *ret_dev, char *ret_uuid,
		   size_t size) _wur_;

#endif
