/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl enroll ecryptfs --user USER [--import]: a new eCryptfs
 * private directory with a random mount passphrase, or an existing one made
 * by ecryptfs-utils, whose mount passphrase keyturn then keeps wrapped with
 * the login password.
 *
 * Everything happens in the user's home, which the user controls: root
 * opens the parent of each path once with kt_dir_open_checked() and acts
 * relative to that descriptor, never following a symlink. Every check runs
 * before anything is written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ecryptfs.h"
#include "ecryptfs_place.h"
#include "mount.h"
#include "user.h"
#include "wrapped.h"

/* A new directory's mount passphrase: random bytes as hex, printable as
 * ecryptfs-utils' tools expect. */
#define MOUNT_PASSPHRASE_BYTES 32
_Static_assert(2 * MOUNT_PASSPHRASE_BYTES <= KT_ECRYPTFS_PASSPHRASE_MAX,
	       "libecryptfs refuses longer mount passphrases");

#define SIG_FILE "Private.sig"
#define SIG_FILE_MAX 4096

/* ---- secrets in ---------------------------------------------------------- */

/* The mount passphrase of an existing directory: standard input, or,
 * without --stdin, the terminal when standard input is one (so that it is
 * not echoed). */
static int read_mount_passphrase(const struct ctl_wrapped_args *a,
				 struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *mp = NULL;
	int r;

	r = ctl_read_secret(a->from_stdin || !isatty(STDIN_FILENO), 1,
			    "Mount passphrase of the directory: ",
			    "mount passphrase", &mp);
	if (r < 0)
		return r;
	if (mp->len == 0 || mp->len > KT_ECRYPTFS_PASSPHRASE_MAX ||
	    memchr(mp->data, '\0', mp->len)) {
		ctl_error("The mount passphrase must have 1 to %d bytes and "
			  "no NUL byte, as in ecryptfs-utils",
			  KT_ECRYPTFS_PASSPHRASE_MAX);
		return -EINVAL;
	}
	*ret = TAKE_PTR(mp);
	return 0;
}

static int read_login(const struct ctl_wrapped_args *a, int lineno,
		      struct kt_secret **ret)
{
	char prompt[128];

	snprintf(prompt, sizeof(prompt), "Login password of %s: ", a->user);
	return ctl_read_new_secret(a->from_stdin, lineno, prompt,
				   "Login password again: ", "login password",
				   ret);
}

static int new_mount_passphrase(struct kt_secret **ret)
{
	_cleanup_secret_ struct kt_secret *raw = NULL, *hex = NULL;

	if (sodium_init() < 0)
		return -EIO;
	raw = kt_secret_new(MOUNT_PASSPHRASE_BYTES);
	hex = kt_secret_new(2 * MOUNT_PASSPHRASE_BYTES);
	if (!raw || !hex)
		return -ENOMEM;
	randombytes_buf(raw->data, raw->len);
	/* hex->data has room for the NUL that sodium_bin2hex writes. */
	sodium_bin2hex((char *)hex->data, hex->len + 1, raw->data, raw->len);
	*ret = TAKE_PTR(hex);
	return 0;
}

/* ---- Private.sig --------------------------------------------------------- */

