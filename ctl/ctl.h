/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_CTL_H
#define KT_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "macro.h"
#include "secret.h"

#ifndef KT_VERSION
#define KT_VERSION "0.1"
#endif

/* keyturnctl's exit codes, as keyturnctl(8) documents them. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILURE = 1,
	CTL_EXIT_USAGE = 2,
};

extern bool ctl_verbose;

/* "keyturnctl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) _printf_(1, 2);
/* "keyturnctl: Failed to <what>: <strerror(-r)>" on stderr; returns
 * CTL_EXIT_FAILURE. */
int ctl_fail(int r, const char *what_fmt, ...) _printf_(2, 3);
/* A usage error: the message, a hint at --help; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) _printf_(1, 2);
/* Why kt_dir_open_checked() refused a directory (r < 0), in words. */
const char *ctl_dir_refusal(int r);
/* Looks up user name: 0, or CTL_EXIT_FAILURE with the error said
 * ("No such user", or why the lookup failed). */
struct kt_user;
int ctl_user_lookup(const char *name, struct kt_user **ret) _wur_;

/* libcryptsetup's messages, shown with --verbose. */
void ctl_luks_log(int priority, const char *message, void *userdata);

/*
 * Loads the config; on failure prints the diagnostic ("FILE:LINE: ...")
 * or the error. With missing_ok, a config that does not exist gives 0 and
 * *ret NULL (enrollment works before the config is written).
 */
int ctl_config_load(const char *path, bool missing_ok,
		    struct kt_config **ret) _wur_;

/*
 * Parses the options of a command that takes only --user USER and
 * --config PATH (check, status); *ret_user and *ret_config keep their
 * values for an option not given. Returns 0, or CTL_EXIT_USAGE after
 * saying why.
 */
int ctl_parse_user_config(const char *command, int argc, char **argv,
			  const char **ret_user, const char **ret_config) _wur_;

/*
 * Pinning a LUKS2 volume at enrollment (ctl/pin_luks.c). plan: reads
 * device's UUID and finds the user's volume in c (may be NULL) whose
 * device is device; refuses (-EEXIST, said why) when that volume pins
 * another UUID. apply: writes "uuid = ..." into that volume's section
 * (atomically, everything else kept) or prints the line to add; returns
 * an exit code.
 */
enum ctl_pin_state {
	CTL_PIN_NO_VOLUME, /* no volume of the user has this device */
	CTL_PIN_SHARED,	   /* its section is for several devices */
	CTL_PIN_ALREADY,   /* pinned to this UUID already */
	CTL_PIN_WRITE,	   /* to be written */
};
struct ctl_pin {
	enum ctl_pin_state state;
	char uuid[64];
	char volume[40];
	char config[4096];
};
struct kt_user;
int ctl_pin_plan(const struct kt_config *c, const struct kt_user *u,
		 const char *device, struct ctl_pin *ret) _wur_;
int ctl_pin_apply(const struct ctl_pin *pin, const char *device,
		  const char *user);

/* "yes" or "no". A "  key = value" line of keyturnctl check; nothing
 * for a NULL value. */
const char *ctl_yes_no(bool b);
void ctl_print_field(const char *key, const char *value);

/*
 * keyturnctl's operations per volume type (ctl/backend_output.c, one table
 * indexed by enum kt_volume_type). status: the volume's own lines of
 * keyturnctl status (device, state, enrolled), mounted the mount on its
 * mount point or NULL. check: its type's keys, in keyturnctl check.
 * check_section: a warning about a section as written, or NULL.
 */
struct kt_mount_entry;
struct ctl_backend {
	void (*status)(const struct kt_config *c, const struct kt_user *u,
		       const struct kt_volume *v,
		       const struct kt_mount_entry *mounted);
	void (*check)(const struct kt_volume *v);
	void (*check_section)(const struct kt_volume *v);
};
/* NULL for a type without one. */
const struct ctl_backend *ctl_backend_of(enum kt_volume_type type);

/* Parses a positive decimal number no larger than max. */
int ctl_parse_uint(const char *s, unsigned max, unsigned *ret) _wur_;

