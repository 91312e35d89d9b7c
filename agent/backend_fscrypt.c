/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fscrypt directories (v2 policies): at login the raw key is unwrapped
 * from keyturn's wrapped file with the login passphrase, checked against
 * the directory's policy and added to the filesystem's own keyring
 * (FS_IOC_ADD_ENCRYPTION_KEY), never to a keyring a user can read. At the
 * user's last logout the recorded key is removed
 * (FS_IOC_REMOVE_ENCRYPTION_KEY) through the recorded directory, checked
 * to be the one that was opened; files still open are handled by the
 * volume's busy policy, as for mounts.
 *
 * Nothing is mounted: the record's mount fields name the directory
 * itself (lib/protocol.h), and unmount_for_close() is never called.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "backend.h"
#include "fscrypt.h"
#include "fscrypt_meta.h"
#include "mount.h"
#include "wrapped.h"

#define RETRY_MS 200

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *dir_error(int r)
{
	switch (r) {
	case -ELOOP:
		return "a symbolic link (on the way or at the end)";
	case -EPERM:
		return "not owned by the user, or a directory on the way "
		       "others can write to";
	case -ENODATA:
		return "not encrypted (keyturnctl enroll fscrypt sets it up)";
	case -EPROTO:
		return "a v1 fscrypt policy, which keyturn refuses (its key "
		       "would live in a keyring every user who finds it can "
		       "use)";
	case -EOPNOTSUPP:
		return "its filesystem has no encryption (for ext4: tune2fs "
		       "-O encrypt DEVICE; for f2fs: fsck.f2fs -O encrypt "
		       "DEVICE, unmounted)";
	case -ENOTTY:
		return "its filesystem knows no fscrypt";
	default:
		return strerror(-r);
	}
}

/* The raw key, from the wrapped file and the login passphrase. */
static int unwrap(struct agent *a, const struct kt_volume *v,
		  struct kt_secret **ret, struct kt_report *r)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	int k;

	k = wrapped_file_unwrap(a, v, &key, r);
	if (k < 0)
		return k;
	if (key->len != KT_FSCRYPT_KEY_SIZE) {
		report_set(r, KT_REPORT_FAILED, EBADMSG,
			   "wrapped file %s holds no fscrypt key (not %d "
			   "bytes)", v->wrapped, KT_FSCRYPT_KEY_SIZE);
		return -EBADMSG;
	}
	*ret = TAKE_PTR(key);
	return 0;
}

int fscrypt_open_volume(struct agent *a, const struct kt_volume *v,
			struct kt_report *r)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	_cleanup_close_ int dir = -1;
	struct kt_fscrypt_policy policy;
	struct kt_fscrypt_key_status status;
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];
	int k;

	dir = kt_fscrypt_dir_open(v->directory, a->user->uid);
	k = dir < 0 ? dir : kt_fscrypt_get_policy(dir, &policy);
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k, "directory %s refused: %s",
			   v->directory, dir_error(k));
		return k;
	}
	kt_fscrypt_identifier_hex(policy.identifier, hex);
	k = kt_fscrypt_get_key_status(dir, policy.identifier, &status);
	if (k >= 0 && status.state == KT_FSCRYPT_KEY_PRESENT) {
		report_set(r, KT_REPORT_REUSED, 0, "%s unlocked already "
			   "(key %s)", v->directory, hex);
		return 0;
	}
	if (report_no_passphrase(a, r))
		return 0;
	k = unwrap(a, v, &key, r);
	if (k < 0)
		return k;
	/* Checked before the kernel sees it: a wrapped file of another
	 * directory adds nothing. */
	k = kt_fscrypt_key_identifier(key, id);
	if (k >= 0 && memcmp(id, policy.identifier, sizeof(id)) != 0)
		k = -EKEYREJECTED;
	if (k >= 0)
		k = kt_fscrypt_add_key(dir, key, id);
	if (k >= 0 && memcmp(id, policy.identifier, sizeof(id)) != 0) {
		/* Cannot happen with the check above; never left added. */
		if (kt_fscrypt_remove_key(dir, id, false, NULL) < 0)
			agent_log(LOG_WARNING, "Failed to remove a key the "
					       "kernel named otherwise, "
					       "ignoring");
		k = -EKEYREJECTED;
	}
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k,
			   k == -EKEYREJECTED ? "%s: wrapped file %s holds the "
						"key of another directory"
					      : "Failed to add the key of %s: "
						"%s",
			   v->directory,
			   k == -EKEYREJECTED ? v->wrapped : strerror(-k));
		return k;
	}
	report_set(r, KT_REPORT_OPENED, 0, "%s unlocked (key %s)",
		   v->directory, hex);
	return 0;
}

