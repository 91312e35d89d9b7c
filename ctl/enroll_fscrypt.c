/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl enroll fscrypt DIRECTORY --user USER [--import]: a new fscrypt
 * directory (v2 policy, a random 64-byte key), or one the fscrypt tool set
 * up with a login protector, whose key keyturn then keeps wrapped with the
 * login password in its own wrapped file. Also what status and check
 * print of an fscrypt volume.
 *
 * The directory and the wrapped file are in the user's home: root opens
 * them with kt_dir_open_checked() (no symlink anywhere, the user's own)
 * and acts through those descriptors. Every check runs before anything is
 * written; the wrapped file is written before the policy is set, so that
 * no directory is ever encrypted under a key kept nowhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "fscrypt.h"
#include "fscrypt_meta.h"
#include "mount.h"
#include "user.h"
#include "wrapped.h"

/* ---- the directory ------------------------------------------------------- */

/*
 * Names the filesystem of fd and the fix for its type, for one without
 * encryption: ext4 and f2fs turn it on in place, each with its own tool.
 */
static void explain_no_encryption(int fd, const char *dir)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	struct statx stx;
	const char *dev, *type, *on;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID) ||
	    kt_mount_find_id(stx.stx_mnt_id, &m) != 1) {
		ctl_error("The filesystem of %s has no encryption enabled "
			  "(for ext4: tune2fs -O encrypt DEVICE; for f2fs: "
			  "fsck.f2fs -O encrypt DEVICE, unmounted)", dir);
		return;
	}
	dev = m.source ? m.source : "DEVICE";
	type = m.fstype ? m.fstype : "?";
	on = m.target ? m.target : "?";
	if (strcmp(type, "ext4") == 0)
		ctl_error("%s is on %s (ext4, mounted on %s), which has no "
			  "encryption enabled: 'tune2fs -O encrypt %s' turns "
			  "it on (v2 policies need kernel 5.4 or later)",
			  dir, dev, on, dev);
	else if (strcmp(type, "f2fs") == 0)
		ctl_error("%s is on %s (f2fs, mounted on %s), which has no "
			  "encryption enabled: 'fsck.f2fs -O encrypt %s' "
			  "turns it on, with it unmounted (or mkfs.f2fs -O "
			  "encrypt when it is made)",
			  dir, dev, on, dev);
	else
		ctl_error("%s is on %s (%s, mounted on %s), which has no "
			  "encryption enabled (for ext4: tune2fs -O encrypt; "
			  "for f2fs: fsck.f2fs -O encrypt, unmounted)",
			  dir, dev, type, on);
	kt_mount_entry_clear(&m);
}

/* ---- the wrapped file ----------------------------------------------------- */

/*
 * The directory of the wrapped file, opened (made, the user's, 0700, if
 * missing under a directory of the user's); *ret_name its file name
 * there. -EEXIST (said) when the file is there already.
 */
static int wrapped_dir(const char *wrapped, const struct kt_user *u,
		       bool make, char **ret_name)
{
	_cleanup_free_ char *dir_copy = strdup(wrapped);
	_cleanup_free_ char *name_copy = strdup(wrapped);
	_cleanup_close_ int fd = -1;
	const char *dir, *name;
	struct stat st;

	if (!dir_copy || !name_copy)
		return -ENOMEM;
	dir = dirname(dir_copy);
	name = basename(name_copy);
	fd = kt_dir_open_checked(dir, u->uid);
	if (fd == -ENOENT && make) {
		_cleanup_free_ char *up_copy = strdup(dir);
		_cleanup_free_ char *leaf_copy = strdup(dir);
		_cleanup_close_ int up = -1, made = -1;

		if (!up_copy || !leaf_copy)
			return -ENOMEM;
		up = kt_dir_open_checked(dirname(up_copy), u->uid);
		if (up < 0)
			return up;
		if (mkdirat(up, basename(leaf_copy), 0700) < 0)
			return kt_negerrno();
		made = openat(up, basename(leaf_copy),
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (made < 0 || fchown(made, u->uid, u->gid) < 0)
			return kt_negerrno();
		printf("Created %s (owner %s, mode 0700).\n", dir, u->name);
		fd = kt_dir_open_checked(dir, u->uid);
	}
	if (fd == -ENOENT && !make) {
		*ret_name = NULL;
		return -ENOENT;
	}
	if (fd < 0)
		return fd;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		ctl_error("%s already exists: keyturn does not overwrite a "
			  "user's key material; remove it to enroll again. "
			  "Nothing changed.", wrapped);
		return -EEXIST;
	}
	if (errno != ENOENT)
		return kt_negerrno();
	*ret_name = strdup(name);
	if (!*ret_name)
		return -ENOMEM;
	return TAKE_FD(fd);
}


