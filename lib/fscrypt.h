/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_FSCRYPT_H
#define KT_FSCRYPT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "secret.h"

/*
 * The kernel's native per-directory encryption (fscrypt, ext4 with
 * -O encrypt, f2fs), v2 policies only: the key is added to the
 * filesystem's own keyring with FS_IOC_ADD_ENCRYPTION_KEY, never to a
 * keyring a user can read, and is named by a 16-byte identifier that the
 * kernel derives from it (HKDF-SHA512, kt_fscrypt_key_identifier()).
 *
 * Every function takes dir_fd, a directory opened by the caller with
 * O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC (the ioctls need a real file,
 * not O_PATH; anything else is -ENOTDIR), returns 0 or -errno, retries
 * EINTR and never logs. The key ioctls act on the whole filesystem of
 * dir_fd. Tested on the kernel by tests/host/test_fscrypt.c. What the
 * kernel says, as -errno:
 *   -EOPNOTSUPP  the filesystem has no encryption (ext4 without
 *                -O encrypt: "tune2fs -O encrypt DEVICE" is the fix;
 *                f2fs without it: "fsck.f2fs -O encrypt DEVICE",
 *                unmounted)
 *   -ENOTTY      the kernel or the filesystem knows no fscrypt ioctls
 *   -ENODATA     the directory has no policy (kt_fscrypt_get_policy)
 *   -EPROTO      the directory has a v1 policy, or one newer than v2:
 *                keyturn refuses v1 (its keys live in user keyrings and
 *                any user who can see the key can use it)
 *   -ENOTEMPTY   a policy can only be set on an empty directory
 *   -EEXIST      the directory already has another policy
 *   -ENOKEY      setting a v2 policy whose key was not added first
 */

#define KT_FSCRYPT_KEY_SIZE 64           /* FSCRYPT_MAX_KEY_SIZE */
#define KT_FSCRYPT_IDENTIFIER_SIZE 16    /* FSCRYPT_KEY_IDENTIFIER_SIZE */
#define KT_FSCRYPT_IDENTIFIER_HEX (2 * KT_FSCRYPT_IDENTIFIER_SIZE)

/* What a directory's v2 policy says (struct fscrypt_policy_v2). */
struct kt_fscrypt_policy {
	uint8_t contents_mode;  /* FSCRYPT_MODE_* */
	uint8_t filenames_mode;
	uint8_t flags;          /* FSCRYPT_POLICY_FLAG* */
	uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE];
};

/* The key's state (FS_IOC_GET_ENCRYPTION_KEY_STATUS). */
enum kt_fscrypt_key_state {
	KT_FSCRYPT_KEY_ABSENT = 1,            /* FSCRYPT_KEY_STATUS_ABSENT */
	KT_FSCRYPT_KEY_PRESENT = 2,
	KT_FSCRYPT_KEY_INCOMPLETELY_REMOVED = 3, /* files were still open */
};

struct kt_fscrypt_key_status {
	enum kt_fscrypt_key_state state;
	/* The caller's own claim to the key is among the holders
	 * (FSCRYPT_KEY_STATUS_FLAG_ADDED_BY_SELF). */
	bool added_by_self;
	/* How many users hold a claim (root counts as one). */
	uint32_t user_count;
};

/* What FS_IOC_REMOVE_ENCRYPTION_KEY left behind (its status flags). */
#define KT_FSCRYPT_REMOVED_FILES_BUSY 0x1u  /* files still open: the key
					     * stays until they close */
#define KT_FSCRYPT_REMOVED_OTHER_USERS 0x2u /* only this user's claim went;
					     * others still hold the key */

/*
 * path, a directory owned by uid, reached without following a link
 * (kt_dir_open_checked), opened O_RDONLY as the fscrypt ioctls need it:
 * for the agent and keyturnctl alike.
 */
int kt_fscrypt_dir_open(const char *path, uid_t uid) _wur_;

/* The directory's policy. -EPROTO for v1 (see above). */
int kt_fscrypt_get_policy(int dir_fd, struct kt_fscrypt_policy *ret) _wur_;

/*
 * Sets a v2 policy (AES-256-XTS contents, AES-256-CTS names, names padded
 * to 32 bytes) naming identifier on the empty directory dir_fd. The key
 * must have been added first (kt_fscrypt_add_key). A directory that
 * already has exactly this policy is left as it is and gives 0.
 */
int kt_fscrypt_set_policy(int dir_fd,
			  const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE])
	_wur_;

/*
 * Adds key (KT_FSCRYPT_KEY_SIZE raw bytes) to the filesystem of dir_fd for
 * the calling user; ret_identifier gets the identifier the kernel derived.
 * The ioctl's argument, which holds a copy of the key, lives in secure
 * memory and is wiped on every path.
 */
int kt_fscrypt_add_key(int dir_fd, const struct kt_secret *key,
		       uint8_t ret_identifier[KT_FSCRYPT_IDENTIFIER_SIZE])
	_wur_;

/*
 * Removes the calling user's claim to the key (all users' claims if
 * all_users, which needs CAP_SYS_ADMIN). *ret_flags (may be NULL) gets
 * KT_FSCRYPT_REMOVED_*: 0 means the key is gone and the files are locked.
 * -ENOKEY: the key was not there (or not added by this user).
 * dir_fd may be any directory of the filesystem, and should not be the
 * encrypted directory itself: an open encrypted directory is one of the
 * files that keep the key busy. The mount's root, or the directory's
 * parent, will do. A removal that left files busy can be done again once
 * they are closed, and then finishes.
 */
int kt_fscrypt_remove_key(int dir_fd,
			  const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
			  bool all_users, unsigned *ret_flags) _wur_;

int kt_fscrypt_get_key_status(
	int dir_fd, const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
	struct kt_fscrypt_key_status *ret) _wur_;

/*
 * Pure: the identifier the kernel gives key (HKDF-SHA512 with no salt and
 * the info "fscrypt\0" 0x01, first 16 bytes), to check a key against a
 * policy before adding it. -EINVAL unless key is KT_FSCRYPT_KEY_SIZE.
 */
int kt_fscrypt_key_identifier(
	const struct kt_secret *key,
	uint8_t ret_identifier[KT_FSCRYPT_IDENTIFIER_SIZE]) _wur_;

/* identifier as lower-case hex (the name fscrypt's metadata uses);
 * ret_hex holds KT_FSCRYPT_IDENTIFIER_HEX + 1 bytes. */
void kt_fscrypt_identifier_hex(
	const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
	char ret_hex[KT_FSCRYPT_IDENTIFIER_HEX + 1]);

#endif
