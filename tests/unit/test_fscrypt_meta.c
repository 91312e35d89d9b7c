/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reader and unwrap of fscrypt's metadata against files made by the
 * real fscrypt tool (0.3.3, Debian 12) on ext4 with the host's kernel:
 * tests/unit/vectors/fscrypt/make-vectors.sh. The expected keys were
 * computed again apart from keyturn's code (Python's hashlib and hmac for
 * HKDF and HMAC, `openssl enc -aes-256-ctr` for the key), starting from
 * the Argon2id output, which fscrypt's own HMAC in the file confirms; the
 * policy key's identifier is the name fscrypt gave the policy, which is
 * the identifier the kernel computed when fscrypt added the key.
 * Then hostile inputs: every truncation, bad varints, wrong wire types,
 * unknown and repeated fields, bad lengths, costs past the bounds, a wrong
 * HMAC, a wrong identifier.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fscrypt.h"
#include "fscrypt_meta.h"
#include "secret.h"
#include "wrapped.h"

#define VECTORS KT_BUILDDIR "/tests/unit/vectors/fscrypt/"

/* alice's login password in make-vectors.sh */
#define LOGIN_PASSPHRASE "correct horse"
#define LOGIN_DESCRIPTOR "3fd3fdb4a1b23ff6"
#define LOGIN_UID 1500
#define LOGIN_SALT "00005d843cfd65e1772468b8197c6a0e"
#define LOGIN_IDENTIFIER "af79140a6a908727920dbb50cfcccd3d"
/* Argon2id(LOGIN_PASSPHRASE, LOGIN_SALT, t=2, m=8192 KiB, p=1) */
#define LOGIN_WRAPPING_KEY                                                   \
	"b0a1a6c2982941864ce282cd6d36efd8ba1fab1bd6f7825ab21b51a5586d9925"
#define LOGIN_POLICY_KEY                                                     \
	"4a2a8a81f3ca97dd1e636be257b365153d881d74b39a436ec945c765b6f21868"   \
	"67e4afd6ed59114cbeaa25381a9040e15fc41be3c5ee5b5bc35a43d6d6e9f90b"

struct file {
	uint8_t data[KT_FSCRYPT_META_MAX + 64];
	size_t len;
};

static void load(const char *name, struct file *f)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s%s", VECTORS, name);
	fp = fopen(path, "rbe");
	assert_non_null(fp);
	f->len = fread(f->data, 1, sizeof(f->data), fp);
	assert_true(f->len > 0 && f->len < sizeof(f->data));
	fclose(fp);
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &n,
					NULL),
			 0);
	assert_int_equal(n, len);
}

static void assert_hex(const uint8_t *b, size_t len, const char *hex)
{
	char s[2 * KT_FSCRYPT_KEY_SIZE + 1];

	assert_true(len <= KT_FSCRYPT_KEY_SIZE);
	sodium_bin2hex(s, sizeof(s), b, len);
	assert_string_equal(s, hex);
}

static struct kt_secret *passphrase(const char *s)
{
	struct kt_secret *p = kt_secret_from(s, strlen(s));

	assert_non_null(p);
	return p;
}

static void test_login_protector(void **state)
{
	struct file f;
	struct kt_fscrypt_protector p;
	const char *why = NULL;
	char hex[KT_FSCRYPT_DESCRIPTOR_HEX + 1];
	uint8_t salt[KT_FSCRYPT_SALT_SIZE];

	load("login-protector", &f);
	assert_int_equal(kt_fscrypt_protector_parse(f.data, f.len, &p, &why),
			 0);
	kt_fscrypt_descriptor_hex(p.descriptor, hex);
	assert_string_equal(hex, LOGIN_DESCRIPTOR);
	assert_int_equal(p.time_cost, 2);
	assert_int_equal(p.memory_kib, 8192);
	assert_int_equal(p.parallelism, 1);
	assert_int_equal(p.uid, LOGIN_UID);
	unhex(LOGIN_SALT, salt, sizeof(salt));
	assert_memory_equal(p.salt, salt, sizeof(salt));
	assert_int_equal(p.wrapped.encrypted_len, 32);
}

