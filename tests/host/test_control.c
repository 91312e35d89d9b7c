/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root, the real agent, a real LUKS2 image: a session that began without
 * a passphrase is unlocked later through the agent's control socket
 * (keyturnctl unlock), and only the user (or root) may use that socket.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt-test-luks.h"
#include "mount.h"
#include "protocol.h"
#include "session.h"
#include "user.h"

#define AGENT KT_BUILDDIR "/agent/keyturn-agent"
#define HOLD KT_BUILDDIR "/agent/keyturn-hold"
#define USER "daemon"
#define LOGIN "correct horse battery"

static char dir[] = "/tmp/kt-test-control.XXXXXX";
static char config[256], image[256], mnt[256];
static struct kt_user *user;
static pid_t agent = -1;
static int sock = -1;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Reads report lines until "done"; returns how many, fills the last. */
static int read_reports(int fd, struct kt_report *last)
{
	char line[KT_LINE_MAX];
	int n = 0;

	for (;;) {
		int r = kt_line_read(fd, line, sizeof(line),
				     kt_now_ms() + 60000);

		assert_true(r > 0);
		if (!strcmp(line, "done"))
			return n;
		assert_int_equal(kt_report_parse(line, last), 0);
		n++;
	}
}

static int setup_config(void)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[volume v1]\nuser = %s\ntype = luks2\ndevice = %s\n"
		 "name = kt-test-control\nmountpoint = %s\n",
		 USER, image, mnt);
	write_file(config, text);
	return chmod(config, 0644);
}

static int setup(void **state)
{
	const char *passes[] = { "first passphrase" };
	struct kt_luks_token tok;

	if (!mkdtemp(dir) || kt_user_lookup(USER, &user) < 0)
		return -1;
	snprintf(image, sizeof(image), "%s/image", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(config, sizeof(config), "%s/keyturn.conf", dir);
	kt_test_make_image(image, passes, 1);
	assert_int_equal(kt_test_enroll(image, passes[0], LOGIN,
					"keyturn:" USER, &tok),
			 0);
	assert_int_equal(mkdir(mnt, 0700), 0);
	assert_int_equal(chown(mnt, user->uid, user->gid), 0);
	return setup_config();
}

static int teardown(void **state)
{
	char cmd[512];

	if (agent > 0) {
		kill(agent, SIGKILL);
		waitpid(agent, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	user = kt_user_free(user);
	return system(cmd) == -1;
}

/* Whether the kernel has device-mapper (the host of CI does not). */
static bool have_dm(void)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/misc", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "device-mapper") != NULL;
	fclose(f);
	return found;
}

static void start_agent_at(const char *path)
{
	int pair[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    pair),
			 0);
	agent = fork();
	assert_true(agent >= 0);
	if (agent == 0) {
		char *argv[] = { "keyturn-agent", "--user", USER,
				 "--service", "kt-test", "--config", config,
				 NULL };
		char *envp[] = { NULL };

		if (dup2(pair[1], 3) < 0)
			_exit(127);
		execve(path, argv, envp);
		_exit(127);
	}
	close(pair[1]);
	sock = pair[0];
}

static void start_agent(void)
{
	start_agent_at(AGENT);
}

/* The agent ends: its exit status is 0. */
static void reap_agent(void)
{
	int status;

	assert_int_equal(waitpid(agent, &status, 0), agent);
	agent = -1;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* "close", no report (the session began without a passphrase: it
 * opened nothing, so it locks nothing), "done", and the agent's end
 * with status 0. */
static void close_session(void)
{
	struct kt_report rep;

	assert_int_equal(kt_line_write(sock, "close"), 0);
	assert_int_equal(read_reports(sock, &rep), 0);
	reap_agent();
	close(sock);
}

/* Copies of the agent and the holder in DIR/NAME (paths into the
 * buffers, 160 bytes each). */
static void copy_agent(const char *name, char *bin, char *agent_copy,
		       char *hold_copy)
{
	char cmd[512];

	snprintf(bin, 128, "%s/%s", dir, name);
	snprintf(agent_copy, 160, "%s/keyturn-agent", bin);
	snprintf(hold_copy, 160, "%s/keyturn-hold", bin);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s %s/", bin, AGENT,
		 HOLD, bin);
	assert_int_equal(system(cmd), 0);
}

static int connect_when_ready(void)
{
	for (int i = 0; i < 100; i++) {
		int fd = kt_control_connect(user->uid);

		if (fd >= 0)
			return fd;
		usleep(50000);
	}
	fail_msg("the agent's control socket never appeared");
	return -1;
}

/* The exe and the name of the agent's process. */
static void agent_image(char *exe, size_t exe_size, char *comm,
			size_t comm_size)
{
	char path[64];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)agent);
	n = readlink(path, exe, exe_size - 1);
	exe[n > 0 ? n : 0] = '\0';
	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)agent);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(comm, (int)comm_size, f))
			comm[0] = '\0';
		fclose(f);
	}
}

