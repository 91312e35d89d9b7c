/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Finding and reading the fscrypt tool's metadata as root, through
 * descriptors only: <mount>/.fscrypt/{policies,protectors}/NAME, each step
 * opened with O_NOFOLLOW and checked after open. The metadata directories
 * belong to root, and may be world-writable only with the sticky bit (as
 * fscrypt makes them when users may create metadata); a file must be a
 * regular file of root or of the user, with one link, that no one else
 * may write. fscrypt also allows ".fscrypt" to be a symlink (for a
 * read-only root); keyturn does not follow it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fscrypt_meta.h"

static int refuse(const char **ret_reason, const char *reason, int r)
{
	if (ret_reason)
		*ret_reason = reason;
	return r;
}

static int check_meta_dir(int fd, const char **ret_reason)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	if (st.st_uid != 0)
		return refuse(ret_reason,
			      "an fscrypt metadata directory not owned by root",
			      -EPERM);
	if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX))
		return refuse(ret_reason,
			      "an fscrypt metadata directory others may write, without the sticky bit",
			      -EPERM);
	return 0;
}

/* openat() of a directory that must not be a symlink: O_NOFOLLOW with
 * O_DIRECTORY says ENOTDIR for one, which is -ELOOP here, as for files. */
static int open_dir_nofollow(int parent, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(parent, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR &&
	    fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return kt_negerrno();
}

static int open_meta_dir(int mount_fd, const char *kind,
			 const char **ret_reason)
{
	_cleanup_close_ int base = -1, dir = -1;
	int r;

	base = open_dir_nofollow(mount_fd, ".fscrypt");
	if (base < 0) {
		r = base;
		if (r == -ELOOP || r == -ENOTDIR)
			return refuse(ret_reason,
				      ".fscrypt is a symlink or not a directory",
				      r);
		return refuse(ret_reason, "no .fscrypt metadata directory", r);
	}
	r = check_meta_dir(base, ret_reason);
	if (r < 0)
		return r;
	dir = open_dir_nofollow(base, kind);
	if (dir < 0)
		return refuse(ret_reason,
			      "no usable metadata directory of that kind in .fscrypt",
			      dir);
	r = check_meta_dir(dir, ret_reason);
	if (r < 0)
		return r;
	return TAKE_FD(dir);
}

int kt_fscrypt_meta_read(int mount_fd, const char *kind, const char *name,
			 uid_t uid, uint8_t *buf, size_t size,
			 size_t *ret_len, const char **ret_reason)
{
	_cleanup_close_ int dir = -1, fd = -1;
	struct stat st;
	size_t len = 0;

	if (mount_fd < 0 || !kind || !name || !*name || strchr(name, '/') ||
	    name[0] == '.' || !buf || !ret_len)
		return -EINVAL;
	if (strcmp(kind, "policies") && strcmp(kind, "protectors"))
		return -EINVAL;
	dir = open_meta_dir(mount_fd, kind, ret_reason);
	if (dir < 0)
		return dir;
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				       O_NOCTTY);
	if (fd < 0) {
		int r = kt_negerrno();

		return refuse(ret_reason,
			      r == -ENOENT ? "no fscrypt metadata file of that name"
					   : "cannot open the fscrypt metadata file",
			      r);
	}
	if (fstat(fd, &st) < 0)
		return kt_negerrno();
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return refuse(ret_reason,
			      "an fscrypt metadata file that is not a plain file",
			      -EPERM);
	if ((st.st_uid != 0 && st.st_uid != uid) || (st.st_mode & 0022))
		return refuse(ret_reason,
			      "an fscrypt metadata file another user owns or may write",
			      -EPERM);
	for (;;) {
		ssize_t n;

		if (len == size) {
			char extra;

			/* One byte more than the caller takes: too big. */
			n = read(fd, &extra, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return kt_negerrno();
			if (n > 0)
				return refuse(ret_reason,
					      "an fscrypt metadata file larger than any keyturn reads",
					      -E2BIG);
			break;
		}
		n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kt_negerrno();
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

/* The mount and inode of fd, to tell where a mount begins. */
static int mount_of(int fd, uint64_t *ret_mnt, uint64_t *ret_dev,
		    uint64_t *ret_ino)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_INO | STATX_MNT_ID, &stx) < 0)
		return kt_negerrno();
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;  /* kernels before 5.8 */
	*ret_mnt = stx.stx_mnt_id;
	*ret_dev = (uint64_t)stx.stx_dev_major << 32 | stx.stx_dev_minor;
	*ret_ino = stx.stx_ino;
	return 0;
}