static void test_login_policy(void **state)
{
	struct file f;
	struct kt_fscrypt_policy_data q;
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];
	char d[KT_FSCRYPT_DESCRIPTOR_HEX + 1];

	load("login-policy", &f);
	assert_int_equal(kt_fscrypt_policy_parse(f.data, f.len, &q, NULL), 0);
	kt_fscrypt_identifier_hex(q.identifier, hex);
	assert_string_equal(hex, LOGIN_IDENTIFIER);
	assert_int_equal(q.contents_mode, 1);   /* AES-256-XTS */
	assert_int_equal(q.filenames_mode, 4);  /* AES-256-CTS */
	assert_int_equal(q.padding, 32);
	assert_int_equal(q.n_slots, 1);
	kt_fscrypt_descriptor_hex(q.slots[0].protector, d);
	assert_string_equal(d, LOGIN_DESCRIPTOR);
	assert_int_equal(q.slots[0].wrapped.encrypted_len, 64);
}

static void test_import(void **state)
{
	struct file pf, qf;
	struct kt_fscrypt_protector p;
	struct kt_fscrypt_policy_data q;
	_cleanup_secret_ struct kt_secret *pass = passphrase(LOGIN_PASSPHRASE);
	_cleanup_secret_ struct kt_secret *key = NULL;
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	const char *why = NULL;

	load("login-protector", &pf);
	load("login-policy", &qf);
	assert_int_equal(kt_fscrypt_protector_parse(pf.data, pf.len, &p, NULL),
			 0);
	assert_int_equal(kt_fscrypt_policy_parse(qf.data, qf.len, &q, NULL),
			 0);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, pass, &key, &why), 0);
	assert_non_null(key);
	assert_int_equal(key->len, KT_FSCRYPT_KEY_SIZE);
	assert_hex(key->data, key->len, LOGIN_POLICY_KEY);
	assert_int_equal(kt_fscrypt_key_identifier(key, id), 0);
	assert_memory_equal(id, q.identifier, sizeof(id));
}

/* The two unwraps alone, from the Argon2id output on. */
static void test_unwrap(void **state)
{
	struct file pf, qf;
	struct kt_fscrypt_protector p;
	struct kt_fscrypt_policy_data q;
	_cleanup_secret_ struct kt_secret *wk = NULL, *pk = NULL, *key = NULL;
	struct kt_fscrypt_wrapped_key bad;

	load("login-protector", &pf);
	load("login-policy", &qf);
	assert_int_equal(kt_fscrypt_protector_parse(pf.data, pf.len, &p, NULL),
			 0);
	assert_int_equal(kt_fscrypt_policy_parse(qf.data, qf.len, &q, NULL),
			 0);
	wk = kt_secret_new(32);
	assert_non_null(wk);
	unhex(LOGIN_WRAPPING_KEY, wk->data, 32);
	assert_int_equal(kt_fscrypt_unwrap(wk, &p.wrapped, &pk), 0);
	assert_int_equal(pk->len, 32);
	assert_int_equal(kt_fscrypt_unwrap(pk, &q.slots[0].wrapped, &key), 0);
	assert_hex(key->data, key->len, LOGIN_POLICY_KEY);

	/* One bit anywhere in IV, ciphertext or HMAC: refused, nothing out. */
	for (size_t i = 0; i < 16 + 64 + 32; i++) {
		struct kt_secret *out = NULL;

		bad = q.slots[0].wrapped;
		if (i < 16)
			bad.iv[i] ^= 1;
		else if (i < 80)
			bad.encrypted[i - 16] ^= 0x80;
		else
			bad.hmac[i - 80] ^= 0x10;
		assert_int_equal(kt_fscrypt_unwrap(pk, &bad, &out), -EACCES);
		assert_null(out);
	}
	/* The wrong wrapping key. */
	wk->data[0] ^= 1;
	{
		struct kt_secret *out = NULL;

		assert_int_equal(kt_fscrypt_unwrap(wk, &p.wrapped, &out),
				 -EACCES);
		assert_null(out);
	}
}

static void test_wrong_passphrase(void **state)
{
	struct file pf, qf;
	struct kt_fscrypt_protector p;
	struct kt_fscrypt_policy_data q;
	_cleanup_secret_ struct kt_secret *pass = passphrase("correct horsE");
	struct kt_secret *key = NULL;
	const char *why = NULL;

	load("login-protector", &pf);
	load("login-policy", &qf);
	assert_int_equal(kt_fscrypt_protector_parse(pf.data, pf.len, &p, NULL),
			 0);
	assert_int_equal(kt_fscrypt_policy_parse(qf.data, qf.len, &q, NULL),
			 0);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, pass, &key, &why),
			 -EACCES);
	assert_null(key);
	assert_non_null(strstr(why, "passphrase"));
}

