/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "secret.h"

static int sodium_ready(void)
{
	static int ready;

	if (!ready && sodium_init() < 0)
		return -EIO;
	ready = 1;
	return 0;
}

struct kt_secret *kt_secret_new(size_t len)
{
	struct kt_secret *s;

	if (sodium_ready() < 0) {
		errno = EIO;
		return NULL;
	}
	s = sodium_malloc(sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->len = len;
	s->data = sodium_malloc(len + 1);
	if (!s->data) {
		sodium_free(s);
		errno = ENOMEM;
		return NULL;
	}
	sodium_memzero(s->data, len + 1);
	return s;
}

struct kt_secret *kt_secret_from(const void *p, size_t len)
{
	struct kt_secret *s = kt_secret_new(len);

	if (s && len > 0)
		memcpy(s->data, p, len);
	return s;
}

struct kt_secret *kt_secret_dup(const struct kt_secret *s)
{
	return kt_secret_from(s->data, s->len);
}

struct kt_secret *kt_secret_free(struct kt_secret *s)
{
	if (!s)
		return NULL;
	/* sodium_free() wipes before it unmaps. */
	sodium_free(s->data);
	sodium_free(s);
	return NULL;
}

int kt_secret_equal(const struct kt_secret *a, const struct kt_secret *b)
{
	if (a->len != b->len)
		return 0;
	return sodium_memcmp(a->data, b->data, a->len) == 0;
}
