/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_AGENT_H
#define KT_AGENT_H

#include <keyutils.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "keyring.h"
#include "protocol.h"
#include "secret.h"
#include "user.h"

/* One agent: one login session of one user. */
struct agent {
	const char *service;
	const char *config_path;
	struct kt_config *config;
	struct kt_user *user;
	struct kt_volume *volumes; /* expanded, for this user */
	size_t n_volumes;
	size_t n_alloc;		     /* for kt_volumes_free() */
	char key_desc[KT_KEY_DESC_MAX];
	key_serial_t passphrase_key; /* 0: none in this session */
	struct {
		key_serial_t key;
		const struct kt_volume *volume;
	} auth_keys[16];	     /* eCryptfs auth tokens this agent
				      * added, revoked after unmount */
	size_t n_auth_keys;
	int sock;		     /* to the PAM module */
	int sessions_fd;	     /* shared lock: this session counts */
	int control;		     /* listening: keyturnctl unlock */
	bool human;		     /* reports for a person (--lock) */
	bool resumed;		     /* given back by keyturn-hold */
	bool holder_failed;	     /* hold in this image from now on */
	/* What the cost op read for the volume being opened (eCryptfs:
	 * its wrapped file), read once for its cost and its open
	 * (agent/unlock.c, agent/backend.h). */
	const struct kt_volume *wrapped_volume;
	const uint8_t *wrapped_buf;
	size_t wrapped_len;
	int wrapped_error;
	char control_path[108];
	/* What this session opened or reused, recorded at the time:
	 * teardown locks exactly these (agent/record.c). */
	struct kt_state state;
};

/*
 * The agent's files, by job: agent.c (main: the session's life),
 * load.c, open_lock.c, backend*.c, unlock.c, mount_volume.c, record.c,
 * control_server.c, wait_loop.c, handover.c, rekey.c, limits.c,
 * log_report.c.
 */

/* Log and reports (agent/log_report.c). agent_log: syslog only.
 * send_line: one line to the module, its absence not an error.
 * send_report: one volume's report, logged and sent to fd (as text for
 * a person with a->human). */
void agent_log(int priority, const char *fmt, ...) _printf_(2, 3);
/* libcryptsetup's messages, to the log only (kt_luks_set_log). */
void agent_cryptsetup_log(int priority, const char *message, void *userdata);
void agent_send_line(int fd, const char *line);
void agent_send_report(struct agent *a, int fd, const struct kt_report *r);

/* Loads the config, the user, the user's volumes (a "user = *" volume
 * only where the user has one) and the key description; logs why not.
 * With a->user set (a resumed session), the name must still be that
 * uid's. Only for opening: teardown uses the records alone. */
int agent_load(struct agent *a, const char *user, const char *config);
/* No core dumps, no ptrace by the user, umask 077, cwd /, no SIGPIPE. */
void agent_harden(void);
/* Resource limits the caller chose (passwd's user) that could stop the
 * agent half-way: CPU, file size, data, address space, locked memory
 * unlimited; stack and open files at least the defaults (agent/limits.c). */
void agent_reset_limits(void);
/* Frees what agent_load() loaded. */
void agent_unload(struct agent *a);
/* The login passphrase from the module's pipe at fd 4, when there is
 * one; the descriptor is closed (agent/load.c). */
void agent_passphrase_read(struct kt_secret **ret);

/*
 * A session's volumes, all at once (agent/open_lock.c). open_all: each
 * with a->passphrase_key (or reused), one report each to fd, then the
 * key is dropped. lock_all: what was recorded (with files, also what
 * earlier sessions recorded), children first, under the user's lock.
 * close_all: the session's end: leaves the session count and locks
 * when it was the user's last, else reports them kept. lock_by_hand:
 * keyturnctl lock, reports on stdout. state_set_user: the state's user
 * from a->user.
 */
void agent_open_all(struct agent *a, int fd);
void agent_lock_all(struct agent *a, int fd, bool files);
void agent_close_all(struct agent *a);
void agent_lock_by_hand(struct agent *a);
void agent_state_set_user(struct agent *a);
int agent_volume_close(struct agent *a, const struct kt_opened *o,
		       struct kt_report *r);

/* keyturnctl unlock: one request on the control socket, served
 * (agent/control_server.c). */
void agent_control_accept(struct agent *a);

/* Holds the session until "close", EOF or a termination signal, in
 * keyturn-hold as much as it can (agent/wait_loop.c). */
void agent_hold(struct agent *a);

