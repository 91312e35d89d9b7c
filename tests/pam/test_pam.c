/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_keyturn.so in real libpam stacks, run by pam_wrapper (service files
 * from a generated directory, pam_matrix as the authenticator).
 *
 * The agent here is this very program started by the module (argv[1] is
 * "--user"): a probe that records what it was given (fds, environment,
 * session, signal state, the passphrase key as the kernel describes it)
 * into a file next to the config, then answers per the contract. The real
 * agent is exercised by tests/host/test_session_key and the VM tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpamtest.h>
#include <security/pam_appl.h>

#include "keyring.h"
#include "protocol.h"
#include "secret.h"
#include "stash.h"

#define MATRIX_DIR "/usr/lib/x86_64-linux-gnu/pam_wrapper"
#define SECURITY_DIR "/lib/x86_64-linux-gnu/security"
#define MODULE KT_BUILDDIR "/pam/pam_keyturn.so"
#define PROBE KT_BUILDDIR "/tests/pam/test_pam"
#define USER "daemon" /* an account every Debian system has */
#define PASSWORD "matrix-secret-1"
#define DECOY "decoy-authtok"

#include "kt-test-pam.h"

/* ---- the probe agent ---------------------------------------------- */

static void probe_fds(FILE *out)
{
	char list[256] = "";
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) ||
		    atoi(e->d_name) == fileno(out))
			continue;
		if (strlen(list) + strlen(e->d_name) + 2 < sizeof(list)) {
			strcat(list, e->d_name);
			strcat(list, ",");
		}
	}
	closedir(d);
	probe_say(out, "fds=%s", list);
	for (int fd = 0; fd <= 2; fd++) {
		char link[64] = "", p[64];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, link, sizeof(link) - 1);
		if (n > 0)
			link[n] = '\0';
		probe_say(out, "fd%d=%s", fd, link);
	}
}

/* Who the agent is and what it may use: root in full, whatever the
 * host's real uid and limits were. */
static void probe_ids(FILE *out)
{
	uid_t r, e, sv;
	gid_t gr, ge, gs;
	struct rlimit fsize, memlock;

	if (getresuid(&r, &e, &sv) == 0 && getresgid(&gr, &ge, &gs) == 0)
		probe_say(out, "ids=%u,%u,%u/%u,%u,%u", (unsigned)r,
			  (unsigned)e, (unsigned)sv, (unsigned)gr,
			  (unsigned)ge, (unsigned)gs);
	if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 &&
	    getrlimit(RLIMIT_MEMLOCK, &memlock) == 0)
		probe_say(out, "limits=fsize:%s,memlock:%s",
			  fsize.rlim_cur == RLIM_INFINITY ? "unlimited" :
							   "limited",
			  memlock.rlim_cur == memlock.rlim_max ? "hard" :
								 "below-hard");
}

static int probe_main(int argc, char **argv)
{
	char base[PATH_MAX], passdb[PATH_MAX + 32];
	char mode[32];
	const char *user = NULL, *config = NULL, *service = NULL;
	extern char **environ;
	struct sigaction sa;
	sigset_t mask;
	FILE *out;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--user"))
			user = argv[i + 1];
		else if (!strcmp(argv[i], "--config"))
			config = argv[i + 1];
		else if (!strcmp(argv[i], "--service"))
			service = argv[i + 1];
	}
	if (!user || !config || !service)
		return 2;
	out = probe_open(config, base, mode);
	if (!out)
		return 3;
	snprintf(passdb, sizeof(passdb), "%s/passdb", base);
	probe_say(out, "argc=%d argv0=%s user=%s service=%s", argc, argv[0],
		  user, service);
	probe_say(out, "env=%s", environ && environ[0] ? environ[0] : "empty");
	probe_fds(out);
	probe_say(out, "sid=%s", getsid(0) == getpid() ? "own" : "inherited");
	probe_say(out, "ppid=%d", (int)getppid());
	sigprocmask(SIG_SETMASK, NULL, &mask);
	probe_say(out, "sigmask=%s", sigisemptyset(&mask) ? "empty" : "set");
	sigaction(SIGHUP, NULL, &sa);
	probe_say(out, "sighup=%s", sa.sa_handler == SIG_DFL ? "default"
							     : "changed");
	{
		/* The expected passphrase is the test's, from its passdb. */
		char want[128] = "";
		FILE *f = fopen(passdb, "re");

		if (f && fscanf(f, "%*[^:]:%127[^:]", want) != 1)
			want[0] = '\0';
		if (f)
			fclose(f);
		probe_passphrase(out, want);
	}
	probe_ids(out);

	if (!strcmp(mode, "silent"))
		sleep(3); /* longer than the module's bound */
	/* Said before the report: the module returns, and the test reads
	 * this file, as soon as "done" arrives. */
	probe_say(out, "reported");
	if (kt_line_write(3, !strcmp(mode, "fail") ?
				     "volume v1 failed 5 probe failed" :
				     "volume v1 opened 0 probe") < 0 ||
	    kt_line_write(3, "done") < 0)
		probe_say(out, "write=failed");

	/* Hold the session: "close" or EOF, bounded. */
	probe_hold(out, 20000);
	fclose(out);
	return 0;
}