/*
 * Reads one line from fd a byte at a time into secure memory (nothing
 * read past the newline, no stdio buffer keeping a copy), without its
 * newline. -ENODATA at EOF before any byte, -E2BIG beyond
 * KT_PASSPHRASE_MAX.
 */
int ctl_read_secret_line(int fd, struct kt_secret **ret) _wur_;

/* Asks on /dev/tty with echo off. -ENXIO when there is no terminal,
 * -EINTR when interrupted (the terminal is restored). */
int ctl_prompt_secret(const char *prompt, struct kt_secret **ret) _wur_;

/*
 * The same, for a command: each prints what went wrong, naming the secret
 * as "what" ("login password"). ctl_read_stdin_secret() reads line lineno
 * of standard input, ctl_ask_secret() asks on the terminal with prompt,
 * ctl_read_secret() does one or the other as from_stdin says.
 */
int ctl_read_stdin_secret(const char *what, int lineno,
			  struct kt_secret **ret) _wur_;
int ctl_ask_secret(const char *prompt, const char *what,
		   struct kt_secret **ret) _wur_;
int ctl_read_secret(bool from_stdin, int lineno, const char *prompt,
		    const char *what, struct kt_secret **ret) _wur_;

/* A new passphrase, refused when empty; on the terminal asked a second
 * time with again_prompt, and refused when the two differ (-EINVAL). */
int ctl_read_new_secret(bool from_stdin, int lineno, const char *prompt,
			const char *again_prompt, const char *what,
			struct kt_secret **ret) _wur_;

int ctl_enroll(int argc, char **argv);
/* enroll ecryptfs: argv[0] is "enroll", the type is among the operands. */
int ctl_enroll_ecryptfs(int argc, char **argv);

/*
 * What enroll ecryptfs and enroll fscrypt share (ctl/enroll_wrapped.c):
 * both keep their secret in keyturn's wrapped file under the login
 * password. parse_args: --user (needed), --stdin, --import, --config,
 * --argon2-ms, --argon2-memory, then "TYPE" and, with directory, one
 * DIRECTORY operand; 0, or CTL_EXIT_USAGE after a message naming usage.
 * seal: calibrates Argon2id within the bounds the agent will check, c's
 * wrapped_max_memory and wrapped_max_iterations (c NULL: no config, the
 * defaults), refusing an --argon2-memory above them and saying when they
 * stop the cost short of --argon2-ms; seals secret under login and opens
 * the result again (a file that does not unwrap is never written); what
 * names the secret in messages; *ret_unwrap_s (may be NULL) how long the
 * unwrap took, what each login will pay.
 */
struct ctl_wrapped_args {
	const char *user;
	const char *config;
	const char *directory;	/* the operand, when the type takes one */
	bool config_given;
	bool from_stdin;
	bool import;
	unsigned argon2_ms;	/* 0: default */
	unsigned argon2_memory;	/* KiB, 0: default */
};
struct kt_wrapped_params;
int ctl_wrapped_parse_args(int argc, char **argv, const char *type,
			   bool directory, const char *usage,
			   struct ctl_wrapped_args *a) _wur_;
int ctl_wrapped_seal(const struct ctl_wrapped_args *a,
		     const struct kt_config *c, const char *what,
		     const struct kt_secret *login,
		     const struct kt_secret *secret,
		     struct kt_wrapped_params *ret_p, uint8_t **ret_buf,
		     size_t *ret_len, double *ret_unwrap_s) _wur_;
/* enroll fscrypt DIRECTORY (ctl/enroll_fscrypt.c), and what status and
 * check print for an fscrypt volume (its row in ctl/backend_output.c). */
int ctl_enroll_fscrypt(int argc, char **argv);
void ctl_fscrypt_print_status(const struct kt_config *c,
			      const struct kt_user *u,
			      const struct kt_volume *v,
			      const struct kt_mount_entry *mounted);
void ctl_fscrypt_print_check(const struct kt_volume *v);
int ctl_status(int argc, char **argv);
int ctl_check(int argc, char **argv);
int ctl_rekey(int argc, char **argv);
int ctl_unlock(int argc, char **argv);
int ctl_lock(int argc, char **argv);

#endif