/*
 * The hand-over to keyturn-hold (agent/handover.c, agent/hold.h).
 * reserve: fds 4..7 get close-on-exec placeholders (resumed: what the
 * holder passed back stays, close-on-exec again), and fd 7 the agent's
 * own image. place: moves fd to target (close-on-exec), returns target
 * (fd itself, still valid, when it cannot move; negative fd passes).
 * hold_exec: writes the state and becomes keyturn-hold; returns -errno
 * only when it could not (then the caller holds in this image).
 * resume: takes the descriptors and the state back (user, control
 * socket, what was opened), without the config, NSS or any path.
 */
void agent_fds_reserve(bool resumed);
int agent_fd_place(int fd, int target) _wur_;
int agent_hold_exec(struct agent *a);
int agent_resume(struct agent *a, const char *user, const char *config) _wur_;

/* keyturn-agent --rekey ...: argv[0] is "--rekey" (agent/rekey.c). */
int rekey_main(int argc, char **argv);

/* Sets a report: status, positive errno (0 for none), message. */
void report_set(struct kt_report *r, enum kt_report_status status, int error,
		const char *fmt, ...) _printf_(4, 5);
/* A backend's open with no passphrase in this session (a login without a
 * password): r says "left locked" and true is returned, for the open to
 * return 0; false when there is one. */
bool report_no_passphrase(const struct agent *a, struct kt_report *r);

/*
 * Moves the agent into a new session keyring of its own and puts pass
 * (the module's, or NULL for none) there as the passphrase key, where
 * only the agent and its children possess it.
 */
int agent_take_passphrase(struct agent *a, const struct kt_secret *pass);
/* Replaces the passphrase key in the agent's own keyring. */
int agent_set_passphrase(struct agent *a, const struct kt_secret *pass);

/* Opens one volume with the backend of its type (agent/backend.h). */
int volume_open(struct agent *a, const struct kt_volume *v,
		struct kt_report *r);

/* Opens every volume, concurrently as memory and CPUs allow, a volume
 * inside another only once that one is open; one report per volume, in
 * the order of a->volumes. What opened is recorded (record_keep). */
void unlock_volumes(struct agent *a, struct kt_report *reports);

/*
 * The record of what a session opened (agent/record.c, format in
 * lib/protocol.h). record_volume: what v is now, right after it was
 * opened or reused: dm name, UUID and device, the mount's identity, the
 * busy policy; -errno when that cannot be told (then it is not locked
 * by identity: logged). record_keep: into a->state and
 * RUNDIR/UID/open.NAME, so that the user's last session locks what
 * earlier ones opened. records_collect: what a teardown locks, children
 * first. record_closed: after a close, the file goes, or
 * RUNDIR/UID/failed.NAME says why the volume is still open (keyturnctl
 * status shows it).
 */
int record_volume(struct agent *a, const struct kt_volume *v, bool own,
		  struct kt_opened *ret) _wur_;
void record_keep(struct agent *a, const struct kt_opened *o);
size_t records_collect(struct agent *a, bool files, struct kt_opened *out,
		       size_t max);
void record_closed(struct agent *a, const struct kt_opened *o,
		   const struct kt_report *r);

/*
 * Mounts source on v->mountpoint through a checked descriptor (the mount
 * point must be the user's own directory, no symlink on the way).
 */
int mount_volume(struct agent *a, const struct kt_volume *v,
		 const char *source, const char *fstype, const char *extra,
		 struct kt_report *r);

/*
 * Unmounts the recorded mount (by identity, wherever it is now) under
 * the recorded busy policy. Returns 0 when unmounted or already gone
 * (*ret_lazy: only detached, still busy underneath), -EBUSY when the
 * policy kept it, -errno otherwise.
 */
int unmount_volume(struct agent *a, const struct kt_opened *o,
		   bool *ret_lazy);

/*
 * The first step of a backend's close. 0 when nothing of it is mounted
 * any more (*ret_lazy: detached only); otherwise -errno with the report
 * filled (kept under busy = keep, or failed).
 */
int unmount_for_close(struct agent *a, const struct kt_opened *o,
		      bool *ret_lazy, struct kt_report *r);

/* Who keeps a volume busy at its close (volume_holders.c). */
#define MAX_HOLDERS 64
struct holders {
	pid_t pids[MAX_HOLDERS];
	int n;
	char list[512]; /* "PID PID ...", or "(none found)", for the log */
};

/*
 * Finds the processes holding anything on o's filesystem (dir NULL: a
 * mount) or at dir or below on it (an fscrypt directory). Returns h->n.
 */
int holders_find(struct holders *h, const struct kt_opened *o,
		 const char *dir);

/*
 * Sends sig to those of h that are the user's own and still hold it,
 * each through a pidfd: never a pid that was recycled meanwhile.
 */
void holders_signal(struct agent *a, const struct holders *h,
		    const struct kt_opened *o, const char *dir, int sig);

#endif
