/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * eCryptfs auth tokens against vectors made by the real libecryptfs
 * (ecryptfs-utils 111, Debian's libecryptfs-dev) with
 * tests/unit/vectors/ecryptfs_vectors.c: for each passphrase and salt the
 * signature, the 64-byte key, and a SHA-256 of the whole 740-byte
 * struct ecryptfs_auth_tok that ecryptfs_add_passphrase_key_to_keyring()
 * puts into the keyring; the same for the filename key (fnek) made as
 * ecryptfs-add-passphrase --fnek and ecryptfs_insert_wrapped_passphrase_
 * into_keyring() make it. One token is also kept whole, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "ecryptfs.h"
#include "secret.h"

struct vector {
	const char *passphrase;
	const char *salt;        /* hex */
	const char *sig;
	const char *key;         /* session_key_encryption_key, hex */
	const char *sha256;      /* of the whole auth_tok */
	const char *fnek_sig;
	const char *fnek_key;
	const char *fnek_sha256;
};

/* Output of ecryptfs_vectors, pasted; do not edit by hand. */
static const struct vector vectors[] = {
	{ .passphrase = "3c9b1a0f6e2d4c8b7a69584736251403",
	  .salt = "0011223344556677",
	  .sig = "872f923069ab64da",
	  .key = "ff6a0faa275daf4744550fb54cafff25"
	         "1e73a483f8cd0387f1f5ecd0e18c6701"
	         "a083b80d248ab2263babc0dded89c119"
	         "cb2beb9313be1628f77362cc363e2286",
	  .sha256 = "27b1d4ec72c3f8975038678a8b7f3677"
	            "2bc8fbf7897916004795eb23ef847796",
	  .fnek_sig = "598d5261656af254",
	  .fnek_key = "5a724f869146e97bc51abd188ba8df5d"
	              "9e1802137c32ed76e3e86f75a4c98294"
	              "eb467644ccfc61ac302a2b94f4f8c32d"
	              "90b625b062bf996cf36075822ba51f01",
	  .fnek_sha256 = "0b0d612e7624b6078e66de23ebf0390c"
	                 "b8580f2a23d06cc93dd5e338c70cc26d" },
	{ .passphrase = "keyturn",
	  .salt = "0011223344556677",
	  .sig = "b3dae4ff6af247d2",
	  .key = "a975f7bbc533fff9ce210ed084d9002c"
	         "9bbb3646f703a3e2b9d6d41043fdad9c"
	         "8d374ffc0b32adac09d908d0fb062233"
	         "62e017be4c3922f9e1a8f9edaa22e9aa",
	  .sha256 = "7882d4f25db65b98ebed552cd5915f41"
	            "e95517ea0063ec988010128bc7f7bb91",
	  .fnek_sig = "93db3119037e9e0d",
	  .fnek_key = "72ab84939faf13a931dd2262dd439ae7"
	              "0624197cbfeb5e9ff91e3edef2615650"
	              "1e863540eb69a1159f30609f5254770b"
	              "1857f21dbd0d0b2d721d32a77643ed91",
	  .fnek_sha256 = "a9361e684ddfc7f3b9fa78f92b8859a3"
	                 "cb146c67f37c61c20dfb396c1b26c81d" },
	{ .passphrase = "x",
	  .salt = "0011223344556677",
	  .sig = "1830fcc608085939",
	  .key = "4d873d57ef8ef5d50ccfcd36d9d3246e"
	         "6c54c2d942d4e50832b01402258bf3bb"
	         "8c0aa9d18c6aef176bdf5bb292b833e4"
	         "c8b53f347bd5c97d7df1d47c940333dd",
	  .sha256 = "19f9ad017deb2fe26511c514c5e67bcd"
	            "c619168258c40aa39e37e877afd79a0b",
	  .fnek_sig = "81b3e1680b082301",
	  .fnek_key = "91ad88233f670c9392c4652b0a20b664"
	              "53ba5d8d0cb67b959f30c0e0250f336f"
	              "4491ede03b11f4f08f8ba249f5b3479a"
	              "b9bc663ceb2233c31ede9c13095914b1",
	  .fnek_sha256 = "70d3fc018de73aaa79ec77d5a934ae23"
	                 "4d8af5986cd959da4a5b3e270518a9a5" },
	{ .passphrase = "p\xc3\xa4" "ssw\xc3\xb6" "rd with spaces",
	  .salt = "0011223344556677",
	  .sig = "3990877bcd3beebd",
	  .key = "cfc31f351917c5c809d98ef1b8391ba5"
	         "0264e845f61606d5dd6429d8d8427a90"
	         "249d924aacc38684bb4096491f77b9d3"
	         "75aed6f44921a95387c068640477f75f",
	  .sha256 = "ad4a616bc3aaaa3bfda97e3886c89585"
	            "958ec4dd97ff643679e1e492158dc7e1",
	  .fnek_sig = "2d31d92c42fae437",
	  .fnek_key = "fc0a4207d6fb13dfa2ce91396d45b092"
	              "c9e31129f224cc50fa20c878b011fbd9"
	              "2fd0be9f20afa38df6afb0f7d62e6b3c"
	              "997244868437a1c2dfc7e6eec5c1df3c",
	  .fnek_sha256 = "a44f1b63245113e59c825b8c5f99d4f7"
	                 "872a9ed1eb7054b7d1cca8319083a1ae" },
	{ .passphrase =
		"0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef",
	  .salt = "0011223344556677",
	  .sig = "a4317b46e005c3fd",
	  .key = "9333f45da146db6562e305f926dd3c11"
	         "fb65df2c078d8225157d26ccb0fa56c9"
	         "7ff8fff586bc10171d944e7976b15366"
	         "4f5c14dc3a25390fa456482368a8fa40",
	  .sha256 = "0b5cf97ad21ce998c5506d7f52c5412c"
	            "575cac2b6deab0f36bb55e386dc9852a",
	  .fnek_sig = "c2e1a6f23ed6776f",
	  .fnek_key = "b1de7a749f3e1d00a2497a86dbf2e4b0"
	              "75d774df6a863a2e10e11816613e6358"
	              "751b6471a7cea896712a76ff688c02cc"
	              "aa682d0a8869d7d92d73e79e37b589e8",
	  .fnek_sha256 = "5541dd2577375b90e15897d2a50f69fa"
	                 "56f794c2518acf262a366a02b12ef295" },
	{ .passphrase = "keyturn",
	  .salt = "a1b2c3d4e5f60718",
	  .sig = "8fafab30aea10b30",
	  .key = "da88c1fa192603992a18c54df67b1119"
	         "fd430735f5275d406f209b7d1918e191"
	         "dc13ddf23fa7e9f39d8f1f4b553b6ef6"
	         "2bf29019f00e8b523ae827697666e838",
	  .sha256 = "1bdeefc267de4bf68b1998f071784950"
	            "cdee916f7d5903194ed6b07889c45df1",
	  .fnek_sig = "93db3119037e9e0d",
	  .fnek_key = "72ab84939faf13a931dd2262dd439ae7"
	              "0624197cbfeb5e9ff91e3edef2615650"
	              "1e863540eb69a1159f30609f5254770b"
	              "1857f21dbd0d0b2d721d32a77643ed91",
	  .fnek_sha256 = "a9361e684ddfc7f3b9fa78f92b8859a3"
	                 "cb146c67f37c61c20dfb396c1b26c81d" },
	{ .passphrase = "3c9b1a0f6e2d4c8b7a69584736251403",
	  .salt = "0000000000000000",
	  .sig = "908cf3c3436031f6",
	  .key = "8747d5ade3317dc660e372059741ab28"
	         "778c5d630b37c201a428ebddd457a0f5"
	         "bd4bac298a5bc16d88ca5b38e2c66073"
	         "961584344121086c78a2045918d898d5",
	  .sha256 = "fac2eabed782aaa844d7a67c48b46837"
	            "43fd2600210892efaf63ac2368b01584",
	  .fnek_sig = "598d5261656af254",
	  .fnek_key = "5a724f869146e97bc51abd188ba8df5d"
	              "9e1802137c32ed76e3e86f75a4c98294"
	              "eb467644ccfc61ac302a2b94f4f8c32d"
	              "90b625b062bf996cf36075822ba51f01",
	  .fnek_sha256 = "0b0d612e7624b6078e66de23ebf0390c"
	                 "b8580f2a23d06cc93dd5e338c70cc26d" },
	{ .passphrase = "3c9b1a0f6e2d4c8b7a69584736251403",
	  .salt = "ffeeddccbbaa9988",
	  .sig = "d2146636e94abea7",
	  .key = "3211f816f75984626ac1996cf777bf09"
	         "813675c151510a6884d7b3aa019c0321"
	         "6ff07d5e4e1050b8e1a7aaa0566cb424"
	         "0602b351f220deea7c1bff1cf6dc56e9",
	  .sha256 = "98f91e5c22457262a99f636ef775c720"
	            "ff14253648b77f144f1ad3414463c398",
	  .fnek_sig = "598d5261656af254",
	  .fnek_key = "5a724f869146e97bc51abd188ba8df5d"
	              "9e1802137c32ed76e3e86f75a4c98294"
	              "eb467644ccfc61ac302a2b94f4f8c32d"
	              "90b625b062bf996cf36075822ba51f01",
	  .fnek_sha256 = "0b0d612e7624b6078e66de23ebf0390c"
	                 "b8580f2a23d06cc93dd5e338c70cc26d" },
};

/* ecryptfs_generate_passphrase_auth_tok() for vectors[0], whole. */
static const char auth_tok_0[] =
	"0400000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000a00000000000000"
	"4000000002000000ff6a0faa275daf4744550fb54cafff251e73a483f8cd0387"
	"f1f5ecd0e18c6701a083b80d248ab2263babc0dded89c119cb2beb9313be1628"
	"f77362cc363e2286383732663932333036396162363464610000112233445566"
	"77000000";

/* Offsets in struct ecryptfs_auth_tok (packed; x86_64). */
#define OFF_VERSION 0
#define OFF_TOKEN_TYPE 2
#define OFF_PASSWORD 628
#define OFF_HASH_ALGO (OFF_PASSWORD + 4)
#define OFF_KEY_BYTES (OFF_PASSWORD + 12)
#define OFF_PW_FLAGS (OFF_PASSWORD + 16)
#define OFF_KEY (OFF_PASSWORD + 20)
#define OFF_SIG (OFF_KEY + 64)
#define OFF_SALT (OFF_SIG + 17)

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t got = 0;

	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, &got,
					NULL), 0);
	assert_int_equal(got, len);
}

