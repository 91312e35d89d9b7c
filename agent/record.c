/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The record of what a session opened, taken when it opened (or reused)
 * each volume: the dm name, UUID and device of a LUKS2 mapping, the
 * identity of the mount (id, root's st_dev/st_ino, where it was made),
 * the eCryptfs auth tokens, the busy policy. Teardown locks exactly
 * that, whatever the config, NSS or the paths say by then.
 *
 * Kept in a->state (handed to keyturn-hold and back in the state
 * memfd) and, for the user's last session, in RUNDIR/UID/open.NAME (one
 * kt_opened line, root's, 0600): a session that brought no passphrase
 * still locks what an earlier session opened. A volume that could not
 * be locked leaves RUNDIR/UID/failed.NAME (one report line): keyturnctl
 * status shows it, the next last logout tries again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "backend.h"
#include "mount.h"
#include "session.h"

#define RECORD_PREFIX "open."
#define FAILED_PREFIX "failed."

int record_volume(struct agent *a, const struct kt_volume *v, bool own,
		  struct kt_opened *ret)
{
	const struct backend *b;
	struct kt_opened o;
	struct kt_mount_id id;
	int k;

	b = backend_of(v->type);
	if (!b)
		return -EINVAL;
	if (b->record_all)
		return b->record_all(a, v, own, ret);
	memset(&o, 0, sizeof(o));
	if (strlen(v->name) >= sizeof(o.volume) ||
	    strlen(v->mountpoint) >= sizeof(o.mountpoint))
		return -ENAMETOOLONG;
	strcpy(o.volume, v->name);
	o.type = v->type;
	o.own = own;
	o.busy = v->busy;
	o.busy_timeout = v->busy_timeout > 86400 ? 86400 : v->busy_timeout;

	k = kt_mount_identify(v->mountpoint, a->user->uid, &id);
	if (k < 0)
		return k;
	/* The backend's part: what is mounted there must be its volume. */
	if (b->record) {
		k = b->record(a, v, &id, &o);
		if (k < 0)
			return k;
	}
	o.mnt_id = id.mnt_id;
	o.mnt_unique = id.unique;
	o.mnt_dev = id.dev;
	o.mnt_ino = id.ino;
	strcpy(o.mountpoint, v->mountpoint);
	{
		/* What the parser would refuse is no record. */
		char line[KT_STATE_PATH_MAX + 512];

		k = kt_opened_format(&o, line, sizeof(line));
		if (k < 0)
			return k;
	}
	*ret = o;
	return 0;
}

/* RUNDIR/UID, made when missing. */
static int rundir(struct agent *a)
{
	return kt_session_dir(a->state.uid, true);
}

static int file_write(int dir, const char *prefix, const char *name,
		      const char *text)
{
	_cleanup_close_ int fd = -1;
	char path[64], tmp[72];
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "%s%s", prefix, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlinkat(dir, tmp, 0);
	fd = openat(dir, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kt_negerrno();
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ||
	    renameat(dir, tmp, dir, path) < 0) {
		int r = kt_negerrno();

		(void)unlinkat(dir, tmp, 0);
		return r;
	}
	return 0;
}

static void file_remove(int dir, const char *prefix, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "%s%s", prefix, name);
	if (unlinkat(dir, path, 0) < 0 && errno != ENOENT)
		agent_log(LOG_WARNING, "Failed to remove %s in %s: %s, "
				       "ignoring",
			  path, KT_RUNDIR, strerror(errno));
}

