/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kt_mount_options() on arbitrary option lists (the config's "options ="
 * reaches it): nosuid and nodev are always set, only the flags keyturn
 * knows come out, and the data string holds only what is left, as
 * well-formed comma-separated words.
 */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "fuzz.h"
#include "mount.h"

#define KNOWN_FLAGS                                                          \
	(MS_RDONLY | MS_NOEXEC | MS_NOATIME | MS_RELATIME | MS_NODIRATIME |  \
	 MS_STRICTATIME | MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME |        \
	 MS_NOSUID | MS_NODEV)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *options, *copy, *save = NULL;
	unsigned long flags = 0xdeadbeef;
	char *fsdata = NULL;
	int r;

	if (size > 4096)
		return 0;
	options = fuzz_strndup(data, size);
	r = kt_mount_options(options, &flags, &fsdata);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		FUZZ_ASSERT(!fsdata && flags == 0xdeadbeef);
		free(options);
		return 0;
	}
	FUZZ_ASSERT(fsdata);
	FUZZ_ASSERT((flags & (MS_NOSUID | MS_NODEV)) ==
		    (MS_NOSUID | MS_NODEV));
	FUZZ_ASSERT((flags & ~(unsigned long)KNOWN_FLAGS) == 0);
	FUZZ_ASSERT(strlen(fsdata) <= strlen(options));
	/* No empty word, no word that would undo nosuid or nodev, nothing
	 * that the filesystem would read as a separator or an escape. */
	FUZZ_ASSERT(fsdata[0] != ',');
	FUZZ_ASSERT(!strstr(fsdata, ",,"));
	FUZZ_ASSERT(!*fsdata || fsdata[strlen(fsdata) - 1] != ',');
	for (const char *p = fsdata; *p; p++)
		FUZZ_ASSERT(*p > ' ' && *p != 0x7f && *p != '\\');
	copy = strdup(fsdata);
	FUZZ_ASSERT(copy);
	for (char *w = strtok_r(copy, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		FUZZ_ASSERT(strcmp(w, "suid") && strcmp(w, "dev"));
		/* Known flags never go to the filesystem as data. */
		FUZZ_ASSERT(strcmp(w, "nosuid") && strcmp(w, "nodev") &&
			    strcmp(w, "ro") && strcmp(w, "rw"));
	}
	free(copy);
	free(fsdata);
	free(options);
	return 0;
}
