/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unlock phase: put the passphrase the module handed over into the
 * agent's own keyring, then open the user's volumes concurrently, as far as
 * memory and CPUs allow.
 *
 * Each volume is opened in a child process: libcryptsetup's
 * device-mapper backend keeps global state, so concurrent activations
 * from threads are not safe, while processes are. Children inherit the
 * agent's session keyring; a child's report (and the serials of eCryptfs
 * tokens it added) comes back through a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "luks.h"
#include "order.h"

struct child_result {
	struct kt_report report;
	size_t n_keys;
	key_serial_t keys[2];
	int recorded;		/* 0: opened is the record, else -errno */
	struct kt_opened opened;
};

struct job {
	const struct kt_volume *volume;
	uint32_t memory_kib, threads;
	uint8_t *wrapped; /* eCryptfs, fscrypt: the wrapped file, read once */
	size_t wrapped_len;
	int wrapped_error;
	pid_t pid;
	int pipe;
	bool done;
	struct child_result result;
};

int agent_take_passphrase(struct agent *a, const struct kt_secret *pass)
{
	long r;
	int k;

	/* A session keyring of the agent's own, new and empty: no process
	 * of the user's session, nor of the host's, possesses it, no key
	 * planted anywhere can be found through it, and the agent's
	 * children inherit it. */
	r = keyctl_join_session_keyring(NULL);
	if (r < 0) {
		k = kt_negerrno();
		agent_log(LOG_ERR, "Failed to make the agent's keyring: %s",
			  strerror(-k));
		return k;
	}
	if (!pass)
		return 0;
	return agent_set_passphrase(a, pass);
}

int agent_set_passphrase(struct agent *a, const struct kt_secret *pass)
{
	int k;

	if (a->passphrase_key > 0)
		(void)kt_keyring_drop(a->passphrase_key);
	a->passphrase_key = 0;
	k = kt_keyring_add_passphrase(a->key_desc, pass,
				      a->config->key_timeout,
				      &a->passphrase_key);
	if (k < 0) {
		a->passphrase_key = 0;
		agent_log(LOG_ERR, "Failed to add key %s: %s", a->key_desc,
			  strerror(-k));
	}
	return k;
}

/* What opening v costs; 0 when nothing is to be derived. */
static void volume_cost(struct agent *a, struct job *j)
{
	struct kt_luks_token tok;

	j->memory_kib = 0;
	j->threads = 1;
	if (a->passphrase_key <= 0)
		return;
	if (j->volume->type == KT_VOLUME_LUKS2) {
		if (kt_luks_find_token(j->volume->device, a->key_desc, &tok) ==
		    0) {
			j->memory_kib = tok.memory_kib;
			j->threads = tok.threads ? tok.threads : 1;
		}
	} else if (j->volume->type == KT_VOLUME_FSCRYPT) {
		j->wrapped_error = fscrypt_wrapped_read(a, j->volume,
							&j->wrapped,
							&j->wrapped_len);
		fscrypt_wrapped_cost(a, j->wrapped, j->wrapped_len,
				     &j->memory_kib, &j->threads);
	} else {
		j->wrapped_error = ecryptfs_wrapped_read(a, j->volume,
							 &j->wrapped,
							 &j->wrapped_len);
		ecryptfs_wrapped_cost(a, j->wrapped, j->wrapped_len,
				      &j->memory_kib, &j->threads);
	}
}

/* Half of what the kernel says is available: the rest of the machine
 * goes on while users log in. */
static uint64_t memory_budget_kib(void)
{
	char line[128];
	unsigned long long kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 1024 * 1024;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib ? kib / 2 : 1024 * 1024;
}