void record_keep(struct agent *a, const struct kt_opened *o)
{
	struct kt_state *s = &a->state;
	char line[KT_STATE_PATH_MAX + 512];
	_cleanup_close_ int dir = -1;
	size_t i;
	int k;

	for (i = 0; i < s->n_volumes; i++)
		if (!strcmp(s->volumes[i].volume, o->volume))
			break;
	if (i == ELEMENTSOF(s->volumes)) {
		agent_log(LOG_ERR, "%s: more than %zu volumes open, %s is not "
				   "recorded and will not be locked at logout",
			  a->user->name, ELEMENTSOF(s->volumes), o->volume);
		return;
	}
	s->volumes[i] = *o;
	if (i == s->n_volumes)
		s->n_volumes++;

	k = kt_opened_format(o, line, sizeof(line));
	dir = k < 0 ? k : rundir(a);
	if (dir >= 0)
		k = file_write(dir, RECORD_PREFIX, o->volume, line);
	if (dir < 0 || k < 0) {
		agent_log(LOG_ERR, "%s: Failed to record volume %s in %s: %s; "
				   "only this session will lock it",
			  a->user->name, o->volume, KT_RUNDIR,
			  strerror(dir < 0 ? -dir : -k));
		return;
	}
	/* Open again: what a failed teardown left says nothing now. */
	file_remove(dir, FAILED_PREFIX, o->volume);
}

/* The records other sessions left in RUNDIR/UID, not in out yet. */
static size_t collect_files(struct agent *a, struct kt_opened *out, size_t n,
			    size_t max)
{
	_cleanup_close_ int dir = -1, list = -1;
	struct dirent *de;
	DIR *d;

	dir = kt_session_dir(a->state.uid, false);
	if (dir < 0)
		return n;
	list = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (list < 0 || !(d = fdopendir(list)))
		return n;
	list = -1;
	while (n < max && (de = readdir(d))) {
		char text[KT_STATE_PATH_MAX + 512];
		struct kt_opened o;
		struct stat st;
		bool known = false;
		ssize_t len;
		int fd;

		if (strncmp(de->d_name, RECORD_PREFIX, strlen(RECORD_PREFIX)) ||
		    strchr(de->d_name + strlen(RECORD_PREFIX), '.'))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
				      st.st_uid == 0 ?
			      read(fd, text, sizeof(text)) :
			      -1;
		close(fd);
		if (len <= 0 || (size_t)len >= sizeof(text) ||
		    kt_opened_parse(text, (size_t)len, &o) < 0 ||
		    strcmp(o.volume, de->d_name + strlen(RECORD_PREFIX))) {
			agent_log(LOG_ERR, "%s: the record %s/%u/%s is "
					   "unreadable, ignoring",
				  a->user->name, KT_RUNDIR,
				  (unsigned)a->state.uid, de->d_name);
			continue;
		}
		for (size_t i = 0; i < n && !known; i++)
			known = !strcmp(out[i].volume, o.volume);
		if (known)
			continue;
		/* Key serials of another agent's keyring are not this one's
		 * to revoke: they go with that keyring and the mount. */
		o.keys[0] = o.keys[1] = 0;
		out[n++] = o;
	}
	closedir(d);
	return n;
}

size_t records_collect(struct agent *a, bool files, struct kt_opened *out,
		       size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->state.n_volumes && n < max; i++)
		out[n++] = a->state.volumes[i];
	if (files)
		n = collect_files(a, out, n, max);
	return n;
}

void record_closed(struct agent *a, const struct kt_opened *o,
		   const struct kt_report *r)
{
	_cleanup_close_ int dir = rundir(a);
	char line[KT_LINE_MAX];
	int k;

	if (r->status == KT_REPORT_CLOSED) {
		if (dir >= 0) {
			file_remove(dir, RECORD_PREFIX, o->volume);
			file_remove(dir, FAILED_PREFIX, o->volume);
		}
		return;
	}
	/* Still open: said loudly, kept for keyturnctl status, and the
	 * record stays for the next teardown. */
	agent_log(LOG_ERR, "%s: volume %s could not be locked: %s",
		  a->user->name, o->volume, r->message);
	k = kt_report_format(r, line, sizeof(line));
	if (dir < 0 || k < 0 ||
	    (k = file_write(dir, FAILED_PREFIX, o->volume, line)) < 0)
		agent_log(LOG_ERR, "%s: Failed to note in %s that %s is still "
				   "open: %s",
			  a->user->name, KT_RUNDIR, o->volume,
			  strerror(dir < 0 ? -dir : -k));
}
