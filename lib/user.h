/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_USER_H
#define KT_USER_H

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

struct kt_user {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;
};

/*
 * A user name keyturn acts for: 1..32 bytes of [A-Za-z0-9_.-], not
 * starting with '-' or '.', so it is safe in a path component, a key
 * description and a device-mapper name.
 */
bool kt_user_name_valid(const char *name);

/* Why name is not valid ("contains '/'", "is too long", ...), for
 * messages; NULL when it is valid. */
const char *kt_user_name_problem(const char *name);

/* getpwnam_r(); -ENOENT for an unknown user, -EINVAL for an unsafe name
 * or a home that is not an absolute path. */
int kt_user_lookup(const char *name, struct kt_user **ret) _wur_;
struct kt_user *kt_user_free(struct kt_user *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kt_user *, kt_user_free)
#define _cleanup_user_ _cleanup_(kt_user_freep)

/*
 * Expands %u (name), %h (home), %U (uid) and %% in a template.
 * -EINVAL on an unknown escape or a trailing '%'.
 */
int kt_user_expand(const char *template, const struct kt_user *u,
		   char **ret) _wur_;

#endif
