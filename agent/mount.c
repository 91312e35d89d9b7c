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
#define MAX_HOLDERS 64

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

/* Tries to unmount until the volume's busy_timeout has passed. */
static int umount_retry(const struct kt_volume *v, unsigned seconds)
{
	long long deadline = kt_now_ms() + seconds * 1000LL;
	int r;

	for (;;) {
		r = kt_umount(v->mountpoint, false);
		if (r != -EBUSY || kt_now_ms() >= deadline)
			return r;
		sleep_ms(BUSY_RETRY_MS);
	}
}

static int holders(struct agent *a, const struct kt_volume *v, pid_t *pids,
		   char *list, size_t size)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	size_t used = 0;
	int n;

	list[0] = 0;
	if (kt_mount_find(v->mountpoint, &m) <= 0)
		return 0;
	n = kt_mount_holders(m.dev, pids, MAX_HOLDERS);
	kt_mount_entry_clear(&m);
	for (int i = 0; i < n && used + 16 < size; i++)
		used += snprintf(list + used, size - used, "%s%d",
				 i ? " " : "", (int)pids[i]);
	return n < 0 ? 0 : n;
}

/* Only the user's own processes are signalled. */
static void signal_holders(struct agent *a, const pid_t *pids, int n,
			   int sig)
{
	for (int i = 0; i < n; i++) {
		char path[32];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d", (int)pids[i]);
		if (stat(path, &st) == 0 && st.st_uid == a->user->uid)
			kill(pids[i], sig);
	}
}

int unmount_volume(struct agent *a, const struct kt_volume *v,
		   bool *ret_lazy)
{
	pid_t pids[MAX_HOLDERS];
	char list[512];
	int r, n;

	*ret_lazy = false;
	r = umount_retry(v, v->busy_timeout);
	if (r != -EBUSY)
		return r;

	n = holders(a, v, pids, list, sizeof(list));
	agent_log(LOG_WARNING, "%s: %s still busy after %u s, held by pids: "
			       "%s; busy = %s",
		  a->user->name, v->mountpoint, v->busy_timeout,
		  n ? list : "(none found)", kt_busy_policy_name(v->busy));

	switch (v->busy) {
	case KT_BUSY_KEEP:
		return -EBUSY;
	case KT_BUSY_KILL:
		signal_holders(a, pids, n, SIGTERM);
		r = umount_retry(v, 2);
		if (r != -EBUSY)
			return r;
		n = holders(a, v, pids, list, sizeof(list));
		agent_log(LOG_WARNING, "%s: killing pids %s", v->mountpoint,
			  list);
		signal_holders(a, pids, n, SIGKILL);
		r = umount_retry(v, 2);
		if (r != -EBUSY)
			return r;
		/* whatever holds it now is not the user's: detach */
		__attribute__((fallthrough));
	case KT_BUSY_LAZY:
		r = kt_umount(v->mountpoint, true);
		if (r == 0)
			*ret_lazy = true;
		return r;
	}
	return -EBUSY;
}

int unmount_for_close(struct agent *a, const struct kt_volume *v, int mounted,
		      bool *ret_lazy, struct kt_report *r)
{
	int k;

	*ret_lazy = false;
	if (mounted < 0) {
		report_set(r, KT_REPORT_FAILED, mounted,
			   "Failed to read mounts: %s", strerror(-mounted));
		return mounted;
	}
	if (mounted == 0)
		return 0;
	k = unmount_volume(a, v, ret_lazy);
	if (k == -EBUSY)
		report_set(r, KT_REPORT_KEPT, EBUSY,
			   "%s is busy: kept open (busy = keep)",
			   v->mountpoint);
	else if (k < 0)
		report_set(r, KT_REPORT_FAILED, k, "Failed to unmount %s: %s",
			   v->mountpoint, strerror(-k));
	return k;
}