/* The idle agent waits in the holder at hold_path: same PID, and the same
 * name once the holder has set it (just after its execve). */
static void wait_held_in(const char *hold_path)
{
	char exe[PATH_MAX], comm[32];

	for (int i = 0; i < 100; i++) {
		agent_image(exe, sizeof(exe), comm, sizeof(comm));
		if (!strcmp(exe, hold_path) &&
		    !strcmp(comm, "keyturn-agent\n"))
			break;
		usleep(50000);
	}
	assert_string_equal(exe, hold_path);
	assert_string_equal(comm, "keyturn-agent\n");
}

static void wait_held(void)
{
	wait_held_in(HOLD);
}

static void unlock_with(const char *pass, struct kt_report *ret)
{
	int fd = connect_when_ready();
	char head[32];

	snprintf(head, sizeof(head), "unlock %zu", strlen(pass));
	assert_int_equal(kt_line_write(fd, head), 0);
	assert_int_equal(write(fd, pass, strlen(pass)), (ssize_t)strlen(pass));
	assert_int_equal(read_reports(fd, ret), 1);
	close(fd);
}

static void test_unlock_later(void **state)
{
	struct kt_report rep;
	struct stat st;
	char path[128];

	start_agent();
	/* No passphrase key in this session: locked, and said why. */
	assert_int_equal(read_reports(sock, &rep), 1);
	assert_int_equal(rep.status, KT_REPORT_LOCKED);
	assert_non_null(strstr(rep.message, "no passphrase"));

	/* The socket is the user's, 0600. */
	snprintf(path, sizeof(path), KT_RUNDIR "/%u/" KT_CONTROL_PREFIX "%d",
		 (unsigned)user->uid, (int)agent);
	wait_held();
	close(connect_when_ready());
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_uid, user->uid);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Each request gets its report. Without device-mapper (this host)
	 * libcryptsetup refuses activation before it looks at the key, so
	 * the passphrase itself is checked by the VM tests. */
	unlock_with("not the password", &rep);
	assert_int_equal(rep.status, KT_REPORT_FAILED);
	assert_int_equal(rep.error, have_dm() ? EPERM : EOPNOTSUPP);
	/* Served by the agent, then back to the holder. */
	wait_held();

	unlock_with(LOGIN, &rep);
	if (have_dm()) {
		assert_int_equal(rep.status, KT_REPORT_OPENED);
	} else {
		assert_int_equal(rep.status, KT_REPORT_FAILED);
		assert_int_equal(rep.error, EOPNOTSUPP);
	}

	/* The session ends: the socket goes with the agent. */
	assert_int_equal(kt_line_write(sock, "close"), 0);
	(void)read_reports(sock, &rep);
	reap_agent();
	assert_int_equal(lstat(path, &st), -1);
	close(sock);
}

/* A signal ends the wait in keyturn-hold and stays pending for the
 * agent, which ends the session; a message it does not know does not. */
static void test_signal_while_held(void **state)
{
	struct kt_report rep;
	struct stat st;
	char path[128], line[KT_LINE_MAX];
	struct pollfd p = { .fd = -1, .events = POLLIN };

	start_agent();
	assert_int_equal(read_reports(sock, &rep), 1);
	snprintf(path, sizeof(path), KT_RUNDIR "/%u/" KT_CONTROL_PREFIX "%d",
		 (unsigned)user->uid, (int)agent);
	wait_held();

	assert_int_equal(kt_line_write(sock, "hello"), 0);
	wait_held();
	p.fd = sock;
	assert_int_equal(poll(&p, 1, 200), 0);

	assert_int_equal(kill(agent, SIGTERM), 0);
	/* No report (nothing was opened), "done", then the end. */
	assert_int_equal(read_reports(sock, &rep), 0);
	assert_int_equal(kt_line_read(sock, line, sizeof(line),
				      kt_now_ms() + 10000),
			 0);
	reap_agent();
	assert_int_equal(lstat(path, &st), -1);
	close(sock);
}