static struct kt_secret *secret_of(const char *s)
{
	struct kt_secret *p = kt_secret_from(s, strlen(s));

	assert_non_null(p);
	return p;
}

static void check_token(const struct kt_secret *payload, const char *sig,
			const char *want_sig, const char *want_key,
			const char *want_sha256, const uint8_t *salt)
{
	uint8_t key[KT_ECRYPTFS_KEY_SIZE];
	uint8_t sha[crypto_hash_sha256_BYTES], want_sha[sizeof(sha)];

	assert_string_equal(sig, want_sig);
	assert_int_equal(payload->len, KT_ECRYPTFS_AUTH_TOK_SIZE);
	unhex(want_key, key, sizeof(key));
	assert_memory_equal(payload->data + OFF_KEY, key, sizeof(key));
	assert_memory_equal(payload->data + OFF_SIG, want_sig, 17);
	assert_memory_equal(payload->data + OFF_SALT, salt, 8);
	crypto_hash_sha256(sha, payload->data, payload->len);
	unhex(want_sha256, want_sha, sizeof(want_sha));
	assert_memory_equal(sha, want_sha, sizeof(sha));
}

static void test_vectors(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
		const struct vector *v = &vectors[i];
		_cleanup_secret_ struct kt_secret *pw =
			secret_of(v->passphrase);
		_cleanup_secret_ struct kt_secret *tok = NULL, *fnek = NULL;
		char sig[KT_ECRYPTFS_SIG_HEX + 1], sig_only[sizeof(sig)];
		uint8_t salt[KT_ECRYPTFS_SALT_SIZE];

		unhex(v->salt, salt, sizeof(salt));
		assert_int_equal(kt_ecryptfs_auth_tok(pw, salt, &tok, sig), 0);
		check_token(tok, sig, v->sig, v->key, v->sha256, salt);

		assert_int_equal(kt_ecryptfs_sig(pw, salt, sig_only), 0);
		assert_string_equal(sig_only, v->sig);

		assert_int_equal(kt_ecryptfs_fnek_auth_tok(pw, &fnek, sig), 0);
		check_token(fnek, sig, v->fnek_sig, v->fnek_key,
			    v->fnek_sha256, (const uint8_t *)"99887766");
	}
}

