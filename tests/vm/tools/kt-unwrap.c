/* kt-unwrap: what a keyturn wrapped file holds, for keyturn's VM tests.
 *
 *   kt-unwrap FILE    the login password on the first line of stdin;
 *                     prints the secret FILE wraps (an eCryptfs mount
 *                     passphrase, a raw fscrypt key) in hexadecimal
 *
 * The tests pipe it into kt-memscan -x, to look for a key that no test
 * could know otherwise (keyturnctl enroll fscrypt makes it at random).
 * Linked with libkeyturn: kt_wrapped_open() is the agent's own unwrap.
 * Exit: 0 printed, 1 the file does not open with that password, 2 usage
 * or I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "wrapped.h"

#define FILE_MAX (64 * 1024)

int main(int argc, char **argv)
{
	_cleanup_secret_ struct kt_secret *login = NULL, *inner = NULL;
	_cleanup_secret_ struct kt_secret *line = kt_secret_new(1024);
	static uint8_t buf[FILE_MAX];
	size_t len, n;
	FILE *f;

	if (argc != 2 || !line) {
		fprintf(stderr, "usage: kt-unwrap FILE (password on stdin)\n");
		return 2;
	}
	if (!fgets((char *)line->data, (int)line->len, stdin)) {
		fprintf(stderr, "kt-unwrap: no password on stdin\n");
		return 2;
	}
	n = strcspn((char *)line->data, "\n");
	login = kt_secret_from(line->data, n);
	f = fopen(argv[1], "re");
	if (!f || !login) {
		fprintf(stderr, "kt-unwrap: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (kt_wrapped_open(buf, len, login, &inner) < 0) {
		fprintf(stderr, "kt-unwrap: %s does not open with it\n", argv[1]);
		return 1;
	}
	for (size_t i = 0; i < inner->len; i++)
		printf("%02x", inner->data[i]);
	printf("\n");
	return 0;
}