/* ---- fixtures ----------------------------------------------------- */

static void write_volume_conf(const char *name, unsigned unlock_timeout,
			      const char *required)
{
	char text[1024];

	snprintf(text, sizeof(text), KT_TEST_VOLUME_CONF, unlock_timeout, dir,
		 required);
	write_file(name, text, 0600);
}

/* A stack line of our module. */
static void module_line(char *buf, size_t size, const char *type,
			const char *control, const char *conf,
			const char *agent, const char *extra)
{
	snprintf(buf, size, "%s %s %s config=%s/%s agent=%s debug%s\n", type,
		 control, MODULE, dir, conf, agent, extra);
}

/*
 * Writes the services. "exact" stacks turn exactly PAM_IGNORE from the
 * module into success and anything else into failure, so that a test
 * sees the module's own code through libpam.
 */
static void write_services(void)
{
	char line[1024], text[8192], probe_agent[256], absent[256];
	char matrix_auth[512], matrix_session[512];
	static const struct {
		const char *service, *conf;
		bool exact, missing_agent;
		const char *extra;
		bool keyinit;
	} s[] = {
		{ "kt-novol", "novol.conf", true, false, NULL, false },
		{ "kt-nocfg", "missing.conf", true, false, NULL, false },
		{ "kt-broken", "broken.conf", true, false, NULL, false },
		{ "kt-unsafe", "unsafe.conf", true, false, NULL, false },
		{ "systemd-user", "vol.conf", true, false, NULL, false },
		{ "kt-exact", "vol.conf", true, false, NULL, false },
		{ "kt-vol", "vol.conf", false, false, NULL, false },
		{ "kt-noagent", "vol.conf", false, true, NULL, false },
		{ "kt-required", "required.conf", false, false, NULL, false },
		{ "kt-slow", "slow.conf", false, false, NULL, false },
		{ "kt-short", "vol.conf", false, false, " stash_timeout=1",
		  false },
		/* Debian's login, sshd and gdm: pam_keyinit first. */
		{ "kt-keyinit", "vol.conf", false, false, NULL, true },
	};

	snprintf(probe_agent, sizeof(probe_agent), "%s", PROBE);
	path_in(absent, sizeof(absent), "no-such-agent");
	snprintf(matrix_auth, sizeof(matrix_auth),
		 "auth required " MATRIX_DIR "/pam_matrix.so passdb=%s/passdb\n",
		 dir);
	snprintf(matrix_session, sizeof(matrix_session),
		 "session required " MATRIX_DIR
		 "/pam_matrix.so passdb=%s/passdb\n",
		 dir);

	for (size_t i = 0; i < ELEMENTSOF(s); i++) {
		const char *agent = s[i].missing_agent ? absent : probe_agent;
		const char *extra = s[i].extra ? s[i].extra : "";
		char tail[512];

		text[0] = '\0';
		strcat(text, matrix_auth);
		if (s[i].exact) {
			module_line(line, sizeof(line), "auth",
				    "[ignore=1 default=ignore]", s[i].conf,
				    agent, extra);
			strcat(text, line);
			snprintf(tail, sizeof(tail), "auth requisite "
				 SECURITY_DIR "/pam_deny.so\nauth required "
				 SECURITY_DIR "/pam_permit.so\n");
			strcat(text, tail);
			module_line(line, sizeof(line), "session",
				    "[ignore=1 default=ignore]", s[i].conf,
				    agent, extra);
			strcat(text, line);
			snprintf(tail, sizeof(tail), "session requisite "
				 SECURITY_DIR "/pam_deny.so\nsession required "
				 SECURITY_DIR "/pam_permit.so\n");
			strcat(text, tail);
		} else {
			/* pam_matrix wipes the token it read; a real
			 * authenticator (pam_unix) leaves PAM_AUTHTOK set
			 * for the modules below it, as this does. */
			strcat(text, "auth required " MATRIX_DIR
				     "/pam_set_items.so\n");
			module_line(line, sizeof(line), "auth", "optional",
				    s[i].conf, agent, extra);
			strcat(text, line);
			strcat(text, matrix_session);
			if (s[i].keyinit)
				strcat(text, "session required " SECURITY_DIR
					     "/pam_keyinit.so force revoke\n");
			/* Sets PAM_AUTHTOK from the environment, if set:
			 * the module must prefer what auth kept. */
			strcat(text, "session required " MATRIX_DIR
				     "/pam_set_items.so\n");
			module_line(line, sizeof(line), "session", "required",
				    s[i].conf, agent, extra);
			strcat(text, line);
		}
		write_file(s[i].service, text, 0644);
	}
	write_file("passdb", USER ":" PASSWORD ":kt-vol\n", 0600);
	/* libpam wants a fallback service. */
	write_file("other", "auth required " SECURITY_DIR "/pam_deny.so\n"
			    "session required " SECURITY_DIR "/pam_deny.so\n",
		   0644);
}

