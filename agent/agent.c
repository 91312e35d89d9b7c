/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturn-agent: one per login session, started by pam_keyturn.so as
 * root inside the session's keyring. Unlocks the user's volumes, reports
 * to the module, holds the session, and locks everything again when the
 * user's last session ends (close from the module, or EOF when the PAM
 * host died).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "hold.h"
#include "luks.h"
#include "order.h"
#include "ratelimit.h"
#include "session.h"

#define AGENT_FD HOLD_FD_MODULE
#define CONTROL_TIMEOUT_MS 10000
#define PASSPHRASE_FD 4 /* before it becomes HOLD_FD_SESSIONS */
#define PASSPHRASE_TIMEOUT_MS 10000
/* keyturnctl unlock: at most this many requests of a user per window. */
#define CONTROL_RATE_MAX 5
#define CONTROL_RATE_WINDOW_S 60
#define CONTROL_RATE_FILE "unlock-attempts"

void agent_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
}

void report_set(struct kt_report *r, enum kt_report_status status, int error,
		const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->error = error < 0 ? -error : error;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

void agent_cryptsetup_log(int priority, const char *message, void *userdata)
{
	/* libcryptsetup's own words, to the log only: never the terminal. */
	agent_log(priority, "libcryptsetup: %s", message);
}

static void agent_unload_config(struct agent *a);

static int usage(void)
{
	fprintf(stderr, "keyturn-agent is started by pam_keyturn.so; "
			"see keyturn-agent(8).\n");
	return 2;
}

static void send_line(int fd, const char *line)
{
	/* The module may have gone (timeout, crash): its absence is not
	 * ours to fail on; teardown still happens at EOF. */
	if (kt_line_write(fd, line) < 0)
		agent_log(LOG_DEBUG, "Failed to send \"%s\" to the module, "
				     "ignoring", line);
}

static void send_report(struct agent *a, int fd, const struct kt_report *r)
{
	char line[KT_LINE_MAX];
	int prio = r->status == KT_REPORT_FAILED ? LOG_ERR : LOG_INFO;

	agent_log(prio, "%s: volume %s %s: %s", a->user->name, r->volume,
		  kt_report_status_name(r->status), r->message);
	if (a->human) {
		dprintf(fd, "%s: %s: %s\n", r->volume,
			kt_report_status_name(r->status), r->message);
		return;
	}
	if (kt_report_format(r, line, sizeof(line)) < 0)
		return;
	send_line(fd, line);
}

int volume_open(struct agent *a, const struct kt_volume *v,
		struct kt_report *r)
{
	switch (v->type) {
	case KT_VOLUME_LUKS2:
		return luks_open_volume(a, v, r);
	case KT_VOLUME_ECRYPTFS:
		return ecryptfs_open_volume(a, v, r);
	case KT_VOLUME_FSCRYPT:
		return fscrypt_open_volume(a, v, r);
	}
	return -EINVAL;
}

static int volume_close(struct agent *a, const struct kt_opened *o,
			struct kt_report *r)
{
	switch (o->type) {
	case KT_VOLUME_LUKS2:
		return luks_close_volume(a, o, r);
	case KT_VOLUME_ECRYPTFS:
		return ecryptfs_close_volume(a, o, r);
	case KT_VOLUME_FSCRYPT:
		return fscrypt_close_volume(a, o, r);
	}
	return -EINVAL;
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
static void open_all(struct agent *a, int fd)
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
		send_report(a, fd, &rep);
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
static void lock_all(struct agent *a, int fd, bool files)
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
		(void)volume_close(a, o, &rep);
		record_closed(a, o, &rep);
		send_report(a, fd, &rep);
	}
}

static void report_kept(struct agent *a, const char *why)
{
	for (size_t i = 0; i < a->state.n_volumes; i++) {
		struct kt_report rep = { 0 };

		snprintf(rep.volume, sizeof(rep.volume), "%s",
			 a->state.volumes[i].volume);
		report_set(&rep, KT_REPORT_KEPT, 0, "%s", why);
		send_report(a, a->sock, &rep);
	}
}

static void close_all(struct agent *a)
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
	lock_all(a, a->sock, true);
}

/* The state's user, from the user just looked up. */
static void state_set_user(struct agent *a)
{
	a->state.uid = a->user->uid;
	a->state.gid = a->user->gid;
	snprintf(a->state.user, sizeof(a->state.user), "%s", a->user->name);
}

/* keyturnctl lock: what sessions recorded, and what the config names
 * and is open now (opened before records existed, or by hand). */
