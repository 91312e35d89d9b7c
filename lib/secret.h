/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_SECRET_H
#define KT_SECRET_H

#include <stddef.h>

#include "macro.h"

/*
 * The one type for secret bytes. The bytes live in memory from
 * sodium_malloc() (locked, guard pages) and are wiped by kt_secret_free().
 * data[len] is always a NUL byte, so that a passphrase can be handed to
 * APIs that want a C string; len does not count it.
 */
struct kt_secret {
	size_t len;
	unsigned char *data;
};

/* A secret of len bytes, zeroed. NULL on failure (errno set). */
struct kt_secret *kt_secret_new(size_t len) _wur_;
/* A copy of len bytes at p. */
struct kt_secret *kt_secret_from(const void *p, size_t len) _wur_;
struct kt_secret *kt_secret_dup(const struct kt_secret *s) _wur_;
/* Wipes and frees; accepts NULL; returns NULL. */
struct kt_secret *kt_secret_free(struct kt_secret *s);
/* Constant-time comparison. */
int kt_secret_equal(const struct kt_secret *a, const struct kt_secret *b);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct kt_secret *, kt_secret_free)
#define _cleanup_secret_ _cleanup_(kt_secret_freep)

/* Maximum passphrase keyturn accepts; longer ones are refused, not cut. */
#define KT_PASSPHRASE_MAX 4096

#endif