/* The policy file altered after the fact: the wrapped policy key's HMAC
 * (the file's last byte), or one digit of the identifier. */
static void test_tampered_policy(void **state)
{
	struct file pf, qf;
	struct kt_fscrypt_protector p;
	struct kt_fscrypt_policy_data q;
	_cleanup_secret_ struct kt_secret *pass = passphrase(LOGIN_PASSPHRASE);
	struct kt_secret *key = NULL;
	const char *why = NULL;

	load("login-protector", &pf);
	load("login-policy", &qf);
	assert_int_equal(kt_fscrypt_protector_parse(pf.data, pf.len, &p, NULL),
			 0);
	qf.data[qf.len - 1] ^= 1;
	assert_int_equal(kt_fscrypt_policy_parse(qf.data, qf.len, &q, NULL),
			 0);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, pass, &key, &why),
			 -EBADMSG);
	assert_null(key);
	assert_non_null(strstr(why, "HMAC"));

	load("login-policy", &qf);
	/* "0a 20" then the 32 hex digits: make the first 'a' a 'b'. */
	assert_int_equal(qf.data[2], 'a');
	qf.data[2] = 'b';
	assert_int_equal(kt_fscrypt_policy_parse(qf.data, qf.len, &q, NULL),
			 0);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, pass, &key, &why),
			 -EBADMSG);
	assert_null(key);
	assert_non_null(strstr(why, "identifier"));

	/* A policy that another protector wraps. */
	load("custom-policy", &qf);
	assert_int_equal(kt_fscrypt_policy_parse(qf.data, qf.len, &q, NULL),
			 0);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, pass, &key, &why),
			 -ENOENT);
	assert_null(key);
}

/* What keyturn cannot honour, from the real tool. */
static void test_refused_real(void **state)
{
	struct file f;
	struct kt_fscrypt_protector p;
	struct kt_fscrypt_policy_data q;
	const char *why = NULL;

	load("custom-protector", &f);
	assert_int_equal(kt_fscrypt_protector_parse(f.data, f.len, &p, &why),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(why, "pam_passphrase"));

	load("v1-policy", &f);
	why = NULL;
	assert_int_equal(kt_fscrypt_policy_parse(f.data, f.len, &q, &why),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(why, "v1"));

	/* bob's login protector itself is fine; only his policy is v1. */
	load("v1-login-protector", &f);
	assert_int_equal(kt_fscrypt_protector_parse(f.data, f.len, &p, NULL),
			 0);
	assert_int_equal(p.uid, 1501);
}

static void test_link(void **state)
{
	static const struct {
		const char *text;
		int r;
	} links[] = {
		{ "PATH=/\n", 0 },
		{ "UUID=1b9bd3a1-4c43-4b44-a1bd-4b3f2a8c6b1e\nPATH=/\n", 0 },
		{ "PATH=/home\n", -EPROTONOSUPPORT },
		{ "UUID=1b9bd3a1-4c43-4b44-a1bd-4b3f2a8c6b1e\n",
		  -EPROTONOSUPPORT },
		{ "PATH=/", -EBADMSG },
		{ "PATH=/\nFOO=bar\n", -EBADMSG },
		{ "\n", -EBADMSG },
		{ "", -EBADMSG },
	};
	struct file f;
	const char *why;

	load("login-protector.link", &f);
	assert_int_equal(kt_fscrypt_link_parse(f.data, f.len, NULL), 0);
	for (size_t i = 0; i < ELEMENTSOF(links); i++) {
		why = NULL;
		assert_int_equal(kt_fscrypt_link_parse(links[i].text,
						       strlen(links[i].text),
						       &why),
				 links[i].r);
		if (links[i].r)
			assert_non_null(why);
	}
}

/* Every prefix of a good file is refused (or, for a policy, loses its
 * wrapped key), never read past its end (the ASan build checks that). */
