/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macro.h"

/*
 * Pids of the processes (at most max, never this one) that hold a file,
 * working directory, root or mapped file on the filesystem dev: anywhere
 * on it when dir is NULL (a mount that will not go), else at the absolute
 * path dir, as /proc shows it, or below it (an fscrypt directory whose key
 * is still in use). Returns the count found, -EINVAL for a relative dir.
 */
int kt_holders(dev_t dev, const char *dir, pid_t *pids, int max) _wur_;

/*
 * Sends sig to pid only when it is owner's and still holds something on
 * dev (under dir, when not NULL) as kt_holders() counts it, checked
 * through /proc/PID after a pidfd was taken, and sent through that pidfd:
 * a pid that ended and was given to another process meanwhile is never
 * signalled. 1 signalled, 0 not (gone, not owner's, no longer holding),
 * -errno.
 */
int kt_holder_signal(pid_t pid, uid_t owner, dev_t dev, const char *dir,
		     int sig) _wur_;