/* The agent's file removed (an upgrade, an uninstall) while the session
 * is held: the holder resumes the image it came from, and the session
 * still ends with its teardown. */
static void test_agent_file_gone(void **state)
{
	char bin[128], agent_copy[160], hold_copy[160];
	struct kt_report rep;

	copy_agent("bin", bin, agent_copy, hold_copy);
	start_agent_at(agent_copy);
	assert_int_equal(read_reports(sock, &rep), 1);
	wait_held_in(hold_copy);
	assert_int_equal(unlink(agent_copy), 0);

	close_session();
	(void)unlink(hold_copy);
	(void)rmdir(bin);
}

/* A keyturn-hold that someone besides root could have written is never
 * run as root: the agent holds the session itself, and it still ends
 * with its teardown. */
static void test_writable_holder_refused(void **state)
{
	char bin[128], agent_copy[160], hold_copy[160];
	char exe[PATH_MAX], comm[32];
	struct kt_report rep;

	copy_agent("bin-w", bin, agent_copy, hold_copy);
	assert_int_equal(chmod(hold_copy, 0757), 0);

	start_agent_at(agent_copy);
	assert_int_equal(read_reports(sock, &rep), 1);
	/* Idle and reachable, and for a whole second still the agent's
	 * own image (a hand-over comes right after the socket). */
	close(connect_when_ready());
	for (int i = 0; i < 20; i++) {
		agent_image(exe, sizeof(exe), comm, sizeof(comm));
		assert_string_equal(exe, agent_copy);
		usleep(50000);
	}

	close_session();
	(void)unlink(hold_copy);
	(void)unlink(agent_copy);
	(void)rmdir(bin);
}

/* The config edited during the session (a typo, the volume's section
 * gone) does not stop the teardown: the resumed agent needs neither the
 * config nor NSS (until now it reloaded the config, logged "cannot
 * resume the session" and exited 1, leaving the volumes open). */
static void test_config_changed_while_held(void **state)
{
	struct kt_report rep;

	start_agent();
	assert_int_equal(read_reports(sock, &rep), 1);
	wait_held();
	write_file(config, "[volume v1\nthis is not a config\n");
	close_session();

	assert_int_equal(setup_config(), 0);
	start_agent();
	assert_int_equal(read_reports(sock, &rep), 1);
	wait_held();
	write_file(config, "[defaults]\n");
	close_session();
	/* Put back for the tests after this one. */
	assert_int_equal(setup_config(), 0);
}

/* Root's record of a volume an earlier session opened, as the agent
 * writes it: an eCryptfs-type record of a tmpfs mount stands in (the
 * host has neither eCryptfs nor device-mapper). */
static void plant_record(const char *where, const char *busy, char *ret_path)
{
	struct kt_opened o = { .type = KT_VOLUME_ECRYPTFS, .own = true,
			       .busy_timeout = 0 };
	struct kt_mount_id id;
	char line[KT_STATE_PATH_MAX + 512];

	assert_int_equal(kt_mount_identify(where, user->uid, &id), 0);
	strcpy(o.volume, "priv");
	o.busy = !strcmp(busy, "keep") ? KT_BUSY_KEEP : KT_BUSY_LAZY;
	o.mnt_id = id.mnt_id;
	o.mnt_unique = id.unique;
	o.mnt_dev = id.dev;
	o.mnt_ino = id.ino;
	snprintf(o.mountpoint, sizeof(o.mountpoint), "%s", where);
	assert_true(kt_opened_format(&o, line, sizeof(line)) > 0);
	snprintf(ret_path, 128, KT_RUNDIR "/%u/open.priv",
		 (unsigned)user->uid);
	write_file(ret_path, line);
}

