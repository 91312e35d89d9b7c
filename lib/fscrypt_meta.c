/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A strict reader for the few protobuf messages of fscrypt's metadata (see
 * fscrypt_meta.h). Written from the protobuf wire format, not from any
 * protobuf library: a varint is 7 bits a byte, low first; a field is a
 * varint key (number << 3 | wire type) and then a varint (wire type 0) or
 * a varint length and that many bytes (wire type 2). The other wire types
 * (fixed 64/32-bit, groups) appear in none of these messages and are
 * refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fscrypt_meta.h"

#define WIRE_VARINT 0
#define WIRE_LEN 2

struct pb {
	const uint8_t *p;
	const uint8_t *end;
};

struct pb_field {
	uint32_t number;
	unsigned wire;
	uint64_t value;        /* WIRE_VARINT */
	const uint8_t *data;   /* WIRE_LEN */
	size_t len;
};

/* The reasons, one place: every refusal names what was wrong. */
#define R_MALFORMED "not a well-formed protobuf message"
#define R_UNKNOWN "a field keyturn does not know (newer fscrypt metadata?)"
#define R_TWICE "a field that may appear once appears twice"
#define R_WIRE "a field of the wrong wire type"

static int refuse(const char **ret_reason, const char *reason, int r)
{
	if (ret_reason)
		*ret_reason = reason;
	return r;
}

