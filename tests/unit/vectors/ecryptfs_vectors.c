/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prints the eCryptfs auth-token vectors that tests/unit/test_ecryptfs.c
 * holds, computed by the real libecryptfs (Debian's libecryptfs-dev), so
 * that keyturn's own derivation is checked against ecryptfs-utils and not
 * against itself. See README in this directory for how to build and run.
 *
 * For each passphrase and salt it calls ecryptfs_generate_passphrase_auth_tok()
 * (what ecryptfs_add_passphrase_key_to_keyring() puts into the keyring)
 * and prints the signature, the session-key encryption key and a SHA-256
 * of the whole struct ecryptfs_auth_tok. The filename key is made as
 * ecryptfs_insert_wrapped_passphrase_into_keyring() and
 * ecryptfs-add-passphrase --fnek make it: the salt argument is the
 * string ECRYPTFS_DEFAULT_SALT_FNEK_HEX itself, of which the library reads
 * the first 8 bytes, i.e. the ASCII "99887766".
 *
 * With --keyring it also adds each token with
 * ecryptfs_add_passphrase_key_to_keyring() (into the user keyring, as
 * ecryptfs-utils does), reads the payload back from the kernel, compares
 * it with the generated struct, and unlinks the key again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <ecryptfs.h>
#include <keyutils.h>
#include <sodium.h>

/* Exported by libecryptfs (src/libecryptfs/key_management.c) but not
 * declared in its installed header. */
int ecryptfs_generate_passphrase_auth_tok(struct ecryptfs_auth_tok **auth_tok,
					  char *auth_tok_sig, char *fekek,
					  char *salt, char *passphrase);

static const struct {
	const char *passphrase;
	const char *salt_hex;
} inputs[] = {
	/* The kind of mount passphrase ecryptfs-setup-private makes. */
	{ "3c9b1a0f6e2d4c8b7a69584736251403", ECRYPTFS_DEFAULT_SALT_HEX },
	{ "keyturn", ECRYPTFS_DEFAULT_SALT_HEX },
	{ "x", ECRYPTFS_DEFAULT_SALT_HEX },
	{ "p\xc3\xa4ssw\xc3\xb6rd with spaces", ECRYPTFS_DEFAULT_SALT_HEX },
	/* ECRYPTFS_MAX_PASSPHRASE_BYTES: 64 bytes exactly. */
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  ECRYPTFS_DEFAULT_SALT_HEX },
	{ "keyturn", "a1b2c3d4e5f60718" },
	{ "3c9b1a0f6e2d4c8b7a69584736251403", "0000000000000000" },
	{ "3c9b1a0f6e2d4c8b7a69584736251403", "ffeeddccbbaa9988" },
};

static void print_hex(const char *label, const void *p, size_t len)
{
	const unsigned char *b = p;

	printf("%s", label);
	for (size_t i = 0; i < len; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static int from_hex8(const char *hex, char out[ECRYPTFS_SALT_SIZE])
{
	for (int i = 0; i < ECRYPTFS_SALT_SIZE; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (char)v;
	}
	return 0;
}

static int check_keyring(struct ecryptfs_auth_tok *tok, char *passphrase,
			 char *salt)
{
	char sig[ECRYPTFS_SIG_SIZE_HEX + 1] = "";
	unsigned char back[sizeof(*tok) + 16];
	key_serial_t key;
	long n;
	int rc;

	rc = ecryptfs_add_passphrase_key_to_keyring(sig, passphrase, salt);
	if (rc < 0) {
		fprintf(stderr, "ecryptfs_add_passphrase_key_to_keyring: %d\n",
			rc);
		return -1;
	}
	key = keyctl_search(KEY_SPEC_USER_KEYRING, "user", sig, 0);
	if (key < 0) {
		perror("keyctl_search");
		return -1;
	}
	/* A user key is readable by its possessor: link the user keyring
	 * into the session one, as ecryptfs_validate_keyring() does. Run
	 * this under "keyctl session -" so that the link dies with it. */
	if (keyctl_link(KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING) < 0)
		perror("keyctl_link");
	n = keyctl_read(key, (char *)back, sizeof(back));
	if (n < 0)
		perror("keyctl_read");
	keyctl_unlink(key, KEY_SPEC_USER_KEYRING);
	keyctl_invalidate(key);
	if (n != (long)sizeof(*tok) || memcmp(back, tok, sizeof(*tok))) {
		fprintf(stderr, "keyring payload differs (%ld bytes)\n", n);
		return -1;
	}
	printf("keyring: payload of %s identical, %ld bytes\n", sig, n);
	return 0;
}

static int vector(char *passphrase, char *salt, const char *what,
		  int keyring)
{
	struct ecryptfs_auth_tok *tok = NULL;
	char sig[ECRYPTFS_SIG_SIZE_HEX + 1] = "";
	char fekek[ECRYPTFS_MAX_KEY_BYTES];
	unsigned char digest[crypto_hash_sha256_BYTES];
	int rc;

	rc = ecryptfs_generate_passphrase_auth_tok(&tok, sig, fekek, salt,
						   passphrase);
	if (rc || !tok) {
		fprintf(stderr, "ecryptfs_generate_passphrase_auth_tok: %d\n",
			rc);
		return -1;
	}
	crypto_hash_sha256(digest, (const unsigned char *)tok, sizeof(*tok));
	printf("%s.sig = %s\n", what, sig);
	print_hex("  fekek = ", fekek, sizeof(fekek));
	print_hex("  sha256(auth_tok) = ", digest, sizeof(digest));
	if (keyring && check_keyring(tok, passphrase, salt) < 0)
		rc = -1;
	free(tok);
	return rc;
}

int main(int argc, char **argv)
{
	int keyring = argc > 1 && !strcmp(argv[1], "--keyring");
	int dump = argc > 1 && !strcmp(argv[1], "--dump");
	int failed = 0;

	if (sodium_init() < 0)
		return 1;
	printf("sizeof(struct ecryptfs_auth_tok) = %zu\n",
	       sizeof(struct ecryptfs_auth_tok));
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char salt[ECRYPTFS_SALT_SIZE];
		char *pw = (char *)inputs[i].passphrase;

		if (from_hex8(inputs[i].salt_hex, salt) < 0)
			return 1;
		printf("\n[%zu] passphrase \"%s\" salt %s\n", i, pw,
		       inputs[i].salt_hex);
		if (vector(pw, salt, "key", keyring) < 0)
			failed = 1;
		if (vector(pw, (char *)ECRYPTFS_DEFAULT_SALT_FNEK_HEX, "fnek",
			   keyring) < 0)
			failed = 1;
	}
	if (dump) {
		/* The whole token of the first input, for reading by eye. */
		struct ecryptfs_auth_tok *tok = NULL;
		char sig[ECRYPTFS_SIG_SIZE_HEX + 1], fekek[64], salt[8];

		from_hex8(ECRYPTFS_DEFAULT_SALT_HEX, salt);
		if (ecryptfs_generate_passphrase_auth_tok(&tok, sig, fekek,
			    salt, (char *)inputs[0].passphrase) || !tok)
			return 1;
		print_hex("\nauth_tok[0] = ", tok, sizeof(*tok));
		free(tok);
	}
	return failed;
}