int kt_fscrypt_mount_root(int dir_fd)
{
	_cleanup_close_ int fd = -1;
	uint64_t mnt, dev, ino;
	int r;

	fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return kt_negerrno();
	r = mount_of(fd, &mnt, &dev, &ino);
	if (r < 0)
		return r;
	/* Up through "..", which the kernel resolves from the directory
	 * itself, until the parent is on another mount or is the same
	 * directory (the root). No path a user names is followed. */
	for (unsigned depth = 0; depth < 4096; depth++) {
		_cleanup_close_ int parent = -1;
		uint64_t pmnt, pdev, pino;

		parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						  O_CLOEXEC);
		if (parent < 0)
			return kt_negerrno();
		r = mount_of(parent, &pmnt, &pdev, &pino);
		if (r < 0)
			return r;
		if (pmnt != mnt || (pdev == dev && pino == ino))
			return TAKE_FD(fd);
		close(fd);
		fd = TAKE_FD(parent);
		dev = pdev;
		ino = pino;
	}
	return -ELOOP;
}

/* The protector of a policy slot: on the directory's filesystem, or
 * behind a link file there on the root filesystem (where fscrypt keeps
 * every login protector). */
static int read_protector(int mount_fd, int root_fd, uid_t uid,
			  const uint8_t *descriptor,
			  struct kt_fscrypt_protector *ret,
			  const char **ret_reason)
{
	uint8_t buf[KT_FSCRYPT_META_MAX];
	char name[KT_FSCRYPT_DESCRIPTOR_HEX + sizeof(".link")];
	size_t len = 0;
	int r;

	kt_fscrypt_descriptor_hex(descriptor, name);
	r = kt_fscrypt_meta_read(mount_fd, "protectors", name, uid, buf,
				 sizeof(buf), &len, ret_reason);
	if (r == -ENOENT) {
		strcat(name, ".link");
		r = kt_fscrypt_meta_read(mount_fd, "protectors", name, uid,
					 buf, sizeof(buf), &len, ret_reason);
		if (r < 0)
			return r;
		r = kt_fscrypt_link_parse(buf, len, ret_reason);
		if (r < 0)
			return r;
		name[KT_FSCRYPT_DESCRIPTOR_HEX] = '\0';
		r = kt_fscrypt_meta_read(root_fd, "protectors", name, uid,
					 buf, sizeof(buf), &len, ret_reason);
	}
	if (r < 0)
		return r;
	return kt_fscrypt_protector_parse(buf, len, ret, ret_reason);
}

int kt_fscrypt_import_directory(int dir_fd, int mount_fd, int root_fd,
				uid_t uid, const struct kt_secret *passphrase,
				struct kt_secret **ret_key,
				uint8_t ret_identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
				const char **ret_reason)
{
	struct kt_fscrypt_policy dir_policy;
	struct kt_fscrypt_policy_data *policy = NULL;
	uint8_t buf[KT_FSCRYPT_META_MAX];
	char name[KT_FSCRYPT_IDENTIFIER_HEX + 1];
	const char *why = NULL, *last_why = NULL;
	size_t len = 0;
	int r, last = -ENOENT;

	if (!passphrase || !ret_key || !ret_identifier)
		return -EINVAL;
	r = kt_fscrypt_get_policy(dir_fd, &dir_policy);
	if (r == -ENODATA)
		return refuse(ret_reason, "the directory is not encrypted", r);
	if (r == -EPROTO)
		return refuse(ret_reason,
			      "the directory has a v1 policy: keyturn takes only v2 ones",
			      r);
	if (r < 0)
		return refuse(ret_reason,
			      "cannot read the directory's encryption policy",
			      r);
	kt_fscrypt_identifier_hex(dir_policy.identifier, name);
	r = kt_fscrypt_meta_read(mount_fd, "policies", name, uid, buf,
				 sizeof(buf), &len, ret_reason);
	if (r < 0)
		return r;
	policy = calloc(1, sizeof(*policy));
	if (!policy)
		return -ENOMEM;
	r = kt_fscrypt_policy_parse(buf, len, policy, ret_reason);
	if (r < 0)
		goto out;
	if (memcmp(policy->identifier, dir_policy.identifier,
		   KT_FSCRYPT_IDENTIFIER_SIZE) != 0) {
		r = refuse(ret_reason,
			   "the policy file does not describe the directory's policy",
			   -EBADMSG);
		goto out;
	}

	/* The first login protector of this user that the policy names:
	 * fscrypt makes one per user and filesystem. Other protectors are
	 * passed over; if there is no login one, the reason says why the
	 * last one did not do. */
	for (size_t i = 0; i < policy->n_slots; i++) {
		struct kt_fscrypt_protector protector;

		r = read_protector(mount_fd, root_fd, uid,
				   policy->slots[i].protector, &protector,
				   &why);
		if (r == 0 && protector.uid != (int64_t)uid) {
			r = -EPERM;
			why = "the login protector is another user's";
		}
		if (r < 0) {
			last = r;
			last_why = why;
			continue;
		}
		r = kt_fscrypt_import_key(&protector, policy, passphrase,
					  ret_key, ret_reason);
		if (r == 0)
			memcpy(ret_identifier, policy->identifier,
			       KT_FSCRYPT_IDENTIFIER_SIZE);
		goto out;
	}
	r = refuse(ret_reason,
		   last_why ? last_why
			    : "the policy names no protector",
		   last);
out:
	free(policy);
	return r;
}