/* The wrapped path of the user's fscrypt volume on directory in the
 * config, or the default ~/.keyturn/fscrypt-NAME. */
static int pick_wrapped(const struct kt_config *c, const struct kt_user *u,
			const char *directory, char **ret, const char **ret_vol)
{
	struct kt_diag diag = { .message = "" };
	_cleanup_free_ char *copy = strdup(directory);
	struct kt_volume *v = NULL;
	size_t n = 0;
	int r;

	*ret_vol = NULL;
	if (!copy)
		return -ENOMEM;
	if (c) {
		r = kt_config_volumes_for(c, u, &v, &n, &diag);
		if (r < 0) {
			ctl_error("%s", diag.message[0] ? diag.message
							: strerror(-r));
			return r;
		}
		for (size_t i = 0; i < n; i++)
			if (v[i].type == KT_VOLUME_FSCRYPT &&
			    !strcmp(v[i].directory, directory)) {
				*ret = strdup(v[i].wrapped);
				*ret_vol = "config";
				kt_volumes_free(v, n);
				return *ret ? 0 : -ENOMEM;
			}
		kt_volumes_free(v, n);
	}
	if (asprintf(ret, "%s/.keyturn/fscrypt-%s", u->home,
		     basename(copy)) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- the command ---------------------------------------------------------- */

/* A new v2 policy on the empty directory dir: a random key, added (for
 * its identifier), wrapped and written, then the policy set. */
static int enroll_new(const struct ctl_wrapped_args *a,
		      const struct kt_config *c, const struct kt_user *u,
		      int *dirp, int wdir, const char *wname,
		      const char *wrapped, const struct kt_secret *login)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int mnt = -1;
	int dir = *dirp;
	struct kt_wrapped_params p = {};
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];
	size_t len = 0;
	int r;

	if (sodium_init() < 0)
		return ctl_fail(-EIO, "start libsodium");
	key = kt_secret_new(KT_FSCRYPT_KEY_SIZE);
	if (!key)
		return ctl_fail(-ENOMEM, "make a key");
	randombytes_buf(key->data, key->len);
	if (ctl_wrapped_seal(a, c, "key", login, key, &p, &buf, &len, NULL) < 0)
		return CTL_EXIT_FAILURE;
	/* The key is removed through the mount's root: an open encrypted
	 * directory would keep it busy. */
	mnt = kt_fscrypt_mount_root(dir);
	if (mnt < 0)
		return ctl_fail(mnt, "find the mount of %s", a->directory);
	r = kt_fscrypt_add_key(dir, key, id);
	if (r < 0)
		return ctl_fail(r, "add the new key to the filesystem of %s",
				a->directory);
	kt_fscrypt_identifier_hex(id, hex);
	r = kt_wrapped_write_at(wdir, wname, u->uid, u->gid, buf, len);
	if (r < 0) {
		ctl_fail(r, "write %s", wrapped);
		goto undo;
	}
	r = kt_fscrypt_set_policy(dir, id);
	if (r < 0) {
		ctl_fail(r, "set the policy of %s%s", a->directory,
			 r == -ENOTEMPTY ? " (it is not empty any more)" : "");
		(void)unlinkat(wdir, wname, 0);
		goto undo;
	}
	/* Locked until the user logs in. */
	*dirp = kt_close(*dirp);
	r = kt_fscrypt_remove_key(mnt, id, false, NULL);
	if (r < 0)
		fprintf(stderr, "keyturnctl: Failed to remove the key again: "
				"%s, ignoring\n", strerror(-r));
	printf("Encrypted %s of %s with a new random key (v2 policy, "
	       "AES-256-XTS, key %s).\n", a->directory, u->name, hex);
	printf("Wrapped the key with the login password of %s in %s.\n",
	       u->name, wrapped);
	printf("Argon2id: %u iterations, %u KiB, %u lanes.\n", p.t_cost,
	       p.m_cost_kib, p.parallelism);
	return CTL_EXIT_OK;

undo:
	if (kt_fscrypt_remove_key(mnt, id, false, NULL) < 0)
		fprintf(stderr, "keyturnctl: Failed to remove the key again, "
				"ignoring\n");
	return CTL_EXIT_FAILURE;
}

