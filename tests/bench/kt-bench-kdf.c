/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kt-bench-kdf: keyturn's own unlock path (kt_luks_open from libkeyturn.a,
 * the call the agent makes) in verify mode (no dm name), for the host,
 * which has no device-mapper. Only the token lookup and the keyslot's KDF
 * run: the fair measure of the KDF part.
 *
 *   kt-bench-kdf DESC N DEVICE...
 *	Reads the passphrase (first line of stdin), joins a new session
 *	keyring and adds it there as user key DESC (as pam_keyturn does).
 *	With one DEVICE: N verifications, one "ms=T" line each. With several:
 *	N rounds of "seq_ms=T conc_ms=T": every DEVICE verified one after
 *	another, then all at once (one process each).
 * KT_BENCH_DEBUG=1: libcryptsetup's debug lines on stderr (which keyslots
 * run their KDF).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "luks.h"

static void print_log(int priority, const char *message, void *userdata)
{
	(void)priority;
	(void)userdata;
	fprintf(stderr, "libcryptsetup: %s\n", message);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int verify(const char *dev, const char *desc)
{
	int r = kt_luks_open(dev, NULL, desc, 0);

	if (r < 0)
		fprintf(stderr, "kt-bench-kdf: %s: %s\n", dev, strerror(-r));
	return r;
}

static int concurrent(char **devs, int n, const char *desc)
{
	pid_t pids[64];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -errno;
		if (pids[i] == 0)
			_exit(verify(devs[i], desc) < 0 ? 1 : 0);
	}
	for (int i = 0; i < n; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			bad = 1;
	}
	return bad ? -EIO : 0;
}

int main(int argc, char **argv)
{
	char pw[1024];
	key_serial_t key;
	long n;
	int ndev;

	if (argc < 4 || argc - 3 > 64) {
		fprintf(stderr, "usage: kt-bench-kdf DESC N DEVICE...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("KT_BENCH_DEBUG")) {
		kt_luks_set_log(print_log, NULL);
		crypt_set_debug_level(CRYPT_DEBUG_ALL);
	}
	n = strtol(argv[2], NULL, 10);
	ndev = argc - 3;
	if (!fgets(pw, sizeof(pw), stdin)) {
		fprintf(stderr, "kt-bench-kdf: no passphrase on stdin\n");
		return 1;
	}
	pw[strcspn(pw, "\n")] = '\0';
	if (keyctl_join_session_keyring(NULL) < 0) {
		perror("kt-bench-kdf: session keyring");
		return 1;
	}
	key = add_key("user", argv[1], pw, strlen(pw),
		      KEY_SPEC_SESSION_KEYRING);
	explicit_bzero(pw, sizeof(pw));
	if (key < 0) {
		perror("kt-bench-kdf: add_key");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		double t0 = now_ms(), t1, t2;

		for (int d = 0; d < ndev; d++)
			if (verify(argv[3 + d], argv[1]) < 0)
				goto fail;
		t1 = now_ms();
		if (ndev == 1) {
			printf("ms=%.1f\n", t1 - t0);
			continue;
		}
		if (concurrent(argv + 3, ndev, argv[1]) < 0)
			goto fail;
		t2 = now_ms();
		printf("seq_ms=%.1f conc_ms=%.1f\n", t1 - t0, t2 - t1);
	}
	(void)keyctl_invalidate(key);
	return 0;
fail:
	(void)keyctl_invalidate(key);
	return 1;
}
