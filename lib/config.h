/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_CONFIG_H
#define KT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "user.h"

#ifndef KT_CONFIG_PATH
#define KT_CONFIG_PATH "/etc/security/keyturn.conf"
#endif

/* A new type: its value here, its row in lib/volume_type.c,
 * agent/backend.c and ctl/backend_output.c (HACKING.md). */
enum kt_volume_type {
	KT_VOLUME_LUKS2,
	KT_VOLUME_ECRYPTFS,
	KT_VOLUME_FSCRYPT,	/* a directory with a v2 fscrypt policy */
};

/* What to do when a mount is still busy at logout. */
enum kt_busy_policy {
	KT_BUSY_LAZY, /* retry, then lazy unmount + deferred removal */
	KT_BUSY_KEEP, /* retry, then leave it mounted and open */
	KT_BUSY_KILL, /* retry, then SIGTERM/SIGKILL the holders, retry */
};

/*
 * One [volume NAME] section. String fields are templates (%u %h %U) in a
 * parsed config, and expanded strings in a volume from
 * kt_config_volumes_for().
 */
struct kt_volume {
	char *name;           /* section name: [A-Za-z0-9_.-]{1,32} */
	char *file;           /* where the section starts, for messages */
	unsigned line;
	char *users;          /* "user =": names separated by blanks, or "*" */
	enum kt_volume_type type;
	char *device;         /* luks2: block device or image */
	char *dm_name;        /* luks2 "name =": device-mapper name */
	char *fstype;         /* luks2: default "ext4" */
	char *source;         /* ecryptfs: lower directory */
	char *wrapped;        /* ecryptfs: wrapped mount passphrase file;
			       * fscrypt: the wrapped raw key */
	bool fnek;            /* ecryptfs: filename encryption, default yes */
	char *mountpoint;     /* luks2, ecryptfs */
	char *directory;      /* fscrypt: the encrypted directory */
	char *options;        /* extra mount options; nosuid,nodev always */
	char *uuid;           /* luks2: the LUKS2 UUID the device must have;
			       * NULL: not pinned */
	bool required;        /* a failure refuses the login */
	bool any_user;        /* "user = *" */
	enum kt_busy_policy busy;
	unsigned busy_timeout; /* seconds of EBUSY retries at logout */
};

struct kt_config {
	char *path;
	unsigned key_timeout;     /* s: timeout of the passphrase key */
	unsigned unlock_timeout;  /* s: bound of every wait of the module */
	char *key_prefix;         /* "keyturn:" */
	char **services;          /* allow list, NULL-terminated; NULL: all */
	char **skip_services;     /* deny list, NULL-terminated; default
				   * "systemd-user cron" */
	/* Bounds of the Argon2 cost of an eCryptfs wrapped file, which sits
	 * in the user's home and so is the user's choice: MiB, iterations. */
	unsigned wrapped_max_memory;
	unsigned wrapped_max_iterations;
	struct kt_volume *volumes;
	size_t n_volumes;
};

#define KT_WRAPPED_MAX_MEMORY_DEFAULT 1024     /* MiB */
#define KT_WRAPPED_MAX_MEMORY_LIMIT 1024       /* the file format's bound */
#define KT_WRAPPED_MAX_ITERATIONS_DEFAULT 10
#define KT_WRAPPED_MAX_ITERATIONS_LIMIT 1000   /* the file format's bound */

/* Room for a message "FILE:LINE: what is wrong". */
#define KT_DIAG_MAX 512
struct kt_diag {
	char message[KT_DIAG_MAX];
};

/*
 * Parses config text. file is used only in messages. On error returns
 * -EINVAL (or -ENOMEM) and writes "FILE:LINE: ..." into diag.
 */
int kt_config_parse(const char *text, size_t len, const char *file,
		    struct kt_config **ret, struct kt_diag *diag) _wur_;

/*
 * Opens path with O_NOFOLLOW, refuses it (-EPERM, message in diag) unless
 * it is a regular file owned by root and not writable by group or other,
 * then parses it. -ENOENT when there is no config.
 */
int kt_config_load(const char *path, struct kt_config **ret,
		   struct kt_diag *diag) _wur_;

struct kt_config *kt_config_free(struct kt_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kt_config *, kt_config_free)
#define _cleanup_config_ _cleanup_(kt_config_freep)

/* Whether service (PAM_SERVICE) is one keyturn skips: on the deny list,
 * or not on the allow list when there is one. */
bool kt_config_skips_service(const struct kt_config *c, const char *service);