static void test_truncated(void **state)
{
	static const char *const names[] = { "login-protector", "login-policy",
					     "v1-login-protector" };
	struct file f;

	for (size_t n = 0; n < ELEMENTSOF(names); n++) {
		load(names[n], &f);
		for (size_t len = 0; len < f.len; len++) {
			uint8_t *copy = malloc(len ? len : 1);
			struct kt_fscrypt_protector p;
			struct kt_fscrypt_policy_data q;

			assert_non_null(copy);
			memcpy(copy, f.data, len);
			/* A policy cut right after its options is a
			 * policy that no protector opens: well-formed,
			 * and of no use to an import. */
			if (n == 1) {
				if (kt_fscrypt_policy_parse(copy, len, &q,
							    NULL) == 0)
					assert_int_equal(q.n_slots, 0);
			} else {
				assert_true(kt_fscrypt_protector_parse(
						    copy, len, &p, NULL) < 0);
			}
			free(copy);
		}
	}
}

/* A tiny protobuf writer for synthetic inputs. */
struct pbw {
	uint8_t b[KT_FSCRYPT_META_MAX + 64];
	size_t n;
};

static void w_raw(struct pbw *w, const void *p, size_t len)
{
	assert_true(w->n + len <= sizeof(w->b));
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void w_varint(struct pbw *w, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		if (v)
			c |= 0x80;
		w_raw(w, &c, 1);
	} while (v);
}

static void w_uint(struct pbw *w, unsigned field, uint64_t v)
{
	w_varint(w, field << 3 | 0);
	w_varint(w, v);
}

static void w_bytes(struct pbw *w, unsigned field, const void *p, size_t len)
{
	w_varint(w, field << 3 | 2);
	w_varint(w, len);
	w_raw(w, p, len);
}

static void w_msg(struct pbw *w, unsigned field, const struct pbw *m)
{
	w_bytes(w, field, m->b, m->n);
}

static void wrapped_msg(struct pbw *w, size_t key_len)
{
	uint8_t zero[64] = { 0 };

	w->n = 0;
	w_bytes(w, 1, zero, 16);
	w_bytes(w, 2, zero, key_len);
	w_bytes(w, 3, zero, 32);
}

/* A login protector with these costs and uid (none if NO_UID). */
#define NO_UID 0xdeadbeefULL
static void protector_msg_uid(struct pbw *w, uint64_t t, uint64_t m,
			      uint64_t p, uint64_t uid)
{
	struct pbw costs = { .n = 0 }, wrapped;
	uint8_t salt[16] = { 0 };

	w->n = 0;
	w_bytes(w, 1, LOGIN_DESCRIPTOR, 16);
	w_uint(w, 2, 1);
	w_uint(&costs, 2, t);
	w_uint(&costs, 3, m);
	w_uint(&costs, 4, p);
	w_msg(w, 4, &costs);
	w_bytes(w, 5, salt, sizeof(salt));
	if (uid != NO_UID)
		w_uint(w, 6, uid);
	wrapped_msg(&wrapped, 32);
	w_msg(w, 7, &wrapped);
}

static void protector_msg(struct pbw *w, uint64_t t, uint64_t m, uint64_t p)
{
	protector_msg_uid(w, t, m, p, 1000);
}

static int parse_protector(const struct pbw *w, const char **why)
{
	struct kt_fscrypt_protector p;

	return kt_fscrypt_protector_parse(w->b, w->n, &p, why);
}