static void lock_by_hand(struct agent *a)
{
	struct kt_opened *rec = calloc(KT_STATE_VOLUMES_MAX, sizeof(*rec));
	size_t n;

	state_set_user(a);
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
	lock_all(a, STDOUT_FILENO, true);
}

/*
 * keyturnctl unlock: the user hands their passphrase to their own agent,
 * for a session that began without one. "unlock LEN\n" and LEN bytes;
 * the answer is the report lines and "done".
 */
static void control_serve(struct agent *a, int fd)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	char line[KT_LINE_MAX];
	size_t len;
	uid_t peer;
	size_t got = 0;
	long long deadline = kt_now_ms() + CONTROL_TIMEOUT_MS;
	int r;

	if (kt_peer_uid(fd, &peer) < 0 ||
	    (peer != 0 && peer != a->user->uid)) {
		agent_log(LOG_WARNING, "%s: control connection from uid %u "
				       "refused",
			  a->user->name, (unsigned)peer);
		return;
	}
	r = kt_line_read(fd, line, sizeof(line), deadline);
	if (r <= 0 ||
	    kt_control_parse_unlock(line, KT_PASSPHRASE_MAX, &len) < 0) {
		send_line(fd, "error bad request");
		return;
	}
	/* Every unlock makes root run the key derivations of the user's
	 * volumes: a user must not be able to do that in a loop. Counted
	 * per user, across sessions and hand-overs; root is not limited. */
	if (peer != 0) {
		r = kt_ratelimit_take(a->user->uid, CONTROL_RATE_FILE,
				      CONTROL_RATE_MAX, CONTROL_RATE_WINDOW_S);
		if (r == -EBUSY)
			agent_log(LOG_WARNING,
				  "%s: unlock request from uid %u refused: "
				  "rate limited (at most %d in %d s)",
				  a->user->name, (unsigned)peer,
				  CONTROL_RATE_MAX, CONTROL_RATE_WINDOW_S);
		else if (r < 0)
			agent_log(LOG_ERR,
				  "%s: unlock request from uid %u refused: "
				  "Failed to count it: %s",
				  a->user->name, (unsigned)peer, strerror(-r));
		if (r < 0) {
			send_line(fd, "error rate limited");
			return;
		}
	}
	/* A resumed agent has no config: this unlock is a new opening,
	 * under the config of now. */
	if (!a->config && agent_load(a, a->state.user, a->config_path) < 0) {
		send_line(fd, "error could not load the configuration");
		return;
	}
	pass = kt_secret_new(len);
	if (!pass)
		return;
	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		long long left = deadline - kt_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		n = read(fd, pass->data + got, len - got);
		if (n <= 0)
			return;
		got += (size_t)n;
	}
	/* In the agent's own keyring: no process of the session possesses
	 * it, and libcryptsetup's token finds it there. */
	if (agent_set_passphrase(a, pass) < 0) {
		send_line(fd, "error could not add the key");
		return;
	}
	agent_log(LOG_INFO, "%s: unlock requested by keyturnctl (uid %u)",
		  a->user->name, (unsigned)peer);
	open_all(a, fd);
	send_line(fd, "done");
}

static void control_accept(struct agent *a)
{
	int fd = accept4(a->control, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* One request, bounded in time; the session is held meanwhile. */
	control_serve(a, fd);
	close(fd);
}

/* Hands the waiting to keyturn-hold, unless that failed before. Returns
 * only when this image must hold. */
static void hold_elsewhere(struct agent *a)
{
	int r;

	if (a->holder_failed)
		return;
	r = agent_hold_exec(a);
	agent_log(LOG_WARNING, "%s: Failed to hand the session to "
			       HOLD_NAME ": %s, holding it here",
		  a->user->name, strerror(-r));
	a->holder_failed = true;
}

/*
 * Waits for "close" from the module, EOF (the PAM host is gone) or a
 * termination signal, serving keyturnctl unlock meanwhile. The waiting
 * itself happens in keyturn-hold: it gives the process back with the
 * event still pending, this loop handles it, and what does not end the
 * session goes back to the holder.
 */
static void hold(struct agent *a)
{
	sigset_t mask;
	bool watch_control = a->control >= 0;
	/* Resumed: the event is pending now; nothing at all means the
	 * holder's wait and this one disagree, and the holder waits. */
	int timeout = a->resumed ? 0 : -1;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	if (!a->resumed)
		hold_elsewhere(a);
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = a->sock, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = watch_control ? a->control : -1,
			  .events = POLLIN },
		};
		char line[KT_LINE_MAX];
		int r;

		r = poll(p, 3, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		timeout = -1;
		if (r == 0) {
			hold_elsewhere(a);
			continue;
		}
		if (p[2].revents & POLLIN) {
			control_accept(a);
			hold_elsewhere(a);
			continue;
		}
		if (p[2].revents) {
			agent_log(LOG_WARNING, "%s: the control socket "
					       "broke, ignoring it",
				  a->user->name);
			watch_control = false;
		}
		if (p[1].revents) {
			agent_log(LOG_INFO, "%s: terminated, ending the "
					    "session", a->user->name);
			break;
		}
		if (!p[0].revents)
			continue;
		r = kt_line_read(a->sock, line, sizeof(line), 0);
		if (r == 0 || r == -ECONNRESET) {
			agent_log(LOG_INFO, "%s: the login process is gone, "
					    "ending the session",
				  a->user->name);
			break;
		}
		if (r < 0) {
			agent_log(LOG_ERR, "Failed to read from the module: "
					   "%s, ending the session",
				  strerror(-r));
			break;
		}
		if (!strcmp(line, "close"))
			break;
		agent_log(LOG_WARNING, "Unknown message from the module, "
				       "ignoring");
		hold_elsewhere(a);
	}
	kt_close(sfd);
}

