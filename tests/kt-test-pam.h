/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the pam_wrapper tests (tests/pam): the test's directory of
 * service files and configs, the probe agent's record, the volume config
 * and the re-execution under pam_wrapper. Include after <cmocka.h>.
 */
#ifndef KT_TEST_PAM_H
#define KT_TEST_PAM_H

#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "protocol.h"
#include "secret.h"

#define WRAPPER_LIB "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so"

/* The test's directory: service files, configs, the probe's record. */
static char dir[128];

static inline void path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static inline void write_file(const char *name, const char *text,
			      mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	path_in(p, sizeof(p), name);
	f = fopen(p, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

/* The file's text in a static buffer, or NULL. */
static inline char *read_file(const char *name)
{
	static char buf[8192];
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	path_in(p, sizeof(p), name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static inline bool file_exists(const char *name)
{
	char p[PATH_MAX];

	path_in(p, sizeof(p), name);
	return access(p, F_OK) == 0;
}

static inline void remove_file(const char *name)
{
	char p[PATH_MAX];

	path_in(p, sizeof(p), name);
	(void)unlink(p);
}

/* One line of the probe agent's record. */
static inline void probe_say(FILE *out, const char *fmt, ...)
	_printf_(2, 3);
static inline void probe_say(FILE *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

/*
 * The probe agent's start: its test directory is the config's (base,
 * PATH_MAX bytes), the mode the test chose in agent.mode ("ok" when
 * none; mode, 32 bytes), and its record agent.out opened for appending.
 * NULL when the config path has no directory or the record won't open.
 */
static inline FILE *probe_open(const char *config, char *base, char *mode)
{
	char path[PATH_MAX + 32];
	char *slash;
	FILE *f;

	snprintf(base, PATH_MAX, "%s", config);
	slash = strrchr(base, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	strcpy(mode, "ok");
	snprintf(path, sizeof(path), "%s/agent.mode", base);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(mode, 32, f))
			strcpy(mode, "ok");
		mode[strcspn(mode, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/agent.out", base);
	return fopen(path, "ae");
}

/*
 * What the probe agent was handed: the passphrase on fd 4 ("pipe=match"
 * when it is want, "other", "none" without a pipe) and every key of
 * keyturn's in the keyrings it inherited from the host ("hostkey=" with
 * the kernel's description, "hostkey_payload=" match when it holds the
 * passphrase in clear). The host's keyrings must hold no such key.
 */
static inline void probe_passphrase(FILE *out, const char *want)
{
	_cleanup_secret_ struct kt_secret *pass = NULL;
	key_serial_t list[256];
	struct stat st;
	long n;
	bool any = false;

	if (fstat(4, &st) == 0 && S_ISFIFO(st.st_mode))
		probe_say(out, "pipe=%s",
			  kt_secret_pipe_read(4, kt_now_ms() + 5000, &pass) < 0 ?
				  "bad" :
			  pass->len == strlen(want) &&
					  !memcmp(pass->data, want, pass->len) ?
				  "match" :
				  "other");
	else
		probe_say(out, "pipe=none");

	n = keyctl_read(KEY_SPEC_SESSION_KEYRING, (char *)list, sizeof(list));
	for (long i = 0; n > 0 && i < n / (long)sizeof(key_serial_t) &&
			 i < (long)ELEMENTSOF(list);
	     i++) {
		char d[256], payload[KT_PASSPHRASE_MAX];
		long len;

		if (keyctl_describe(list[i], d, sizeof(d)) < 0 ||
		    !strstr(d, ";keyturn"))
			continue;
		any = true;
		probe_say(out, "hostkey=%s", d);
		len = keyctl_read(list[i], payload, sizeof(payload));
		probe_say(out, "hostkey_payload=%s",
			  len < 0 ? "unreadable" :
			  (size_t)len == strlen(want) &&
					  !memcmp(payload, want, (size_t)len) ?
				  "match" :
				  "other");
		explicit_bzero(payload, sizeof(payload));
	}
	if (!any)
		probe_say(out, "hostkey=none");
}

/* The probe holds the session like the agent: until "close" (answered
 * with a closed line and "done") or the end of its socket, fd 3, within
 * timeout_ms; what ended it goes to its record. */
static inline void probe_hold(FILE *out, long long timeout_ms)
{
	char line[KT_LINE_MAX];

	for (;;) {
		int r = kt_line_read(3, line, sizeof(line),
				     kt_now_ms() + timeout_ms);

		if (r <= 0) {
			probe_say(out, "ended=%s", r == 0 ? "eof" : "error");
			return;
		}
		if (!strcmp(line, "close")) {
			probe_say(out, "ended=close");
			if (kt_line_write(3, "volume v1 closed 0 bye") < 0 ||
			    kt_line_write(3, "done") < 0)
				probe_say(out, "write=failed");
			return;
		}
	}
}

/* A line "name=value" of the probe's record, or NULL. */
static inline const char *probe_value(const char *out, const char *name,
				      char *buf, size_t size)
{
	size_t len = strlen(name);

	for (const char *p = out; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l > len && !strncmp(p, name, len) && p[len] == '=') {
			snprintf(buf, size, "%.*s", (int)(l - len - 1),
				 p + len + 1);
			return buf;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static inline void assert_probe(const char *out, const char *name,
				const char *want)
{
	char buf[256];
	const char *v = out ? probe_value(out, name, buf, sizeof(buf)) : NULL;

	if (!v || strcmp(v, want))
		fail_msg("probe %s: want \"%s\", got \"%s\"\n%s", name, want,
			 v ? v : "(none)", out ? out : "(no record)");
}

/* One volume v1 of USER (the test's), nothing on disk. */
#define KT_TEST_VOLUME_CONF                                                 \
	"[defaults]\n"                                                       \
	"key_timeout = 30\n"                                                 \
	"unlock_timeout = %u\n"                                              \
	"\n"                                                                 \
	"[volume v1]\n"                                                      \
	"user = " USER "\n"                                                  \
	"type = luks2\n"                                                     \
	"device = %s/disk-%%u.img\n"                                         \
	"name = kt-test-%%u\n"                                               \
	"mountpoint = %%h/kt-test\n"                                         \
	"required = %s\n"

/*
 * Creates the directory from tmpl ("/tmp/keyturn-...-XXXXXX"), lets
 * write_services() fill it and runs this program again under pam_wrapper
 * with that directory as its service directory and KT_TEST_DIR. Returns
 * only on failure.
 */
static inline int reexec_under_wrapper(char **argv, char *tmpl,
				       void (*write_services)(void))
{
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	write_services();
	setenv("LD_PRELOAD", WRAPPER_LIB, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
	setenv("KT_TEST_DIR", dir, 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	return 1;
}

/* Removes the directory, if it is one of ours (prefix). */
static inline void cleanup_dir(const char *prefix)
{
	char cmd[PATH_MAX + 16];

	if (!dir[0] || strncmp(dir, prefix, strlen(prefix)))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

#endif
