/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_CONFIG_INTERNAL_H
#define KT_CONFIG_INTERNAL_H

#include "config.h"

/*
 * Shared by lib/config.c (parse: templates checked with a sample user)
 * and lib/config_expand.c (expansion: the real user's values checked
 * again); not for use outside lib/config*.c. Each returns why its
 * argument is refused, or NULL.
 *
 * path_problem: absolute, no "." or ".." component, bounded; collapses
 * repeated slashes and drops a trailing one in place.
 * dm_name_problem: a safe device-mapper name.
 */
const char *kt_config_path_problem(char *path);
const char *kt_config_dm_name_problem(const char *name);

/* Bigger is no keyturn.conf (the parser and the loader refuse it). */
#define KT_CONFIG_MAX (1024 * 1024)

/* How much of a value a message quotes. */
#define Q 64

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* diag->message from fmt; nothing for a NULL diag. */
void kt_config_diag_set(struct kt_diag *diag, const char *fmt, ...)
	_printf_(2, 3);
/* Frees what a volume holds and zeroes it. */
void kt_config_volume_done(struct kt_volume *v);

/*
 * The parser's state and its value parsers (lib/config_values.c), for
 * lib/config.c. Each value parser checks one value of key at line and
 * stores it; -EINVAL with p->diag naming file and line when refused.
 */
#define KT_VOLUME_NAME_MAX 32
#define KT_KEY_PREFIX_MAX 32
#define KT_SERVICE_MAX 64
#define KT_DM_NAME_MAX 127
#define KT_FSTYPE_MAX 32

enum section { SEC_NONE, SEC_DEFAULTS, SEC_VOLUME };

enum key_id {
	K_KEY_TIMEOUT,
	K_UNLOCK_TIMEOUT,
	K_KEY_PREFIX,
	K_SERVICES,
	K_SKIP_SERVICES,
	K_WRAPPED_MAX_MEMORY,
	K_WRAPPED_MAX_ITERATIONS,
	K_USER,
	K_TYPE,
	K_DEVICE,
	K_NAME,
	K_FSTYPE,
	K_SOURCE,
	K_WRAPPED,
	K_FNEK,
	K_MOUNTPOINT,
	K_OPTIONS,
	K_REQUIRED,
	K_BUSY,
	K_BUSY_TIMEOUT,
	K_UUID,
	K_DIRECTORY,
	K_MAX
};

struct parser {
	const char *file;
	struct kt_diag *diag;
	struct kt_config *config;
	enum section section;
	unsigned section_line;
	unsigned defaults_line;  /* first [defaults], 0 if none yet */
	unsigned key_line[K_MAX]; /* where each key of the section was set */
	bool type_set;
};

/* "FILE:LINE: what" into p->diag; returns -EINVAL. */
int kt_config_fail(struct parser *p, unsigned line, const char *fmt, ...)
	_printf_(3, 4);
/* Whether s[0..len) holds only [A-Za-z0-9] and the characters of extra. */
bool kt_config_chars_ok(const char *s, size_t len, const char *extra);
void kt_config_strv_free(char **v);

int kt_config_uint_unit(struct parser *p, unsigned line, const char *key,
			const char *value, unsigned min, unsigned max,
			const char *unit, unsigned *ret);
int kt_config_uint(struct parser *p, unsigned line, const char *key,
		   const char *value, unsigned min, unsigned max,
		   unsigned *ret);
int kt_config_bool(struct parser *p, unsigned line, const char *key,
		   const char *value, bool *ret);
/* A copy of value into *field (the old one freed); -ENOMEM. */
int kt_config_set_string(char **field, const char *value);
/* value split at blanks and commas into *ret, each word checked. */
int kt_config_words(struct parser *p, unsigned line, const char *key,
		    const char *value, char ***ret,
		    int (*check)(struct parser *, unsigned, const char *,
				 const char *, size_t));
int kt_config_check_service(struct parser *p, unsigned line, const char *key,
			    const char *word, size_t len);
int kt_config_check_user(struct parser *p, unsigned line, const char *key,
			 const char *word, size_t len);
int kt_config_path_template(struct parser *p, unsigned line, const char *key,
			    const char *value);
int kt_config_dm_name_template(struct parser *p, unsigned line,
			       const char *value);
/* A mount option list, normalized into *field; refused options
 * (kt_mount_option_refused()) are errors. */
int kt_config_options(struct parser *p, unsigned line, const char *value,
		      char **field);

#endif
