/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PAM code of every pam_keyturn entry point in every hostile
 * situation, through real libpam (pam_wrapper) with pam_keyturn.so
 * loaded, and the host left as it was: signal dispositions, ids, open
 * descriptors (the session socket the module keeps during an open
 * session accounted for) and children.
 *
 * How a test sees the module's own code through libpam:
 *   - auth, session: the module is first with "[default=done]", so its
 *     code is the stack's, PAM_IGNORE included. setcred and
 *     close_session run on libpam's chain frozen by auth and
 *     open_session: a PAM_IGNORE there, when the frozen code was
 *     another, falls through to pam_get_items, whose only trace is
 *     PAM_SERVICE in the PAM environment. So: that trace and
 *     PAM_SUCCESS mean PAM_IGNORE.
 *   - password, PRELIM_CHECK: "[success=ok default=done]": any code but
 *     PAM_SUCCESS ends pam_chauthtok() with it; PAM_SUCCESS runs
 *     pam_get_items (the trace) and the update pass.
 *   - password, UPDATE_AUTHTOK: "[success=1 ignore=ignore
 *     default=done]", then pam_get_items, then pam_set_items, which
 *     sets the passwords for the update pass and PAM_TTY from "p" to
 *     "u". pam_get_items exports PAM_TTY: "p" when only the prelim
 *     pass ignored, "u" when the update pass ignored too.
 *
 * The agent is this very program (argv has "--user"): a probe that
 * records what it saw into agent.out next to the config and answers per
 * agent.mode (ok, fail, hang).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "keyring.h"
#include "protocol.h"
#include "secret.h"

#define WRAPPER_DIR "/usr/lib/x86_64-linux-gnu/pam_wrapper"
#define MODULE KT_BUILDDIR "/pam/pam_keyturn.so"
#define PROBE KT_BUILDDIR "/tests/pam/test_pam_codes"
#define USER "daemon" /* an account every Debian system has */
#define NO_USER "kt-no-such-user" /* and one getpwnam() cannot find */
#define PASSWORD "codes-secret-1"
#define OLD_PASSWORD "codes-secret-0"

#include "kt-test-pam.h"

/* ---- the probe agent ---------------------------------------------- */

/* The re-key mode's fd 4: two length-prefixed passphrases. */
static bool probe_secret(int fd, const char *want)
{
	char buf[256];
	uint32_t len;

	if (read(fd, &len, sizeof(len)) != (ssize_t)sizeof(len) ||
	    len >= sizeof(buf) || read(fd, buf, len) != (ssize_t)len)
		return false;
	return len == strlen(want) && !memcmp(buf, want, len);
}

static int probe_main(int argc, char **argv)
{
	const char *user = NULL, *config = NULL;
	char base[PATH_MAX], mode[32], line[KT_LINE_MAX];
	bool rekey = false;
	FILE *out;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rekey"))
			rekey = true;
		else if (!strcmp(argv[i], "--user") && i + 1 < argc)
			user = argv[++i];
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
	}
	if (!user || !config)
		return 2;
	out = probe_open(config, base, mode);
	if (!out)
		return 3;
	probe_say(out, "started=%s", rekey ? "rekey" : "session");
	if (rekey) {
		bool old_ok = probe_secret(4, OLD_PASSWORD);

		probe_say(out, "secrets=%s", old_ok && probe_secret(4, PASSWORD)
						   ? "match" : "other");
	} else
		probe_passphrase(out, PASSWORD);

	if (!strcmp(mode, "hang")) {
		/* Never answers; ends when the module lets go of it. */
		probe_say(out, "hanging");
		while (kt_line_read(3, line, sizeof(line),
				    kt_now_ms() + 30000) > 0)
			;
		probe_say(out, "ended=hung");
		fclose(out);
		return 0;
	}
	probe_say(out, "reported");
	if (kt_line_write(3, !strcmp(mode, "fail") ?
				     "volume v1 failed 5 probe failed" :
			     rekey ? "volume v1 rekeyed 0 probe" :
				     "volume v1 opened 0 probe") < 0 ||
	    kt_line_write(3, "done") < 0)
		probe_say(out, "write=failed");
	if (!rekey)
		probe_hold(out, 30000);
	fclose(out);
	return 0;
}

