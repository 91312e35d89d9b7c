/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_BACKEND_H
#define KT_BACKEND_H

/*
 * The agent's backends: one struct of operations per volume type, one
 * file per backend (agent/backend_<name>.c), one table
 * (agent/backend.c) indexed by enum kt_volume_type. Nothing else in the
 * agent switches on the type.
 *
 * Adding a backend: its enum value and name in lib/config.h and
 * lib/volume_type.c (with its "present" check), its lib/ file for what
 * needs no agent (the kernel or tool interface), agent/backend_<name>.c
 * with the operations below, one row in agent/backend.c, and a row in
 * ctl/backend_output.c for keyturnctl's status and check.
 */

#include <stdint.h>

#include "agent.h"
#include "mount.h"

/*
 * What opening a volume costs: the memory (KiB) and threads of its key
 * derivation, 0 KiB when nothing is derived. What the cost op read to
 * tell it (eCryptfs: the wrapped file) is kept here and handed to the
 * open op (a->wrapped_*), so that a file the user controls is read once:
 * buf is the caller's to free(); error < 0 when the read failed, for the
 * open op to report.
 */
struct volume_cost {
	uint32_t memory_kib;
	uint32_t threads;
	uint8_t *buf;
	size_t len;
	int error;
};

/* keyturn-agent --rekey: the agent's user, config and volumes, and the
 * old and new passphrase (agent/rekey.c). */
struct rekey {
	struct agent a; /* config, user, volumes, key description */
	struct kt_secret *old, *new_pass;
};

struct backend {
	enum kt_volume_type type;
	const char *name;
	/* Fills *c (zeroed, threads 1 by the caller) for opening v with
	 * the session's passphrase; runs in the agent, before the fork. */
	void (*cost)(struct agent *a, const struct kt_volume *v,
		     struct volume_cost *c);
	/* Unlock and mount (or reuse); close: unmount and lock. Both fill
	 * the report and return 0 or -errno. open runs in a child. */
	int (*open)(struct agent *a, const struct kt_volume *v,
		    struct kt_report *r);
	int (*close)(struct agent *a, const struct kt_opened *o,
		     struct kt_report *r);
	/* Re-keys v from k->old to k->new_pass; one report, always. */
	void (*rekey)(struct rekey *k, const struct kt_volume *v,
		      struct kt_report *r);
	/* The backend's part of the record of an open v (agent/record.c),
	 * given what is mounted on its mount point: 0 or -errno (-EXDEV:
	 * the mount is not this volume's). NULL: nothing more to record. */
	int (*record)(struct agent *a, const struct kt_volume *v,
		      const struct kt_mount_id *mounted, struct kt_opened *o);
	/* A backend that mounts nothing (fscrypt) records the whole of an
	 * open v itself: 0 or -errno, *ret filled; record is then unused. */
	int (*record_all)(struct agent *a, const struct kt_volume *v,
			  bool own, struct kt_opened *ret);
};

/* The backend of a volume type; NULL for a type without one. */
const struct backend *backend_of(enum kt_volume_type type);

/* The operations, one file per backend. */
void luks_cost(struct agent *a, const struct kt_volume *v,
	       struct volume_cost *c);
int luks_open_volume(struct agent *a, const struct kt_volume *v,
		     struct kt_report *r);
int luks_close_volume(struct agent *a, const struct kt_opened *o,
		      struct kt_report *r);
void luks_rekey(struct rekey *k, const struct kt_volume *v,
		struct kt_report *r);
int luks_record(struct agent *a, const struct kt_volume *v,
		const struct kt_mount_id *mounted, struct kt_opened *o);

/*
 * keyturn's wrapped file, shared by eCryptfs and fscrypt
 * (agent/backend_ecryptfs.c). read: v->wrapped through its checked
 * directory. cost: the op of both backends: the file read once, its
 * Argon2 cost, 0 when it is refused (unreadable, or above the config's
 * wrapped_max_memory / wrapped_max_iterations); the buffer goes on to
 * the unwrap. rekey (ecryptfs_rekey): its atomic re-wrap.
 */
int wrapped_file_read(struct agent *a, const struct kt_volume *v,
		      uint8_t **ret_buf, size_t *ret_len) _wur_;
void wrapped_file_cost(struct agent *a, const struct kt_volume *v,
		       struct volume_cost *c);
/* The secret in v's wrapped file, unwrapped with the session's
 * passphrase: from the bytes the cost op read (a->wrapped_*), checked
 * against the config's bounds; fills the report when it fails. */
int wrapped_file_unwrap(struct agent *a, const struct kt_volume *v,
			struct kt_secret **ret, struct kt_report *r) _wur_;
int ecryptfs_open_volume(struct agent *a, const struct kt_volume *v,
			 struct kt_report *r);
int ecryptfs_close_volume(struct agent *a, const struct kt_opened *o,
			  struct kt_report *r);
void ecryptfs_rekey(struct rekey *k, const struct kt_volume *v,
		    struct kt_report *r);

/*
 * fscrypt directories (agent/backend_fscrypt.c). open: the key unwrapped,
 * checked against the directory's policy, added to the filesystem (or
 * reused when present). close: the recorded key removed through the
 * recorded directory, under the busy policy. record_all: the whole
 * record (nothing is mounted): the directory's identity and its key
 * identifier. rekey: the wrapped file re-wrapped, as for eCryptfs.
 */
int fscrypt_open_volume(struct agent *a, const struct kt_volume *v,
			struct kt_report *r);
int fscrypt_close_volume(struct agent *a, const struct kt_opened *o,
			 struct kt_report *r);
int fscrypt_record_volume(struct agent *a, const struct kt_volume *v,
			  bool own, struct kt_opened *ret) _wur_;
void fscrypt_rekey(struct rekey *k, const struct kt_volume *v,
		   struct kt_report *r);

#endif
