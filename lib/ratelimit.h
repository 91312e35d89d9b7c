/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_RATELIMIT_H
#define KT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/*
 * Pure: times[0..n) are the seconds of earlier attempts. Drops those
 * older than window before now; when fewer than max remain, appends now
 * and returns 0, else returns -EBUSY. *ret_n: how many times[] holds.
 * times must have room for max entries.
 */
int kt_ratelimit_step(uint64_t *times, size_t n, size_t max, uint64_t now,
		      uint64_t window, size_t *ret_n) _wur_;

/*
 * One attempt of uid against the limit "max in window_s seconds",
 * counted in RUNDIR/UID/name (root, 0600): across the user's sessions and
 * the agents' hand-overs. 0: allowed (and counted), -EBUSY: over the
 * limit, other -errno: the count could not be kept.
 */
int kt_ratelimit_take(uid_t uid, const char *name, unsigned max,
		      unsigned window_s) _wur_;

#endif
