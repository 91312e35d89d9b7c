/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the libFuzzer targets: an invariant that does not hold is a
 * finding, so it aborts (libFuzzer then saves the input as a crash).
 */
#ifndef KT_FUZZ_H
#define KT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",     \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string of its own (libFuzzer's buffer is exactly size
 * bytes, so ASan sees any read past it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Splits the input at NUL bytes into up to n strings; the missing ones are
 * "". The strings point into *ret_buf, to be freed. */
static inline void fuzz_split(const uint8_t *data, size_t size, char **v,
			      size_t n, char **ret_buf)
{
	char *buf = fuzz_strndup(data, size), *p = buf, *end = buf + size;

	for (size_t i = 0; i < n; i++) {
		v[i] = p < end ? p : end;
		if (p < end)
			p += strlen(p) + 1;
	}
	*ret_buf = buf;
}

#endif