static void test_synthetic_protector(void **state)
{
	struct pbw w;
	const char *why;

	protector_msg(&w, 2, 8192, 1);
	assert_int_equal(parse_protector(&w, NULL), 0);

	/* Costs past keyturn's bounds, or no costs at all. */
	static const uint64_t costs[][3] = {
		{ 0, 8192, 1 },
		{ KT_FSCRYPT_TIME_MAX + 1, 8192, 1 },
		{ UINT64_MAX, 8192, 1 },                /* time -1 */
		{ 2, KT_FSCRYPT_MEMORY_KIB_MAX + 1, 1 },
		{ 2, 7, 1 },
		{ 2, 8192, 0 },
		{ 2, 8192, 256 },                       /* fscrypt truncates */
		{ 2, 8192, KT_FSCRYPT_PARALLELISM_MAX + 1 },
		{ 2, 15, 2 },                           /* m < 8 p */
	};
	for (size_t i = 0; i < ELEMENTSOF(costs); i++) {
		protector_msg(&w, costs[i][0], costs[i][1], costs[i][2]);
		why = NULL;
		assert_int_equal(parse_protector(&w, &why), -EPROTONOSUPPORT);
		assert_non_null(strstr(why, "bounds"));
	}

	/* An unknown field at the end. */
	protector_msg(&w, 2, 8192, 1);
	w_uint(&w, 8, 1);
	why = NULL;
	assert_int_equal(parse_protector(&w, &why), -EBADMSG);
	assert_non_null(why);

	/* A field twice: the source, then the salt. */
	protector_msg(&w, 2, 8192, 1);
	w_uint(&w, 2, 1);
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);
	protector_msg(&w, 2, 8192, 1);
	w_bytes(&w, 5, "0123456789abcdef", 16);
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);

	/* Known fields with the wrong wire type. */
	protector_msg(&w, 2, 8192, 1);
	w.n = 0;
	w_uint(&w, 1, 5);  /* descriptor as a varint */
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);

	/* Wire types keyturn never reads: fixed64, group, fixed32. */
	static const uint8_t wires[][10] = {
		{ 0x11, 1, 2, 3, 4, 5, 6, 7, 8 },  /* field 2, fixed64 */
		{ 0x13, 0x14 },                     /* field 2, group */
		{ 0x15, 1, 0, 0, 0 },               /* field 2, fixed32 */
		{ 0x17 },                           /* wire type 7 */
		{ 0x00, 0x00 },                     /* field 0 */
	};
	for (size_t i = 0; i < ELEMENTSOF(wires); i++) {
		protector_msg(&w, 2, 8192, 1);
		w_raw(&w, wires[i], sizeof(wires[i]));
		assert_int_equal(parse_protector(&w, NULL), -EBADMSG);
	}

	/* Varints: 11 bytes, a tenth byte past bit 63, a longer encoding
	 * than needed, one cut off. */
	static const uint8_t varints[][12] = {
		{ 0x30, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		  0x80, 0x01 },
		{ 0x30, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		  0x02 },
		{ 0x30, 0x81, 0x00 },
		{ 0x30, 0x81 },
	};
	static const size_t varint_len[] = { 12, 11, 3, 2 };
	for (size_t i = 0; i < ELEMENTSOF(varints); i++) {
		struct pbw v = { .n = 0 };

		/* The uid (field 6) first, then a whole protector behind
		 * it but for the uid: each varint alone decides. */
		protector_msg_uid(&w, 2, 8192, 1, NO_UID);
		assert_int_equal(parse_protector(&w, NULL), 0);
		w_raw(&v, varints[i], varint_len[i]);
		w_raw(&v, w.b, w.n);
		assert_int_equal(parse_protector(&v, NULL), -EBADMSG);
	}

	/* A length past the end of the message. */
	w.n = 0;
	w_varint(&w, 1 << 3 | 2);
	w_varint(&w, 17);
	w_raw(&w, LOGIN_DESCRIPTOR, 16);
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);
	/* A huge length. */
	w.n = 0;
	w_varint(&w, 1 << 3 | 2);
	w_varint(&w, UINT64_MAX);
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);

	/* Descriptor in upper case, or one digit short. */
	protector_msg(&w, 2, 8192, 1);
	w.b[2] = 'F';
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);

	/* A uid of -1 (int64 as a 10-byte varint), and root's (0). */
	protector_msg_uid(&w, 2, 8192, 1, UINT64_MAX);
	assert_int_equal(parse_protector(&w, NULL), -EBADMSG);
	protector_msg_uid(&w, 2, 8192, 1, 0);
	assert_int_equal(parse_protector(&w, NULL), 0);

	/* Other sources. */
	for (uint8_t source = 0; source < 5; source++) {
		if (source == 1)
			continue;
		protector_msg(&w, 2, 8192, 1);
		/* source is the 2nd field, at bytes 18-19: rewrite it. */
		assert_int_equal(w.b[18], 0x10);
		w.b[19] = source;
		why = NULL;
		assert_int_equal(parse_protector(&w, &why), -EPROTONOSUPPORT);
		assert_non_null(strstr(why, "login protector"));
	}

	/* Too large to be a protector. */
	memset(w.b, 0, sizeof(w.b));
	w.n = KT_FSCRYPT_META_MAX + 1;
	assert_int_equal(parse_protector(&w, NULL), -E2BIG);
}

