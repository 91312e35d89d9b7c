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

#endif
