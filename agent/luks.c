/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LUKS2 volumes: open through the luks2-keyring token, mount; unmount,
 * deactivate. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "agent.h"
#include "dm.h"
#include "luks.h"
#include "mount.h"

static void dm_path(const struct kt_volume *v, char *buf, size_t size)
{
	snprintf(buf, size, "/dev/mapper/%s", v->dm_name);
}

/* 1 when the volume's dm device is what is mounted on its mount point. */
static int mounted_here(const struct kt_volume *v)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	char dev[160];
	struct stat st;
	int r;

	r = kt_mount_find(v->mountpoint, &m);
	if (r <= 0)
		return r;
	dm_path(v, dev, sizeof(dev));
	r = !strcmp(m.source, dev) ||
	    (stat(dev, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == m.dev);
	kt_mount_entry_clear(&m);
	return r;
}

static const char *open_error(int r)
{
	switch (r) {
	case -EPERM:
		return "the login password does not open the keyslot bound to "
		       "the token";
	case -ENOENT:
		return "no luks2-keyring token for this user (run keyturnctl "
		       "enroll luks)";
	case -EINVAL:
		return "not a LUKS2 device";
	case -EBADSLT:
		return "the luks2-keyring token of this user is bound to no "
		       "keyslot (destroyed?): remove the token, then run "
		       "keyturnctl enroll luks";
	default:
		return strerror(-r);
	}
}

int luks_open_volume(struct agent *a, const struct kt_volume *v,
		     struct kt_report *r)
{
	char dev[160];
	bool opened = false;
	int k;

	dm_path(v, dev, sizeof(dev));
	k = kt_luks_active(v->dm_name, v->device);
	if (k == -EEXIST) {
		report_set(r, KT_REPORT_FAILED, EEXIST,
			   "device-mapper name %s is taken by another device",
			   v->dm_name);
		return -EEXIST;
	}
	if (k < 0 && k != -ENODEV) {
		report_set(r, KT_REPORT_FAILED, k, "Failed to check %s: %s",
			   v->dm_name, strerror(-k));
		return k;
	}

	if (k <= 0) {
		if (a->passphrase_key <= 0) {
			report_set(r, KT_REPORT_LOCKED, ENOKEY,
				   "no passphrase in this session (key %s "
				   "not found): left locked",
				   a->key_desc);
			return 0;
		}
		k = kt_luks_open(v->device, v->dm_name, a->key_desc, 0);
		if (k < 0) {
			report_set(r, KT_REPORT_FAILED, k,
				   "Failed to open %s: %s", v->device,
				   open_error(k));
			return k;
		}
		opened = true;
	}

	k = mounted_here(v);
	if (k > 0) {
		report_set(r, KT_REPORT_REUSED, 0, "%s already mounted on %s",
			   dev, v->mountpoint);
		return 0;
	}
	k = mount_volume(a, v, dev, v->fstype, NULL, r);
	if (k < 0) {
		/* Nothing stays unlocked that is not in use. */
		if (opened && kt_luks_close(v->dm_name, false) < 0)
			agent_log(LOG_ERR, "Failed to close %s after a failed "
					   "mount", v->dm_name);
		return k;
	}
	report_set(r, opened ? KT_REPORT_OPENED : KT_REPORT_REUSED, 0,
		   "%s %s and mounted on %s", v->device,
		   opened ? "opened" : "was open", v->mountpoint);
	return 0;
}

/* 1 when o's dm mapping is active under its recorded name with its
 * recorded UUID, 0 when that name is not active, -EEXIST when the name
 * now belongs to another device. */
static int still_ours(const struct kt_opened *o)
{
	char uuid[sizeof(o->dm_uuid)];
	dev_t dev;
	int k;

	k = kt_dm_identify(o->dm_name, &dev, uuid, sizeof(uuid));
	if (k == -ENODEV)
		return 0;
	if (k == -ENAMETOOLONG)
		return -EEXIST;
	if (k < 0)
		return k;
	return strcmp(uuid, o->dm_uuid) ? -EEXIST : 1;
}

/* What was opened is what is closed: the mount by its identity, the dm
 * mapping by its name and UUID as recorded, never what the config's
 * device path resolves to now. */
int luks_close_volume(struct agent *a, const struct kt_opened *o,
		      struct kt_report *r)
{
	bool lazy = false;
	int k;

	k = unmount_for_close(a, o, &lazy, r);
	if (k < 0)
		return k;
	if (!o->dm_name[0]) {
		report_set(r, KT_REPORT_CLOSED, 0, "not open");
		return 0;
	}
	k = still_ours(o);
	if (k == -EEXIST) {
		report_set(r, KT_REPORT_FAILED, EEXIST,
			   "/dev/mapper/%s is no longer the device this "
			   "session opened (UUID %s): left alone",
			   o->dm_name, o->dm_uuid);
		return k;
	}
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k, "Failed to check %s: %s",
			   o->dm_name, strerror(-k));
		return k;
	}
	if (k > 0) {
		k = kt_luks_close(o->dm_name, lazy);
		if (k < 0) {
			report_set(r, KT_REPORT_FAILED, k,
				   "Failed to close %s: %s", o->dm_name,
				   strerror(-k));
			return k;
		}
	}
	report_set(r, KT_REPORT_CLOSED, 0, "/dev/mapper/%s%s", o->dm_name,
		   lazy ? " detached, removal deferred until it is no longer "
			  "busy"
			: " locked");
	return 0;
}