static void policy_msg(struct pbw *w, const char *id, uint64_t padding,
		       uint64_t contents, uint64_t filenames, uint64_t version,
		       size_t slots)
{
	struct pbw opts = { .n = 0 }, slot, wrapped;

	w->n = 0;
	w_bytes(w, 1, id, strlen(id));
	w_uint(&opts, 1, padding);
	w_uint(&opts, 2, contents);
	w_uint(&opts, 3, filenames);
	if (version)
		w_uint(&opts, 4, version);
	w_msg(w, 2, &opts);
	wrapped_msg(&wrapped, 64);
	for (size_t i = 0; i < slots; i++) {
		slot.n = 0;
		w_bytes(&slot, 1, LOGIN_DESCRIPTOR, 16);
		w_msg(&slot, 2, &wrapped);
		w_msg(w, 3, &slot);
	}
}

static int parse_policy(const struct pbw *w, const char **why)
{
	struct kt_fscrypt_policy_data q;

	return kt_fscrypt_policy_parse(w->b, w->n, &q, why);
}

static void test_synthetic_policy(void **state)
{
	struct pbw w, wrapped;
	const char *why;

	policy_msg(&w, LOGIN_IDENTIFIER, 32, 1, 4, 2, 1);
	assert_int_equal(parse_policy(&w, NULL), 0);
	policy_msg(&w, LOGIN_IDENTIFIER, 16, 9, 9, 2, 0);
	assert_int_equal(parse_policy(&w, NULL), 0);
	policy_msg(&w, LOGIN_IDENTIFIER, 4, 1, 10, 2, KT_FSCRYPT_MAX_SLOTS);
	assert_int_equal(parse_policy(&w, NULL), 0);

	/* More slots than keyturn reads. */
	policy_msg(&w, LOGIN_IDENTIFIER, 32, 1, 4, 2,
		   KT_FSCRYPT_MAX_SLOTS + 1);
	assert_int_equal(parse_policy(&w, NULL), -EPROTONOSUPPORT);

	/* v1: no version field (proto3 leaves out 0, fscrypt reads 1). */
	policy_msg(&w, "0123456789abcdef", 32, 1, 4, 0, 1);
	why = NULL;
	assert_int_equal(parse_policy(&w, &why), -EPROTONOSUPPORT);
	assert_non_null(strstr(why, "v1"));
	policy_msg(&w, LOGIN_IDENTIFIER, 32, 1, 4, 3, 1);
	assert_int_equal(parse_policy(&w, NULL), -EPROTONOSUPPORT);
	/* v2 with a v1-sized descriptor. */
	policy_msg(&w, "0123456789abcdef", 32, 1, 4, 2, 1);
	assert_int_equal(parse_policy(&w, NULL), -EBADMSG);

	/* Unknown options. */
	static const uint64_t opts[][3] = {
		{ 0, 1, 4 }, { 64, 1, 4 }, { 32, 0, 4 }, { 32, 1, 0 },
		{ 32, 2, 4 }, { 32, 4, 1 }, { 32, 1, 6 }, { 32, 99, 99 },
	};
	for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
		policy_msg(&w, LOGIN_IDENTIFIER, opts[i][0], opts[i][1],
			   opts[i][2], 2, 1);
		why = NULL;
		assert_int_equal(parse_policy(&w, &why), -EPROTONOSUPPORT);
		assert_non_null(why);
	}

	/* A slot whose wrapped key is 32 bytes, or lacks its HMAC. */
	policy_msg(&w, LOGIN_IDENTIFIER, 32, 1, 4, 2, 0);
	{
		struct pbw slot = { .n = 0 };

		wrapped_msg(&wrapped, 32);
		w_bytes(&slot, 1, LOGIN_DESCRIPTOR, 16);
		w_msg(&slot, 2, &wrapped);
		w_msg(&w, 3, &slot);
		assert_int_equal(parse_policy(&w, NULL), -EBADMSG);
	}
	policy_msg(&w, LOGIN_IDENTIFIER, 32, 1, 4, 2, 0);
	{
		struct pbw slot = { .n = 0 };
		uint8_t zero[64] = { 0 };

		wrapped.n = 0;
		w_bytes(&wrapped, 1, zero, 16);
		w_bytes(&wrapped, 2, zero, 64);
		w_bytes(&slot, 1, LOGIN_DESCRIPTOR, 16);
		w_msg(&slot, 2, &wrapped);
		w_msg(&w, 3, &slot);
		assert_int_equal(parse_policy(&w, NULL), -EBADMSG);
	}

	/* Options twice; an option twice inside. */
	policy_msg(&w, LOGIN_IDENTIFIER, 32, 1, 4, 2, 1);
	{
		struct pbw opts2 = { .n = 0 };

		w_uint(&opts2, 1, 32);
		w_msg(&w, 2, &opts2);
		assert_int_equal(parse_policy(&w, NULL), -EBADMSG);
		w.n = 0;
		w_bytes(&w, 1, LOGIN_IDENTIFIER, 32);
		opts2.n = 0;
		w_uint(&opts2, 1, 32);
		w_uint(&opts2, 2, 1);
		w_uint(&opts2, 3, 4);
		w_uint(&opts2, 4, 2);
		w_uint(&opts2, 4, 2);
		w_msg(&w, 2, &opts2);
		assert_int_equal(parse_policy(&w, NULL), -EBADMSG);
	}

	/* No options at all; nothing at all. */
	w.n = 0;
	w_bytes(&w, 1, LOGIN_IDENTIFIER, 32);
	assert_int_equal(parse_policy(&w, NULL), -EBADMSG);
	w.n = 0;
	assert_int_equal(parse_policy(&w, NULL), -EBADMSG);
}

