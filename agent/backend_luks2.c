/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LUKS2 volumes: open through the luks2-keyring token, mount; unmount,
 * deactivate. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>

#include "agent.h"
#include "backend.h"
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
	case -EKEYREJECTED:
		return "its data segment or the keyslot of the token is "
		       "cipher_null (not encrypted): refused";
	case -EMEDIUMTYPE:
		return "its LUKS2 UUID changed under the check: refused";
	default:
		return strerror(-r);
	}
}

/*
 * The device path (a /dev/disk/by-* link) is only a name: a removable
 * disk or a loop device a user set up can claim it. Resolved once into a
 * descriptor that every later step uses (/proc/self/fd/N), checked to be
 * a block device or a root-owned image file, and, when the config pins
 * the volume, its LUKS2 UUID compared with the pin.
 */
static int open_device(const struct kt_volume *v, char *fd_path, size_t size,
		       struct kt_report *r)
{
	_cleanup_close_ int fd = -1;
	char uuid[64];
	struct stat st;
	int k;

	fd = open(v->device, O_PATH | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		k = kt_negerrno();
		report_set(r, KT_REPORT_FAILED, -k, "Failed to open %s: %s",
			   v->device, strerror(-k));
		return k;
	}
	if (!S_ISBLK(st.st_mode) &&
	    !(S_ISREG(st.st_mode) && st.st_uid == 0 &&
	      !(st.st_mode & (S_IWGRP | S_IWOTH)))) {
		report_set(r, KT_REPORT_FAILED, EPERM,
			   "%s is neither a block device nor an image file "
			   "that root owns and only root may write: refused",
			   v->device);
		return -EPERM;
	}
	snprintf(fd_path, size, "/proc/self/fd/%d", fd);

	if (!v->uuid) {
		agent_log(LOG_WARNING,
			  "%s: volume %s is not pinned (no 'uuid' in %s:%u): "
			  "whatever LUKS2 device %s names is taken; "
			  "keyturnctl check shows the line to add",
			  v->name, v->name, v->file, v->line, v->device);
		return TAKE_FD(fd);
	}
	k = kt_luks_uuid(fd_path, uuid, sizeof(uuid));
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, -k,
			   "Failed to read the LUKS2 header of %s: %s",
			   v->device, k == -EINVAL ? "not a LUKS2 device"
						   : strerror(-k));
		return k;
	}
	if (strcasecmp(uuid, v->uuid) != 0) {
		report_set(r, KT_REPORT_FAILED, EMEDIUMTYPE,
			   "%s has LUKS2 UUID %s, not %s that the config pins "
			   "(%s:%u): another device took its place, refused",
			   v->device, uuid, v->uuid, v->file, v->line);
		return -EMEDIUMTYPE;
	}
	return TAKE_FD(fd);
}

int luks_open_volume(struct agent *a, const struct kt_volume *v,
		     struct kt_report *r)
{
	_cleanup_close_ int fd = -1;
	char dev[160], fd_path[64];
	bool opened = false;
	int k;

	dm_path(v, dev, sizeof(dev));
	fd = open_device(v, fd_path, sizeof(fd_path), r);
	if (fd < 0)
		return fd;
	k = kt_luks_active(v->dm_name, fd_path);
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
		if (report_no_passphrase(a, r))
			return 0;
		k = kt_luks_open_pinned(fd_path, v->uuid, v->dm_name,
					a->key_desc, 0);
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

void luks_cost(struct agent *a, const struct kt_volume *v,
	       struct volume_cost *c)
{
	struct kt_luks_token tok;

	if (kt_luks_find_token(v->device, a->key_desc, &tok) == 0) {
		c->memory_kib = tok.memory_kib;
		c->threads = tok.threads ? tok.threads : 1;
	}
}

/* The mapping, by name, device number and UUID; what is mounted must be
 * it. */
int luks_record(struct agent *a, const struct kt_volume *v,
		const struct kt_mount_id *mounted, struct kt_opened *o)
{
	int k;

	if (!v->dm_name || strlen(v->dm_name) >= sizeof(o->dm_name))
		return -EINVAL;
	k = kt_dm_identify(v->dm_name, &o->dm_dev, o->dm_uuid,
			   sizeof(o->dm_uuid));
	if (k < 0)
		return k;
	strcpy(o->dm_name, v->dm_name);
	if (mounted->dev != o->dm_dev)
		return -EXDEV;
	return 0;
}

void luks_rekey(struct rekey *k, const struct kt_volume *v,
		struct kt_report *rep)
{
	struct kt_luks_token tok;
	int r;

	r = kt_luks_rekey(v->device, k->a.key_desc, k->old, k->new_pass, &tok);
	if (r == 0)
		report_set(rep, KT_REPORT_REKEYED, 0,
			   "%s: keyslot %d now takes the new password",
			   v->device, tok.keyslot);
	else if (r == 1)
		report_set(rep, KT_REPORT_UNCHANGED, 0,
			   "%s: keyslot %d took the new password already",
			   v->device, tok.keyslot);
	else if (r == -EPERM)
		report_set(rep, KT_REPORT_FAILED, EPERM,
			   "%s: the old password opens no keyslot of it",
			   v->device);
	else if (r == -ENOENT)
		report_set(rep, KT_REPORT_FAILED, ENOENT,
			   "%s: no luks2-keyring token %s (run keyturnctl "
			   "enroll luks)",
			   v->device, k->a.key_desc);
	else
		report_set(rep, KT_REPORT_FAILED, r, "Failed to re-key %s: %s",
			   v->device, strerror(-r));
}
