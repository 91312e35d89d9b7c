/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * eCryptfs private directories: unwrap the mount passphrase with the
 * login passphrase, build the auth tokens exactly as ecryptfs-utils does,
 * mount the lower directory through a checked descriptor; at the end,
 * unmount first and only then revoke the tokens (the kernel checks the
 * key on every use while mounted).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agent.h"
#include "backend.h"
#include "ecryptfs.h"
#include "mount.h"
#include "wrapped.h"

static int mounted_here(const struct kt_volume *v)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	int r;

	r = kt_mount_find(v->mountpoint, &m);
	if (r <= 0)
		return r;
	r = !strcmp(m.fstype, "ecryptfs");
	kt_mount_entry_clear(&m);
	return r;
}

static const char *unwrap_error(int r)
{
	switch (r) {
	case -EBADMSG:
		return "the login password does not unwrap it, or it was "
		       "tampered with";
	case -ENOTSUP:
		return "unknown format version";
	case -EMEDIUMTYPE:
		return "not a keyturn wrapped passphrase";
	case -EINVAL:
		return "truncated";
	case -E2BIG:
	case -ERANGE:
		return "key derivation parameters out of bounds";
	case -ELOOP:
		return "a symlink";
	case -EPERM:
		return "not owned by the user";
	case -EACCES:
		return "readable or writable by others";
	case -EBADFD:
		return "not a regular file";
	case -ENODATA:
		return "empty";
	default:
		return strerror(-r);
	}
}

int wrapped_file_read(struct agent *a, const struct kt_volume *v,
		      uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *dir_copy = NULL, *name_copy = NULL;
	_cleanup_close_ int dir = -1;

	dir_copy = strdup(v->wrapped);
	name_copy = strdup(v->wrapped);
	if (!dir_copy || !name_copy)
		return -ENOMEM;
	dir = kt_dir_open_checked(dirname(dir_copy), a->user->uid);
	if (dir < 0)
		return dir;
	return kt_wrapped_read_at(dir, basename(name_copy), a->user->uid,
				  ret_buf, ret_len);
}

/* Whether the cost of a parsed wrapped file is within the config's
 * bounds: the file is in the user's home, its cost the user's choice, and
 * root runs the derivation. */
static bool cost_allowed(const struct agent *a,
			 const struct kt_wrapped_header *h)
{
	return h->params.t_cost <= a->config->wrapped_max_iterations &&
	       h->params.m_cost_kib <=
		       (uint64_t)a->config->wrapped_max_memory * 1024;
}

void wrapped_file_cost(struct agent *a, const struct kt_volume *v,
		       struct volume_cost *c)
{
	struct kt_wrapped_header h;

	c->error = wrapped_file_read(a, v, &c->buf, &c->len);
	if (!c->buf || kt_wrapped_parse(c->buf, c->len, &h) < 0 ||
	    !cost_allowed(a, &h))
		return;
	c->memory_kib = h.params.m_cost_kib;
	c->threads = h.params.parallelism;
}

int wrapped_file_unwrap(struct agent *a, const struct kt_volume *v,
			struct kt_secret **ret, struct kt_report *r)
{
	_cleanup_secret_ struct kt_secret *login = NULL;
	_cleanup_free_ uint8_t *own = NULL;
	struct kt_wrapped_header h;
	const uint8_t *buf;
	size_t len = 0;
	int k;

	k = kt_keyring_read(a->passphrase_key, &login);
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k,
			   "Failed to read the passphrase key: %s",
			   strerror(-k));
		return k;
	}
	/* The bytes the cost was estimated from, not a second read that
	 * the user could have swapped for a costlier file meanwhile. */
	if (a->wrapped_volume == v) {
		k = a->wrapped_error;
		buf = a->wrapped_buf;
		len = a->wrapped_len;
	} else {
		k = wrapped_file_read(a, v, &own, &len);
		buf = own;
	}
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k, "wrapped file %s refused: %s",
			   v->wrapped, unwrap_error(k));
		return k;
	}
	k = kt_wrapped_parse(buf, len, &h);
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k, "wrapped file %s refused: %s",
			   v->wrapped, unwrap_error(k));
		return k;
	}
	if (!cost_allowed(a, &h)) {
		report_set(r, KT_REPORT_FAILED, E2BIG,
			   "wrapped file %s refused: its Argon2 cost (%u "
			   "iterations, %u MiB) is above wrapped_max_iterations "
			   "= %u / wrapped_max_memory = %u of %s",
			   v->wrapped, h.params.t_cost,
			   h.params.m_cost_kib / 1024,
			   a->config->wrapped_max_iterations,
			   a->config->wrapped_max_memory, a->config->path);
		return -E2BIG;
	}
	k = kt_wrapped_open(buf, len, login, ret);
	if (k < 0) {
		report_set(r, KT_REPORT_FAILED, k, "Failed to unwrap %s: %s",
			   v->wrapped, unwrap_error(k));
		return k;
	}
	return 0;
}