/* pam_wrapper prints what modules log at LOG_ERR on stderr: catch it. */
static int stderr_to(const char *name)
{
	char p[PATH_MAX];
	int saved, fd;

	path_in(p, sizeof(p), name);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

static void stderr_back(int saved)
{
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
}

/* Before each test: fresh configs and no probe output. */
static int setup(void **state)
{
	char text[512];

	remove_file("agent.out");
	remove_file("agent.mode");
	remove_file("missing.conf");
	write_volume_conf("vol.conf", 5, "no");
	write_volume_conf("required.conf", 5, "yes");
	write_volume_conf("slow.conf", 1, "no");
	snprintf(text, sizeof(text),
		 "[volume other]\nuser = nobody-here\ntype = luks2\n"
		 "device = %s/x.img\nname = x\nmountpoint = /srv/x\n",
		 dir);
	write_file("novol.conf", text, 0600);
	write_file("broken.conf", "[defaults]\nkey_timeout = soon\n", 0600);
	write_volume_conf("unsafe.conf", 5, "no");
	{
		char p[PATH_MAX];

		path_in(p, sizeof(p), "unsafe.conf");
		assert_int_equal(chmod(p, 0666), 0);
	}
	/* The passdb names the service the user may use: all of ours. */
	return 0;
}

/* What the user types. */
static const char *typed = PASSWORD;

static int conv_fn(int n, const struct pam_message **msg,
		   struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(typed);
	*resp = r;
	return PAM_SUCCESS;
}

static pam_handle_t *start(const char *service)
{
	static const struct pam_conv conv = { conv_fn, NULL };
	pam_handle_t *pamh = NULL;

	/* pam_matrix allows USER only for the service named in passdb. */
	{
		char text[256];

		snprintf(text, sizeof(text), USER ":" PASSWORD ":%s\n",
			 service);
		write_file("passdb", text, 0600);
	}
	assert_int_equal(pam_start(service, USER, &conv, &pamh), PAM_SUCCESS);
	return pamh;
}

/* pam_authenticate() with PAM_AUTHTOK left set by the authenticator, as
 * pam_unix does (libpam clears it when pam_authenticate() returns). */
static int authenticate(pam_handle_t *pamh)
{
	int r;

	setenv("PAM_AUTHTOK", PASSWORD, 1);
	r = pam_authenticate(pamh, 0);
	unsetenv("PAM_AUTHTOK");
	return r;
}

/* Live keys of keyturn's (a stash, a passphrase key) in this process's
 * session keyring, read back from the kernel. */
static int stash_keys_here(void)
{
	key_serial_t list[256];
	long n = keyctl_read(KEY_SPEC_SESSION_KEYRING, (char *)list,
			     sizeof(list));
	int found = 0;

	for (long i = 0; n > 0 && i < n / (long)sizeof(key_serial_t); i++) {
		char d[256];

		if (keyctl_describe(list[i], d, sizeof(d)) > 0 &&
		    strstr(d, ";keyturn"))
			found++;
	}
	return found;
}

/* The serial of the stash in this process's session keyring, or 0. */
static key_serial_t stash_serial(void)
{
	key_serial_t list[256];
	long n = keyctl_read(KEY_SPEC_SESSION_KEYRING, (char *)list,
			     sizeof(list));
	char d[256];

	for (long i = 0; n > 0 && i < n / (long)sizeof(key_serial_t); i++)
		if (keyctl_describe(list[i], d, sizeof(d)) > 0 &&
		    strstr(d, ";" KT_STASH_DESC_PREFIX))
			return list[i];
	return 0;
}

/* ---- tests -------------------------------------------------------- */

static void test_no_volume_returns_at_once(void **state)
{
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	struct pamtest_conv_data conv = { 0 };
	long long t0 = kt_now_ms();

	write_file("passdb", USER ":" PASSWORD ":kt-novol\n", 0600);
	/* "exact" stack: success means the module said PAM_IGNORE. */
	assert_int_equal(run_pamtest("kt-novol", USER, &conv, tests, NULL),
			 PAMTEST_ERR_OK);
	assert_true(kt_now_ms() - t0 < 1000);
	/* No agent ran (it records everything it is started with). */
	assert_false(file_exists("agent.out"));
}

static void test_no_config_is_ignored(void **state)
{
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	const char *pw[] = { PASSWORD, NULL };
	struct pamtest_conv_data conv = { .in_echo_off = pw };

	write_file("passdb", USER ":" PASSWORD ":kt-nocfg\n", 0600);
	assert_int_equal(run_pamtest("kt-nocfg", USER, &conv, tests, NULL),
			 PAMTEST_ERR_OK);
	assert_false(file_exists("agent.out"));
}

static void test_bad_config_never_refuses(void **state)
{
	static const char *const services[] = { "kt-broken", "kt-unsafe" };

	for (size_t i = 0; i < ELEMENTSOF(services); i++) {
		struct pam_testcase tests[] = {
			pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
			pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
			pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
		};
		const char *pw[] = { PASSWORD, NULL };
		struct pamtest_conv_data conv = { .in_echo_off = pw };
		char text[128], *log;
		int saved;

		snprintf(text, sizeof(text), USER ":" PASSWORD ":%s\n",
			 services[i]);
		write_file("passdb", text, 0600);
		saved = stderr_to("stderr");
		assert_int_equal(run_pamtest(services[i], USER, &conv, tests,
					     NULL),
				 PAMTEST_ERR_OK);
		stderr_back(saved);
		log = read_file("stderr");
		/* Logged, with the file and what is wrong with it. */
		if (!strstr(log, "Failed to load the configuration: ") ||
		    !strstr(log, i == 0 ? "broken.conf:2: bad value 'soon'"
					: "writable by group and other"))
			fail_msg("not logged as expected:\n%s", log);
		/* The unsafe one does name a volume for the user: refused
		 * config, so no agent and no key. */
		assert_false(file_exists("agent.out"));
	}
}

static void test_systemd_user_skipped(void **state)
{
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	struct pamtest_conv_data conv = { 0 };

	/* vol.conf has a volume for the user; the default skip list
	 * names systemd-user. */
	assert_int_equal(run_pamtest("systemd-user", USER, &conv, tests,
				     NULL),
			 PAMTEST_ERR_OK);
	assert_false(file_exists("agent.out"));
}

static void test_auth_ignores_and_close_without_open(void **state)
{
	/* auth: PAM_IGNORE, whatever the password did (pam_matrix
	 * decides); close without open: PAM_IGNORE. */
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	struct pam_testcase wrong[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
	};
	const char *pw[] = { PASSWORD, NULL };
	const char *bad[] = { "not-the-password", NULL };
	struct pamtest_conv_data conv = { .in_echo_off = pw };
	struct pamtest_conv_data conv_bad = { .in_echo_off = bad };

	write_file("passdb", USER ":" PASSWORD ":kt-exact\n", 0600);
	assert_int_equal(run_pamtest("kt-exact", USER, &conv, tests, NULL),
			 PAMTEST_ERR_OK);
	assert_int_equal(run_pamtest("kt-exact", USER, &conv_bad, wrong,
				     NULL),
			 PAMTEST_ERR_OK);
	assert_false(file_exists("agent.out"));
}

static int chld_seen;
static void on_chld(int sig)
{
	chld_seen++;
}

static void test_session_with_probe_agent(void **state)
{
	struct sigaction mine = { .sa_handler = on_chld }, after;
	key_serial_t stash;
	char buf[256], pid[32], *out;
	pam_handle_t *pamh;

	/* The host's own signal setup, which the agent must not inherit
	 * and which must be intact afterwards. */
	sigemptyset(&mine.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &mine, NULL), 0);
	signal(SIGHUP, SIG_IGN);
	chld_seen = 0;

	pamh = start("kt-vol");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	stash = stash_serial();
	assert_true(stash > 0);
	/* pam_set_items will overwrite PAM_AUTHTOK in the session stack. */
	setenv("PAM_AUTHTOK", DECOY, 1);
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	unsetenv("PAM_AUTHTOK");

	assert_int_equal(sigaction(SIGCHLD, NULL, &after), 0);
	assert_ptr_equal(after.sa_handler, on_chld);
	/* The intermediate child was reaped by the module, not us. */
	assert_int_equal(chld_seen, 0);
	signal(SIGHUP, SIG_DFL);

	out = read_file("agent.out");
	assert_non_null(out);
	assert_probe(out, "env", "empty");
	/* 3: the session socket; 4: the pipe the passphrase came on. */
	assert_probe(out, "fds", "0,1,2,3,4,");
	assert_probe(out, "fd0", "/dev/null");
	assert_probe(out, "fd1", "/dev/null");
	assert_probe(out, "fd2", "/dev/null");
	assert_probe(out, "sid", "own");
	assert_probe(out, "sigmask", "empty");
	assert_probe(out, "sighup", "default");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_string_not_equal(probe_value(out, "ppid", buf, sizeof(buf)),
				pid);
	/* What auth kept, not the later PAM_AUTHTOK, and on the pipe: the
	 * host's keyring never held a key of keyturn's. */
	assert_probe(out, "pipe", "match");
	assert_probe(out, "hostkey", "none");
	assert_non_null(strstr(out, "argc=7 argv0=keyturn-agent user=" USER
				    " service=kt-vol"));
	assert_non_null(strstr(out, "\nreported\n"));
	assert_null(strstr(out, "write=failed"));
	/* The stash auth made is gone with open_session, and so is its
	 * reference in the environment. */
	assert_null(pam_getenv(pamh, KT_STASH_ENV));
	assert_int_equal(stash_keys_here(), 0);
	/* Invalidated, not only revoked: the kernel unlinks and frees it
	 * now, wherever it is linked (a revoked key waits for the
	 * collector, minutes, counted against root's quota). */
	assert_true(keyctl_describe(stash, buf, sizeof(buf)) < 0);
	assert_int_equal(errno, ENOKEY);

	/* The agent still holds the session; close tells it. */
	assert_null(strstr(out, "ended="));
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	out = read_file("agent.out");
	assert_probe(out, "ended", "close");
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);

	signal(SIGCHLD, SIG_DFL);
}