/* ---- the host's state --------------------------------------------- */

#define MAX_FDS 64

static const int watched_signals[] = { SIGCHLD, SIGPIPE, SIGHUP };

struct host_state {
	struct sigaction sa[ELEMENTSOF(watched_signals)];
	sigset_t mask;
	uid_t uid[3];
	gid_t gid[3];
	int fds[MAX_FDS];
	size_t n_fds;
};

static int chld_seen, hup_seen;

static void on_chld(int sig)
{
	chld_seen++;
}

static void on_hup(int sig)
{
	hup_seen++;
}

static int int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void host_snapshot(struct host_state *h)
{
	struct dirent *e;
	DIR *d;

	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < ELEMENTSOF(watched_signals); i++)
		assert_int_equal(sigaction(watched_signals[i], NULL, &h->sa[i]),
				 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &h->mask), 0);
	assert_int_equal(getresuid(&h->uid[0], &h->uid[1], &h->uid[2]), 0);
	assert_int_equal(getresgid(&h->gid[0], &h->gid[1], &h->gid[2]), 0);
	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d))
			continue;
		assert_true(h->n_fds < MAX_FDS);
		h->fds[h->n_fds++] = fd;
	}
	closedir(d);
	qsort(h->fds, h->n_fds, sizeof(int), int_cmp);
}

static void fd_list(const struct host_state *h, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->n_fds && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%d ",
					 h->fds[i]);
}

/* No child of ours, reaped or not, and none in /proc. */
static void assert_no_children(void)
{
	char p[300], line[128];
	struct dirent *e;
	DIR *d;

	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	d = opendir("/proc");
	assert_non_null(d);
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/status", e->d_name);
		f = fopen(p, "re");
		if (!f)
			continue; /* gone meanwhile */
		while (fgets(line, sizeof(line), f)) {
			int ppid;

			if (sscanf(line, "PPid: %d", &ppid) == 1 &&
			    ppid == (int)getpid())
				fail_msg("process %s is a child of the host",
					 e->d_name);
		}
		fclose(f);
	}
	closedir(d);
}

static bool socket_cloexec(int fd)
{
	int type = 0, flags = fcntl(fd, F_GETFD);
	socklen_t len = sizeof(type);
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);

	return flags >= 0 && (flags & FD_CLOEXEC) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM &&
	       getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 &&
	       sa.ss_family == AF_UNIX;
}

/*
 * Everything equal, except the descriptors: kept is +1 when the call
 * must have left the module's session socket (close-on-exec, AF_UNIX
 * stream) open, -1 when it must have closed the one it kept, 0 when the
 * set must be the same.
 */
/* Only the signals count: glibc leaves the rest of a sigset_t it got
 * from the kernel undefined. */
static bool same_sigset(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return false;
	return true;
}

