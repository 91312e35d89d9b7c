/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kt_wrapped_parse() and the whole unwrap path (kt_wrapped_open() with a
 * fixed login passphrase) on arbitrary files. Argon2 runs only for files
 * with cheap parameters: the library accepts up to 1 GiB, which is the
 * bounds check's business (checked by the parse invariants), not a
 * fuzzer's.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "secret.h"
#include "wrapped.h"

/* The seeds in corpus/wrapped are sealed under this. */
#define LOGIN "fuzz-login"

static bool cheap(const struct kt_wrapped_params *p)
{
	return p->t_cost <= 2 && p->m_cost_kib <= 64 && p->parallelism <= 2;
}

static void check_header(const uint8_t *data, size_t size,
			 const struct kt_wrapped_header *h)
{
	FUZZ_ASSERT(h->version == KT_WRAPPED_VERSION);
	FUZZ_ASSERT(kt_wrapped_params_check(&h->params) == 0);
	FUZZ_ASSERT(h->passphrase_len >= 1 &&
		    h->passphrase_len <= KT_PASSPHRASE_MAX);
	FUZZ_ASSERT(h->header_len == KT_WRAPPED_HEADER_SIZE);
	FUZZ_ASSERT(h->ciphertext_len ==
		    h->passphrase_len + KT_WRAPPED_TAG_SIZE);
	FUZZ_ASSERT(h->header_len + h->ciphertext_len == size);
	FUZZ_ASSERT(size <= KT_WRAPPED_SIZE_MAX);
	FUZZ_ASSERT(h->salt == data + 28);
	FUZZ_ASSERT(h->nonce == data + 28 + KT_WRAPPED_SALT_SIZE);
	FUZZ_ASSERT(h->ciphertext == data + KT_WRAPPED_HEADER_SIZE);
}

/* Sealing what was opened and opening it again gives it back. */
static void check_round_trip(const struct kt_secret *login,
			     const struct kt_secret *mount_passphrase,
			     const struct kt_wrapped_params *p)
{
	struct kt_secret *again = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	FUZZ_ASSERT(kt_wrapped_seal(login, mount_passphrase, p, &buf, &len) ==
		    0);
	FUZZ_ASSERT(kt_wrapped_open(buf, len, login, &again) == 0);
	FUZZ_ASSERT(kt_secret_equal(again, mount_passphrase));
	again = kt_secret_free(again);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int known[] = { -ENODATA, -EMEDIUMTYPE, -ENOTSUP,
				     -EINVAL,  -E2BIG,       -ERANGE,
				     -EBADMSG };
	struct kt_wrapped_header h;
	struct kt_secret *login, *mount_passphrase = NULL;
	bool ok = false;
	int r, o;

	memset(&h, 0xa5, sizeof(h));
	r = kt_wrapped_parse(data, size, &h);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok = ok || r == known[i];
	FUZZ_ASSERT(r == 0 || ok);
	if (r == 0) {
		check_header(data, size, &h);
		/* The length is exact: one byte less or more is refused. */
		FUZZ_ASSERT(kt_wrapped_parse(data, size - 1, NULL) < 0);
	}
	if (r == 0 && !cheap(&h.params))
		return 0;

	login = kt_secret_from(LOGIN, strlen(LOGIN));
	FUZZ_ASSERT(login);
	o = kt_wrapped_open(data, size, login, &mount_passphrase);
	if (r < 0) {
		/* Refused before any cryptography, with the same reason. */
		FUZZ_ASSERT(o == r);
		FUZZ_ASSERT(!mount_passphrase);
	} else if (o == 0) {
		FUZZ_ASSERT(mount_passphrase);
		FUZZ_ASSERT(mount_passphrase->len == h.passphrase_len);
		FUZZ_ASSERT(mount_passphrase->data[h.passphrase_len] == '\0');
		check_round_trip(login, mount_passphrase, &h.params);
		mount_passphrase = kt_secret_free(mount_passphrase);
	} else {
		FUZZ_ASSERT(o == -EBADMSG || o == -ENOMEM);
		FUZZ_ASSERT(!mount_passphrase);
	}
	login = kt_secret_free(login);
	return 0;
}
