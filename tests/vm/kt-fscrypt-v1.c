/* kt-fscrypt-v1: sets a v1 fscrypt policy on an empty directory, as the
 * fscrypt tool and e4crypt did before v2, for keyturn's VM tests (a
 * hostile input: keyturn refuses v1 policies).
 *
 *   kt-fscrypt-v1 DIRECTORY
 *
 * The key descriptor is a fixed test value; no key is added (a v1 policy
 * needs none to be set). Exit 0 set, 1 refused by the kernel, 2 usage.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fscrypt.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct fscrypt_policy_v1 p = {
		.version = FSCRYPT_POLICY_V1,
		.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS,
		.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS,
		.flags = FSCRYPT_POLICY_FLAGS_PAD_32,
		.master_key_descriptor = { 0x6b, 0x74, 0x2d, 0x76,
					   0x31, 0x2d, 0x74, 0x65 },
	};
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: kt-fscrypt-v1 DIRECTORY\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, &p) < 0) {
		perror(argv[1]);
		return 1;
	}
	close(fd);
	return 0;
}