static void assert_host_same(const struct host_state *a,
			     const struct host_state *b, int kept)
{
	char la[256], lb[256];

	for (size_t i = 0; i < ELEMENTSOF(watched_signals); i++) {
		if (a->sa[i].sa_handler != b->sa[i].sa_handler ||
		    a->sa[i].sa_flags != b->sa[i].sa_flags ||
		    !same_sigset(&a->sa[i].sa_mask, &b->sa[i].sa_mask))
			fail_msg("disposition of signal %d changed: "
				 "%p/%#x -> %p/%#x", watched_signals[i],
				 (void *)a->sa[i].sa_handler,
				 (unsigned)a->sa[i].sa_flags,
				 (void *)b->sa[i].sa_handler,
				 (unsigned)b->sa[i].sa_flags);
	}
	assert_true(same_sigset(&a->mask, &b->mask));
	assert_memory_equal(a->uid, b->uid, sizeof(a->uid));
	assert_memory_equal(a->gid, b->gid, sizeof(a->gid));
	assert_no_children();

	fd_list(a, la, sizeof(la));
	fd_list(b, lb, sizeof(lb));
	if (b->n_fds != a->n_fds + (size_t)kept)
		fail_msg("fds before: %s, after: %s, want %+d", la, lb, kept);
	if (kept == 0 && memcmp(a->fds, b->fds, a->n_fds * sizeof(int)))
		fail_msg("fds before: %s, after: %s", la, lb);
	if (kept != 0) {
		/* The larger set is the smaller one and the socket. */
		const struct host_state *big = kept > 0 ? b : a;
		const struct host_state *small = kept > 0 ? a : b;
		size_t j = 0;
		int extra = -1;

		for (size_t i = 0; i < big->n_fds; i++) {
			if (j < small->n_fds && small->fds[j] == big->fds[i])
				j++;
			else if (extra < 0)
				extra = big->fds[i];
			else
				fail_msg("fds before: %s, after: %s", la, lb);
		}
		assert_int_equal(j, small->n_fds);
		if (kept > 0 && !socket_cloexec(extra))
			fail_msg("fd %d kept by the module is not a "
				 "close-on-exec AF_UNIX stream socket", extra);
	}
}

/* ---- situations and the table ------------------------------------- */

enum hook {
	AUTH,
	SETCRED,
	OPEN,
	CLOSE,
	PRELIM,
	UPDATE,
};

static const char *const hook_name[] = {
	[AUTH] = "authenticate",     [SETCRED] = "setcred",
	[OPEN] = "open_session",     [CLOSE] = "close_session",
	[PRELIM] = "chauthtok-prelim", [UPDATE] = "chauthtok-update",
};

struct situation {
	const char *name;    /* also the services' prefix */
	const char *conf;    /* config file in dir; "missing.conf": none */
	bool agent_absent;   /* agent= names a file that does not exist */
	const char *user;
	bool null_conv;      /* a conversation without a function */
	bool password;       /* PAM_AUTHTOK (and PAM_OLDAUTHTOK) set */
	const char *mode;    /* the probe's agent.mode */
	bool join_us;        /* the host's @s is its @us */
	bool session_socket; /* a successful open keeps the agent socket */
};

enum {
	S_NOCFG,
	S_NOVOL,
	S_NOAGENT,
	S_HUNG,
	S_NOPASS,
	S_NULLCONV,
	S_NOUSER,
	S_US,
	S_VOLUME,
	S_REQUIRED,
};

static const struct situation situations[] = {
	[S_NOCFG] = { "nocfg", "missing.conf", false, USER, false, true,
		      "ok", false, false },
	[S_NOVOL] = { "novol", "novol.conf", false, USER, false, true, "ok",
		      false, false },
	[S_NOAGENT] = { "noagent", "vol.conf", true, USER, false, true, "ok",
			false, false },
	[S_HUNG] = { "hung", "slow.conf", false, USER, false, true, "hang",
		     false, true },
	[S_NOPASS] = { "nopass", "vol.conf", false, USER, false, false, "ok",
		       false, true },
	[S_NULLCONV] = { "nullconv", "vol.conf", false, USER, true, true,
			 "ok", false, true },
	[S_NOUSER] = { "nouser", "vol.conf", false, NO_USER, false, true,
		       "ok", false, false },
	[S_US] = { "us", "vol.conf", false, USER, false, true, "ok", true,
		   true },
	[S_VOLUME] = { "volume", "vol.conf", false, USER, false, true, "ok",
		       false, true },
	[S_REQUIRED] = { "required", "required.conf", false, USER, false,
			 true, "fail", false, true },
};

struct row {
	int situation;
	enum hook hook;
	int code;    /* what the module must return */
	bool agent;  /* the probe must have run for this row */
};