int fscrypt_record_volume(struct agent *a, const struct kt_volume *v,
			  bool own, struct kt_opened *ret)
{
	_cleanup_close_ int dir = -1;
	struct kt_fscrypt_policy policy;
	struct kt_opened o;
	struct statx stx;
	char line[KT_STATE_PATH_MAX + 512];
	int k;

	memset(&o, 0, sizeof(o));
	if (strlen(v->name) >= sizeof(o.volume) ||
	    strlen(v->directory) >= sizeof(o.mountpoint))
		return -ENAMETOOLONG;
	dir = kt_fscrypt_dir_open(v->directory, a->user->uid);
	if (dir < 0)
		return dir;
	k = kt_fscrypt_get_policy(dir, &policy);
	if (k < 0)
		return k;
	if (statx(dir, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) < 0)
		return kt_negerrno();
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	strcpy(o.volume, v->name);
	o.type = v->type;
	o.own = own;
	o.busy = v->busy;
	o.busy_timeout = v->busy_timeout > 86400 ? 86400 : v->busy_timeout;
	o.mnt_id = stx.stx_mnt_id;
	o.mnt_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	o.mnt_ino = stx.stx_ino;
	strcpy(o.mountpoint, v->directory);
	kt_fscrypt_identifier_hex(policy.identifier, o.fscrypt_id);
	/* What the parser would refuse is no record. */
	k = kt_opened_format(&o, line, sizeof(line));
	if (k < 0)
		return k;
	*ret = o;
	return 0;
}

static int parse_identifier(const char *hex,
			    uint8_t ret[KT_FSCRYPT_IDENTIFIER_SIZE])
{
	for (size_t i = 0; i < KT_FSCRYPT_IDENTIFIER_SIZE; i++) {
		unsigned b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		ret[i] = (uint8_t)b;
	}
	return 0;
}

/* Removes this agent's claim until the files are closed or seconds have
 * passed: -ENOKEY when no claim of root's was there. */
static int remove_retry(int root, const uint8_t *id, unsigned seconds,
			unsigned *ret_flags)
{
	long long deadline = kt_now_ms() + seconds * 1000LL;
	int k;

	for (;;) {
		k = kt_fscrypt_remove_key(root, id, false, ret_flags);
		if (k < 0 || !(*ret_flags & KT_FSCRYPT_REMOVED_FILES_BUSY) ||
		    kt_now_ms() >= deadline)
			return k;
		sleep_ms(RETRY_MS);
	}
}

/* The recorded directory, checked to be the one that was opened, and the
 * root of its mount: the key goes through that, as an open encrypted
 * directory would itself keep the key busy. */
static int recorded_mount_root(struct agent *a, const struct kt_opened *o)
{
	_cleanup_close_ int dir = -1;
	struct stat st;

	dir = kt_fscrypt_dir_open(o->mountpoint, a->user->uid);
	if (dir < 0)
		return dir;
	if (fstat(dir, &st) < 0)
		return kt_negerrno();
	if (st.st_dev != o->mnt_dev || st.st_ino != o->mnt_ino)
		return -ESTALE;
	return kt_fscrypt_mount_root(dir);
}

/*
 * When the directory is not what was opened any more (renamed, removed,
 * swapped for a link): the recorded mount, by its id, checked to be the
 * same filesystem. The key is named by its identifier and only root's
 * claim goes, so any directory of that filesystem removes exactly it.
 */
static int recorded_mount(const struct kt_opened *o)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	_cleanup_close_ int fd = -1;
	struct statx stx;
	int k;

	k = kt_mount_find_id(o->mnt_id, &m);
	if (k <= 0)
		return k < 0 ? k : -ENOENT;
	fd = m.target ? open(m.target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC)
		      : -1;
	k = fd < 0 ? (m.target ? kt_negerrno() : -ENOENT) : 0;
	kt_mount_entry_clear(&m);
	if (k < 0)
		return k;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
		return kt_negerrno();
	if (!(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != o->mnt_id ||
	    makedev(stx.stx_dev_major, stx.stx_dev_minor) != o->mnt_dev)
		return -ESTALE;
	return TAKE_FD(fd);
}

/* keyturn holds no claim to the key (-ENOKEY): locked already, or
 * unlocked by someone else, which is said. */
static int not_ours(int root, const uint8_t *id, const struct kt_opened *o,
		    struct kt_report *r)
{
	struct kt_fscrypt_key_status st;

	if (kt_fscrypt_get_key_status(root, id, &st) == 0 &&
	    st.state == KT_FSCRYPT_KEY_PRESENT) {
		report_set(r, KT_REPORT_KEPT, EBUSY,
			   "%s still unlocked: key %s was added by another "
			   "user (fscrypt unlock?), not by keyturn",
			   o->mountpoint, o->fscrypt_id);
		return -EBUSY;
	}
	report_set(r, KT_REPORT_CLOSED, 0, "%s locked already (key %s was "
		   "not there)", o->mountpoint, o->fscrypt_id);
	return 0;
}