/* The whole token as libecryptfs makes it, every byte. */
static void test_whole_token(void **state)
{
	_cleanup_secret_ struct kt_secret *pw =
		secret_of(vectors[0].passphrase);
	_cleanup_secret_ struct kt_secret *tok = NULL;
	uint8_t want[KT_ECRYPTFS_AUTH_TOK_SIZE];
	char sig[KT_ECRYPTFS_SIG_HEX + 1];

	unhex(auth_tok_0, want, sizeof(want));
	assert_int_equal(kt_ecryptfs_auth_tok(pw, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), 0);
	assert_int_equal(tok->len, sizeof(want));
	assert_memory_equal(tok->data, want, sizeof(want));
}

/* The fields the kernel checks, read from the payload as it reads them. */
static void test_layout(void **state)
{
	_cleanup_secret_ struct kt_secret *pw = secret_of("keyturn");
	_cleanup_secret_ struct kt_secret *tok = NULL;
	char sig[KT_ECRYPTFS_SIG_HEX + 1];
	uint16_t u16;
	uint32_t u32;
	size_t nonzero = 0;

	assert_int_equal(kt_ecryptfs_auth_tok(pw, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), 0);
	memcpy(&u16, tok->data + OFF_VERSION, 2);
	assert_int_equal(u16, 0x0004);
	memcpy(&u16, tok->data + OFF_TOKEN_TYPE, 2);
	assert_int_equal(u16, 0);             /* ECRYPTFS_PASSWORD */
	memcpy(&u32, tok->data + OFF_HASH_ALGO, 4);
	assert_int_equal(u32, 10);            /* PGP_DIGEST_ALGO_SHA512 */
	memcpy(&u32, tok->data + OFF_KEY_BYTES, 4);
	assert_int_equal(u32, 64);
	memcpy(&u32, tok->data + OFF_PW_FLAGS, 4);
	assert_int_equal(u32, 0x02);  /* SESSION_KEY_ENCRYPTION_KEY_SET */
	assert_int_equal(tok->data[OFF_SIG + 16], 0);
	/* Everything before the password token is zero but the version. */
	for (size_t i = 4; i < OFF_PASSWORD; i++)
		nonzero += tok->data[i] != 0;
	assert_int_equal(nonzero, 0);
	/* The tail padding after the salt too. */
	for (size_t i = OFF_SALT + 8; i < KT_ECRYPTFS_AUTH_TOK_SIZE; i++)
		assert_int_equal(tok->data[i], 0);
}