static void test_host_ignoring_sigchld(void **state)
{
	pam_handle_t *pamh;
	char *out;

	/* SIG_IGN would make the kernel reap the intermediate child
	 * before the module's waitpid(): it must still work, and the
	 * host's setting must come back. */
	signal(SIGCHLD, SIG_IGN);
	pamh = start("kt-vol");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	assert_ptr_equal(signal(SIGCHLD, SIG_DFL), SIG_IGN);
	out = read_file("agent.out");
	assert_non_null(out);
	assert_probe(out, "pipe", "match");
	/* pam_end without close_session (a host that dies or forgets):
	 * the agent sees EOF. */
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
	for (int i = 0; i < 100; i++) {
		out = read_file("agent.out");
		if (out && strstr(out, "ended="))
			break;
		usleep(20000);
	}
	assert_probe(out, "ended", "eof");
}

static void test_missing_agent(void **state)
{
	pam_handle_t *pamh;
	long long t0;

	pamh = start("kt-noagent");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	t0 = kt_now_ms();
	/* exec fails: EOF at once, logged, not ours to refuse. */
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	assert_true(kt_now_ms() - t0 < 3000);
	/* The stash auth made is gone all the same. */
	assert_int_equal(stash_keys_here(), 0);
	assert_null(pam_getenv(pamh, KT_STASH_ENV));
	/* Nothing to tell at close. */
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

static void test_required_volume_refuses(void **state)
{
	pam_handle_t *pamh;
	char *out;

	write_file("agent.mode", "fail\n", 0600);
	pamh = start("kt-required");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	assert_int_equal(pam_open_session(pamh, 0), PAM_SESSION_ERR);
	out = read_file("agent.out");
	assert_non_null(out);
	assert_probe(out, "pipe", "match");
	assert_int_equal(stash_keys_here(), 0);
	/* The refused session's agent is let go at once (EOF). */
	for (int i = 0; i < 100; i++) {
		out = read_file("agent.out");
		if (strstr(out, "ended="))
			break;
		usleep(20000);
	}
	assert_probe(out, "ended", "eof");
	assert_int_equal(pam_end(pamh, PAM_SESSION_ERR), PAM_SUCCESS);

	/* The same volume, not required: the failure is only logged. */
	remove_file("agent.out");
	pamh = start("kt-vol");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
	assert_probe(read_file("agent.out"), "ended", "close");
}

static void test_slow_agent_is_bounded(void **state)
{
	pam_handle_t *pamh;
	char *out;
	long long t0, took;

	/* The agent answers after 3 s, the bound is 1 s. */
	write_file("agent.mode", "silent\n", 0600);
	pamh = start("kt-slow");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	t0 = kt_now_ms();
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	took = kt_now_ms() - t0;
	assert_true(took >= 900 && took < 2900);
	/* Let the late "opened" and "done" arrive before close. */
	usleep(2500 * 1000);
	out = read_file("agent.out");
	assert_non_null(out);
	assert_probe(out, "pipe", "match");
	/* Nothing left on the timeout path either. */
	assert_int_equal(stash_keys_here(), 0);
	/* close skips the late open report and waits for the close one. */
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_probe(read_file("agent.out"), "ended", "close");
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

/* ---- the hand-over of the passphrase ---------------------------- */

#define BOB 65534 /* nobody: the other user who shares the keyring */
#define PLANTED "planted-by-bob"

/* A new session keyring for this process, as a host has that others
 * share: what su inherits from its caller, a service's keyring. */
static void fresh_session_keyring(void)
{
	assert_true(keyctl_join_session_keyring(NULL) > 0);
}

/*
 * Bob: a process of another uid in the same session keyring, reading
 * every key it can find there (by listing it and by searching for the
 * description keyturn used to use) until stop is written. Reports
 * "tries leaks" on result.
 */
/* Ended by the teardown if a failed assertion left it running. */
static pid_t bob_running;

static int bob_teardown(void **state)
{
	if (bob_running > 0) {
		(void)kill(bob_running, SIGKILL);
		(void)waitpid(bob_running, NULL, 0);
	}
	bob_running = 0;
	return 0;
}

static pid_t bob_start(int stop, int result)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0)
		return bob_running = pid;
	if (setresgid(BOB, BOB, BOB) < 0 || setresuid(BOB, BOB, BOB) < 0)
		_exit(2);
	{
		unsigned long tries = 0, leaks = 0;
		struct pollfd p = { .fd = stop, .events = POLLIN };
		char line[64];

		while (poll(&p, 1, 0) == 0) {
			key_serial_t list[64];
			long n = keyctl_read(KEY_SPEC_SESSION_KEYRING,
					     (char *)list, sizeof(list));
			key_serial_t found = keyctl_search(
				KEY_SPEC_SESSION_KEYRING, "user",
				"keyturn:" USER, 0);

			for (long i = -1; i < n / (long)sizeof(list[0]) &&
					  i < (long)ELEMENTSOF(list);
			     i++) {
				char payload[256];
				long len = keyctl_read(i < 0 ? found : list[i],
						       payload,
						       sizeof(payload));

				tries++;
				if (len == (long)strlen(PASSWORD) &&
				    !memcmp(payload, PASSWORD, (size_t)len))
					leaks++;
			}
		}
		snprintf(line, sizeof(line), "%lu %lu\n", tries, leaks);
		if (write(result, line, strlen(line)) < 0)
			_exit(3);
		_exit(0);
	}
}

