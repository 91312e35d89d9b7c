/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/fscrypt.h>
#include <sodium.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fscrypt.h"
#include "mount.h"

/* ioctl() as -errno, again after a signal. */
static int xioctl(int fd, unsigned long request, void *arg)
{
	for (;;) {
		if (ioctl(fd, request, arg) >= 0)
			return 0;
		if (errno != EINTR)
			return kt_negerrno();
	}
}

/* The ioctls act on whatever the fd is; a caller that got a file where it
 * expected its directory hears so before the kernel is asked anything. */
static int check_dir(int dir_fd)
{
	struct stat st;

	if (dir_fd < 0)
		return -EBADF;
	if (fstat(dir_fd, &st) < 0)
		return kt_negerrno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return 0;
}

static void key_spec_identifier(struct fscrypt_key_specifier *spec,
				const uint8_t *identifier)
{
	memset(spec, 0, sizeof(*spec));
	spec->type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	memcpy(spec->u.identifier, identifier, KT_FSCRYPT_IDENTIFIER_SIZE);
}

int kt_fscrypt_get_policy(int dir_fd, struct kt_fscrypt_policy *ret)
{
	struct fscrypt_get_policy_ex_arg arg;
	int r;

	r = check_dir(dir_fd);
	if (r < 0)
		return r;
	memset(&arg, 0, sizeof(arg));
	arg.policy_size = sizeof(arg.policy);
	r = xioctl(dir_fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg);
	if (r < 0)
		return r;
	if (arg.policy.version != FSCRYPT_POLICY_V2 ||
	    arg.policy_size != sizeof(arg.policy.v2))
		return -EPROTO;
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		ret->contents_mode = arg.policy.v2.contents_encryption_mode;
		ret->filenames_mode = arg.policy.v2.filenames_encryption_mode;
		ret->flags = arg.policy.v2.flags;
		memcpy(ret->identifier, arg.policy.v2.master_key_identifier,
		       KT_FSCRYPT_IDENTIFIER_SIZE);
	}
	return 0;
}

int kt_fscrypt_set_policy(int dir_fd,
			  const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE])
{
	struct fscrypt_policy_v2 policy;
	int r;

	if (!identifier)
		return -EINVAL;
	r = check_dir(dir_fd);
	if (r < 0)
		return r;
	memset(&policy, 0, sizeof(policy));
	policy.version = FSCRYPT_POLICY_V2;
	policy.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
	policy.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
	policy.flags = FSCRYPT_POLICY_FLAGS_PAD_32;
	memcpy(policy.master_key_identifier, identifier,
	       KT_FSCRYPT_IDENTIFIER_SIZE);
	/* The request's size says v1, but the kernel reads the version byte
	 * first and then the whole v2 struct. */
	return xioctl(dir_fd, FS_IOC_SET_ENCRYPTION_POLICY, &policy);
}

int kt_fscrypt_add_key(int dir_fd, const struct kt_secret *key,
		       uint8_t ret_identifier[KT_FSCRYPT_IDENTIFIER_SIZE])
{
	struct fscrypt_add_key_arg *arg;
	size_t size = sizeof(*arg) + KT_FSCRYPT_KEY_SIZE;
	int r;

	if (!key || key->len != KT_FSCRYPT_KEY_SIZE)
		return -EINVAL;
	r = check_dir(dir_fd);
	if (r < 0)
		return r;
	/* The raw key is copied into the argument: secure memory, wiped by
	 * sodium_free() on the one way out. */
	arg = sodium_malloc(size);
	if (!arg)
		return -ENOMEM;
	sodium_memzero(arg, size);
	arg->key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	arg->raw_size = KT_FSCRYPT_KEY_SIZE;
	memcpy(arg->raw, key->data, KT_FSCRYPT_KEY_SIZE);
	r = xioctl(dir_fd, FS_IOC_ADD_ENCRYPTION_KEY, arg);
	if (r >= 0 && ret_identifier)
		memcpy(ret_identifier, arg->key_spec.u.identifier,
		       KT_FSCRYPT_IDENTIFIER_SIZE);
	sodium_free(arg);
	return r;
}