static void test_salts(void **state)
{
	static const uint8_t def[] = { 0x00, 0x11, 0x22, 0x33,
				       0x44, 0x55, 0x66, 0x77 };

	assert_memory_equal(KT_ECRYPTFS_SALT_DEFAULT, def, sizeof(def));
	assert_memory_equal(KT_ECRYPTFS_SALT_FNEK, "99887766", 8);
}

static void test_refused(void **state)
{
	_cleanup_secret_ struct kt_secret *empty = kt_secret_new(0);
	_cleanup_secret_ struct kt_secret *nul = kt_secret_from("ab\0cd", 5);
	_cleanup_secret_ struct kt_secret *big = kt_secret_new(65);
	_cleanup_secret_ struct kt_secret *max = kt_secret_new(64);
	struct kt_secret *tok = (struct kt_secret *)&tok;
	struct kt_secret *const untouched = tok;
	char sig[KT_ECRYPTFS_SIG_HEX + 1] = "untouched";

	assert_non_null(empty);
	assert_non_null(nul);
	assert_non_null(big);
	assert_non_null(max);
	memset(big->data, 'a', big->len);
	memset(max->data, 'a', max->len);

	assert_int_equal(kt_ecryptfs_auth_tok(empty, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), -EINVAL);
	assert_int_equal(kt_ecryptfs_auth_tok(nul, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), -EINVAL);
	assert_int_equal(kt_ecryptfs_auth_tok(big, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), -EINVAL);
	assert_int_equal(kt_ecryptfs_fnek_auth_tok(big, &tok, sig), -EINVAL);
	assert_int_equal(kt_ecryptfs_sig(nul, KT_ECRYPTFS_SALT_DEFAULT, sig),
			 -EINVAL);
	assert_int_equal(kt_ecryptfs_auth_tok(NULL, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), -EINVAL);
	assert_ptr_equal(tok, untouched);
	assert_string_equal(sig, "untouched");

	/* 64 bytes is the most libecryptfs takes, and it is taken. */
	assert_int_equal(kt_ecryptfs_auth_tok(max, KT_ECRYPTFS_SALT_DEFAULT,
					      &tok, sig), 0);
	assert_int_equal(strlen(sig), KT_ECRYPTFS_SIG_HEX);
	tok = kt_secret_free(tok);
}