/*
 * The volumes that apply to user, with every template expanded. A
 * volume applies when its user list names the user or is "*"; for "*"
 * the caller decides with kt_volume_present() ("every user that has the
 * device"), which is I/O and so lives elsewhere. Expanded paths must be
 * absolute and free of ".." components; a dm name must be a safe
 * device-mapper name. Errors: -EINVAL with diag naming file and line,
 * for an unsafe user name, or a volume that names the user and does not
 * expand safely. A "*" volume that does not expand safely for this user
 * (a system account whose home is "/") is not theirs and is left out.
 */
int kt_config_volumes_for(const struct kt_config *c, const struct kt_user *u,
			  struct kt_volume **ret, size_t *ret_n,
			  struct kt_diag *diag) _wur_;
void kt_volumes_free(struct kt_volume *v, size_t n);

/*
 * For an expanded "user = *" volume: whether this user has it, that is
 * whether the luks2 device exists (stat(), so /dev/disk/by-* links count)
 * or the ecryptfs source or fscrypt directory is a directory (lstat(),
 * never a link).
 */
bool kt_volume_present(const struct kt_volume *v);

/*
 * The volumes of user u, as everyone who acts for a user sees them
 * (lib/user_volumes.c): kt_config_volumes_for(), then the "user = *"
 * ones the user has not (kt_volume_present()) moved behind the others.
 * *ret_n: those that apply, first in *ret; *ret_alloc: all of them, for
 * kt_volumes_free(). Errors as kt_config_volumes_for().
 */
int kt_user_volumes(const struct kt_config *c, const struct kt_user *u,
		    struct kt_volume **ret, size_t *ret_n, size_t *ret_alloc,
		    struct kt_diag *diag) _wur_;

/*
 * What acting for one user starts from, loaded the one way the module,
 * the agent and keyturnctl share (lib/user_volumes.c): the config at
 * path, the account of name, the user's volumes (kt_user_volumes()).
 * service: the PAM service, or NULL; a service the config skips ends the
 * load. Returns 0, or -errno with *ret_step the step that ended it (diag
 * holds a message where the step has one); what loaded before that step
 * stays in *ret for the caller to use, and kt_user_plan_free() frees it:
 *   KT_STEP_CONFIG   -ENOENT: no config file; else kt_config_load()'s
 *   KT_STEP_SERVICE  -ECANCELED: the config skips service
 *   KT_STEP_NAME     -EINVAL: a name keyturn does not act for (why in diag)
 *   KT_STEP_USER     -ENOENT: no such account; else NSS's error
 *   KT_STEP_VOLUMES  kt_user_volumes()'s
 */
enum kt_plan_step {
	KT_STEP_NONE,
	KT_STEP_CONFIG,
	KT_STEP_SERVICE,
	KT_STEP_NAME,
	KT_STEP_USER,
	KT_STEP_VOLUMES,
};
struct kt_user_plan {
	struct kt_config *config;
	struct kt_user *user;
	struct kt_volume *volumes; /* the n that apply first */
	size_t n, n_alloc;
};
int kt_user_plan_load(const char *path, const char *name,
		      const char *service, struct kt_user_plan *ret,
		      enum kt_plan_step *ret_step, struct kt_diag *diag) _wur_;
void kt_user_plan_free(struct kt_user_plan *p);

/*
 * keyturnctl enroll's edit: the config text with "uuid = UUID" added to
 * [volume NAME], after its last key; every other byte kept. Returns 0
 * (ret, ret_len: the new text, NUL-terminated, to free), 1 when the
 * section has that uuid already (ret untouched), -EEXIST when it has
 * another one, -ENOENT when there is no such section, -EINVAL for a bad
 * UUID or two sections of that name.
 */
int kt_config_pin_uuid(const char *text, size_t len, const char *volume,
		       const char *uuid, char **ret, size_t *ret_len) _wur_;

/* Whether s is a UUID as LUKS2 headers carry it (8-4-4-4-12 hex). */
bool kt_uuid_valid(const char *s);

/*
 * The volume types (lib/volume_type.c, one table indexed by enum
 * kt_volume_type). info: NULL for a value that is no type. parse: the
 * type named by s[0..len), -EINVAL for none. name: "unknown" for none.
 */
struct kt_volume_type_info {
	const char *name;   /* in keyturn.conf and the session records */
	bool dm;	    /* a record of it names a device-mapper mapping */
	bool (*present)(const struct kt_volume *v); /* kt_volume_present() */
};
const struct kt_volume_type_info *kt_volume_type_info(enum kt_volume_type t);
int kt_volume_type_parse(const char *s, size_t len,
			 enum kt_volume_type *ret) _wur_;
const char *kt_volume_type_name(enum kt_volume_type t);
const char *kt_busy_policy_name(enum kt_busy_policy p);

#endif