/*
 * Derived from pam_keyturn(8), RETURN CODES: auth and setcred always
 * PAM_IGNORE; open_session PAM_IGNORE when keyturn has nothing to do,
 * PAM_SUCCESS when the agent ran or could not be started, PAM_SESSION_ERR
 * when a required volume did not open; close_session PAM_SUCCESS when
 * the agent was told, PAM_IGNORE when none runs for the session;
 * chauthtok PAM_IGNORE unless a required volume was not re-keyed
 * (PAM_AUTHTOK_ERR).
 */
#define ROWS(s, open, close, update, runs, update_runs)                      \
	{ s, AUTH, PAM_IGNORE, false }, { s, SETCRED, PAM_IGNORE, false },   \
	{ s, OPEN, open, runs }, { s, CLOSE, close, runs },                  \
	{ s, PRELIM, PAM_IGNORE, false },                                    \
	{ s, UPDATE, update, update_runs }

static const struct row rows[] = {
	ROWS(S_NOCFG, PAM_IGNORE, PAM_IGNORE, PAM_IGNORE, false, false),
	ROWS(S_NOVOL, PAM_IGNORE, PAM_IGNORE, PAM_IGNORE, false, false),
	/* exec fails: the agent "ran" and ended at once, nothing to
	 * tell at close; the re-key fails for a volume not required. */
	ROWS(S_NOAGENT, PAM_SUCCESS, PAM_IGNORE, PAM_IGNORE, false, false),
	/* Bounded by unlock_timeout = 1; the session keeps the agent. */
	ROWS(S_HUNG, PAM_SUCCESS, PAM_SUCCESS, PAM_IGNORE, true, true),
	/* No key, the agent still runs; nothing to re-key with. */
	ROWS(S_NOPASS, PAM_SUCCESS, PAM_SUCCESS, PAM_IGNORE, true, false),
	/* Only chauthtok talks to the user; that failing changes
	 * nothing. */
	ROWS(S_NULLCONV, PAM_SUCCESS, PAM_SUCCESS, PAM_IGNORE, true, true),
	ROWS(S_NOUSER, PAM_IGNORE, PAM_IGNORE, PAM_IGNORE, false, false),
	ROWS(S_US, PAM_SUCCESS, PAM_SUCCESS, PAM_IGNORE, true, true),
	ROWS(S_VOLUME, PAM_SUCCESS, PAM_SUCCESS, PAM_IGNORE, true, true),
	/* A refused session keeps nothing: close has no agent. */
	ROWS(S_REQUIRED, PAM_SESSION_ERR, PAM_IGNORE, PAM_AUTHTOK_ERR, true,
	     true),
};

/* ---- fixtures ----------------------------------------------------- */

static void write_volume_conf(const char *name, unsigned unlock_timeout,
			      const char *required)
{
	char text[1024];

	snprintf(text, sizeof(text), KT_TEST_VOLUME_CONF, unlock_timeout, dir,
		 required);
	write_file(name, text, 0600);
}

static void write_configs(void)
{
	char text[512];

	write_volume_conf("vol.conf", 10, "no");
	write_volume_conf("required.conf", 10, "yes");
	write_volume_conf("slow.conf", 1, "no");
	snprintf(text, sizeof(text),
		 "[volume other]\nuser = nobody-here\ntype = luks2\n"
		 "device = %s/x.img\nname = x\nmountpoint = /srv/x\n",
		 dir);
	write_file("novol.conf", text, 0600);
}

