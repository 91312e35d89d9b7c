/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reader of fscrypt's metadata (kt_fscrypt_protector_parse,
 * kt_fscrypt_policy_parse, kt_fscrypt_link_parse) on arbitrary bytes, and
 * the unwrap behind it. The first byte picks the reader (0 protector,
 * 1 policy, 2 link file, 3 all three), the rest is the file. Invariants:
 * what is accepted is inside keyturn's bounds; written out again in the
 * canonical encoding it reads back the same; a refusal always comes with
 * a reason and one of the documented errors. A protector with cheap
 * Argon2id costs is also unwrapped under a fixed passphrase against a
 * policy holding its wrapped key: it can only fail cleanly.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fscrypt.h"
#include "fscrypt_meta.h"
#include "fuzz.h"
#include "secret.h"

struct out {
	uint8_t b[KT_FSCRYPT_META_MAX];
	size_t n;
};

static void put(struct out *o, const void *p, size_t len)
{
	FUZZ_ASSERT(o->n + len <= sizeof(o->b));
	memcpy(o->b + o->n, p, len);
	o->n += len;
}

static void put_varint(struct out *o, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		if (v)
			c |= 0x80;
		put(o, &c, 1);
	} while (v);
}

static void put_uint(struct out *o, unsigned field, uint64_t v)
{
	put_varint(o, field << 3);
	put_varint(o, v);
}

static void put_bytes(struct out *o, unsigned field, const void *p,
		      size_t len)
{
	put_varint(o, field << 3 | 2);
	put_varint(o, len);
	put(o, p, len);
}

static void put_wrapped(struct out *o, unsigned field,
			const struct kt_fscrypt_wrapped_key *w)
{
	struct out m = { .n = 0 };

	put_bytes(&m, 1, w->iv, sizeof(w->iv));
	put_bytes(&m, 2, w->encrypted, w->encrypted_len);
	put_bytes(&m, 3, w->hmac, sizeof(w->hmac));
	put_bytes(o, field, m.b, m.n);
}

static bool wrapped_equal(const struct kt_fscrypt_wrapped_key *a,
			  const struct kt_fscrypt_wrapped_key *b)
{
	return a->encrypted_len == b->encrypted_len &&
	       !memcmp(a->iv, b->iv, sizeof(a->iv)) &&
	       !memcmp(a->encrypted, b->encrypted, a->encrypted_len) &&
	       !memcmp(a->hmac, b->hmac, sizeof(a->hmac));
}

static void encode_protector(const struct kt_fscrypt_protector *p,
			     struct out *o)
{
	struct out costs = { .n = 0 };
	char hex[KT_FSCRYPT_DESCRIPTOR_HEX + 1];

	kt_fscrypt_descriptor_hex(p->descriptor, hex);
	put_bytes(o, 1, hex, KT_FSCRYPT_DESCRIPTOR_HEX);
	put_uint(o, 2, KT_FSCRYPT_SOURCE_PAM_PASSPHRASE);
	put_uint(&costs, 2, p->time_cost);
	put_uint(&costs, 3, p->memory_kib);
	put_uint(&costs, 4, p->parallelism);
	put_bytes(o, 4, costs.b, costs.n);
	put_bytes(o, 5, p->salt, sizeof(p->salt));
	if (p->uid)
		put_uint(o, 6, (uint64_t)p->uid);
	put_wrapped(o, 7, &p->wrapped);
}

static void encode_policy(const struct kt_fscrypt_policy_data *q,
			  struct out *o)
{
	struct out opts = { .n = 0 };
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];

	kt_fscrypt_identifier_hex(q->identifier, hex);
	put_bytes(o, 1, hex, KT_FSCRYPT_IDENTIFIER_HEX);
	put_uint(&opts, 1, q->padding);
	put_uint(&opts, 2, q->contents_mode);
	put_uint(&opts, 3, q->filenames_mode);
	put_uint(&opts, 4, 2);
	put_bytes(o, 2, opts.b, opts.n);
	for (size_t i = 0; i < q->n_slots; i++) {
		struct out slot = { .n = 0 };

		kt_fscrypt_descriptor_hex(q->slots[i].protector, hex);
		put_bytes(&slot, 1, hex, KT_FSCRYPT_DESCRIPTOR_HEX);
		put_wrapped(&slot, 2, &q->slots[i].wrapped);
		put_bytes(o, 3, slot.b, slot.n);
	}
}

static void check_refusal(int r, const char *why)
{
	FUZZ_ASSERT(r == -EBADMSG || r == -EPROTONOSUPPORT || r == -E2BIG);
	FUZZ_ASSERT(why && *why);
}

/* A policy whose one slot is the protector's own wrapped key: the unwrap
 * of the protector fails its HMAC for all but a crafted input, and must
 * say so cleanly. */