/* The key of a directory the fscrypt tool set up, from its login
 * protector, wrapped in keyturn's format. */
static int enroll_import(const struct ctl_wrapped_args *a,
			 const struct kt_config *c, const struct kt_user *u,
			 int dir, int wdir, const char *wname,
			 const char *wrapped, const struct kt_secret *login)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int mnt = -1, root = -1;
	struct kt_wrapped_params p = {};
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];
	const char *why = NULL;
	size_t len = 0;
	int r;

	mnt = kt_fscrypt_mount_root(dir);
	if (mnt < 0)
		return ctl_fail(mnt, "find the mount of %s", a->directory);
	root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return ctl_fail(kt_negerrno(), "open /");
	r = kt_fscrypt_import_directory(dir, mnt, root, u->uid, login, &key,
					id, &why);
	if (r < 0) {
		ctl_error("Cannot import %s: %s. Nothing changed.",
			  a->directory,
			  why			 ? why
			  : r == -EACCES	 ? "the login password does not "
						   "open its login protector"
			  : r == -ENOENT	 ? "no fscrypt metadata of it "
						   "(.fscrypt/policies), or no "
						   "login protector of the user"
						 : strerror(-r));
		return CTL_EXIT_FAILURE;
	}
	kt_fscrypt_identifier_hex(id, hex);
	if (ctl_wrapped_seal(a, c, "key", login, key, &p, &buf, &len, NULL) < 0)
		return CTL_EXIT_FAILURE;
	r = kt_wrapped_write_at(wdir, wname, u->uid, u->gid, buf, len);
	if (r < 0)
		return ctl_fail(r, "write %s", wrapped);
	printf("Imported %s of %s (fscrypt's login protector, key %s); its "
	       "files are untouched.\n", a->directory, u->name, hex);
	printf("Wrapped the key with the login password of %s in %s.\n",
	       u->name, wrapped);
	printf("Argon2id: %u iterations, %u KiB, %u lanes.\n", p.t_cost,
	       p.m_cost_kib, p.parallelism);
	printf("pam_fscrypt is not needed for it any more: remove it from the "
	       "PAM stack, or it unlocks the directory a second time.\n");
	return CTL_EXIT_OK;
}

