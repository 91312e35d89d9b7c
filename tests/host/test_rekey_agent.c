/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, the real keyturn-agent --rekey, a real LUKS2 image: started with
 * the resource limits a user can set before running passwd (soft, and
 * hard too where this root may raise them back: CAP_SYS_RESOURCE, which
 * some containers drop), the agent resets them and still re-keys.
 * Before, RLIMIT_FSIZE killed it with SIGXFSZ at the first header write,
 * RLIMIT_AS made Argon2 fail, RLIMIT_CPU could stop it half-way.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt-test-luks.h"
#include "kt-test-spawn.h"
#include "protocol.h"
#include "user.h"
#include "wrapped.h"

#define AGENT KT_BUILDDIR "/agent/keyturn-agent"
#define USER "daemon"
#define OLD "old login password"
#define NEW "new login password"

static char dir[] = "/tmp/kt-test-rekey-agent.XXXXXX";
static char config[256], image[256];

#if defined(__SANITIZE_ADDRESS__)
#define KT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KT_TEST_ASAN 1
#endif
#endif
#ifndef KT_TEST_ASAN
#define KT_TEST_ASAN 0
#endif

/* What a user may do to its own limits before exec'ing passwd: lower
 * soft and hard. */
static const struct {
	int resource;
	rlim_t value;
} low[] = {
	{ RLIMIT_FSIZE, 4096 },
	{ RLIMIT_CPU, 1 },
	{ RLIMIT_MEMLOCK, 0 },
	{ RLIMIT_NOFILE, 16 },
#if !KT_TEST_ASAN
	/* An agent built with ASan reserves terabytes of shadow memory
	 * before main() runs: under these it cannot start at all. */
	{ RLIMIT_AS, 16 * 1024 * 1024 },
	{ RLIMIT_DATA, 16 * 1024 * 1024 },
#endif
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;
	char text[1024];

	if (!mkdtemp(dir))
		return -1;
	snprintf(image, sizeof(image), "%s/image", dir);
	snprintf(config, sizeof(config), "%s/keyturn.conf", dir);
	kt_test_make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, passes[0], OLD,
					"keyturn:" USER, &tok),
			 0);
	snprintf(text, sizeof(text),
		 "[volume v1]\nuser = %s\ntype = luks2\ndevice = %s\n"
		 "name = kt-test-rekey-agent\nmountpoint = %s\n",
		 USER, image, dir);
	write_file(config, text);
	assert_int_equal(chmod(config, 0644), 0);
	return 0;
}

static int teardown(void **state)
{
	return kt_test_remove_tree(dir);
}

static void put_secret(int fd, const char *s)
{
	uint32_t len = (uint32_t)strlen(s);

	assert_int_equal(write(fd, &len, sizeof(len)), sizeof(len));
	assert_int_equal(write(fd, s, len), (ssize_t)len);
}

/* The soft limit of "Max file size" in /proc/PID/limits: 1 when it
 * reads "unlimited". */
static int fsize_unlimited(pid_t pid)
{
	char path[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char soft[32];

		/* "Max file size   SOFT   HARD   bytes" */
		if (!strncmp(line, "Max file size", 13) &&
		    sscanf(line + 13, "%31s", soft) == 1)
			found = !strcmp(soft, "unlimited");
	}
	fclose(f);
	return found;
}

/* Whether pid runs the agent already: its comm is the file exec'd. */
static bool execed(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "keyturn-agent", 13);
}

/* Whether this root has CAP_SYS_RESOURCE (not in every container):
 * only then can the agent raise a hard limit that was lowered. */
static bool cap_sys_resource(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ULL << 24);
}