static bool is_sig(const char *s, size_t len)
{
	if (len != KT_ECRYPTFS_SIG_HEX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/*
 * The signatures ecryptfs-setup-private wrote into Private.sig, beside its
 * wrapped passphrase (~/.ecryptfs, or where an encrypted home keeps it): the
 * mount passphrase's on the first line, the filename key's on the second
 * (none without filename encryption). Prints what is wrong.
 */
static int read_sig_file(const struct kt_user *u, const struct place *wdir,
			 char sig[17], char fnek_sig[17])
{
	_cleanup_close_ int dfd = -1, fd = -1;
	char buf[SIG_FILE_MAX + 1], *nl, *second;
	const char *dir = wdir->path;
	struct stat st;
	size_t len = 0;

	if (!wdir->existed) {
		ctl_error("No %s/%s: not a directory made by ecryptfs-utils",
			  dir, SIG_FILE);
		return -ENOENT;
	}
	dfd = ctl_place_dir(wdir, u->uid);
	if (dfd < 0) {
		ctl_error("%s is refused: %s", dir, ctl_dir_refusal(dfd));
		return dfd;
	}
	fd = openat(dfd, SIG_FILE,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int r = kt_negerrno();

		if (r == -ENOENT)
			ctl_error("No %s/%s: not a directory made by "
				  "ecryptfs-utils", dir, SIG_FILE);
		else
			ctl_fail(r, "open %s/%s", dir, SIG_FILE);
		return r;
	}
	if (fstat(fd, &st) < 0) {
		int r = kt_negerrno();

		ctl_fail(r, "look at %s/%s", dir, SIG_FILE);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != u->uid ||
	    st.st_size > SIG_FILE_MAX) {
		ctl_error("%s/%s is refused: not a small regular file of %s",
			  dir, SIG_FILE, u->name);
		return -EPERM;
	}
	while (len < SIG_FILE_MAX) {
		ssize_t n = read(fd, buf + len, SIG_FILE_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = kt_negerrno();

			ctl_fail(r, "read %s/%s", dir, SIG_FILE);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	nl = strchr(buf, '\n');
	second = nl ? nl + 1 : buf + len;
	if (!is_sig(buf, nl ? (size_t)(nl - buf) : len)) {
		ctl_error("%s/%s does not start with a signature", dir,
			  SIG_FILE);
		return -EINVAL;
	}
	memcpy(sig, buf, KT_ECRYPTFS_SIG_HEX);
	sig[KT_ECRYPTFS_SIG_HEX] = '\0';
	fnek_sig[0] = '\0';
	nl = strchr(second, '\n');
	if (*second && (nl ? nl - second : (long)strlen(second)) > 0) {
		if (!is_sig(second, nl ? (size_t)(nl - second)
				       : strlen(second))) {
			ctl_error("The second line of %s/%s is not a "
				  "signature", dir, SIG_FILE);
			return -EINVAL;
		}
		memcpy(fnek_sig, second, KT_ECRYPTFS_SIG_HEX);
		fnek_sig[KT_ECRYPTFS_SIG_HEX] = '\0';
	}
	return 0;
}

/* Refuses a mount passphrase that is not the directory's: both
 * signatures must be those ecryptfs-utils wrote. */
static int check_import(const struct kt_user *u, const struct place *lower,
			const struct place *wdir, const struct kt_secret *mp,
			char sig[17], char fnek_sig[17])
{
	_cleanup_secret_ struct kt_secret *payload = NULL;
	char want[17], want_fnek[17];
	int r;

	r = read_sig_file(u, wdir, want, want_fnek);
	if (r < 0)
		return r;
	r = kt_ecryptfs_sig(mp, KT_ECRYPTFS_SALT_DEFAULT, sig);
	if (r < 0) {
		ctl_fail(r, "compute the signature");
		return r;
	}
	if (strcmp(sig, want) != 0) {
		ctl_error("The mount passphrase does not belong to %s: its "
			  "signature is %s, %s/%s says %s; nothing written",
			  lower->path, sig, wdir->path, SIG_FILE, want);
		return -EKEYREJECTED;
	}
	fnek_sig[0] = '\0';
	if (!want_fnek[0])
		return 0;
	r = kt_ecryptfs_fnek_auth_tok(mp, &payload, fnek_sig);
	if (r < 0) {
		ctl_fail(r, "compute the filename key signature");
		return r;
	}
	if (strcmp(fnek_sig, want_fnek) != 0) {
		ctl_error("The filename key signature of the mount "
			  "passphrase is %s, %s/%s says %s; nothing written",
			  fnek_sig, wdir->path, SIG_FILE, want_fnek);
		return -EKEYREJECTED;
	}
	return 0;
}

/* ---- the command --------------------------------------------------------- */

struct volume_paths {
	const struct kt_volume *volume; /* from the config, or NULL */
	char *source, *mountpoint, *wrapped;
	bool fnek;
};

static void volume_paths_clear(struct volume_paths *vp)
{
	free(vp->source);
	free(vp->mountpoint);
	free(vp->wrapped);
}

struct volume_list {
	struct kt_volume *v;
	size_t n;
};

static void volume_list_clear(struct volume_list *l)
{
	if (l->v)
		kt_volumes_free(l->v, l->n);
}

/* The user's eCryptfs volume in the config wins over the defaults. */
static int pick_paths(const struct kt_config *c, const struct kt_user *u,
		      struct volume_list *l, struct volume_paths *vp)
{
	struct kt_diag diag = { .message = "" };
	int r;

	if (c) {
		r = kt_config_volumes_for(c, u, &l->v, &l->n, &diag);
		if (r < 0) {
			if (diag.message[0])
				ctl_error("%s", diag.message);
			else
				ctl_fail(r, "read the volumes of %s", u->name);
			return r;
		}
		for (size_t i = 0; i < l->n && !vp->volume; i++)
			if (l->v[i].type == KT_VOLUME_ECRYPTFS)
				vp->volume = &l->v[i];
	}
	vp->fnek = vp->volume ? vp->volume->fnek : true;
	if (vp->volume) {
		vp->source = strdup(vp->volume->source);
		vp->mountpoint = strdup(vp->volume->mountpoint);
		vp->wrapped = strdup(vp->volume->wrapped);
		if (!vp->source || !vp->mountpoint || !vp->wrapped)
			return -ENOMEM;
		return 0;
	}
	if (asprintf(&vp->source, "%s/.Private", u->home) < 0 ||
	    asprintf(&vp->mountpoint, "%s/Private", u->home) < 0 ||
	    asprintf(&vp->wrapped, "%s/.ecryptfs/keyturn-wrapped", u->home) < 0)
		return -ENOMEM;
	return 0;
}

static void print_config_hint(const struct ctl_wrapped_args *a,
			      const struct kt_user *u,
			      const struct volume_paths *vp, bool fnek)
{
	if (vp->volume) {
		printf("The config already has it: [volume %s] of %s.\n",
		       vp->volume->name, a->config);
		if (vp->fnek != fnek)
			printf("Set 'fnek = %s' there: this directory %s "
			       "file names.\n", fnek ? "yes" : "no",
			       fnek ? "encrypts" : "does not encrypt");
		return;
	}
	printf("Add to %s:\n\n", a->config);
	printf("[volume private]\n"
	       "user = %s\n"
	       "type = ecryptfs\n"
	       "source = %s\n"
	       "mountpoint = %s\n"
	       "wrapped = %s\n",
	       u->name, vp->source, vp->mountpoint, vp->wrapped);
	if (!fnek)
		printf("fnek = no\n");
}

/* Checks every path before anything is written. */
static int check_places(const struct ctl_wrapped_args *a, const struct kt_user *u,
			struct place *lower, struct place *upper,
			struct place *wdir, const char *wrapped)
{
	struct stat st;
	int r;

	r = ctl_place_open(lower, u->uid);
	if (r >= 0)
		r = ctl_place_open(upper, u->uid);
	if (r >= 0)
		r = ctl_place_open(wdir, u->uid);
	if (r < 0)
		return r;
	if (!strcmp(lower->path, upper->path)) {
		ctl_error("The lower directory and the mount point are both "
			  "%s", lower->path);
		return -EINVAL;
	}

	if (wdir->existed) {
		_cleanup_close_ int fd = ctl_place_dir(wdir, u->uid);
		_cleanup_free_ char *copy = strdup(wrapped);

		r = fd < 0 ? fd : !copy ? -ENOMEM : 0;
		if (r < 0) {
			ctl_fail(r, "open %s", wdir->path);
			return r;
		}
		if (!fstatat(fd, basename(copy), &st, AT_SYMLINK_NOFOLLOW)) {
			ctl_error("%s already exists: keyturn does not "
				  "overwrite a user's key material; remove it "
				  "to enroll again. Nothing changed.", wrapped);
			return -EEXIST;
		}
		r = kt_negerrno();
		if (r != -ENOENT) {
			ctl_fail(r, "look at %s", wrapped);
			return r;
		}
	}

	if (a->import) {
		if (!lower->existed) {
			ctl_error("There is no lower directory %s to import",
				  lower->path);
			return -ENOENT;
		}
		return 0;
	}
	/* A new directory: a key of its own must not hide files that are
	 * there already. */
	struct place *fresh[] = { lower, upper };
	for (size_t i = 0; i < ELEMENTSOF(fresh); i++) {
		if (!fresh[i]->existed)
			continue;
		r = ctl_place_empty(fresh[i], u->uid);
		if (r < 0) {
			ctl_fail(r, "read %s", fresh[i]->path);
			return r;
		}
		if (r == 0) {
			ctl_error("%s is not empty%s; nothing changed",
				  fresh[i]->path,
				  i == 0 ? " (to keep an ecryptfs-utils "
					   "directory, use --import)"
					 : "");
			return -ENOTEMPTY;
		}
	}
	return 0;
}

int ctl_enroll_ecryptfs(int argc, char **argv)
{
	struct ctl_wrapped_args a = { .config = KT_CONFIG_PATH };
	_cleanup_secret_ struct kt_secret *mp = NULL, *login = NULL;
	_cleanup_config_ struct kt_config *config = NULL;
	_cleanup_user_ struct kt_user *user = NULL;
	_cleanup_(volume_list_clear) struct volume_list list = {};
	_cleanup_(volume_paths_clear) struct volume_paths vp = {};
	_cleanup_(ctl_place_clear) struct place lower = { .parent = -1 },
					    upper = { .parent = -1 },
					    wdir = { .parent = -1 };
	_cleanup_free_ char *wdir_path = NULL, *wname = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int wfd = -1;
	struct kt_wrapped_params p = {};
	char sig[17] = "", fnek_sig[17] = "";
	double unwrap_s = 0;
	size_t len = 0;
	int r;

	r = ctl_wrapped_parse_args(argc, argv, "ecryptfs", false,
				   "enroll ecryptfs --user USER", &a);
	if (r != 0)
		return r;
	r = ctl_user_lookup(a.user, &user);
	if (r != 0)
		return r;
	if (!strcmp(user->home, "/")) {
		ctl_error("%s has no home directory of their own", user->name);
		return CTL_EXIT_FAILURE;
	}
	r = ctl_config_load(a.config, !a.config_given, &config);
	if (r < 0)
		return CTL_EXIT_FAILURE;
	r = pick_paths(config, user, &list, &vp);
	if (r == -ENOMEM)
		return ctl_fail(r, "make the paths of %s", user->name);
	if (r < 0)
		return CTL_EXIT_FAILURE;

	wdir_path = strdup(vp.wrapped);
	wname = strdup(vp.wrapped);
	if (!wdir_path || !wname)
		return ctl_fail(-ENOMEM, "make the paths of %s", user->name);
	lower = (struct place){ .what = "lower directory", .path = vp.source,
				.parent = -1 };
	upper = (struct place){ .what = "mount point", .path = vp.mountpoint,
				.parent = -1 };
	wdir = (struct place){ .what = "directory of the wrapped file",
			       .path = dirname(wdir_path), .parent = -1 };
	if (check_places(&a, user, &lower, &upper, &wdir, vp.wrapped) < 0)
		return CTL_EXIT_FAILURE;

	if (a.import) {
		if (read_mount_passphrase(&a, &mp) < 0)
			return CTL_EXIT_FAILURE;
		if (check_import(user, &lower, &wdir, mp, sig, fnek_sig) < 0)
			return CTL_EXIT_FAILURE;
		r = read_login(&a, 2, &login);
	} else {
		_cleanup_secret_ struct kt_secret *payload = NULL;

		r = new_mount_passphrase(&mp);
		if (r < 0)
			return ctl_fail(r, "make a mount passphrase");
		r = kt_ecryptfs_sig(mp, KT_ECRYPTFS_SALT_DEFAULT, sig);
		if (r >= 0 && vp.fnek)
			r = kt_ecryptfs_fnek_auth_tok(mp, &payload, fnek_sig);
		if (r < 0)
			return ctl_fail(r, "compute the signatures");
		r = read_login(&a, 1, &login);
	}
	if (r < 0)
		return CTL_EXIT_FAILURE;
	if (ctl_wrapped_seal(&a, config, "mount passphrase", login, mp, &p, &buf, &len,
			     &unwrap_s) < 0)
		return CTL_EXIT_FAILURE;

	/* Everything checked: now write. */
	r = ctl_place_make(&wdir, user->uid, user->gid);
	if (r >= 0)
		r = ctl_place_make(&lower, user->uid, user->gid);
	if (r >= 0)
		r = ctl_place_make(&upper, user->uid, user->gid);
	if (r < 0) {
		ctl_fail(r, "create the directories of %s", user->name);
		goto undo;
	}
	wfd = ctl_place_dir(&wdir, user->uid);
	r = wfd < 0 ? wfd
		    : kt_wrapped_write_at(wfd, basename(wname), user->uid,
					  user->gid, buf, len);
	if (r < 0) {
		ctl_fail(r, "write %s", vp.wrapped);
		goto undo;
	}

	if (a.import)
		printf("Imported the eCryptfs directory %s of %s.\n",
		       lower.path, user->name);
	else
		printf("Created the eCryptfs directory %s of %s, mounted on "
		       "%s, with a new random mount passphrase.\n",
		       lower.path, user->name, upper.path);
	const struct place *made[] = { &wdir, &lower, &upper };
	for (size_t i = 0; i < ELEMENTSOF(made); i++)
		if (made[i]->created)
			printf("Created %s (owner %s, mode 0700).\n",
			       made[i]->path, user->name);
	printf("Wrapped the mount passphrase with the login password of %s "
	       "in %s.\n", user->name, vp.wrapped);
	printf("Signature: %s\n", sig);
	if (fnek_sig[0])
		printf("Filename key signature: %s\n", fnek_sig);
	printf("Argon2id: %u iterations, %u KiB, %u lanes; unwrapping takes "
	       "%.2f s here.\n", p.t_cost, p.m_cost_kib, p.parallelism,
	       unwrap_s);
	print_config_hint(&a, user, &vp, fnek_sig[0] != '\0');
	return CTL_EXIT_OK;

undo:
	ctl_place_undo(&upper);
	ctl_place_undo(&lower);
	ctl_place_undo(&wdir);
	return CTL_EXIT_FAILURE;
}