int ctl_enroll_fscrypt(int argc, char **argv)
{
	struct ctl_wrapped_args a = { .config = KT_CONFIG_PATH };
	_cleanup_secret_ struct kt_secret *login = NULL;
	_cleanup_config_ struct kt_config *config = NULL;
	_cleanup_user_ struct kt_user *user = NULL;
	_cleanup_free_ char *wrapped = NULL, *wname = NULL;
	_cleanup_close_ int dir = -1, wdir = -1;
	struct kt_fscrypt_policy policy;
	const char *from_config = NULL;
	char prompt[128];
	int r;

	r = ctl_wrapped_parse_args(argc, argv, "fscrypt", true,
				   "enroll fscrypt DIRECTORY --user USER", &a);
	if (r != 0)
		return r;
	r = ctl_user_lookup(a.user, &user);
	if (r != 0)
		return r;
	r = ctl_config_load(a.config, !a.config_given, &config);
	if (r < 0)
		return CTL_EXIT_FAILURE;

	dir = kt_fscrypt_dir_open(a.directory, user->uid);
	if (dir < 0) {
		ctl_error("The directory %s is refused: %s", a.directory,
			  ctl_dir_refusal(dir));
		return CTL_EXIT_FAILURE;
	}
	r = kt_fscrypt_get_policy(dir, &policy);
	if (r == -EOPNOTSUPP) {
		explain_no_encryption(dir, a.directory);
		return CTL_EXIT_FAILURE;
	}
	if (r == -EPROTO) {
		ctl_error("%s has a v1 fscrypt policy: keyturn takes v2 only "
			  "(a v1 key lives in a keyring, where every process "
			  "that can find it uses it, and is never removed "
			  "for all users). Re-create it with fscrypt's "
			  "policy_version: 2. Nothing changed.", a.directory);
		return CTL_EXIT_FAILURE;
	}
	if (r < 0 && r != -ENODATA)
		return ctl_fail(r, "read the policy of %s", a.directory);
	if (a.import && r == -ENODATA) {
		ctl_error("%s is not encrypted: nothing to import (without "
			  "--import, keyturnctl encrypts it)", a.directory);
		return CTL_EXIT_FAILURE;
	}
	if (!a.import && r == 0) {
		ctl_error("%s is encrypted already: for a directory of the "
			  "fscrypt tool, use --import. Nothing changed.",
			  a.directory);
		return CTL_EXIT_FAILURE;
	}
	if (!a.import) {
		r = kt_dir_empty(dir);
		if (r < 0)
			return ctl_fail(r, "read %s", a.directory);
		if (r == 0) {
			ctl_error("%s is not empty: a policy can only be set "
				  "on an empty directory (move the files "
				  "in afterwards). Nothing changed.",
				  a.directory);
			return CTL_EXIT_FAILURE;
		}
	}

	r = pick_wrapped(config, user, a.directory, &wrapped, &from_config);
	if (r < 0)
		return r == -ENOMEM ? ctl_fail(r, "make the paths")
				    : CTL_EXIT_FAILURE;
	r = wrapped_dir(wrapped, user, false, &wname);
	if (r == -EEXIST)
		return CTL_EXIT_FAILURE;
	if (r < 0 && r != -ENOENT) {
		ctl_error("The wrapped file %s is refused: %s", wrapped,
			  ctl_dir_refusal(r));
		return CTL_EXIT_FAILURE;
	}
	wdir = kt_close(r);

	snprintf(prompt, sizeof(prompt), "Login password of %s: ", a.user);
	if (a.import)
		r = ctl_read_secret(a.from_stdin, 1, prompt, "login password",
				    &login);
	else
		r = ctl_read_new_secret(a.from_stdin, 1, prompt,
					"Login password again: ",
					"login password", &login);
	if (r < 0)
		return CTL_EXIT_FAILURE;
	free(wname);
	wname = NULL;
	wdir = wrapped_dir(wrapped, user, true, &wname);
	if (wdir < 0) {
		if (wdir != -EEXIST)
			ctl_error("The wrapped file %s is refused: %s",
				  wrapped, ctl_dir_refusal(wdir));
		return CTL_EXIT_FAILURE;
	}
	r = a.import ? enroll_import(&a, config, user, dir, wdir, wname,
				     wrapped, login)
		     : enroll_new(&a, config, user, &dir, wdir, wname, wrapped,
				  login);
	if (r != CTL_EXIT_OK)
		return r;
	if (from_config) {
		printf("The config already has it (%s).\n", a.config);
		return CTL_EXIT_OK;
	}
	printf("Add to %s:\n\n[volume secret]\nuser = %s\ntype = fscrypt\n"
	       "directory = %s\nwrapped = %s\n", a.config, user->name,
	       a.directory, wrapped);
	return CTL_EXIT_OK;
}

/* ---- status and check ----------------------------------------------------- */

void ctl_fscrypt_print_status(const struct kt_config *c,
			      const struct kt_user *u,
			      const struct kt_volume *v,
			      const struct kt_mount_entry *mounted)
{
	_cleanup_close_ int dir = -1;
	struct kt_fscrypt_policy policy;
	struct kt_fscrypt_key_status st;
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];
	int r;

	printf("  directory: %s\n", v->directory);
	printf("  wrapped:  %s\n", v->wrapped);
	dir = kt_fscrypt_dir_open(v->directory, u->uid);
	r = dir < 0 ? dir : kt_fscrypt_get_policy(dir, &policy);
	if (r < 0) {
		printf("  state:    unknown (%s)\n",
		       r == -ENODATA  ? "not encrypted"
		       : r == -EPROTO ? "a v1 policy, refused"
				      : ctl_dir_refusal(r));
		return;
	}
	kt_fscrypt_identifier_hex(policy.identifier, hex);
	printf("  key:      %s (v2 policy)\n", hex);
	r = kt_fscrypt_get_key_status(dir, policy.identifier, &st);
	if (r < 0)
		printf("  state:    unknown (%s)\n", strerror(-r));
	else if (st.state == KT_FSCRYPT_KEY_PRESENT)
		printf("  state:    open (key present, added by %u user%s)\n",
		       st.user_count, st.user_count == 1 ? "" : "s");
	else if (st.state == KT_FSCRYPT_KEY_INCOMPLETELY_REMOVED)
		printf("  state:    locking (key removed, files still open)\n");
	else
		printf("  state:    locked\n");
}

void ctl_fscrypt_print_check(const struct kt_volume *v)
{
	printf("  %-12s = %s\n", "directory", v->directory);
	printf("  %-12s = %s\n", "wrapped", v->wrapped);
}