static void bob_stop(pid_t pid, int stop, int result, unsigned long *tries,
		     unsigned long *leaks)
{
	char line[64] = "";
	int status;

	assert_int_equal(write(stop, "x", 1), 1);
	assert_true(read(result, line, sizeof(line) - 1) > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	bob_running = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(sscanf(line, "%lu %lu", tries, leaks), 2);
}

static void test_shared_keyring_reveals_nothing(void **state)
{
	int stop[2], result[2];
	unsigned long tries, leaks;
	int stashes = 0, stash_root_only = 0;
	key_serial_t planted;
	char payload[64] = "", d[256], *out;
	pam_handle_t *pamh;
	long len;
	pid_t bob;

	fresh_session_keyring();
	/* Bob's key of the name keyturn used, in the shared keyring, open
	 * to everyone: it must be neither used nor updated. */
	bob = fork();
	assert_true(bob >= 0);
	if (bob == 0) {
		key_serial_t k;

		if (setresuid(BOB, BOB, BOB) < 0)
			_exit(2);
		k = add_key("user", "keyturn:" USER, PLANTED, strlen(PLANTED),
			    KEY_SPEC_SESSION_KEYRING);
		_exit(k > 0 && keyctl_setperm(k, 0x3f3f3f3f) == 0 ? 0 : 3);
	}
	{
		int status;

		assert_int_equal(waitpid(bob, &status, 0), bob);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	planted = keyctl_search(KEY_SPEC_SESSION_KEYRING, "user",
				"keyturn:" USER, 0);
	assert_true(planted > 0);

	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(result, O_CLOEXEC), 0);
	bob = bob_start(stop[0], result[1]);

	pamh = start("kt-vol");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	/* The stash, read back from the kernel: root's, for root alone
	 * (checked below, after what bob saw). */
	{
		key_serial_t list[64];
		long n = keyctl_read(KEY_SPEC_SESSION_KEYRING, (char *)list,
				     sizeof(list));

		for (long i = 0; i < n / (long)sizeof(list[0]); i++)
			if (keyctl_describe(list[i], d, sizeof(d)) > 0 &&
			    strstr(d, ";" KT_STASH_DESC_PREFIX)) {
				stashes++;
				stash_root_only +=
					!strncmp(d, "user;0;0;002b0000;", 18);
			}
	}
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	out = read_file("agent.out");
	assert_non_null(out);
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
	bob_stop(bob, stop[1], result[0], &tries, &leaks);
	close(stop[0]), close(stop[1]), close(result[0]), close(result[1]);

	/* Bob tried all along and never read the password. */
	assert_true(tries > 0);
	assert_int_equal(leaks, 0);
	/* Bob's key: still his, untouched. */
	len = keyctl_read(planted, payload, sizeof(payload) - 1);
	assert_int_equal(len, (long)strlen(PLANTED));
	assert_memory_equal(payload, PLANTED, strlen(PLANTED));
	assert_true(keyctl_describe(planted, d, sizeof(d)) > 0);
	assert_int_equal(strncmp(d, "user;65534;", 11), 0);
	(void)keyctl_unlink(planted, KEY_SPEC_SESSION_KEYRING);
	/* The agent had the passphrase all the same. */
	assert_probe(out, "pipe", "match");
	assert_int_equal(stashes, 1);
	assert_int_equal(stash_root_only, 1);
}

/*
 * OpenSSH's keyboard-interactive: auth runs in a forked child of the
 * host, which sends back its PAM environment and exits without pam_end;
 * the parent opens the session.
 */
static void auth_in_child(pam_handle_t *pamh, int want, char *ref,
			  size_t ref_size)
{
	char env[4096] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char **list;
		int r;

		close(p[0]);
		r = authenticate(pamh);
		list = pam_getenvlist(pamh);
		for (size_t i = 0; list && list[i]; i++)
			if (write(p[1], list[i], strlen(list[i]) + 1) < 0)
				_exit(3);
		_exit(r == want ? 0 : 4);
	}
	close(p[1]);
	n = read(p[0], env, sizeof(env) - 1);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (char *e = env; n > 0 && e < env + n; e += strlen(e) + 1) {
		assert_int_equal(pam_putenv(pamh, e), PAM_SUCCESS);
		if (ref && !strncmp(e, KT_STASH_ENV "=",
				    sizeof(KT_STASH_ENV)))
			snprintf(ref, ref_size, "%s",
				 e + sizeof(KT_STASH_ENV));
	}
}