int fscrypt_close_volume(struct agent *a, const struct kt_opened *o,
			 struct kt_report *r)
{
	_cleanup_close_ int root = -1;
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	const char *dir = o->mountpoint;
	unsigned flags = 0;
	struct holders h;
	int k;

	if (parse_identifier(o->fscrypt_id, id) < 0) {
		report_set(r, KT_REPORT_FAILED, EINVAL, "bad record of %s",
			   o->volume);
		return -EINVAL;
	}
	root = recorded_mount_root(a, o);
	if (root < 0) {
		int k2 = recorded_mount(o);

		agent_log(LOG_WARNING, "%s: %s is not the directory that was "
				       "opened any more (%s); removing key %s "
				       "through its filesystem",
			  a->user->name, o->mountpoint,
			  root == -ESTALE ? "another directory is there"
					  : dir_error(root),
			  o->fscrypt_id);
		if (k2 >= 0)
			root = k2;
	}
	if (root < 0) {
		report_set(r, KT_REPORT_FAILED, -root,
			   "%s: cannot reach the directory that was opened "
			   "(%s): key %s left in place",
			   o->mountpoint,
			   root == -ESTALE ? "another directory is there now"
					   : dir_error(root),
			   o->fscrypt_id);
		return root;
	}
	/* busy = keep: nothing is removed while the user's processes still
	 * hold files there. */
	if (o->busy == KT_BUSY_KEEP) {
		long long deadline = kt_now_ms() + o->busy_timeout * 1000LL;

		while (holders_find(&h, o, dir) > 0 && kt_now_ms() < deadline)
			sleep_ms(RETRY_MS);
		if (h.n > 0) {
			agent_log(LOG_WARNING, "%s: %s still busy after %u s, "
					       "held by pids: %s; busy = keep",
				  a->user->name, o->mountpoint,
				  o->busy_timeout, h.list);
			report_set(r, KT_REPORT_KEPT, EBUSY,
				   "%s is busy: kept unlocked (busy = keep)",
				   o->mountpoint);
			return -EBUSY;
		}
	}
	k = remove_retry(root, id, o->busy_timeout, &flags);
	if (k == -ENOKEY)
		return not_ours(root, id, o, r);
	if (k >= 0 && (flags & KT_FSCRYPT_REMOVED_FILES_BUSY)) {
		holders_find(&h, o, dir);
		agent_log(LOG_WARNING, "%s: %s still busy after %u s, held by "
				       "pids: %s; busy = %s",
			  a->user->name, o->mountpoint, o->busy_timeout,
			  h.list, kt_busy_policy_name(o->busy));
		if (o->busy == KT_BUSY_KILL) {
			holders_signal(a, &h, o, dir, SIGTERM);
			k = remove_retry(root, id, 2, &flags);
			if (k >= 0 && (flags & KT_FSCRYPT_REMOVED_FILES_BUSY)) {
				holders_find(&h, o, dir);
				agent_log(LOG_WARNING, "%s: killing pids %s",
					  o->mountpoint, h.list);
				holders_signal(a, &h, o, dir, SIGKILL);
				k = remove_retry(root, id, 2, &flags);
			}
		}
	}
	if (k == -ENOKEY) {
		/* Gone meanwhile: nothing left of keyturn's. */
		k = 0;
		flags = 0;
	}
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k,
			   "Failed to remove the key of %s: %s", o->mountpoint,
			   strerror(-k));
		return k;
	}
	if (flags & KT_FSCRYPT_REMOVED_OTHER_USERS) {
		report_set(r, KT_REPORT_KEPT, EBUSY,
			   "%s still unlocked: keyturn's claim to key %s is "
			   "gone, but another user added it too (fscrypt "
			   "unlock?), and it stays until they remove it",
			   o->mountpoint, o->fscrypt_id);
		return -EBUSY;
	}
	if ((flags & KT_FSCRYPT_REMOVED_FILES_BUSY) &&
	    o->busy == KT_BUSY_KEEP) {
		/* Opened between the look and the removal: the next
		 * teardown finishes it. */
		report_set(r, KT_REPORT_KEPT, EBUSY,
			   "%s is busy: files still open keep it readable "
			   "(busy = keep)", o->mountpoint);
		return -EBUSY;
	}
	report_set(r, KT_REPORT_CLOSED, 0, "%s locked%s", o->mountpoint,
		   (flags & KT_FSCRYPT_REMOVED_FILES_BUSY)
			   ? ", files still open stay readable until closed"
			   : " (key removed)");
	return 0;
}

void fscrypt_rekey(struct rekey *k, const struct kt_volume *v,
		   struct kt_report *r)
{
	/* The key itself never changes: only its wrapping, in keyturn's
	 * own format, atomically. */
	ecryptfs_rekey(k, v, r);
}