static void test_low_limits(void **state)
{
	bool can_raise_hard = cap_sys_resource();
	struct kt_report rep = { 0 };
	char line[KT_LINE_MAX];
	int pair[2], secrets[2], status, reports = 0, reset = 0;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    pair),
			 0);
	assert_int_equal(pipe2(secrets, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "keyturn-agent", "--rekey", "--user", USER,
				 "--service", "passwd", "--config", config,
				 NULL };
		char *envp[] = { NULL };

		if (dup2(pair[1], 3) < 0 || dup2(secrets[0], 4) < 0)
			_exit(127);
		for (size_t i = 0; i < ELEMENTSOF(low); i++) {
			struct rlimit l;

			if (getrlimit(low[i].resource, &l) < 0)
				_exit(126);
			l.rlim_cur = low[i].value;
			if (can_raise_hard)
				l.rlim_max = low[i].value;
			if (setrlimit(low[i].resource, &l) < 0)
				_exit(126);
		}
		execve(AGENT, argv, envp);
		_exit(127);
	}
	close(pair[1]);
	close(secrets[0]);

	/* Once the agent runs (not the child before its exec), it waits
	 * for the passphrases: its limits are reset by then. */
	for (int i = 0; i < 100 && !execed(pid); i++)
		usleep(20000);
	assert_true(execed(pid));
	for (int i = 0; i < 100 && !reset; i++) {
		reset = fsize_unlimited(pid);
		if (!reset)
			usleep(50000);
	}
	if (!reset)
		fprintf(stderr, "RLIMIT_FSIZE of the agent was not reset\n");

	put_secret(secrets[1], OLD);
	put_secret(secrets[1], NEW);
	close(secrets[1]);
	for (;;) {
		int r = kt_line_read(pair[0], line, sizeof(line),
				     kt_now_ms() + 60000);

		if (r <= 0 || !strcmp(line, "done"))
			break;
		assert_int_equal(kt_report_parse(line, &rep), 0);
		fprintf(stderr, "report: %s\n", line);
		reports++;
	}
	close(pair[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the agent was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(reports, 1);
	assert_int_equal(rep.status, KT_REPORT_REKEYED);
	assert_true(reset);

	/* The token takes the new password, not the old one. */
	{
		key_serial_t k = kt_test_put_key("keyturn:" USER, NEW);

		assert_true(kt_luks_open(image, NULL, "keyturn:" USER, 0) >=
			    0);
		kt_test_drop_key(k);
		k = kt_test_put_key("keyturn:" USER, OLD);
		assert_int_equal(kt_luks_open(image, NULL, "keyturn:" USER,
					      0),
				 -EPERM);
		kt_test_drop_key(k);
	}
}

/*
 * The eCryptfs wrapped file in the user's home: its Argon2 cost is the
 * user's choice, bounded as at unlock (wrapped_max_iterations, default
 * 10). Above the bound, the re-key refuses it before Argon2 runs.
 */
static void test_wrapped_cost_bounded(void **state)
{
	const struct kt_wrapped_params cost = { 11, 8 * 1024, 1 };
	_cleanup_secret_ struct kt_secret *login = kt_test_secret(OLD);
	_cleanup_secret_ struct kt_secret *mount =
		kt_test_secret("0123456789abcdef0123456789abcdef");
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_user_ struct kt_user *u = NULL;
	struct kt_report rep = { 0 };
	char home[300], conf2[300], text[1024], line[KT_LINE_MAX];
	int pair[2], status, dfd, reports = 0;
	size_t len;
	pid_t pid;

	assert_int_equal(kt_user_lookup(USER, &u), 0);
	snprintf(home, sizeof(home), "%s/ecr", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(chown(home, u->uid, u->gid), 0);
	assert_int_equal(kt_wrapped_seal(login, mount, &cost, &buf, &len), 0);
	dfd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(kt_wrapped_write_at(dfd, "wrapped", u->uid, u->gid,
					     buf, len),
			 0);
	close(dfd);
	snprintf(conf2, sizeof(conf2), "%s/ecr.conf", dir);
	snprintf(text, sizeof(text),
		 "[volume p]\nuser = %s\ntype = ecryptfs\n"
		 "source = %s/.Private\nmountpoint = %s/Private\n"
		 "wrapped = %s/wrapped\n",
		 USER, home, home, home);
	write_file(conf2, text);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    pair),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "keyturn-agent", "--rekey", "--user", USER,
				 "--service", "passwd", "--config", conf2,
				 NULL };
		char *envp[] = { NULL };
		int secrets = kt_rekey_pipe(OLD, strlen(OLD), NEW,
					    strlen(NEW));

		if (secrets < 0 || dup2(pair[1], 3) < 0 ||
		    dup2(secrets, 4) < 0)
			_exit(127);
		execve(AGENT, argv, envp);
		_exit(127);
	}
	close(pair[1]);
	while (kt_line_read(pair[0], line, sizeof(line),
			    kt_now_ms() + 60000) > 0 &&
	       strcmp(line, "done")) {
		assert_int_equal(kt_report_parse(line, &rep), 0);
		fprintf(stderr, "report: %s\n", line);
		reports++;
	}
	close(pair[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(reports, 1);
	assert_int_equal(rep.status, KT_REPORT_FAILED);
	assert_int_equal(rep.error, E2BIG);
	assert_non_null(strstr(rep.message, "wrapped_max_iterations"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_low_limits),
		cmocka_unit_test(test_wrapped_cost_bounded),
	};

	/* An agent that died early must fail an assertion, not kill the
	 * test through the secrets pipe. */
	signal(SIGPIPE, SIG_IGN);
	if (!kt_test_root_with_keyring("test_rekey_agent",
				       "the agent runs as root, LUKS2 "
				       "metadata locking"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
