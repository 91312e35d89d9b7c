/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kt-bench: the timing program of keyturn's benchmarks (tests/bench). Every
 * figure it prints comes from CLOCK_MONOTONIC around real calls.
 *
 *   kt-bench pam SERVICE USER N
 *	N whole PAM cycles (pam_start, authenticate, acct_mgmt, setcred,
 *	open_session, close_session, setcred DELETE, pam_end) for USER, who
 *	has no volume. Prints "us=T" per cycle.
 *
 *   kt-bench login [-s SERVICE] [-g CGROUP] [-v DMNAME:MOUNTPOINT]...
 *		   [-d DIRECTORY]... USER
 *	One login with the password read from stdin: authenticate, account,
 *	setcred, then open_session timed; checks that every -v volume is
 *	active and mounted and every -d directory unlocked; reads the agents'
 *	VmHWM and (after 300 ms of idleness) VmRSS from /proc; then
 *	close_session timed and the time until every -v volume is gone (dm
 *	device and mount) and every -d directory locked again. An empty
 *	DMNAME or MOUNTPOINT is not checked (-v :MNT for eCryptfs).
 *	-d DIRECTORY: an fscrypt directory (v2 policy); unlocked means the
 *	kernel holds its key (FS_IOC_GET_ENCRYPTION_KEY_STATUS: present),
 *	locked that it holds none (absent; "incompletely removed", files
 *	still in use, is not locked). Its key identifier is read once before
 *	the login, and the status is asked on DIRECTORY's parent (which must
 *	be on the same filesystem), so that kt-bench never holds the
 *	directory open while the key is removed. Prints one line
 *	"open_ms=... close_ms=... locked_ms=... opened=K/N agents=A
 *	hwm_kib=... rss_kib=... anon_kib=... cg_peak_kib=... locked=L
 *	agents_via=socket|name|none": VmHWM, VmRSS and RssAnon summed over
 *	USER's agents, found by their control sockets (agents_find). The
 *	agent's VmHWM leaves out the children that run the KDFs (and an
 *	execve() starts it again): cg_peak_kib, the whole login's cgroup,
 *	is the peak that counts them. With KT_BENCH_SMAPS=FILE in the
 *	environment, the idle agent's /proc/PID/smaps goes to FILE.
 *
 *   kt-bench exec [-g CGROUP] [-k DESC] [-u USER] -- COMMAND ARGS...
 *	Runs COMMAND (stdin passed on) and prints "ms=... maxrss_kib=...
 *	cg_peak_kib=... rc=...". With -k, first joins a new session keyring
 *	and adds a user key DESC whose payload is the first line of stdin
 *	(what pam_keyturn does for the agent), so that a luks2-keyring token
 *	finds it; the key is revoked afterwards. With -u, COMMAND runs as
 *	USER (groups, gid, uid; HOME, USER and LOGNAME set), as su would,
 *	without su's own time.
 *
 *   kt-bench keystatus DIRECTORY
 *	Prints "key=present", "key=absent" or "key=incompletely-removed":
 *	whether the kernel holds the key of the fscrypt directory (v2
 *	policy), asked as -d of login does. Exit 0, or 1 if it cannot tell.
 *
 * -g CGROUP: a cgroup v2 directory made for this run; the program moves
 * itself there first (the agent and commands inherit it) and reports its
 * memory.peak at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <keyutils.h>
#include <libgen.h>
#include <linux/fscrypt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define MAX_VOLS 16
#define MAX_AGENTS 64
#ifndef KT_BENCH_RUNDIR
#define KT_BENCH_RUNDIR "/run/keyturn" /* KT_RUNDIR of lib/session.h */
#endif

static char password[1024];
static int have_password;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void read_password(void)
{
	if (fgets(password, sizeof(password), stdin)) {
		password[strcspn(password, "\n")] = '\0';
		have_password = 1;
	}
}

static int conv(int n, const struct pam_message **msg,
		struct pam_response **ret_resp, void *data)
{
	struct pam_response *r;