static void try_import(const struct kt_fscrypt_protector *p)
{
	static struct kt_fscrypt_policy_data q;
	struct kt_secret *pass, *key = NULL;
	const char *why = NULL;
	int r;

	if (p->time_cost > 2 || p->memory_kib > 64 || p->parallelism > 2)
		return;
	memset(&q, 0, sizeof(q));
	q.n_slots = 1;
	memcpy(q.slots[0].protector, p->descriptor, sizeof(p->descriptor));
	q.slots[0].wrapped = p->wrapped;
	q.slots[0].wrapped.encrypted_len = KT_FSCRYPT_KEY_SIZE;
	pass = kt_secret_from("fuzz-login", 10);
	FUZZ_ASSERT(pass);
	r = kt_fscrypt_import_key(p, &q, pass, &key, &why);
	FUZZ_ASSERT(r == -EACCES || r == -EBADMSG);
	FUZZ_ASSERT(!key && why);
	kt_secret_free(pass);
}

static void fuzz_protector(const uint8_t *data, size_t size)
{
	struct kt_fscrypt_protector p, again;
	struct out o = { .n = 0 };
	const char *why = NULL;
	int r;

	r = kt_fscrypt_protector_parse(data, size, &p, &why);
	if (r < 0) {
		check_refusal(r, why);
		return;
	}
	FUZZ_ASSERT(p.time_cost >= 1 && p.time_cost <= KT_FSCRYPT_TIME_MAX);
	FUZZ_ASSERT(p.parallelism >= 1 &&
		    p.parallelism <= KT_FSCRYPT_PARALLELISM_MAX);
	FUZZ_ASSERT(p.memory_kib >= 8 * p.parallelism &&
		    p.memory_kib <= KT_FSCRYPT_MEMORY_KIB_MAX);
	FUZZ_ASSERT(p.uid >= 0 && p.uid < UINT32_MAX);
	FUZZ_ASSERT(p.wrapped.encrypted_len == KT_FSCRYPT_PROTECTOR_KEY_SIZE);

	encode_protector(&p, &o);
	FUZZ_ASSERT(kt_fscrypt_protector_parse(o.b, o.n, &again, NULL) == 0);
	FUZZ_ASSERT(!memcmp(p.descriptor, again.descriptor,
			    sizeof(p.descriptor)));
	FUZZ_ASSERT(p.time_cost == again.time_cost &&
		    p.memory_kib == again.memory_kib &&
		    p.parallelism == again.parallelism && p.uid == again.uid);
	FUZZ_ASSERT(!memcmp(p.salt, again.salt, sizeof(p.salt)));
	FUZZ_ASSERT(wrapped_equal(&p.wrapped, &again.wrapped));
	try_import(&p);
}

static void fuzz_policy(const uint8_t *data, size_t size)
{
	static struct kt_fscrypt_policy_data q, again;
	struct out o = { .n = 0 };
	const char *why = NULL;
	int r;

	r = kt_fscrypt_policy_parse(data, size, &q, &why);
	if (r < 0) {
		check_refusal(r, why);
		return;
	}
	FUZZ_ASSERT(q.n_slots <= KT_FSCRYPT_MAX_SLOTS);
	FUZZ_ASSERT(q.padding == 4 || q.padding == 8 || q.padding == 16 ||
		    q.padding == 32);
	for (size_t i = 0; i < q.n_slots; i++)
		FUZZ_ASSERT(q.slots[i].wrapped.encrypted_len ==
			    KT_FSCRYPT_KEY_SIZE);

	encode_policy(&q, &o);
	FUZZ_ASSERT(kt_fscrypt_policy_parse(o.b, o.n, &again, NULL) == 0);
	FUZZ_ASSERT(!memcmp(q.identifier, again.identifier,
			    sizeof(q.identifier)));
	FUZZ_ASSERT(q.padding == again.padding &&
		    q.contents_mode == again.contents_mode &&
		    q.filenames_mode == again.filenames_mode &&
		    q.n_slots == again.n_slots);
	for (size_t i = 0; i < q.n_slots; i++) {
		FUZZ_ASSERT(!memcmp(q.slots[i].protector,
				    again.slots[i].protector,
				    KT_FSCRYPT_DESCRIPTOR_SIZE));
		FUZZ_ASSERT(wrapped_equal(&q.slots[i].wrapped,
					  &again.slots[i].wrapped));
	}
}

static void fuzz_link(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	int r = kt_fscrypt_link_parse(data, size, &why);

	if (r < 0) {
		check_refusal(r, why);
		return;
	}
	/* Accepted: it says PATH=/ on a line of its own. */
	FUZZ_ASSERT(size >= 7 && data[size - 1] == '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode;

	if (size == 0)
		return 0;
	mode = data[0] % 4;
	data++;
	size--;
	/* An empty file is handed over as (NULL, 0), as a caller with
	 * nothing read would. */
	if (mode == 0 || mode == 3)
		fuzz_protector(size ? data : NULL, size);
	if (mode == 1 || mode == 3)
		fuzz_policy(size ? data : NULL, size);
	if (mode == 2 || mode == 3)
		fuzz_link(size ? data : NULL, size);
	return 0;
}