int kt_fscrypt_remove_key(int dir_fd,
			  const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
			  bool all_users, unsigned *ret_flags)
{
	struct fscrypt_remove_key_arg arg;
	int r;

	if (!identifier)
		return -EINVAL;
	r = check_dir(dir_fd);
	if (r < 0)
		return r;
	memset(&arg, 0, sizeof(arg));
	key_spec_identifier(&arg.key_spec, identifier);
	r = xioctl(dir_fd,
		   all_users ? FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS
			     : FS_IOC_REMOVE_ENCRYPTION_KEY,
		   &arg);
	if (r < 0)
		return r;
	if (ret_flags)
		*ret_flags = arg.removal_status_flags &
			     (KT_FSCRYPT_REMOVED_FILES_BUSY |
			      KT_FSCRYPT_REMOVED_OTHER_USERS);
	return 0;
}

int kt_fscrypt_get_key_status(
	int dir_fd, const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
	struct kt_fscrypt_key_status *ret)
{
	struct fscrypt_get_key_status_arg arg;
	int r;

	if (!identifier)
		return -EINVAL;
	r = check_dir(dir_fd);
	if (r < 0)
		return r;
	memset(&arg, 0, sizeof(arg));
	key_spec_identifier(&arg.key_spec, identifier);
	r = xioctl(dir_fd, FS_IOC_GET_ENCRYPTION_KEY_STATUS, &arg);
	if (r < 0)
		return r;
	switch (arg.status) {
	case FSCRYPT_KEY_STATUS_ABSENT:
	case FSCRYPT_KEY_STATUS_PRESENT:
	case FSCRYPT_KEY_STATUS_INCOMPLETELY_REMOVED:
		break;
	default:
		return -EPROTO;
	}
	if (ret) {
		ret->state = (enum kt_fscrypt_key_state)arg.status;
		ret->added_by_self = arg.status_flags &
				     FSCRYPT_KEY_STATUS_FLAG_ADDED_BY_SELF;
		ret->user_count = arg.user_count;
	}
	return 0;
}

int kt_fscrypt_key_identifier(
	const struct kt_secret *key,
	uint8_t ret_identifier[KT_FSCRYPT_IDENTIFIER_SIZE])
{
	/* HKDF-SHA512 (RFC 5869) as the kernel's fscrypt_init_hkdf() and
	 * FSCRYPT_CONTEXT_KEY_IDENTIFIER use it: no salt (a block of zero
	 * bytes), info "fscrypt\0" then the context byte 1; only the first
	 * output block is needed. */
	static const uint8_t zero_salt[crypto_auth_hmacsha512_BYTES];
	crypto_auth_hmacsha512_state st;
	uint8_t prk[crypto_auth_hmacsha512_BYTES];
	uint8_t okm[crypto_auth_hmacsha512_BYTES];
	const uint8_t tail[] = { 0x00, 0x01, 0x01 }; /* NUL, context, T(1) */

	if (!key || key->len != KT_FSCRYPT_KEY_SIZE || !ret_identifier)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	crypto_auth_hmacsha512_init(&st, zero_salt, sizeof(zero_salt));
	crypto_auth_hmacsha512_update(&st, key->data, key->len);
	crypto_auth_hmacsha512_final(&st, prk);
	crypto_auth_hmacsha512_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha512_update(&st, (const uint8_t *)"fscrypt", 7);
	crypto_auth_hmacsha512_update(&st, tail, sizeof(tail));
	crypto_auth_hmacsha512_final(&st, okm);
	memcpy(ret_identifier, okm, KT_FSCRYPT_IDENTIFIER_SIZE);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(okm, sizeof(okm));
	return 0;
}

void kt_fscrypt_identifier_hex(
	const uint8_t identifier[KT_FSCRYPT_IDENTIFIER_SIZE],
	char ret_hex[KT_FSCRYPT_IDENTIFIER_HEX + 1])
{
	sodium_bin2hex(ret_hex, KT_FSCRYPT_IDENTIFIER_HEX + 1, identifier,
		       KT_FSCRYPT_IDENTIFIER_SIZE);
}

int kt_fscrypt_dir_open(const char *path, uid_t uid)
{
	_cleanup_close_ int opath = -1;
	int fd;

	opath = kt_dir_open_checked(path, uid);
	if (opath < 0)
		return opath;
	fd = openat(opath, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				       O_CLOEXEC);
	return fd < 0 ? kt_negerrno() : fd;
}