static int job_start(struct agent *a, struct job *j)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return kt_negerrno();
	j->pid = fork();
	if (j->pid < 0) {
		int r = kt_negerrno();

		close(p[0]);
		close(p[1]);
		return r;
	}
	if (j->pid == 0) {
		struct child_result res = { 0 };
		size_t first = a->n_auth_keys;

		close(p[0]);
		snprintf(res.report.volume, sizeof(res.report.volume), "%s",
			 j->volume->name);
		if (j->volume->type != KT_VOLUME_LUKS2 &&
		    (j->wrapped || j->wrapped_error < 0)) {
			a->wrapped_volume = j->volume;
			a->wrapped_buf = j->wrapped;
			a->wrapped_len = j->wrapped_len;
			a->wrapped_error = j->wrapped_error;
		}
		(void)volume_open(a, j->volume, &res.report);
		for (size_t i = first;
		     i < a->n_auth_keys && res.n_keys < ELEMENTSOF(res.keys);
		     i++)
			res.keys[res.n_keys++] = a->auth_keys[i].key;
		/* What is open now is recorded now, while the mount is
		 * where this child put it (the user's lock is held). */
		res.recorded = -ENOENT;
		if (res.report.status == KT_REPORT_OPENED ||
		    res.report.status == KT_REPORT_REUSED) {
			res.recorded = record_volume(
				a, j->volume,
				res.report.status == KT_REPORT_OPENED,
				&res.opened);
			for (size_t i = 0; i < res.n_keys; i++)
				res.opened.keys[i] = res.keys[i];
		}
		/* One write below PIPE_BUF: atomic. */
		_Static_assert(sizeof(res) < PIPE_BUF, "one atomic write");
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	j->pipe = p[0];
	return 0;
}

static void job_collect(struct agent *a, struct job *j)
{
	ssize_t n;
	int status;

	do
		n = read(j->pipe, &j->result, sizeof(j->result));
	while (n < 0 && errno == EINTR);
	close(j->pipe);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	j->done = true;
	if (n != sizeof(j->result)) {
		report_set(&j->result.report, KT_REPORT_FAILED, EIO,
			   "the unlock of %s ended without a report",
			   j->volume->name);
		snprintf(j->result.report.volume,
			 sizeof(j->result.report.volume), "%s",
			 j->volume->name);
		j->result.n_keys = 0;
		return;
	}
	for (size_t i = 0; i < j->result.n_keys &&
			   a->n_auth_keys < ELEMENTSOF(a->auth_keys);
	     i++) {
		a->auth_keys[a->n_auth_keys].key = j->result.keys[i];
		a->auth_keys[a->n_auth_keys].volume = j->volume;
		a->n_auth_keys++;
	}
	if (j->result.recorded == 0) {
		record_keep(a, &j->result.opened);
	} else if (j->result.recorded != -ENOENT) {
		agent_log(LOG_ERR, "%s: volume %s is open but what was opened "
				   "cannot be told (%s): it will not be "
				   "locked at logout",
			  a->user->name, j->volume->name,
			  strerror(-j->result.recorded));
	}
}

static bool job_open(const struct job *j)
{
	return j->done && (j->result.report.status == KT_REPORT_OPENED ||
			   j->result.report.status == KT_REPORT_REUSED);
}

/* A volume inside one that is not open waits for nothing: it would
 * open on the directory underneath. That parent, or NULL. */
static const struct job *parent_not_open(struct agent *a, struct job *jobs,
					 size_t i)
{
	for (size_t p = 0; p < a->n_volumes; p++)
		if (kt_volume_inside(&a->volumes[i], &a->volumes[p]) &&
		    !job_open(&jobs[p]))
			return &jobs[p];
	return NULL;
}

/* Waits until one running job ends; returns its index. */
static size_t wait_one(struct agent *a, struct job *jobs, size_t n)
{
	for (;;) {
		struct pollfd p[n];
		size_t map[n], m = 0;

		for (size_t i = 0; i < n; i++) {
			if (jobs[i].pid <= 0 || jobs[i].done)
				continue;
			p[m] = (struct pollfd){ .fd = jobs[i].pipe,
						.events = POLLIN };
			map[m++] = i;
		}
		if (m == 0)
			return n;
		if (poll(p, m, -1) < 0 && errno != EINTR)
			return n;
		for (size_t k = 0; k < m; k++)
			if (p[k].revents) {
				job_collect(a, &jobs[map[k]]);
				return map[k];
			}
	}
}

