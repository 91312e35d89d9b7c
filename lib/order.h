/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_ORDER_H
#define KT_ORDER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "macro.h"
#include "protocol.h"

/*
 * Volumes nested in one another (LUKS2 on %h, eCryptfs in %h/.Private)
 * must open parents first and close children first. Pure functions.
 */

/* Whether child lives in parent: parent's mount point is child's
 * source, mount point, fscrypt directory, wrapped file or device, or a
 * directory above one of them (whole components: /home/al is not above
 * /home/alice). */
bool kt_volume_inside(const struct kt_volume *child,
		      const struct kt_volume *parent);

/*
 * The wave each volume opens in: 0 for those inside no other, else one
 * more than the latest wave of the volumes it is inside. -ELOOP when
 * volumes are inside one another both ways (the same mount point twice).
 */
int kt_volumes_open_waves(const struct kt_volume *v, size_t n,
			  unsigned *ret_wave) _wur_;

/* The order to close records in (indexes into o): a volume mounted
 * inside another's mount point before that one. */
void kt_opened_close_order(const struct kt_opened *o, size_t n,
			   size_t *ret_order);

#endif