static void write_services(void)
{
	for (size_t i = 0; i < ELEMENTSOF(situations); i++) {
		const struct situation *s = &situations[i];
		char mod[1024], text[4096], name[64], absent[256];

		path_in(absent, sizeof(absent), "no-such-agent");
		snprintf(mod, sizeof(mod), "%s config=%s/%s agent=%s debug",
			 MODULE, dir, s->conf, s->agent_absent ? absent
								 : PROBE);
		snprintf(text, sizeof(text),
			 "auth [default=ignore] %s/pam_set_items.so\n"
			 "auth [default=done] %s\n"
			 "auth required %s/pam_get_items.so\n"
			 "session [default=done] %s\n"
			 "session required %s/pam_get_items.so\n",
			 WRAPPER_DIR, mod, WRAPPER_DIR, mod, WRAPPER_DIR);
		snprintf(name, sizeof(name), "%s-login", s->name);
		write_file(name, text, 0644);

		snprintf(text, sizeof(text),
			 "password [success=ok default=done] %s\n"
			 "password required %s/pam_get_items.so\n",
			 mod, WRAPPER_DIR);
		snprintf(name, sizeof(name), "%s-prelim", s->name);
		write_file(name, text, 0644);

		snprintf(text, sizeof(text),
			 "password [success=1 ignore=ignore default=done] %s\n"
			 "password required %s/pam_get_items.so\n"
			 "password required %s/pam_set_items.so\n",
			 mod, WRAPPER_DIR, WRAPPER_DIR);
		snprintf(name, sizeof(name), "%s-update", s->name);
		write_file(name, text, 0644);
	}
	write_file("other", "auth required /lib/x86_64-linux-gnu/security/"
			    "pam_deny.so\n", 0644);
}

static int conv_fn(int n, const struct pam_message **msg,
		   struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (!r)
		return PAM_BUF_ERR;
	*resp = r; /* info and error lines only: nothing to answer */
	return PAM_SUCCESS;
}

/* ---- one row ------------------------------------------------------ */

static const char *code_name(int code)
{
	switch (code) {
	case PAM_SUCCESS:
		return "PAM_SUCCESS";
	case PAM_IGNORE:
		return "PAM_IGNORE";
	case PAM_SESSION_ERR:
		return "PAM_SESSION_ERR";
	case PAM_AUTHTOK_ERR:
		return "PAM_AUTHTOK_ERR";
	case PAM_PERM_DENIED:
		return "PAM_PERM_DENIED";
	case PAM_SYSTEM_ERR:
		return "PAM_SYSTEM_ERR";
	case PAM_CONV_ERR:
		return "PAM_CONV_ERR";
	case PAM_USER_UNKNOWN:
		return "PAM_USER_UNKNOWN";
	default:
		return "another code";
	}
}

static void clear_trace(pam_handle_t *pamh)
{
	if (pam_getenv(pamh, "PAM_SERVICE"))
		assert_int_equal(pam_putenv(pamh, "PAM_SERVICE"), PAM_SUCCESS);
	if (pam_getenv(pamh, "PAM_TTY"))
		assert_int_equal(pam_putenv(pamh, "PAM_TTY"), PAM_SUCCESS);
}

static int call(pam_handle_t *pamh, enum hook hook)
{
	switch (hook) {
	case AUTH:
		return pam_authenticate(pamh, 0);
	case SETCRED:
		return pam_setcred(pamh, PAM_ESTABLISH_CRED);
	case OPEN:
		return pam_open_session(pamh, 0);
	case CLOSE:
		return pam_close_session(pamh, 0);
	case PRELIM:
	case UPDATE:
		return pam_chauthtok(pamh, 0);
	}
	return PAM_ABORT;
}

/* The module's own code, from the stack's and the trace (see the top). */
static int module_code(pam_handle_t *pamh, enum hook hook, int stack)
{
	const char *tty;

	switch (hook) {
	case PRELIM:
		return pam_getenv(pamh, "PAM_SERVICE") ? PAM_SUCCESS : stack;
	case UPDATE:
		tty = pam_getenv(pamh, "PAM_TTY");
		if (!tty)
			fail_msg("the prelim pass did not return PAM_IGNORE "
				 "(stack: %s)", code_name(stack));
		return !strcmp(tty, "u") ? PAM_IGNORE : stack;
	default:
		return stack == PAM_SUCCESS && pam_getenv(pamh, "PAM_SERVICE")
			       ? PAM_IGNORE : stack;
	}
}

static void set_passwords(const struct situation *s)
{
	if (s->password) {
		setenv("PAM_AUTHTOK", PASSWORD, 1);
		setenv("PAM_OLDAUTHTOK", OLD_PASSWORD, 1);
	}
	setenv("PAM_TTY", "u", 1);
}