int agent_load(struct agent *a, const char *user, const char *config)
{
	struct kt_diag diag = { { 0 } };
	struct kt_user *u = NULL;
	struct kt_volume *all = NULL;
	size_t n_all = 0, n = 0;
	int r;

	agent_unload_config(a);
	r = kt_config_load(config, &a->config, &diag);
	if (r < 0) {
		agent_log(LOG_ERR, "Failed to load %s: %s", config,
			  diag.message[0] ? diag.message : strerror(-r));
		return r;
	}
	r = kt_user_lookup(user, &u);
	if (r < 0) {
		agent_log(LOG_ERR, "Failed to look up user: %s", strerror(-r));
		return r;
	}
	/* A resumed session knows its uid: a name that now means another
	 * uid is not this session's user. */
	if (a->user && a->user->uid != u->uid) {
		agent_log(LOG_ERR, "%s: the name now belongs to uid %u, not "
				   "%u",
			  user, (unsigned)u->uid, (unsigned)a->user->uid);
		kt_user_free(u);
		return -ESTALE;
	}
	kt_user_free(a->user);
	a->user = u;
	r = kt_config_volumes_for(a->config, a->user, &all, &n_all, &diag);
	if (r < 0) {
		agent_log(LOG_ERR, "%s", diag.message);
		return r;
	}
	/* "user = *" volumes apply only where the user has one. */
	for (size_t i = 0; i < n_all; i++) {
		struct kt_volume keep;

		if (all[i].any_user && !kt_volume_present(&all[i]))
			continue;
		keep = all[n], all[n] = all[i], all[i] = keep;
		n++;
	}
	a->volumes = all;
	a->n_volumes = n;
	a->n_alloc = n_all;

	r = kt_key_description(a->config->key_prefix, a->user->name,
			       a->key_desc, sizeof(a->key_desc));
	if (r < 0) {
		agent_log(LOG_ERR, "Failed to make the key description: %s",
			  strerror(-r));
		return r;
	}
	return 0;
}

/* The config and the volumes it names, not the user. */
static void agent_unload_config(struct agent *a)
{
	kt_volumes_free(a->volumes, a->n_alloc);
	a->volumes = NULL;
	a->n_volumes = a->n_alloc = 0;
	a->config = kt_config_free(a->config);
}

void agent_unload(struct agent *a)
{
	agent_unload_config(a);
	a->user = kt_user_free(a->user);
}