/* As mount.ecryptfs_private builds them (ecryptfs-utils 111). */
static void test_mount_data(void **state)
{
	char *data = NULL;

	assert_int_equal(kt_ecryptfs_mount_data("872f923069ab64da",
						"598d5261656af254", true,
						&data), 0);
	assert_string_equal(data, "ecryptfs_check_dev_ruid,"
			    "ecryptfs_cipher=aes,ecryptfs_key_bytes=16,"
			    "ecryptfs_unlink_sigs,"
			    "ecryptfs_sig=872f923069ab64da,"
			    "ecryptfs_fnek_sig=598d5261656af254");
	free(data);
	data = NULL;
	assert_int_equal(kt_ecryptfs_mount_data("872f923069ab64da", NULL,
						false, &data), 0);
	assert_string_equal(data, "ecryptfs_cipher=aes,ecryptfs_key_bytes=16,"
			    "ecryptfs_unlink_sigs,"
			    "ecryptfs_sig=872f923069ab64da");
	free(data);
	data = NULL;

	/* Signatures are spliced into mount options: nothing else passes. */
	assert_int_equal(kt_ecryptfs_mount_data("872f923069ab64d", NULL,
						false, &data), -EINVAL);
	assert_int_equal(kt_ecryptfs_mount_data("872F923069AB64DA", NULL,
						false, &data), -EINVAL);
	assert_int_equal(kt_ecryptfs_mount_data("872f923069ab64da",
						"598d5261,nodev,x", false,
						&data), -EINVAL);
	assert_int_equal(kt_ecryptfs_mount_data(NULL, NULL, false, &data),
			 -EINVAL);
	assert_null(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_whole_token),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_salts),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_mount_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