static int pb_varint(struct pb *b, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t c;

		if (b->p >= b->end)
			return -EBADMSG;
		c = *b->p++;
		/* The tenth byte holds bit 63 alone; a zero last byte after
		 * the first is a longer encoding than any writer makes. */
		if ((i == 9 && c > 1) || (i > 0 && c == 0))
			return -EBADMSG;
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* 1 and the field, 0 at the end of the message, or -EBADMSG. */
static int pb_next(struct pb *b, struct pb_field *f)
{
	uint64_t key, len;

	if (b->p == b->end)
		return 0;
	if (pb_varint(b, &key) < 0)
		return -EBADMSG;
	memset(f, 0, sizeof(*f));
	if ((key >> 3) == 0 || (key >> 3) > UINT32_MAX)
		return -EBADMSG;
	f->number = (uint32_t)(key >> 3);
	f->wire = key & 7;
	switch (f->wire) {
	case WIRE_VARINT:
		if (pb_varint(b, &f->value) < 0)
			return -EBADMSG;
		return 1;
	case WIRE_LEN:
		if (pb_varint(b, &len) < 0)
			return -EBADMSG;
		if (len > (uint64_t)(b->end - b->p))
			return -EBADMSG;
		f->data = b->p;
		f->len = (size_t)len;
		b->p += len;
		return 1;
	default:
		return -EBADMSG;
	}
}

/*
 * The checks every field gets: known (number < 32 and set in known), of
 * its wire type (set in len_fields for length-delimited ones), not seen
 * before unless in repeated.
 */
struct pb_schema {
	uint32_t known;
	uint32_t len_fields;
	uint32_t repeated;
};

static int pb_check(const struct pb_schema *s, const struct pb_field *f,
		    uint32_t *seen, const char **ret_reason)
{
	uint32_t bit;

	if (f->number >= 32 || !(s->known & (1u << f->number)))
		return refuse(ret_reason, R_UNKNOWN, -EBADMSG);
	bit = 1u << f->number;
	if (f->wire != ((s->len_fields & bit) ? WIRE_LEN : WIRE_VARINT))
		return refuse(ret_reason, R_WIRE, -EBADMSG);
	if ((*seen & bit) && !(s->repeated & bit))
		return refuse(ret_reason, R_TWICE, -EBADMSG);
	*seen |= bit;
	return 0;
}

#define F(n) (1u << (n))

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* fscrypt writes lower-case hex (Go's hex.EncodeToString); nothing else is
 * one of its descriptors. */
static int parse_hex(const uint8_t *hex, size_t hex_len, uint8_t *out,
		     size_t out_len)
{
	if (hex_len != 2 * out_len)
		return -EBADMSG;
	for (size_t i = 0; i < out_len; i++) {
		int hi = unhex((char)hex[2 * i]), lo = unhex((char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* WrappedKeyData: 1 IV, 2 encrypted key, 3 HMAC; all three needed. */
static int parse_wrapped(const uint8_t *buf, size_t len,
			 struct kt_fscrypt_wrapped_key *ret,
			 const char **ret_reason)
{
	static const struct pb_schema schema = {
		.known = F(1) | F(2) | F(3),
		.len_fields = F(1) | F(2) | F(3),
	};
	struct pb b = { buf, buf + len };
	struct pb_field f;
	uint32_t seen = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	while ((r = pb_next(&b, &f)) > 0) {
		r = pb_check(&schema, &f, &seen, ret_reason);
		if (r < 0)
			return r;
		switch (f.number) {
		case 1:
			if (f.len != KT_FSCRYPT_IV_SIZE)
				return refuse(ret_reason,
					      "a wrapped key's IV is not 16 bytes",
					      -EBADMSG);
			memcpy(ret->iv, f.data, f.len);
			break;
		case 2:
			if (f.len == 0 || f.len > KT_FSCRYPT_KEY_SIZE)
				return refuse(ret_reason,
					      "a wrapped key has no or too many bytes",
					      -EBADMSG);
			memcpy(ret->encrypted, f.data, f.len);
			ret->encrypted_len = f.len;
			break;
		case 3:
			if (f.len != KT_FSCRYPT_HMAC_SIZE)
				return refuse(ret_reason,
					      "a wrapped key's HMAC is not 32 bytes",
					      -EBADMSG);
			memcpy(ret->hmac, f.data, f.len);
			break;
		}
	}
	if (r < 0)
		return refuse(ret_reason, R_MALFORMED, r);
	if (seen != schema.known)
		return refuse(ret_reason,
			      "a wrapped key lacks its IV, key or HMAC", -EBADMSG);
	return 0;
}

/* HashingCosts: 2 time, 3 memory, 4 parallelism, 5 truncation_fixed. */
static int parse_costs(const uint8_t *buf, size_t len,
		       struct kt_fscrypt_protector *ret,
		       const char **ret_reason)
{
	static const struct pb_schema schema = {
		.known = F(2) | F(3) | F(4) | F(5),
	};
	struct pb b = { buf, buf + len };
	struct pb_field f;
	uint32_t seen = 0;
	/* int64 fields: a negative one is a 10-byte varint, and is as out
	 * of bounds as a huge one. */
	uint64_t t = 0, m = 0, p = 0;
	int r;

	while ((r = pb_next(&b, &f)) > 0) {
		r = pb_check(&schema, &f, &seen, ret_reason);
		if (r < 0)
			return r;
		switch (f.number) {
		case 2:
			t = f.value;
			break;
		case 3:
			m = f.value;
			break;
		case 4:
			p = f.value;
			break;
		case 5:
			/* Only says how fscrypt read parallelism past 255;
			 * keyturn's bound is far below that. */
			if (f.value > 1)
				return refuse(ret_reason, R_MALFORMED,
					      -EBADMSG);
			break;
		}
	}
	if (r < 0)
		return refuse(ret_reason, R_MALFORMED, r);
	if (t < 1 || t > KT_FSCRYPT_TIME_MAX)
		return refuse(ret_reason,
			      "the protector's Argon2id time cost is out of keyturn's bounds",
			      -EPROTONOSUPPORT);
	if (p < 1 || p > KT_FSCRYPT_PARALLELISM_MAX)
		return refuse(ret_reason,
			      "the protector's Argon2id parallelism is out of keyturn's bounds",
			      -EPROTONOSUPPORT);
	if (m < 8 * p || m > KT_FSCRYPT_MEMORY_KIB_MAX)
		return refuse(ret_reason,
			      "the protector's Argon2id memory cost is out of keyturn's bounds",
			      -EPROTONOSUPPORT);
	ret->time_cost = (uint32_t)t;
	ret->memory_kib = (uint32_t)m;
	ret->parallelism = (uint32_t)p;
	return 0;
}

int kt_fscrypt_protector_parse(const void *buf, size_t len,
			       struct kt_fscrypt_protector *ret,
			       const char **ret_reason)
{
	static const struct pb_schema schema = {
		.known = F(1) | F(2) | F(3) | F(4) | F(5) | F(6) | F(7),
		.len_fields = F(1) | F(3) | F(4) | F(5) | F(7),
	};
	struct kt_fscrypt_protector p;
	struct pb b;
	struct pb_field f;
	uint32_t seen = 0;
	uint64_t source = 0, uid = 0;
	const uint8_t *costs = NULL;
	size_t costs_len = 0;
	int r;

	if (!buf && len > 0)
		return -EINVAL;
	if (len > KT_FSCRYPT_META_MAX)
		return refuse(ret_reason, "larger than any fscrypt protector",
			      -E2BIG);
	memset(&p, 0, sizeof(p));
	b.p = buf;
	b.end = len ? b.p + len : b.p;  /* no arithmetic on NULL */
	while ((r = pb_next(&b, &f)) > 0) {
		r = pb_check(&schema, &f, &seen, ret_reason);
		if (r < 0)
			return r;
		switch (f.number) {
		case 1:
			if (parse_hex(f.data, f.len, p.descriptor,
				      sizeof(p.descriptor)) < 0)
				return refuse(ret_reason,
					      "the protector descriptor is not 16 hex digits",
					      -EBADMSG);
			break;
		case 2:
			source = f.value;
			break;
		case 3:
			break;  /* a name: only custom protectors have one */
		case 4:
			/* Read after the source is known: costs out of
			 * bounds matter less than a protector keyturn
			 * cannot use at all. */
			costs = f.data;
			costs_len = f.len;
			break;
		case 5:
			if (f.len != KT_FSCRYPT_SALT_SIZE)
				return refuse(ret_reason,
					      "the protector's salt is not 16 bytes",
					      -EBADMSG);
			memcpy(p.salt, f.data, f.len);
			break;
		case 6:
			uid = f.value;
			break;
		case 7:
			r = parse_wrapped(f.data, f.len, &p.wrapped,
					  ret_reason);
			if (r < 0)
				return r;
			break;
		}
	}
	if (r < 0)
		return refuse(ret_reason, R_MALFORMED, r);
	if (!(seen & F(1)) || !(seen & F(7)))
		return refuse(ret_reason,
			      "the protector lacks its descriptor or wrapped key",
			      -EBADMSG);
	if (source != KT_FSCRYPT_SOURCE_PAM_PASSPHRASE)
		return refuse(ret_reason,
			      "not a login protector (fscrypt --source=pam_passphrase): keyturn only opens what the login password opens",
			      -EPROTONOSUPPORT);
	if (!costs || !(seen & F(5)))
		return refuse(ret_reason,
			      "the login protector lacks its hashing costs or salt",
			      -EBADMSG);
	/* uid is an int64: a negative one is a 10-byte varint. */
	if (uid >= UINT32_MAX)
		return refuse(ret_reason, "the protector's uid is out of range",
			      -EBADMSG);
	p.uid = (int64_t)uid;
	if (p.wrapped.encrypted_len != KT_FSCRYPT_PROTECTOR_KEY_SIZE)
		return refuse(ret_reason,
			      "the protector's wrapped key is not 32 bytes",
			      -EBADMSG);
	r = parse_costs(costs, costs_len, &p, ret_reason);
	if (r < 0)
		return r;
	if (ret)
		*ret = p;
	return 0;
}

/* WrappedPolicyKey: 1 protector descriptor, 2 WrappedKeyData. */
static int parse_slot(const uint8_t *buf, size_t len,
		      struct kt_fscrypt_policy_slot *ret,
		      const char **ret_reason)
{
	static const struct pb_schema schema = {
		.known = F(1) | F(2),
		.len_fields = F(1) | F(2),
	};
	struct pb b = { buf, buf + len };
	struct pb_field f;
	uint32_t seen = 0;
	int r;

	while ((r = pb_next(&b, &f)) > 0) {
		r = pb_check(&schema, &f, &seen, ret_reason);
		if (r < 0)
			return r;
		if (f.number == 1) {
			if (parse_hex(f.data, f.len, ret->protector,
				      sizeof(ret->protector)) < 0)
				return refuse(ret_reason,
					      "a policy key names its protector by no descriptor",
					      -EBADMSG);
		} else {
			r = parse_wrapped(f.data, f.len, &ret->wrapped,
					  ret_reason);
			if (r < 0)
				return r;
		}
	}
	if (r < 0)
		return refuse(ret_reason, R_MALFORMED, r);
	if (seen != schema.known)
		return refuse(ret_reason,
			      "a policy key lacks its protector or wrapped key",
			      -EBADMSG);
	if (ret->wrapped.encrypted_len != KT_FSCRYPT_KEY_SIZE)
		return refuse(ret_reason, "a wrapped policy key is not 64 bytes",
			      -EBADMSG);
	return 0;
}

/* The pairs of modes the kernel accepts for v2 policies (fscrypt's
 * EncryptionOptions.Mode numbers are the kernel's FSCRYPT_MODE_*). */
static bool modes_supported(uint64_t contents, uint64_t filenames)
{
	static const uint8_t pairs[][2] = {
		{ 1, 4 },   /* AES-256-XTS, AES-256-CTS */
		{ 1, 10 },  /* AES-256-XTS, AES-256-HCTR2 */
		{ 5, 6 },   /* AES-128-CBC, AES-128-CTS */
		{ 9, 9 },   /* Adiantum */
	};

	for (size_t i = 0; i < ELEMENTSOF(pairs); i++)
		if (contents == pairs[i][0] && filenames == pairs[i][1])
			return true;
	return false;
}

/* EncryptionOptions: 1 padding, 2 contents, 3 filenames, 4 version. */
static int parse_options(const uint8_t *buf, size_t len,
			 struct kt_fscrypt_policy_data *ret, uint64_t *version,
			 const char **ret_reason)
{
	static const struct pb_schema schema = {
		.known = F(1) | F(2) | F(3) | F(4),
	};
	struct pb b = { buf, buf + len };
	struct pb_field f;
	uint32_t seen = 0;
	uint64_t v[5] = { 0 };
	int r;

	while ((r = pb_next(&b, &f)) > 0) {
		r = pb_check(&schema, &f, &seen, ret_reason);
		if (r < 0)
			return r;
		v[f.number] = f.value;
	}
	if (r < 0)
		return refuse(ret_reason, R_MALFORMED, r);
	/* proto3 leaves out zeros: no version is fscrypt's version 1. */
	*version = v[4] == 0 ? 1 : v[4];
	if (v[1] != 4 && v[1] != 8 && v[1] != 16 && v[1] != 32)
		return refuse(ret_reason,
			      "the policy's filename padding is not 4, 8, 16 or 32",
			      -EPROTONOSUPPORT);
	if (!modes_supported(v[2], v[3]))
		return refuse(ret_reason,
			      "the policy's encryption modes are not a pair the kernel takes for v2 policies",
			      -EPROTONOSUPPORT);
	ret->padding = (uint8_t)v[1];
	ret->contents_mode = (uint8_t)v[2];
	ret->filenames_mode = (uint8_t)v[3];
	return 0;
}

int kt_fscrypt_policy_parse(const void *buf, size_t len,
			    struct kt_fscrypt_policy_data *ret,
			    const char **ret_reason)
{
	static const struct pb_schema schema = {
		.known = F(1) | F(2) | F(3),
		.len_fields = F(1) | F(2) | F(3),
		.repeated = F(3),
	};
	struct kt_fscrypt_policy_data *p;
	struct pb b;
	struct pb_field f;
	uint32_t seen = 0;
	const uint8_t *descriptor = NULL, *options = NULL;
	size_t descriptor_len = 0, options_len = 0;
	uint64_t version = 0;
	int r;

	if (!buf && len > 0)
		return -EINVAL;
	if (len > KT_FSCRYPT_META_MAX)
		return refuse(ret_reason, "larger than any fscrypt policy",
			      -E2BIG);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	b.p = buf;
	b.end = len ? b.p + len : b.p;  /* no arithmetic on NULL */
	while ((r = pb_next(&b, &f)) > 0) {
		r = pb_check(&schema, &f, &seen, ret_reason);
		if (r < 0)
			goto out;
		switch (f.number) {
		case 1:
			descriptor = f.data;
			descriptor_len = f.len;
			break;
		case 2:
			options = f.data;
			options_len = f.len;
			break;
		case 3:
			if (p->n_slots >= KT_FSCRYPT_MAX_SLOTS) {
				r = refuse(ret_reason,
					   "the policy has more protectors than keyturn reads",
					   -EPROTONOSUPPORT);
				goto out;
			}
			r = parse_slot(f.data, f.len, &p->slots[p->n_slots],
				       ret_reason);
			if (r < 0)
				goto out;
			p->n_slots++;
			break;
		}
	}
	if (r < 0) {
		r = refuse(ret_reason, R_MALFORMED, r);
		goto out;
	}
	if (!descriptor || !options) {
		r = refuse(ret_reason, "the policy lacks its descriptor or options",
			   -EBADMSG);
		goto out;
	}
	r = parse_options(options, options_len, p, &version, ret_reason);
	if (r < 0)
		goto out;
	if (version == 1) {
		r = refuse(ret_reason,
			   "a v1 policy: its key would sit in a keyring other users' processes can reach; re-create the directory with policy_version 2",
			   -EPROTONOSUPPORT);
		goto out;
	}
	if (version != 2) {
		r = refuse(ret_reason, "an unknown policy version",
			   -EPROTONOSUPPORT);
		goto out;
	}
	if (parse_hex(descriptor, descriptor_len, p->identifier,
		      sizeof(p->identifier)) < 0) {
		r = refuse(ret_reason,
			   "the policy descriptor is not 32 hex digits",
			   -EBADMSG);
		goto out;
	}
	if (ret)
		*ret = *p;
	r = 0;
out:
	free(p);
	return r;
}

int kt_fscrypt_link_parse(const void *buf, size_t len,
			  const char **ret_reason)
{
	const char *s, *end;
	bool root = false;

	if (!buf && len > 0)
		return -EINVAL;
	if (len == 0 || len > 256)
		return refuse(ret_reason, "not an fscrypt link file", -EBADMSG);
	s = buf;
	end = s + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n;

		if (!nl)
			return refuse(ret_reason,
				      "an fscrypt link file line without its newline",
				      -EBADMSG);
		n = (size_t)(nl - s);
		if (n == 6 && memcmp(s, "PATH=/", 6) == 0)
			root = true;
		else if (n > 5 && memcmp(s, "PATH=", 5) == 0)
			return refuse(ret_reason,
				      "the login protector is linked to a filesystem other than the root one",
				      -EPROTONOSUPPORT);
		/* A UUID names the same root filesystem for fscrypt; the
		 * caller reads the protector from / itself. */
		else if (!(n > 5 && memcmp(s, "UUID=", 5) == 0))
			return refuse(ret_reason,
				      "an fscrypt link file line keyturn does not know",
				      -EBADMSG);
		s = nl + 1;
	}
	if (!root)
		return refuse(ret_reason,
			      "the fscrypt link file does not name the root filesystem",
			      -EPROTONOSUPPORT);
	return 0;
}

void kt_fscrypt_descriptor_hex(const uint8_t d[KT_FSCRYPT_DESCRIPTOR_SIZE],
			       char ret_hex[KT_FSCRYPT_DESCRIPTOR_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < KT_FSCRYPT_DESCRIPTOR_SIZE; i++) {
		ret_hex[2 * i] = digits[d[i] >> 4];
		ret_hex[2 * i + 1] = digits[d[i] & 0xf];
	}
	ret_hex[KT_FSCRYPT_DESCRIPTOR_HEX] = '\0';
}