static void unset_passwords(void)
{
	unsetenv("PAM_AUTHTOK");
	unsetenv("PAM_OLDAUTHTOK");
	unsetenv("PAM_TTY");
}

/* A step before the measured one, on the same handle. */
static void step(pam_handle_t *pamh, const struct situation *s,
		 enum hook hook)
{
	int r;

	set_passwords(s);
	r = call(pamh, hook);
	unset_passwords();
	/* auth always ignores; open may fail only where required. */
	if (r != PAM_IGNORE && r != PAM_SUCCESS && r != PAM_SESSION_ERR)
		fail_msg("%s before the measured call: %s", hook_name[hook],
			 pam_strerror(pamh, r));
}

static void join_user_session_keyring(void)
{
	key_serial_t us = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING,
						0);
	char name[32];

	assert_true(us > 0);
	snprintf(name, sizeof(name), "_uid_ses.%u", (unsigned)getuid());
	/* By name: what a host started without a session keyring of its
	 * own (a daemon, cron) has as @s. */
	if (keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) != us)
		assert_int_equal(keyctl_join_session_keyring(name), us);
	assert_int_equal(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0),
			 us);
}

/* The passphrase went to the agent alone: no key of keyturn's in any
 * keyring the host has, @us included. */
static void assert_key_placement(const char *out)
{
	char desc[KT_KEY_DESC_MAX];

	assert_probe(out, "pipe", "match");
	assert_probe(out, "hostkey", "none");
	assert_int_equal(kt_key_description(KT_KEY_PREFIX_DEFAULT, USER, desc,
					    sizeof(desc)), 0);
	assert_true(keyctl_search(KEY_SPEC_USER_SESSION_KEYRING, "user", desc,
				  0) < 0);
}

static void run_row(void **state)
{
	const struct row *row = *state;
	const struct situation *s = &situations[row->situation];
	static const struct pam_conv conv = { conv_fn, NULL };
	static const struct pam_conv null_conv = { NULL, NULL };
	struct host_state start, before, after, end;
	char service[64], mode[40], *out;
	pam_handle_t *pamh = NULL;
	long long t0, took;
	int kept = 0, r, code;

	remove_file("agent.out");
	snprintf(mode, sizeof(mode), "%s\n", s->mode);
	write_file("agent.mode", mode, 0600);
	snprintf(service, sizeof(service), "%s-%s", s->name,
		 row->hook == PRELIM ? "prelim" :
		 row->hook == UPDATE ? "update" : "login");
	chld_seen = hup_seen = 0;
	if (s->join_us)
		join_user_session_keyring();

	host_snapshot(&start);
	assert_int_equal(pam_start(service, s->user,
				   s->null_conv ? &null_conv : &conv, &pamh),
			 PAM_SUCCESS);
	if (row->hook == SETCRED || row->hook == OPEN || row->hook == CLOSE)
		step(pamh, s, AUTH);
	if (row->hook == CLOSE)
		step(pamh, s, OPEN);
	if (row->hook == UPDATE)
		assert_int_equal(pam_set_item(pamh, PAM_TTY, "p"),
				 PAM_SUCCESS);

	clear_trace(pamh);
	set_passwords(s);
	host_snapshot(&before);
	t0 = kt_now_ms();
	r = call(pamh, row->hook);
	took = kt_now_ms() - t0;
	host_snapshot(&after);
	unset_passwords();
	code = module_code(pamh, row->hook, r);
	if (code != row->code)
		fail_msg("%s, %s: want %s, got %s (%d; stack %s)", s->name,
			 hook_name[row->hook], code_name(row->code),
			 code_name(code), code, code_name(r));

	/* The session socket: opened by a successful open, closed by
	 * close, and only where an agent holds the session. */
	if (s->session_socket && row->code == PAM_SUCCESS)
		kept = row->hook == OPEN ? 1 : row->hook == CLOSE ? -1 : 0;
	assert_host_same(&before, &after, kept);
	assert_int_equal(chld_seen, 0);
	assert_int_equal(hup_seen, 0);

	/* An unresponsive agent costs unlock_timeout (1 s), no more than
	 * a loaded machine adds. */
	if (!strcmp(s->mode, "hang") && row->agent)
		assert_true(took >= 900 && took < 15000);

	out = read_file("agent.out");
	/* A hung agent the module stopped waiting for may not have
	 * written its record yet on a loaded machine. */
	for (int i = 0; row->agent && !strcmp(s->mode, "hang") && i < 300 &&
			(!out || !strstr(out, "\nhanging\n"));
	     i++) {
		usleep(50 * 1000);
		out = read_file("agent.out");
	}
	if (!row->agent && out)
		fail_msg("no agent expected, but:\n%s", out);
	if (row->agent) {
		assert_non_null(out);
		assert_probe(out, "started",
			     row->hook == UPDATE ? "rekey" : "session");
		if (row->hook == UPDATE)
			assert_probe(out, "secrets", "match");
		else if (s->password)
			assert_probe(out, "pipe", "match");
		else
			assert_probe(out, "pipe", "none");
		if (s->join_us && row->hook == OPEN)
			assert_key_placement(out);
	}

	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
	host_snapshot(&end);
	assert_host_same(&start, &end, 0);
}