void unlock_volumes(struct agent *a, struct kt_report *reports)
{
	_cleanup_free_ struct job *jobs = NULL;
	uint64_t budget = memory_budget_kib(), used_mem = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t used_threads = 0;
	size_t running = 0;
	_cleanup_free_ unsigned *wave = NULL;
	unsigned last_wave = 0;
	bool cyclic = false;

	if (cpus < 1)
		cpus = 1;
	jobs = calloc(a->n_volumes ? a->n_volumes : 1, sizeof(*jobs));
	wave = calloc(a->n_volumes ? a->n_volumes : 1, sizeof(*wave));
	if (!jobs || !wave) {
		for (size_t i = 0; i < a->n_volumes; i++) {
			snprintf(reports[i].volume, sizeof(reports[i].volume),
				 "%s", a->volumes[i].name);
			report_set(&reports[i], KT_REPORT_FAILED, ENOMEM,
				   "out of memory");
		}
		return;
	}
	for (size_t i = 0; i < a->n_volumes; i++) {
		jobs[i].volume = &a->volumes[i];
		jobs[i].pipe = -1;
		volume_cost(a, &jobs[i]);
	}

	if (kt_volumes_open_waves(a->volumes, a->n_volumes, wave) < 0) {
		/* Two volumes on one mount point: one after the other, in
		 * the config's order. */
		agent_log(LOG_WARNING, "%s: volumes are inside one another "
				       "both ways, opening them one by one",
			  a->user->name);
		for (size_t i = 0; i < a->n_volumes; i++)
			wave[i] = (unsigned)i;
		cyclic = true;
	}
	for (size_t i = 0; i < a->n_volumes; i++)
		if (wave[i] > last_wave)
			last_wave = wave[i];

	/* Parents first: a wave starts when the one before has ended. */
	for (unsigned w = 0; w <= last_wave; w++) {
		for (size_t i = 0; i < a->n_volumes; i++) {
			struct job *j = &jobs[i];
			const struct job *parent;
			int r;

			if (wave[i] != w)
				continue;
			parent = cyclic ? NULL : parent_not_open(a, jobs, i);
			if (parent) {
				bool locked = parent->result.report.status ==
					      KT_REPORT_LOCKED;

				j->done = true;
				snprintf(j->result.report.volume,
					 sizeof(j->result.report.volume), "%s",
					 j->volume->name);
				report_set(&j->result.report,
					   locked ? KT_REPORT_LOCKED
						  : KT_REPORT_FAILED,
					   locked ? ENOKEY : ENOENT,
					   "it is inside volume %s, which is "
					   "not open: left locked",
					   parent->volume->name);
				continue;
			}
			/* Start it when it fits beside what runs, or
			 * alone. */
			while (running > 0 &&
			       (used_mem + j->memory_kib > budget ||
				used_threads + j->threads > (uint32_t)cpus)) {
				size_t done = wait_one(a, jobs, a->n_volumes);

				if (done >= a->n_volumes)
					break;
				used_mem -= jobs[done].memory_kib;
				used_threads -= jobs[done].threads;
				running--;
			}
			r = job_start(a, j);
			if (r < 0) {
				j->done = true;
				snprintf(j->result.report.volume,
					 sizeof(j->result.report.volume), "%s",
					 j->volume->name);
				report_set(&j->result.report, KT_REPORT_FAILED,
					   r, "Failed to start the unlock: %s",
					   strerror(-r));
				continue;
			}
			used_mem += j->memory_kib;
			used_threads += j->threads;
			running++;
		}
		while (running > 0 &&
		       wait_one(a, jobs, a->n_volumes) < a->n_volumes)
			running--;
		used_mem = 0;
		used_threads = 0;
	}

	for (size_t i = 0; i < a->n_volumes; i++) {
		reports[i] = jobs[i].result.report;
		free(jobs[i].wrapped);
	}
}