	(void)data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF)
			continue;
		if (!have_password)
			goto fail;
		r[i].resp = strdup(password);
		if (!r[i].resp)
			goto fail;
	}
	*ret_resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++) {
		if (r[i].resp) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_CONV_ERR;
}

static int die(const char *what, const char *detail)
{
	fprintf(stderr, "kt-bench: %s: %s\n", what, detail);
	explicit_bzero(password, sizeof(password));
	return 1;
}

/* ---- cgroup v2 ---------------------------------------------------------- */

static int cgroup_join(const char *dir)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -errno;
}

static long cgroup_peak_kib(const char *dir)
{
	char path[512];
	long long v = -1024;
	FILE *f;

	if (!dir)
		return -1;
	snprintf(path, sizeof(path), "%s/memory.peak", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1024;
	fclose(f);
	return (long)(v / 1024);
}

/* ---- /proc -------------------------------------------------------------- */

/* kB value of FIELD ("VmHWM:") in /proc/PID/status, -1 if none */
static long status_kib(const char *pid, const char *field)
{
	char path[320], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field))) {
			v = strtol(line + strlen(field), NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Copies /proc/PID/smaps of the first agent to KT_BENCH_SMAPS, if set:
 * what its resident memory is made of. */
static void smaps_copy(pid_t pid)
{
	const char *out = getenv("KT_BENCH_SMAPS");
	char path[320], buf[4096];
	FILE *in, *o;
	size_t n;

	if (!out || !*out)
		return;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	in = fopen(path, "r");
	if (!in)
		return;
	o = fopen(out, "w");
	if (o) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, o);
		fclose(o);
	}
	fclose(in);
}

