/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn-agent --rekey: the password change. Started by pam_keyturn.so
 * (chauthtok) or keyturnctl rekey as root, the same way as the session
 * agent, with fd 3 the report socket and fd 4 a pipe that carries the old
 * and the new passphrase, each as a 4-byte length (host order) and its
 * bytes; the writer closes its end after them. Every volume of the user
 * is re-keyed in turn, one failing never stopping the others, and each
 * gets one report line: rekeyed, unchanged (took the new password
 * already) or failed. Then "done".
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "luks.h"
#include "mount.h"
#include "session.h"
#include "wrapped.h"

#define REPORT_FD 3
#define SECRET_FD 4
#define SECRET_TIMEOUT_MS 10000

static void luks_rekey(struct rekey *k, const struct kt_volume *v,
		       struct kt_report *rep)
{
	struct kt_luks_token tok;
	int r;

	r = kt_luks_rekey(v->device, k->a.key_desc, k->old, k->new_pass, &tok);
	if (r == 0)
		report_set(rep, KT_REPORT_REKEYED, 0,
			   "%s: keyslot %d now takes the new password",
			   v->device, tok.keyslot);
	else if (r == 1)
		report_set(rep, KT_REPORT_UNCHANGED, 0,
			   "%s: keyslot %d took the new password already",
			   v->device, tok.keyslot);
	else if (r == -EPERM)
		report_set(rep, KT_REPORT_FAILED, EPERM,
			   "%s: the old password opens no keyslot of it",
			   v->device);
	else if (r == -ENOENT)
		report_set(rep, KT_REPORT_FAILED, ENOENT,
			   "%s: no luks2-keyring token %s (run keyturnctl "
			   "enroll luks)",
			   v->device, k->a.key_desc);
	else
		report_set(rep, KT_REPORT_FAILED, r, "Failed to re-key %s: %s",
			   v->device, strerror(-r));
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

static void send_report(struct rekey *k, const struct kt_report *rep)
{
	char line[KT_LINE_MAX];

	agent_log(rep->status == KT_REPORT_FAILED ? LOG_ERR : LOG_INFO,
		  "%s: volume %s %s: %s", k->a.user->name, rep->volume,
		  kt_report_status_name(rep->status), rep->message);
	if (kt_report_format(rep, line, sizeof(line)) < 0 ||
	    kt_line_write(REPORT_FD, line) < 0)
		agent_log(LOG_DEBUG, "Failed to send a report, ignoring");
}

static void rekey_all(struct rekey *k)
{
	_cleanup_close_ int lock = -1;

	/* Not while a login unlocks or a logout locks these volumes. */
	lock = kt_session_lock(k->a.user->uid);
	for (size_t i = 0; i < k->a.n_volumes; i++) {
		const struct kt_volume *v = &k->a.volumes[i];
		struct kt_report rep = { 0 };

		snprintf(rep.volume, sizeof(rep.volume), "%s", v->name);
		if (lock < 0)
			report_set(&rep, KT_REPORT_FAILED, lock,
				   "could not take the lock of %s",
				   k->a.user->name);
		else if (v->type == KT_VOLUME_LUKS2)
			luks_rekey(k, v, &rep);
		else if (v->type == KT_VOLUME_ECRYPTFS)
			ecryptfs_rekey(k, v, &rep);
		else if (v->type == KT_VOLUME_FSCRYPT)
			fscrypt_rekey(k, v, &rep);
		else
			report_set(&rep, KT_REPORT_FAILED, EINVAL,
				   "unknown volume type");
		send_report(k, &rep);
	}
}

static int fd_is(int fd, mode_t type)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

int rekey_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "service", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct rekey k = { 0 };
	const char *user = NULL, *service = NULL, *config = KT_CONFIG_PATH;
	long long deadline;
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 's': service = optarg; break;
		case 'c': config = optarg; break;
		default: goto usage;
		}
	}
	if (!user || !service || optind != argc ||
	    !fd_is(REPORT_FD, S_IFSOCK) || !fd_is(SECRET_FD, S_IFIFO))
		goto usage;
	/* passwd is set-uid: its real uid, which we inherit, is the user's,
	 * who must not be able to signal us. */
	if (geteuid() != 0 || setresgid(0, 0, 0) < 0 ||
	    setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "keyturn-agent: must run as root\n");
		return 1;
	}

	openlog("keyturn-agent", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	agent_harden();
	/* passwd's user chose our limits: a low RLIMIT_FSIZE or RLIMIT_CPU
	 * would kill us in the middle of a header write. */
	agent_reset_limits();
	kt_luks_set_log(agent_cryptsetup_log, NULL);

	deadline = kt_now_ms() + SECRET_TIMEOUT_MS;
	r = kt_secret_pipe_read(SECRET_FD, deadline, &k.old);
	if (r >= 0)
		r = kt_secret_pipe_read(SECRET_FD, deadline, &k.new_pass);
	(void)close(SECRET_FD);
	if (r < 0) {
		agent_log(LOG_ERR, "Failed to read the passphrases for %s: %s",
			  user, strerror(-r));
		goto out;
	}
	if (agent_load(&k.a, user, config) < 0)
		goto out;
	agent_log(LOG_INFO, "%s: password change (%s), %zu volume(s)",
		  k.a.user->name, service, k.a.n_volumes);
	rekey_all(&k);
	status = 0;
out:
	if (kt_line_write(REPORT_FD, "done") < 0)
		agent_log(LOG_DEBUG, "Failed to send \"done\", ignoring");
	k.old = kt_secret_free(k.old);
	k.new_pass = kt_secret_free(k.new_pass);
	agent_unload(&k.a);
	return status;

usage:
	fprintf(stderr, "keyturn-agent --rekey is started by pam_keyturn.so "
			"and keyturnctl; see keyturn-agent(8).\n");
	return 2;
}
