/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounting on a user's directory and unmounting under the busy policy. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "mount.h"

#define BUSY_RETRY_MS 200

static const char *dir_error(int r)
{
	switch (r) {
	case -ELOOP:
		return "a symlink is on the way";
	case -EPERM:
		return "not owned by the user, or a directory on the way can "
		       "be changed by others";
	case -EXDEV:
		return "on a kernel filesystem";
	case -EINVAL:
		return "not a clean absolute path";
	default:
		return strerror(-r);
	}
}

int mount_volume(struct agent *a, const struct kt_volume *v,
		 const char *source, const char *fstype, const char *extra,
		 struct kt_report *r)
{
	_cleanup_close_ int dir = -1;
	_cleanup_free_ char *data = NULL, *all = NULL;
	unsigned long flags;
	int k;

	dir = kt_dir_open_checked(v->mountpoint, a->user->uid);
	if (dir < 0) {
		report_set(r, KT_REPORT_FAILED, dir,
			   "mount point %s refused: %s", v->mountpoint,
			   dir_error(dir));
		return dir;
	}
	k = kt_mount_options(v->options, &flags, &data);
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k, "bad mount options \"%s\"",
			   v->options ? v->options : "");
		return k;
	}
	if (extra && asprintf(&all, "%s%s%s", extra, data[0] ? "," : "",
			      data) < 0) {
		report_set(r, KT_REPORT_FAILED, ENOMEM, "out of memory");
		return -ENOMEM;
	}
	k = kt_mount_at(source, dir, fstype, flags, all ? all : data);
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k,
			   "Failed to mount %s on %s: %s", source,
			   v->mountpoint, strerror(-k));
		return k;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void recorded_id(const struct kt_opened *o, struct kt_mount_id *id)
{
	*id = (struct kt_mount_id){ .mnt_id = o->mnt_id,
				    .unique = o->mnt_unique,
				    .dev = o->mnt_dev,
				    .ino = o->mnt_ino };
}

/* Tries to unmount the recorded mount until seconds have passed; each
 * try finds it again by identity (a rename meanwhile changes nothing). */
static int umount_retry(struct agent *a, const struct kt_opened *o,
			unsigned seconds)
{
	long long deadline = kt_now_ms() + seconds * 1000LL;
	struct kt_mount_id id;
	int r;

	recorded_id(o, &id);
	for (;;) {
		r = kt_umount_recorded(o->mountpoint, a->user->uid, &id,
				       false);
		if (r != -EBUSY || kt_now_ms() >= deadline)
			return r;
		sleep_ms(BUSY_RETRY_MS);
	}
}

int unmount_volume(struct agent *a, const struct kt_opened *o,
		   bool *ret_lazy)
{
	struct kt_mount_id id;
	struct holders h;
	int r;

	*ret_lazy = false;
	r = umount_retry(a, o, o->busy_timeout);
	if (r == -ENOENT)
		return 0; /* that mount is gone already */
	if (r != -EBUSY)
		return r;

	holders_find(&h, o, NULL);
	agent_log(LOG_WARNING, "%s: %s still busy after %u s, held by pids: "
			       "%s; busy = %s",
		  a->user->name, o->mountpoint, o->busy_timeout, h.list,
		  kt_busy_policy_name(o->busy));

	switch (o->busy) {
	case KT_BUSY_KEEP:
		return -EBUSY;
	case KT_BUSY_KILL:
		holders_signal(a, &h, o, NULL, SIGTERM);
		r = umount_retry(a, o, 2);
		if (r != -EBUSY)
			return r == -ENOENT ? 0 : r;
		holders_find(&h, o, NULL);
		agent_log(LOG_WARNING, "%s: killing pids %s", o->mountpoint,
			  h.list);
		holders_signal(a, &h, o, NULL, SIGKILL);
		r = umount_retry(a, o, 2);
		if (r != -EBUSY)
			return r == -ENOENT ? 0 : r;
		/* whatever holds it now is not the user's: detach */
		__attribute__((fallthrough));
	case KT_BUSY_LAZY:
		recorded_id(o, &id);
		r = kt_umount_recorded(o->mountpoint, a->user->uid, &id, true);
		if (r == 0)
			*ret_lazy = true;
		return r == -ENOENT ? 0 : r;
	}
	return -EBUSY;
}

int unmount_for_close(struct agent *a, const struct kt_opened *o,
		      bool *ret_lazy, struct kt_report *r)
{
	int k;

	*ret_lazy = false;
	if (o->mnt_id == 0)
		return 0; /* no mount recorded */
	k = unmount_volume(a, o, ret_lazy);
	if (k == -EBUSY)
		report_set(r, KT_REPORT_KEPT, EBUSY,
			   "%s is busy: kept open (busy = keep)",
			   o->mountpoint);
	else if (k < 0)
		report_set(r, KT_REPORT_FAILED, k, "Failed to unmount %s: %s",
			   o->mountpoint, strerror(-k));
	return k;
}