void agent_harden(void)
{
	struct rlimit no_core = { 0, 0 };

	/* Secrets pass through this process: no core dumps, no ptrace by
	 * the user, no inherited umask. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
	umask(077);
	if (chdir("/") < 0)
		agent_log(LOG_WARNING, "Failed to change to /, ignoring");
	signal(SIGPIPE, SIG_IGN);
}

/* The module hands the passphrase over on fd 4, a pipe (lib/protocol.h);
 * without one, fd 4 is not there. */
static void passphrase_read(struct kt_secret **ret)
{
	struct stat st;
	int r;

	if (fstat(PASSPHRASE_FD, &st) < 0 || !S_ISFIFO(st.st_mode))
		return;
	r = kt_secret_pipe_read(PASSPHRASE_FD,
				kt_now_ms() + PASSPHRASE_TIMEOUT_MS, ret);
	(void)close(PASSPHRASE_FD);
	if (r < 0)
		agent_log(LOG_ERR, "Failed to read the passphrase from the "
				   "module: %s", strerror(-r));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "service", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "lock", no_argument, NULL, 'l' },
		{ "resume", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .sock = AGENT_FD, .sessions_fd = -1, .control = -1 };
	_cleanup_secret_ struct kt_secret *pass = NULL;
	const char *user = NULL, *config = KT_CONFIG_PATH;
	bool lock_mode = false, resume = false;
	int type, c, r;
	socklen_t len = sizeof(type);

	/* Password change: a separate mode (agent/rekey.c). */
	if (argc > 1 && !strcmp(argv[1], "--rekey"))
		return rekey_main(argc - 1, argv + 1);

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 's': a.service = optarg; break;
		case 'c': config = optarg; break;
		case 'l': lock_mode = true; break;
		case 'R': resume = true; break;
		default: return usage();
		}
	}
	a.config_path = config;
	if (lock_mode && !resume && user && optind == argc &&
	    geteuid() == 0) {
		/* keyturnctl lock: the teardown by hand, reported on stdout. */
		openlog("keyturn-agent", LOG_PID, LOG_AUTHPRIV);
		agent_harden();
		kt_luks_set_log(agent_cryptsetup_log, NULL);
		a.sock = STDOUT_FILENO;
		a.human = true;
		/* A config that does not load still leaves the records:
		 * what sessions opened is locked from them alone. */
		if (agent_load(&a, user, config) < 0 &&
		    !a.user && kt_user_lookup(user, &a.user) < 0)
			return 1;
		agent_log(LOG_NOTICE, "%s: locking by hand (keyturnctl lock)",
			  user);
		lock_by_hand(&a);
		return 0;
	}
	if (!user || !a.service || optind != argc || lock_mode)
		return usage();
	if (getsockopt(AGENT_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM)
		return usage();
	if (geteuid() != 0) {
		fprintf(stderr, "keyturn-agent: must run as root\n");
		return 1;
	}

	/* The login passphrase, if the module had one: read and closed
	 * before fd 4 becomes a placeholder (agent/hold.h). */
	if (!resume)
		passphrase_read(&pass);

	/* Resumed through the holder's descriptor, the name is that
	 * descriptor's number. */
	(void)prctl(PR_SET_NAME, HOLD_COMM);
	agent_fds_reserve(resume);
	openlog(HOLD_COMM, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	agent_harden();
	kt_luks_set_log(agent_cryptsetup_log, NULL);

	if (resume) {
		r = agent_resume(&a, user, config);
		if (r < 0) {
			/* Exiting drops the session's count and the module
			 * sees EOF; the volumes wait for another session's
			 * end or keyturnctl lock. */
			agent_log(LOG_CRIT, "%s: cannot resume the session; "
					    "its volumes stay open until the "
					    "user's last session ends or "
					    "keyturnctl lock %s",
				  user, user);
			if (a.control_path[0])
				(void)unlink(a.control_path);
			return 1;
		}
		hold(&a);
		goto end;
	}

	r = agent_load(&a, user, config);
	if (r < 0) {
		send_line(a.sock, "done");
		return 1;
	}
	state_set_user(&a);

	/* Waits here while a teardown of this user's volumes runs. */
	a.sessions_fd = agent_fd_place(kt_session_join(a.user->uid),
				       HOLD_FD_SESSIONS);
	if (a.sessions_fd < 0)
		agent_log(LOG_ERR, "Failed to join the sessions of %s: %s",
			  a.user->name, strerror(-a.sessions_fd));

	(void)agent_take_passphrase(&a, pass);
	pass = kt_secret_free(pass);
	open_all(&a, a.sock);
	send_line(a.sock, "done");

	a.control = agent_fd_place(kt_control_listen(a.user->uid, a.user->gid,
						     a.control_path,
						     sizeof(a.control_path)),
				   HOLD_FD_CONTROL);
	if (a.control < 0)
		agent_log(LOG_WARNING, "Failed to listen for keyturnctl "
				       "unlock: %s, ignoring",
			  strerror(-a.control));

	hold(&a);
end:
	close_all(&a);
	send_line(a.sock, "done");

	if (a.control >= 0)
		(void)unlink(a.control_path);
	kt_close(a.control);
	kt_close(a.sessions_fd);
	agent_unload(&a);
	return 0;
}