static void mount_priv(char *priv)
{
	int fd;

	snprintf(priv, 256, "%s/priv", dir);
	(void)mkdir(priv, 0700);
	assert_int_equal(chown(priv, user->uid, user->gid), 0);
	fd = kt_dir_open_checked(priv, user->uid);
	assert_true(fd >= 0);
	assert_int_equal(kt_mount_at("tmpfs", fd, "tmpfs",
				     MS_NOSUID | MS_NODEV, "size=1m"), 0);
	close(fd);
}

/* The user's last session locks what an earlier session recorded as
 * opened, also when this one opened nothing (it brought no passphrase),
 * by the mount's identity: the old agent knew only the config's volumes
 * and left it mounted. */
static void test_last_session_locks_records(void **state)
{
	struct kt_mount_entry m = { .mnt_id = -1 };
	char priv[256], rec[128], failed[128], line[KT_LINE_MAX];
	struct kt_report rep;
	struct stat st;
	FILE *f;
	int holder[2];
	pid_t child;

	mount_priv(priv);
	plant_record(priv, "lazy", rec);
	start_agent();
	assert_int_equal(read_reports(sock, &rep), 1);
	wait_held();
	assert_int_equal(kt_line_write(sock, "close"), 0);
	assert_int_equal(read_reports(sock, &rep), 1);
	assert_string_equal(rep.volume, "priv");
	assert_int_equal(rep.status, KT_REPORT_CLOSED);
	reap_agent();
	close(sock);
	assert_int_equal(kt_mount_find(priv, &m), 0);
	assert_int_equal(lstat(rec, &st), -1);

	/* busy = keep and a holder: still open, and said where keyturnctl
	 * status finds it; the record stays for the next teardown. */
	mount_priv(priv);
	plant_record(priv, "keep", rec);
	assert_int_equal(pipe(holder), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (chdir(priv) < 0 || setresuid(user->uid, user->uid,
						 user->uid) < 0 ||
		    write(holder[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(holder[0], line, 1), 1);
	start_agent();
	assert_int_equal(read_reports(sock, &rep), 1);
	wait_held();
	assert_int_equal(kt_line_write(sock, "close"), 0);
	assert_int_equal(read_reports(sock, &rep), 1);
	assert_int_equal(rep.status, KT_REPORT_KEPT);
	reap_agent();
	close(sock);
	assert_int_equal(kt_mount_find(priv, &m), 1);
	kt_mount_entry_clear(&m);
	assert_int_equal(lstat(rec, &st), 0);
	snprintf(failed, sizeof(failed), KT_RUNDIR "/%u/failed.priv",
		 (unsigned)user->uid);
	f = fopen(failed, "re");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(kt_report_parse(line, &rep), 0);
	assert_non_null(strstr(rep.message, "busy"));
	assert_int_equal(lstat(failed, &st), 0);
	assert_int_equal(st.st_uid, 0);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(holder[0]);
	close(holder[1]);
	assert_int_equal(umount(priv), 0);
	(void)unlink(rec);
	(void)unlink(failed);
}

static void test_other_user_refused(void **state)
{
	struct kt_report rep;
	int status;
	pid_t child;

	start_agent();
	assert_int_equal(read_reports(sock, &rep), 1);
	close(connect_when_ready());

	/* uid 2 is not the user: the socket's mode keeps it out. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd;

		if (setgid(2) < 0 || setuid(2) < 0)
			_exit(3);
		fd = kt_control_connect(user->uid);
		_exit(fd >= 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);

	assert_int_equal(kt_line_write(sock, "close"), 0);
	(void)read_reports(sock, &rep);
	waitpid(agent, NULL, 0);
	agent = -1;
	close(sock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlock_later),
		cmocka_unit_test(test_signal_while_held),
		cmocka_unit_test(test_agent_file_gone),
		cmocka_unit_test(test_writable_holder_refused),
		cmocka_unit_test(test_other_user_refused),
		cmocka_unit_test(test_config_changed_while_held),
		cmocka_unit_test(test_last_session_locks_records),
	};

	if (geteuid() != 0) {
		printf("SKIP: test_control needs root (agent, keyring)\n");
		return 77;
	}
	if (access(AGENT, X_OK) < 0) {
		printf("SKIP: %s is not built\n", AGENT);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
