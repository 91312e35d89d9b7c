/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opening and locking all of a session's volumes: each through the
 * backend of its type (agent/backend.h), under the user's lock, one
 * report per volume. Locking takes what was recorded (agent/record.c),
 * never what the config says now.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "backend.h"
#include "order.h"
#include "session.h"

int volume_open(struct agent *a, const struct kt_volume *v,
		struct kt_report *r)
{
	const struct backend *b = backend_of(v->type);

	return b ? b->open(a, v, r) : -EINVAL;
}

int agent_volume_close(struct agent *a, const struct kt_opened *o,
			struct kt_report *r)
{
	const struct backend *b = backend_of(o->type);

	return b ? b->close(a, o, r) : -EINVAL;
}

static void drop_passphrase(struct agent *a)
{
	if (a->passphrase_key > 0 && kt_keyring_drop(a->passphrase_key) < 0)
		agent_log(LOG_WARNING, "Failed to revoke key %s, ignoring",
			  a->key_desc);
	a->passphrase_key = 0;
}

/* Unlocks every volume of the user with a->passphrase_key (or reuses
 * what is open), reporting to fd, then drops the passphrase key. */
void agent_open_all(struct agent *a, int fd)
{
	_cleanup_free_ struct kt_report *reports = NULL;
	_cleanup_close_ int lock = -1;

	reports = calloc(a->n_volumes ? a->n_volumes : 1, sizeof(*reports));
	lock = kt_session_lock(a->user->uid);
	if (lock < 0)
		agent_log(LOG_ERR, "Failed to lock the volumes of %s: %s",
			  a->user->name, strerror(-lock));
	if (lock >= 0 && reports)
		unlock_volumes(a, reports);

	for (size_t i = 0; i < a->n_volumes; i++) {
		struct kt_report rep = { 0 };

		if (lock >= 0 && reports) {
			rep = reports[i];
		} else {
			snprintf(rep.volume, sizeof(rep.volume), "%s",
				 a->volumes[i].name);
			report_set(&rep, KT_REPORT_FAILED,
				   lock < 0 ? lock : -ENOMEM,
				   "could not take the lock of %s",
				   a->user->name);
		}
		agent_send_report(a, fd, &rep);
	}
	/* The passphrase has done its work. */
	drop_passphrase(a);
}

/*
 * Locks what was recorded as opened (a->state, and with files the
 * records earlier sessions left in RUNDIR/UID), children first, under
 * the user's lock, reporting to fd. Neither the config nor NSS nor a
 * path read again decides what is locked.
 */
void agent_lock_all(struct agent *a, int fd, bool files)
{
	_cleanup_close_ int lock = kt_session_lock(a->state.uid);
	_cleanup_free_ struct kt_opened *rec = NULL;
	size_t order[KT_STATE_VOLUMES_MAX * 2], n;

	if (lock < 0)
		agent_log(LOG_ERR, "Failed to take the lock of %s: %s, "
				   "locking anyway",
			  a->user->name, strerror(-lock));
	rec = calloc(ELEMENTSOF(order), sizeof(*rec));
	if (!rec) {
		agent_log(LOG_ERR, "%s: out of memory, volumes stay open",
			  a->user->name);
		return;
	}
	n = records_collect(a, files, rec, ELEMENTSOF(order));
	kt_opened_close_order(rec, n, order);
	for (size_t i = 0; i < n; i++) {
		const struct kt_opened *o = &rec[order[i]];
		struct kt_report rep = { 0 };

		snprintf(rep.volume, sizeof(rep.volume), "%s", o->volume);
		(void)agent_volume_close(a, o, &rep);
		record_closed(a, o, &rep);
		agent_send_report(a, fd, &rep);
	}
}

static void report_kept(struct agent *a, const char *why)
{
	for (size_t i = 0; i < a->state.n_volumes; i++) {
		struct kt_report rep = { 0 };

		snprintf(rep.volume, sizeof(rep.volume), "%s",
			 a->state.volumes[i].volume);
		report_set(&rep, KT_REPORT_KEPT, 0, "%s", why);
		agent_send_report(a, a->sock, &rep);
	}
}

void agent_close_all(struct agent *a)
{
	char why[128];
	int r;

	r = kt_session_leave(&a->sessions_fd);
	if (r < 0) {
		/*
		 * Whether other sessions still use the volumes cannot be
		 * told: locking them could pull a home from under a
		 * running session. They stay open, loudly; the next
		 * session's end that can count, or keyturnctl lock, locks
		 * them (their records stay in RUNDIR/UID).
		 */
		agent_log(LOG_ERR, "%s: Failed to count the sessions (%s): "
				   "volumes stay open until the last session "
				   "ends or keyturnctl lock %s",
			  a->user->name, strerror(-r), a->user->name);
		report_kept(a, "the sessions could not be counted: left "
			       "open");
		return;
	}
	if (r == 0) {
		agent_log(LOG_INFO, "%s: other sessions remain, volumes stay "
				    "open", a->user->name);
		snprintf(why, sizeof(why), "other sessions of %s remain",
			 a->user->name);
		report_kept(a, why);
		return;
	}
	agent_lock_all(a, a->sock, true);
}

/* The state's user, from the user just looked up. */
void agent_state_set_user(struct agent *a)
{
	a->state.uid = a->user->uid;
	a->state.gid = a->user->gid;
	snprintf(a->state.user, sizeof(a->state.user), "%s", a->user->name);
}

/* keyturnctl lock: what sessions recorded, and what the config names
 * and is open now (opened before records existed, or by hand). */
void agent_lock_by_hand(struct agent *a)
{
	struct kt_opened *rec = calloc(KT_STATE_VOLUMES_MAX, sizeof(*rec));
	size_t n;

	agent_state_set_user(a);
	n = rec ? records_collect(a, true, rec, KT_STATE_VOLUMES_MAX) : 0;
	for (size_t i = 0; i < a->n_volumes; i++) {
		struct kt_opened o;
		bool known = false;

		for (size_t j = 0; j < n && !known; j++)
			known = !strcmp(rec[j].volume, a->volumes[i].name);
		if (!known &&
		    record_volume(a, &a->volumes[i], false, &o) == 0 &&
		    a->state.n_volumes < ELEMENTSOF(a->state.volumes))
			a->state.volumes[a->state.n_volumes++] = o;
	}
	free(rec);
	agent_lock_all(a, STDOUT_FILENO, true);
}