/* ---- main --------------------------------------------------------- */

/* The host's own signal setup, which the module must leave alone. */
static void host_signals(void)
{
	struct sigaction chld = { .sa_handler = on_chld,
				  .sa_flags = SA_RESTART };
	struct sigaction hup = { .sa_handler = on_hup };
	struct sigaction pipe = { .sa_handler = SIG_IGN };

	sigemptyset(&chld.sa_mask);
	sigaddset(&chld.sa_mask, SIGUSR1);
	sigemptyset(&hup.sa_mask);
	sigemptyset(&pipe.sa_mask);
	if (sigaction(SIGCHLD, &chld, NULL) < 0 ||
	    sigaction(SIGHUP, &hup, NULL) < 0 ||
	    sigaction(SIGPIPE, &pipe, NULL) < 0)
		abort();
}

int main(int argc, char **argv)
{
	struct CMUnitTest tests[ELEMENTSOF(rows)];
	static char names[ELEMENTSOF(rows)][64];
	const char *d = getenv("KT_TEST_DIR");
	int r;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--user"))
			return probe_main(argc, argv);

	if (geteuid() != 0) {
		printf("SKIP: the module keys the session keyring and starts "
		       "a root agent; run as root\n");
		return 77;
	}
	if (access(MODULE, R_OK) < 0 || access(WRAPPER_LIB, R_OK) < 0 ||
	    access(WRAPPER_DIR "/pam_get_items.so", R_OK) < 0 ||
	    access(WRAPPER_DIR "/pam_set_items.so", R_OK) < 0) {
		printf("SKIP: needs %s and pam_wrapper with pam_get_items "
		       "and pam_set_items\n", MODULE);
		return 77;
	}
	if (keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0) < 0) {
		printf("SKIP: no kernel keyring here\n");
		return 77;
	}
	if (!d || !getenv("PAM_WRAPPER")) {
		char tmpl[] = "/tmp/keyturn-pamcodes-XXXXXX";

		return reexec_under_wrapper(argv, tmpl, write_services);
	}
	snprintf(dir, sizeof(dir), "%s", d);
	write_configs();
	host_signals();

	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		snprintf(names[i], sizeof(names[i]), "%s/%s",
			 situations[rows[i].situation].name,
			 hook_name[rows[i].hook]);
		tests[i] = (struct CMUnitTest){
			.name = names[i],
			.test_func = run_row,
			.initial_state = (void *)&rows[i],
		};
	}
	r = _cmocka_run_group_tests("pam_keyturn codes", tests,
				    ELEMENTSOF(tests), NULL, NULL);
	cleanup_dir("/tmp/keyturn-pamcodes-");
	return r;
}