static int pid_known(const pid_t *pids, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

/*
 * The agents of UID. First by their control sockets RUNDIR/UID/agent.PID
 * (lib/session.h): that names the process whatever it runs now, the
 * keyturn-agent binary or a small holder it may have execve()d into with
 * the same PID. Only if there is none (an older agent, another RUNDIR),
 * any process named keyturn-agent or keyturn-hold. Returns how many;
 * *ret_via says which way.
 */
static int agents_find(uid_t uid, pid_t *pids, int max, const char **ret_via)
{
	char path[320];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%u", KT_BENCH_RUNDIR, (unsigned)uid);
	d = opendir(path);
	while (d && (e = readdir(d)) && n < max) {
		char *end;
		long pid;

		if (strncmp(e->d_name, "agent.", 6))
			continue;
		pid = strtol(e->d_name + 6, &end, 10);
		if (*end || pid <= 0 || pid_known(pids, n, (pid_t)pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%ld", pid);
		if (access(path, F_OK) == 0) /* not a stale socket */
			pids[n++] = (pid_t)pid;
	}
	if (d)
		closedir(d);
	*ret_via = n ? "socket" : "name";
	if (n)
		return n;
	d = opendir("/proc");
	while (d && (e = readdir(d)) && n < max) {
		char comm[64] = "";
		long pid;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		pid = strtol(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if ((!strcmp(comm, "keyturn-agent") ||
		     !strcmp(comm, "keyturn-hold")) &&
		    !pid_known(pids, n, (pid_t)pid))
			pids[n++] = (pid_t)pid;
	}
	if (d)
		closedir(d);
	if (!n)
		*ret_via = "none";
	return n;
}

/* Sums FIELD over the live agents of UID; returns how many. */
static int agents_sum(uid_t uid, const char *field, long *ret_sum,
		      const char **ret_via)
{
	pid_t pids[MAX_AGENTS];
	int found, n = 0;
	long sum = 0;

	found = agents_find(uid, pids, MAX_AGENTS, ret_via);
	for (int i = 0; i < found; i++) {
		char pid[24];
		long v;

		snprintf(pid, sizeof(pid), "%d", (int)pids[i]);
		v = status_kib(pid, field);
		if (v < 0) /* a zombie has no memory lines */
			continue;
		if (!n && !strcmp(field, "VmRSS:"))
			smaps_copy(pids[i]);
		sum += v;
		n++;
	}
	*ret_sum = sum;
	return n;
}

/* ---- volumes ------------------------------------------------------------ */

struct vol {
	char dm[128];
	char mnt[256];
	/* -d: an fscrypt directory, asked through its parent */
	int parent_fd; /* -1 if none */
	__u8 identifier[FSCRYPT_KEY_IDENTIFIER_SIZE];
};

/*
 * The key identifier of the fscrypt directory PATH (v2 policy) and an open
 * descriptor of its parent, on which the key status is asked. Returns the
 * descriptor, or -errno (-ENODATA: not encrypted, -EINVAL: not v2).
 */
static int fscrypt_dir(const char *path, __u8 *ret_identifier)
{
	struct fscrypt_get_policy_ex_arg arg = {
		.policy_size = sizeof(arg.policy),
	};
	char copy[512];
	int fd, parent;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	if (arg.policy.version != FSCRYPT_POLICY_V2)
		return -EINVAL;
	snprintf(copy, sizeof(copy), "%s", path);
	parent = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return -errno;
	memcpy(ret_identifier, arg.policy.v2.master_key_identifier,
	       FSCRYPT_KEY_IDENTIFIER_SIZE);
	return parent;
}

/* FSCRYPT_KEY_STATUS_* of the key IDENTIFIER on FD's filesystem, or
 * -errno */
static int fscrypt_key_status(int fd, const __u8 *identifier)
{
	struct fscrypt_get_key_status_arg arg = {
		.key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER,
	};

	memcpy(arg.key_spec.u.identifier, identifier,
	       FSCRYPT_KEY_IDENTIFIER_SIZE);
	if (ioctl(fd, FS_IOC_GET_ENCRYPTION_KEY_STATUS, &arg) < 0)
		return -errno;
	return (int)arg.status;
}

static int dir_unlocked(const struct vol *v)
{
	return v->parent_fd < 0 ||
	       fscrypt_key_status(v->parent_fd, v->identifier) ==
		       FSCRYPT_KEY_STATUS_PRESENT;
}

static int dir_locked(const struct vol *v)
{
	return v->parent_fd < 0 ||
	       fscrypt_key_status(v->parent_fd, v->identifier) ==
		       FSCRYPT_KEY_STATUS_ABSENT;
}

static int dm_active(const struct vol *v)
{
	char path[192];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/mapper/%s", v->dm);
	return lstat(path, &st) == 0;
}

static int is_mounted(const struct vol *v)
{
	char line[1024], dev[512], mnt[512];
	int found = 0;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%511s %511s", dev, mnt) == 2 &&
		    !strcmp(mnt, v->mnt))
			found = 1;
	fclose(f);
	return found;
}

static int all_open(const struct vol *v, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		if ((!v[i].dm[0] || dm_active(&v[i])) &&
		    (!v[i].mnt[0] || is_mounted(&v[i])) && dir_unlocked(&v[i]))
			k++;
	return k;
}

static int all_locked(const struct vol *v, int n)
{
	for (int i = 0; i < n; i++)
		if ((v[i].dm[0] && dm_active(&v[i])) ||
		    (v[i].mnt[0] && is_mounted(&v[i])) || !dir_locked(&v[i]))
			return 0;
	return 1;
}

/* ---- modes -------------------------------------------------------------- */

static int pam_cycle(const char *service, const char *user)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	int r;

	r = pam_start(service, user, &pc, &pamh);
	if (r != PAM_SUCCESS)
		return r;
	pam_set_item(pamh, PAM_TTY, "kt-bench");
	r = pam_authenticate(pamh, 0);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(pamh, 0);
	if (r == PAM_SUCCESS)
		r = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	if (r == PAM_SUCCESS) {
		r = pam_open_session(pamh, 0);
		if (r == PAM_SUCCESS)
			r = pam_close_session(pamh, 0);
		(void)pam_setcred(pamh, PAM_DELETE_CRED);
	}
	pam_end(pamh, r);
	return r;
}

static int mode_pam(int argc, char **argv)
{
	long n;

	if (argc != 4)
		return die("usage", "kt-bench pam SERVICE USER N");
	n = strtol(argv[3], NULL, 10);
	for (long i = 0; i < n; i++) {
		double t0 = now_ms();
		int r = pam_cycle(argv[1], argv[2]);
		double t1 = now_ms();

		if (r != PAM_SUCCESS)
			return die("PAM cycle", pam_strerror(NULL, r));
		printf("us=%.1f\n", (t1 - t0) * 1e3);
	}
	return 0;
}

static int mode_login(int argc, char **argv)
{
	struct pam_conv pc = { conv, NULL };
	const char *service = "kt-test", *cg = NULL;
	struct vol vols[MAX_VOLS];
	pam_handle_t *pamh = NULL;
	double t0, t1, t2, t3, t4;
	long hwm = 0, rss = 0, anon = 0, sum;
	int nv = 0, c, r, opened, agents;
	const char *via = "none";
	struct passwd *pw;
	uid_t uid;

	while ((c = getopt(argc, argv, "+s:g:v:d:")) != -1) {
		char *colon;

		switch (c) {
		case 's': service = optarg; break;
		case 'g': cg = optarg; break;
		case 'v':
			if (nv == MAX_VOLS || !(colon = strchr(optarg, ':')))
				return die("-v", "DMNAME:MOUNTPOINT");
			memset(&vols[nv], 0, sizeof(vols[nv]));
			vols[nv].parent_fd = -1;
			snprintf(vols[nv].dm, sizeof(vols[nv].dm), "%.*s",
				 (int)(colon - optarg), optarg);
			snprintf(vols[nv].mnt, sizeof(vols[nv].mnt), "%s",
				 colon + 1);
			nv++;
			break;
		case 'd':
			if (nv == MAX_VOLS)
				return die("-d", "too many");
			memset(&vols[nv], 0, sizeof(vols[nv]));
			vols[nv].parent_fd = fscrypt_dir(optarg,
							 vols[nv].identifier);
			if (vols[nv].parent_fd < 0)
				return die(optarg,
					   strerror(-vols[nv].parent_fd));
			nv++;
			break;
		default:
			return die("usage", "kt-bench login [-s SERVICE] "
				   "[-g CGROUP] [-v DM:MNT]... [-d DIR]... "
				   "USER");
		}
	}
	if (optind + 1 != argc)
		return die("usage", "one USER");
	pw = getpwnam(argv[optind]);
	if (!pw)
		return die("no such user", argv[optind]);
	uid = pw->pw_uid;
	if (cg && cgroup_join(cg) < 0)
		return die("cgroup", strerror(errno));
	read_password();

	r = pam_start(service, argv[optind], &pc, &pamh);
	if (r != PAM_SUCCESS)
		return die("pam_start", pam_strerror(NULL, r));
	r = pam_authenticate(pamh, 0);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(pamh, 0);
	if (r == PAM_SUCCESS)
		r = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	explicit_bzero(password, sizeof(password));
	if (r != PAM_SUCCESS) {
		pam_end(pamh, r);
		return die("authentication", pam_strerror(pamh, r));
	}
	t0 = now_ms();
	r = pam_open_session(pamh, 0);
	t1 = now_ms();
	if (r != PAM_SUCCESS) {
		pam_end(pamh, r);
		return die("open_session", pam_strerror(pamh, r));
	}
	opened = all_open(vols, nv);
	agents = agents_sum(uid, "VmHWM:", &sum, &via);
	if (agents)
		hwm = sum;
	/* the agent holding the session, idle */
	usleep(300 * 1000);
	if (agents_sum(uid, "VmRSS:", &sum, &via))
		rss = sum;
	if (agents_sum(uid, "RssAnon:", &sum, &via))
		anon = sum;

	t2 = now_ms();
	r = pam_close_session(pamh, 0);
	t3 = now_ms();
	while (!all_locked(vols, nv) && now_ms() - t2 < 60e3)
		usleep(1000);
	t4 = now_ms();
	(void)pam_setcred(pamh, PAM_DELETE_CRED);
	pam_end(pamh, r);
	printf("open_ms=%.1f close_ms=%.1f locked_ms=%.1f opened=%d/%d "
	       "agents=%d hwm_kib=%ld rss_kib=%ld anon_kib=%ld "
	       "cg_peak_kib=%ld locked=%d agents_via=%s\n",
	       t1 - t0, t3 - t2, t4 - t2, opened, nv, agents, hwm, rss, anon,
	       cgroup_peak_kib(cg), all_locked(vols, nv), via);
	return r == PAM_SUCCESS && opened == nv ? 0 : 1;
}

static int mode_exec(int argc, char **argv)
{
	const char *cg = NULL, *desc = NULL;
	struct passwd *as = NULL;
	key_serial_t key = -1;
	struct rusage ru;
	double t0, t1;
	int c, status;
	pid_t pid;

	while ((c = getopt(argc, argv, "+g:k:u:")) != -1) {
		switch (c) {
		case 'g': cg = optarg; break;
		case 'k': desc = optarg; break;
		case 'u':
			as = getpwnam(optarg);
			if (!as)
				return die("no such user", optarg);
			break;
		default:
			return die("usage", "kt-bench exec [-g CG] [-k DESC] "
				   "[-u USER] -- COMMAND...");
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc)
		return die("usage", "no COMMAND");
	if (cg && cgroup_join(cg) < 0)
		return die("cgroup", strerror(errno));
	if (desc) {
		read_password();
		if (!have_password)
			return die("-k", "no password on stdin");
		/* what pam_keyinit + pam_keyturn give the agent */
		if (keyctl_join_session_keyring(NULL) < 0)
			return die("session keyring", strerror(errno));
		key = add_key("user", desc, password, strlen(password),
			      KEY_SPEC_SESSION_KEYRING);
		explicit_bzero(password, sizeof(password));
		if (key < 0)
			return die("add_key", strerror(errno));
	}

	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return die("fork", strerror(errno));
	if (pid == 0) {
		if (as && (initgroups(as->pw_name, as->pw_gid) < 0 ||
			   setgid(as->pw_gid) < 0 || setuid(as->pw_uid) < 0 ||
			   setenv("HOME", as->pw_dir, 1) < 0 ||
			   setenv("USER", as->pw_name, 1) < 0 ||
			   setenv("LOGNAME", as->pw_name, 1) < 0))
			_exit(126);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return die("wait4", strerror(errno));
	t1 = now_ms();
	if (key > 0) {
		(void)keyctl_revoke(key);
		(void)keyctl_invalidate(key);
	}
	printf("ms=%.1f maxrss_kib=%ld cg_peak_kib=%ld rc=%d\n", t1 - t0,
	       ru.ru_maxrss, cgroup_peak_kib(cg),
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int mode_keystatus(int argc, char **argv)
{
	static const char *const names[] = {
		[FSCRYPT_KEY_STATUS_ABSENT] = "absent",
		[FSCRYPT_KEY_STATUS_PRESENT] = "present",
		[FSCRYPT_KEY_STATUS_INCOMPLETELY_REMOVED] =
			"incompletely-removed",
	};
	__u8 identifier[FSCRYPT_KEY_IDENTIFIER_SIZE];
	int parent, st;

	if (argc != 2)
		return die("usage", "kt-bench keystatus DIRECTORY");
	parent = fscrypt_dir(argv[1], identifier);
	if (parent < 0)
		return die(argv[1], strerror(-parent));
	st = fscrypt_key_status(parent, identifier);
	close(parent);
	if (st < 0)
		return die("key status", strerror(-st));
	if (st < FSCRYPT_KEY_STATUS_ABSENT ||
	    st > FSCRYPT_KEY_STATUS_INCOMPLETELY_REMOVED)
		return die("key status", "unknown");
	printf("key=%s\n", names[st]);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "pam"))
		return mode_pam(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "login"))
		return mode_login(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "exec"))
		return mode_exec(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "keystatus"))
		return mode_keystatus(argc - 1, argv + 1);
	fprintf(stderr, "usage: kt-bench pam|login|exec|keystatus ...\n");
	return 2;
}