/*
 * pam_keyinit force (Debian's login, sshd, gdm) gives the process a new
 * session keyring between auth and open_session: the one auth stashed in
 * is gone with its last holder, and the kernel collects the stash. A
 * host that opens the session where it authenticated must not care.
 */
static void test_keyinit_between_auth_and_session(void **state)
{
	pam_handle_t *pamh;
	key_serial_t stash, old;
	char d[256], *out;

	fresh_session_keyring();
	old = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	pamh = start("kt-keyinit");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	stash = stash_serial();
	assert_true(stash > 0);
	/* pam_keyinit's new keyring, and the old one collected with
	 * the stash in it once nothing holds it: the same as the stash
	 * unlinked from there, which does not wait on the kernel's
	 * timing. */
	assert_int_equal(keyctl_unlink(stash, old), 0);
	assert_true(keyctl_join_session_keyring(NULL) > 0);
	for (int i = 0; i < 500 && keyctl_describe(stash, d, sizeof(d)) >= 0;
	     i++)
		usleep(10000);
	assert_true(keyctl_describe(stash, d, sizeof(d)) < 0);

	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	out = read_file("agent.out");
	assert_non_null(out);
	assert_probe(out, "pipe", "match");
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

/* With pam_keyinit in the stack, open_session runs in another session
 * keyring than auth did: the stash must still be gone at once, not left
 * revoked in the old keyring for the collector. */
static void test_keyinit_stash_freed(void **state)
{
	pam_handle_t *pamh;
	key_serial_t stash;
	char d[256];

	fresh_session_keyring();
	pamh = start("kt-keyinit");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	stash = stash_serial();
	assert_true(stash > 0);
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	assert_probe(read_file("agent.out"), "pipe", "match");
	assert_true(keyctl_describe(stash, d, sizeof(d)) < 0);
	assert_int_equal(errno, ENOKEY);
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

static void test_auth_in_another_process(void **state)
{
	pam_handle_t *pamh;
	char *out;

	fresh_session_keyring();
	pamh = start("kt-vol");
	auth_in_child(pamh, PAM_SUCCESS, NULL, 0);
	/* This process never saw the password: it comes from the stash. */
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	out = read_file("agent.out");
	assert_non_null(out);
	assert_probe(out, "pipe", "match");
	assert_probe(out, "hostkey", "none");
	/* Gone after open_session: the stash and its reference. */
	assert_null(pam_getenv(pamh, KT_STASH_ENV));
	assert_int_equal(stash_keys_here(), 0);
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

static void test_stash_never_taken_expires(void **state)
{
	struct kt_stash_ref ref;
	char text[KT_STASH_REF_MAX], d[256];
	pam_handle_t *pamh;

	/* kt-short: stash_timeout=1. The child's login goes no further
	 * (a second factor failed, the client went away). */
	fresh_session_keyring();
	pamh = start("kt-short");
	auth_in_child(pamh, PAM_SUCCESS, text, sizeof(text));
	assert_int_equal(kt_stash_ref_parse(text, &ref), 0);
	assert_true(keyctl_describe(ref.key, d, sizeof(d)) > 0);
	sleep(2);
	assert_true(keyctl_describe(ref.key, d, sizeof(d)) < 0);
	assert_true(errno == EKEYEXPIRED || errno == ENOKEY);
	assert_int_equal(pam_end(pamh, PAM_AUTH_ERR), PAM_SUCCESS);
	assert_false(file_exists("agent.out"));
}

static void test_failed_login_leaves_nothing(void **state)
{
	pam_handle_t *pamh;

	fresh_session_keyring();
	pamh = start("kt-vol");
	/* pam_matrix refuses, the stack goes on to keyturn ("required"),
	 * which stashes what was typed; pam_end drops it. */
	typed = "not-the-password";
	setenv("PAM_AUTHTOK", typed, 1);
	assert_int_equal(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	unsetenv("PAM_AUTHTOK");
	typed = PASSWORD;
	/* It was stashed: the test sees the drop, not an absence. */
	assert_int_equal(stash_keys_here(), 1);
	assert_int_equal(pam_end(pamh, PAM_AUTH_ERR), PAM_SUCCESS);
	assert_int_equal(stash_keys_here(), 0);
	assert_false(file_exists("agent.out"));
}

static void test_screen_locker_leaves_nothing(void **state)
{
	static const int flags[] = { PAM_REINITIALIZE_CRED, PAM_REFRESH_CRED };

	for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
		pam_handle_t *pamh;
		long long t0 = kt_now_ms();

		fresh_session_keyring();
		pamh = start("kt-vol");
		assert_int_equal(authenticate(pamh), PAM_SUCCESS);
		/* There is a stash, and setcred takes it away. */
		assert_int_equal(stash_keys_here(), 1);
		assert_non_null(pam_getenv(pamh, KT_STASH_ENV));
		(void)pam_setcred(pamh, flags[i]);
		assert_int_equal(stash_keys_here(), 0);
		assert_null(pam_getenv(pamh, KT_STASH_ENV));
		assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
		/* No agent, no wait. */
		assert_false(file_exists("agent.out"));
		assert_true(kt_now_ms() - t0 < 2000);
	}
}

static volatile int reaper_stop;
static int reaper_reaped;

static void *reaper(void *arg)
{
	while (!reaper_stop) {
		int status;

		if (waitpid(-1, &status, 0) > 0)
			reaper_reaped++;
	}
	return NULL;
}

static pthread_t reaper_thread;
static bool reaper_running;

/* A failed assertion must not leave the thread taking the children of
 * the tests after it. */
static int reaper_teardown(void **state)
{
	if (reaper_running) {
		reaper_stop = 1;
		if (fork() == 0)
			_exit(0);
		(void)pthread_join(reaper_thread, NULL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	reaper_running = false;
	return 0;
}

static void test_host_thread_waiting_for_any_child(void **state)
{
	pthread_t thread;

	/* A host thread that reaps whatever child ends (waitpid(-1)):
	 * the module's intermediate child must not be one it can take. */
	reaper_stop = 0;
	reaper_reaped = 0;
	assert_int_equal(pthread_create(&thread, NULL, reaper, NULL), 0);
	reaper_thread = thread;
	reaper_running = true;
	for (int i = 0; i < 5; i++) {
		pam_handle_t *pamh;
		char *out;

		remove_file("agent.out");
		pamh = start("kt-vol");
		assert_int_equal(authenticate(pamh), PAM_SUCCESS);
		assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
		out = read_file("agent.out");
		if (!out || !strstr(out, "\nreported\n"))
			fail_msg("round %d: no agent report:\n%s", i,
				 out ? out : "(none)");
		assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
		assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
	}
	reaper_stop = 1;
	/* Wakes the thread if it sits in waitpid() with a child to wait
	 * for: one of ours, which it may or may not take. */
	{
		pid_t pid = fork();
		int status;

		if (pid == 0)
			_exit(0);
		assert_int_equal(pthread_join(thread, NULL), 0);
		reaper_running = false;
		if (waitpid(pid, &status, 0) == pid)
			assert_int_equal(reaper_reaped, 0);
		else
			assert_int_equal(reaper_reaped, 1);
	}
}

static void test_agent_is_root_in_full(void **state)
{
	struct rlimit fsize, memlock, low;
	pam_handle_t *pamh;
	char *out;

	/* su: the caller's real uid; and limits the caller lowered. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize), 0);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &memlock), 0);
	low = fsize;
	low.rlim_cur = 1 << 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	low = memlock;
	low.rlim_cur = 0;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
	assert_int_equal(setresgid(BOB, 0, 0), 0);
	assert_int_equal(setresuid(BOB, 0, 0), 0);

	pamh = start("kt-vol");
	assert_int_equal(authenticate(pamh), PAM_SUCCESS);
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);

	assert_int_equal(setresuid(0, 0, 0), 0);
	assert_int_equal(setresgid(0, 0, 0), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize), 0);
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &memlock), 0);

	out = read_file("agent.out");
	assert_non_null(out);
	/* Bob, su's caller, can signal none of it. */
	assert_probe(out, "ids", "0,0,0/0,0,0");
	assert_probe(out, "limits",
		     fsize.rlim_max == RLIM_INFINITY ?
			     "fsize:unlimited,memlock:hard" :
			     "fsize:limited,memlock:hard");
	assert_probe(out, "pipe", "match");
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_end(pamh, PAM_SUCCESS), PAM_SUCCESS);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_volume_returns_at_once, setup),
		cmocka_unit_test_setup(test_no_config_is_ignored, setup),
		cmocka_unit_test_setup(test_bad_config_never_refuses, setup),
		cmocka_unit_test_setup(test_systemd_user_skipped, setup),
		cmocka_unit_test_setup(
			test_auth_ignores_and_close_without_open, setup),
		cmocka_unit_test_setup(test_session_with_probe_agent, setup),
		cmocka_unit_test_setup(test_host_ignoring_sigchld, setup),
		cmocka_unit_test_setup(test_missing_agent, setup),
		cmocka_unit_test_setup(test_required_volume_refuses, setup),
		cmocka_unit_test_setup(test_slow_agent_is_bounded, setup),
		cmocka_unit_test_setup_teardown(
			test_shared_keyring_reveals_nothing, setup,
			bob_teardown),
		cmocka_unit_test_setup(test_auth_in_another_process, setup),
		cmocka_unit_test_setup(test_keyinit_between_auth_and_session,
				       setup),
		cmocka_unit_test_setup(test_keyinit_stash_freed, setup),
		cmocka_unit_test_setup(test_stash_never_taken_expires, setup),
		cmocka_unit_test_setup(test_failed_login_leaves_nothing, setup),
		cmocka_unit_test_setup(test_screen_locker_leaves_nothing, setup),
		cmocka_unit_test_setup_teardown(
			test_host_thread_waiting_for_any_child, setup,
			reaper_teardown),
		cmocka_unit_test_setup(test_agent_is_root_in_full, setup),
	};
	const char *d = getenv("KT_TEST_DIR");
	int r;

	if (argc > 1 && !strcmp(argv[1], "--user"))
		return probe_main(argc, argv);

	if (geteuid() != 0) {
		printf("SKIP: the module keys the session keyring and starts "
		       "a root agent; run as root\n");
		return 77;
	}
	if (access(MODULE, R_OK) < 0 || access(WRAPPER_LIB, R_OK) < 0 ||
	    access(MATRIX_DIR "/pam_matrix.so", R_OK) < 0) {
		printf("SKIP: needs %s, pam_wrapper and pam_matrix\n", MODULE);
		return 77;
	}
	if (!d || !getenv("PAM_WRAPPER")) {
		char tmpl[] = "/tmp/keyturn-pam-XXXXXX";

		return reexec_under_wrapper(argv, tmpl, write_services);
	}
	snprintf(dir, sizeof(dir), "%s", d);

	r = cmocka_run_group_tests(tests, NULL, NULL);
	cleanup_dir("/tmp/keyturn-pam-");
	return r;
}