/* Adds one auth token to the agent's own session keyring: the kernel
 * finds it there at mount time, and no process of the user's session
 * possesses it. */
static int add_token(struct agent *a, const struct kt_volume *v,
		     const struct kt_secret *payload, const char *sig)
{
	key_serial_t key;
	int k;

	if (a->n_auth_keys >= ELEMENTSOF(a->auth_keys))
		return -ENOSPC;
	k = kt_keyring_add_blob(sig, payload->data, payload->len, &key);
	if (k < 0)
		return k;
	a->auth_keys[a->n_auth_keys].key = key;
	a->auth_keys[a->n_auth_keys].volume = v;
	a->n_auth_keys++;
	return 0;
}

/* Revokes the tokens this agent added for v. */
static void drop_tokens(struct agent *a, const struct kt_volume *v)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->n_auth_keys; i++) {
		if (a->auth_keys[i].volume != v) {
			a->auth_keys[kept++] = a->auth_keys[i];
			continue;
		}
		if (kt_keyring_drop(a->auth_keys[i].key) < 0)
			agent_log(LOG_WARNING, "Failed to revoke an eCryptfs "
					       "auth token of %s, ignoring",
				  v->name);
	}
	a->n_auth_keys = kept;
}

static int add_tokens(struct agent *a, const struct kt_volume *v,
		      const struct kt_secret *mount_pass, char sig[17],
		      char fnek_sig[17], struct kt_report *r)
{
	_cleanup_secret_ struct kt_secret *tok = NULL, *fnek = NULL;
	int k;

	k = kt_ecryptfs_auth_tok(mount_pass, KT_ECRYPTFS_SALT_DEFAULT, &tok,
				 sig);
	if (k >= 0 && v->fnek)
		k = kt_ecryptfs_fnek_auth_tok(mount_pass, &fnek, fnek_sig);
	/* ecryptfs-utils adds the filename key first. */
	if (k >= 0 && v->fnek)
		k = add_token(a, v, fnek, fnek_sig);
	if (k >= 0)
		k = add_token(a, v, tok, sig);
	if (k < 0)
		report_set(r, KT_REPORT_FAILED, k,
			   "Failed to add the eCryptfs auth tokens: %s",
			   strerror(-k));
	return k;
}

int ecryptfs_open_volume(struct agent *a, const struct kt_volume *v,
			 struct kt_report *r)
{
	_cleanup_secret_ struct kt_secret *mount_pass = NULL;
	_cleanup_free_ char *data = NULL;
	_cleanup_close_ int lower = -1;
	char sig[17] = "", fnek_sig[17] = "", source[32];
	int k;

	k = mounted_here(v);
	if (k > 0) {
		report_set(r, KT_REPORT_REUSED, 0, "%s already mounted",
			   v->mountpoint);
		return 0;
	}
	if (report_no_passphrase(a, r))
		return 0;

	lower = kt_dir_open_checked(v->source, a->user->uid);
	if (lower < 0) {
		report_set(r, KT_REPORT_FAILED, lower,
			   "lower directory %s refused: %s", v->source,
			   strerror(-lower));
		return lower;
	}
	k = wrapped_file_unwrap(a, v, &mount_pass, r);
	if (k < 0)
		return k;
	k = add_tokens(a, v, mount_pass, sig, fnek_sig, r);
	if (k >= 0) {
		k = kt_ecryptfs_mount_data(sig, v->fnek ? fnek_sig : NULL,
					   false, &data);
		if (k < 0)
			report_set(r, KT_REPORT_FAILED, k,
				   "Failed to make the mount options: %s",
				   strerror(-k));
	}
	if (k >= 0) {
		/* The lower directory too is used through the descriptor
		 * that was checked. */
		snprintf(source, sizeof(source), "/proc/self/fd/%d", lower);
		k = mount_volume(a, v, source, "ecryptfs", data, r);
	}
	if (k < 0) {
		/* Nothing mounted: the tokens of this volume go now. */
		drop_tokens(a, v);
		return k;
	}
	report_set(r, KT_REPORT_OPENED, 0, "%s mounted on %s", v->source,
		   v->mountpoint);
	return 0;
}