/* The kernel's identifier, checked against the policy fscrypt named. */
static void test_identifier(void **state)
{
	_cleanup_secret_ struct kt_secret *key = kt_secret_new(64);
	uint8_t id[KT_FSCRYPT_IDENTIFIER_SIZE];
	char hex[KT_FSCRYPT_IDENTIFIER_HEX + 1];

	assert_non_null(key);
	unhex(LOGIN_POLICY_KEY, key->data, 64);
	assert_int_equal(kt_fscrypt_key_identifier(key, id), 0);
	kt_fscrypt_identifier_hex(id, hex);
	assert_string_equal(hex, LOGIN_IDENTIFIER);

	key->len = 32;
	assert_int_equal(kt_fscrypt_key_identifier(key, id), -EINVAL);
	key->len = 64;
}

/* keyturn's wrapped-file format (lib/wrapped.c) is what an fscrypt
 * directory's key will be kept in: it holds the raw 64 bytes, NULs and
 * all, and gives them back whole. */
static void test_wrapped_holds_key(void **state)
{
	static const struct kt_wrapped_params fast = { 1, 1024, 1 };
	_cleanup_secret_ struct kt_secret *key = kt_secret_new(64),
					  *login = passphrase(LOGIN_PASSPHRASE),
					  *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_non_null(key);
	unhex(LOGIN_POLICY_KEY, key->data, 64);
	key->data[5] = 0;
	key->data[63] = 0;
	assert_int_equal(kt_wrapped_seal(login, key, &fast, &buf, &len), 0);
	assert_int_equal(kt_wrapped_open(buf, len, login, &back), 0);
	assert_int_equal(back->len, 64);
	assert_memory_equal(back->data, key->data, 64);
	free(buf);
}

static void test_args(void **state)
{
	struct kt_fscrypt_protector p;
	struct kt_fscrypt_policy_data q;
	struct kt_secret *key = NULL;
	_cleanup_secret_ struct kt_secret *long_pass =
		kt_secret_new(KT_PASSPHRASE_MAX + 1);

	memset(&p, 0, sizeof(p));
	memset(&q, 0, sizeof(q));
	assert_int_equal(kt_fscrypt_protector_parse(NULL, 1, &p, NULL),
			 -EINVAL);
	assert_int_equal(kt_fscrypt_policy_parse(NULL, 1, &q, NULL), -EINVAL);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, NULL, &key, NULL),
			 -EINVAL);
	assert_int_equal(kt_fscrypt_import_key(&p, &q, long_pass, &key, NULL),
			 -EINVAL);
	assert_null(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_protector),
		cmocka_unit_test(test_login_policy),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_unwrap),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_tampered_policy),
		cmocka_unit_test(test_refused_real),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_synthetic_protector),
		cmocka_unit_test(test_synthetic_policy),
		cmocka_unit_test(test_identifier),
		cmocka_unit_test(test_wrapped_holds_key),
		cmocka_unit_test(test_args),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