int ecryptfs_close_volume(struct agent *a, const struct kt_opened *o,
			  struct kt_report *r)
{
	bool lazy = false;
	int k;

	k = unmount_for_close(a, o, &lazy, r);
	if (k < 0)
		return k;
	/* Only after the unmount: revoking first would break the mount.
	 * Tokens another agent added go with the mount's last reference. */
	for (size_t i = 0; !lazy && i < ELEMENTSOF(o->keys); i++)
		if (o->keys[i] > 0 && kt_keyring_drop(o->keys[i]) < 0)
			agent_log(LOG_WARNING, "Failed to revoke an eCryptfs "
					       "auth token of %s, ignoring",
				  o->volume);
	report_set(r, KT_REPORT_CLOSED, 0, "%s %s",
		   o->mnt_id ? o->mountpoint : o->volume,
		   lazy ? "detached, still busy underneath" : "unmounted");
	return 0;
}

void ecryptfs_rekey(struct rekey *k, const struct kt_volume *v,
		    struct kt_report *rep)
{
	_cleanup_free_ char *dir_copy = NULL, *name_copy = NULL;
	_cleanup_free_ uint8_t *buf = NULL, *sealed = NULL;
	_cleanup_close_ int dir = -1;
	struct kt_wrapped_header h;
	size_t len = 0, sealed_len = 0;
	const char *name;
	int r;

	dir_copy = strdup(v->wrapped);
	name_copy = strdup(v->wrapped);
	if (!dir_copy || !name_copy) {
		report_set(rep, KT_REPORT_FAILED, ENOMEM, "out of memory");
		return;
	}
	name = basename(name_copy);
	/* The user's directory: opened once, checked, then used only
	 * through the descriptor, for the read and for the replacement. */
	dir = kt_dir_open_checked(dirname(dir_copy), k->a.user->uid);
	r = dir < 0 ? dir :
		      kt_wrapped_read_at(dir, name, k->a.user->uid, &buf, &len);
	if (r < 0) {
		report_set(rep, KT_REPORT_FAILED, r, "wrapped file %s refused: "
			   "%s", v->wrapped, strerror(-r));
		return;
	}
	/* Its cost is the user's choice: the same bounds as at unlock. */
	r = kt_wrapped_parse(buf, len, &h);
	if (r == 0 && (h.params.t_cost > k->a.config->wrapped_max_iterations ||
		       h.params.m_cost_kib >
			       (uint64_t)k->a.config->wrapped_max_memory * 1024))
		r = -E2BIG;
	if (r < 0) {
		report_set(rep, KT_REPORT_FAILED, r, "wrapped file %s refused: "
			   "%s", v->wrapped,
			   r == -E2BIG ? "its Argon2 cost is above "
					 "wrapped_max_iterations or "
					 "wrapped_max_memory"
				       : strerror(-r));
		return;
	}
	r = kt_wrapped_rewrap(buf, len, k->old, k->new_pass, NULL, &sealed,
			      &sealed_len);
	if (r == -EBADMSG) {
		_cleanup_secret_ struct kt_secret *mount_pass = NULL;

		if (kt_wrapped_open(buf, len, k->new_pass, &mount_pass) == 0)
			report_set(rep, KT_REPORT_UNCHANGED, 0,
				   "%s took the new password already",
				   v->wrapped);
		else
			report_set(rep, KT_REPORT_FAILED, EBADMSG,
				   "%s: the old password does not unwrap it",
				   v->wrapped);
		return;
	}
	if (r < 0) {
		report_set(rep, KT_REPORT_FAILED, r, "Failed to re-wrap %s: %s",
			   v->wrapped, strerror(-r));
		return;
	}
	r = kt_wrapped_write_at(dir, name, k->a.user->uid, k->a.user->gid, sealed,
				sealed_len);
	if (r < 0) {
		report_set(rep, KT_REPORT_FAILED, r,
			   "Failed to replace %s: %s", v->wrapped,
			   strerror(-r));
		return;
	}
	report_set(rep, KT_REPORT_REKEYED, 0,
		   "%s re-wrapped under the new password", v->wrapped);
}
